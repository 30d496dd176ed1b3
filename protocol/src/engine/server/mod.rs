//! The Engine.IO server: HTTP request classification, sessions, and the session table.
//! Being written.
