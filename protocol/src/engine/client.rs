//! The Engine.IO client state machine. Being written.
