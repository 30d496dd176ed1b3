//! Binary attachments of the common parser. STUB: being implemented.
