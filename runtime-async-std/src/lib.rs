//! Socket.IO on async-io / async-net (runs under async-std and smol).
//!
//! Status: the runtime glue is not written yet (see the README's status table); this crate
//! re-exports the whole API so users depend on one crate.

pub use socketio::*;
