//! Socket.IO on tokio.
//!
//! Status: the tokio glue is not written yet (see the README's status table); this crate
//! re-exports the whole API so users depend on one crate.

pub use socketio::*;
