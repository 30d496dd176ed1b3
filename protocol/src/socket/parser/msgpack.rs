//! The msgpack parser. STUB: being implemented (helper C).
