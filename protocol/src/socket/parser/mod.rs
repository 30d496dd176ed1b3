//! The two Socket.IO parsers.

pub mod common;
#[cfg(feature = "msgpack")]
pub mod msgpack;
