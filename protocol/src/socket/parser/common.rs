//! The common (JSON text) parser. STUB: being implemented.
