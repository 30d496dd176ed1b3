//! Async Socket.IO server and client API over the sans-IO core in `socketio-protocol`.
//!
//! Status: the async layer is not written yet (see the README's status table); this crate
//! currently re-exports the protocol core so dependents build against one name.

pub use socketio_protocol as protocol;
