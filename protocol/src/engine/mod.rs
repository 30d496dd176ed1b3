//! Engine.IO v4 and v3 codecs: packets, WebSocket frames, polling payloads and the handshake.
//!
//! - [`Packet`] is one engine packet; [`Packet::decode_text`], [`Packet::decode_binary`] and
//!   [`Packet::encode_frame`] map it to and from one WebSocket [`Frame`].
//! - [`payload`] joins packets into a polling body: v4 (records separated by `0x1E`, binary as
//!   `b` + base64), v3 text (`<utf-16 length>:<packet>`), v3 binary (XHR2 bodies).
//! - [`OpenPacket`] is the JSON carried by the open packet.
//!
//! Decoders never panic and never allocate more than their input needs; any [`DecodeError`] on a
//! live session means the reference server's `parse error` close.
//!
//! ```
//! use socketio_protocol::engine::{payload, Data, Frame, Packet, ProtocolVersion};
//!
//! let v4 = ProtocolVersion::from_query("4").unwrap();
//! let packet = Packet::decode_text(v4, "4hello".into()).unwrap();
//! assert_eq!(packet, Packet::Message("hello".into()));
//! assert_eq!(Packet::Ping("probe".into()).encode_frame(v4), Frame::Text("2probe".into()));
//!
//! // A v4 polling body: a text message, then a binary one.
//! let body = payload::encode_v4(&[
//!     Packet::Message("hello".into()),
//!     Packet::Message(Data::Binary(vec![1, 2, 3, 4].into())),
//! ]);
//! assert_eq!(&*body, "4hello\u{1e}bAQIDBA==");
//! assert_eq!(payload::decode_v4(body, 16).unwrap().len(), 2);
//! ```

pub mod client;
mod close;
mod error;
mod handshake;
mod packet;
pub mod payload;
pub mod server;

use alloc::string::String;
use alloc::vec::Vec;
use bytes::Bytes;

use crate::Str;

pub use close::CloseReason;
pub use error::DecodeError;
pub use handshake::OpenPacket;
pub use packet::{Frame, Packet, PacketType};

/// The Engine.IO protocol revision, from the `EIO` query parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProtocolVersion {
    /// Engine.IO v3 (`EIO=3`): Socket.IO v1/v2 clients; the client pings.
    V3,
    /// Engine.IO v4 (`EIO=4`): Socket.IO v3+ clients; the server pings.
    V4,
}

impl ProtocolVersion {
    /// Parses the value of the `EIO` query parameter (`"3"` or `"4"`).
    pub fn from_query(value: &str) -> Option<Self> {
        match value {
            "3" => Some(ProtocolVersion::V3),
            "4" => Some(ProtocolVersion::V4),
            _ => None,
        }
    }

    /// The value of the `EIO` query parameter for this revision.
    pub const fn as_query(self) -> &'static str {
        match self {
            ProtocolVersion::V3 => "3",
            ProtocolVersion::V4 => "4",
        }
    }
}

/// The data of a message packet: UTF-8 text or raw bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Data {
    /// A text message.
    Text(Str),
    /// A binary message.
    Binary(Bytes),
}

impl Data {
    /// Whether this is binary data.
    pub fn is_binary(&self) -> bool {
        matches!(self, Data::Binary(_))
    }

    /// The length in bytes (UTF-8 bytes for text).
    pub fn len(&self) -> usize {
        match self {
            Data::Text(text) => text.len(),
            Data::Binary(bytes) => bytes.len(),
        }
    }

    /// Whether the data is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl From<&'static str> for Data {
    fn from(text: &'static str) -> Self {
        Data::Text(Str::from(text))
    }
}

impl From<String> for Data {
    fn from(text: String) -> Self {
        Data::Text(Str::from(text))
    }
}

impl From<Str> for Data {
    fn from(text: Str) -> Self {
        Data::Text(text)
    }
}

impl From<Bytes> for Data {
    fn from(bytes: Bytes) -> Self {
        Data::Binary(bytes)
    }
}

impl From<Vec<u8>> for Data {
    fn from(bytes: Vec<u8>) -> Self {
        Data::Binary(Bytes::from(bytes))
    }
}
