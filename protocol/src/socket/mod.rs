//! Socket.IO packets (protocol v5 over Engine.IO v4, and v4 over Engine.IO v3) and their parsers.
//!
//! - [`packet`]: the packet model shared by both parsers.
//! - [`parser::common`]: the default JSON text parser (`socket.io-parser`), with binary
//!   attachments sent as separate engine binary messages ([`attachments`]).
//! - [`parser::msgpack`]: the msgpack parser (`socket.io-msgpack-parser`), one binary message
//!   per packet.

pub mod ack;
pub mod attachments;
pub mod client;
pub mod packet;
pub mod parser;
mod reason;
pub mod server;

#[cfg(feature = "msgpack")]
pub use packet::MsgpackData;
pub use packet::{Packet, PacketKind, Payload, ProtocolVersion, RESERVED_EVENTS};
pub use reason::DisconnectReason;

/// Bounds applied by the decoders, so that no input can make them allocate without limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most binary attachments one packet may announce (reference default: 10).
    pub max_attachments: usize,
    /// Deepest nesting of arrays/objects accepted in a payload.
    pub max_depth: usize,
}

impl Limits {
    /// The reference defaults: 10 attachments, nesting depth 128.
    pub const DEFAULT: Limits = Limits {
        max_attachments: 10,
        max_depth: 128,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}
