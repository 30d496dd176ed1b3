//! The msgpack parser, byte-compatible with `socket.io-msgpack-parser` 3.0.2 (which encodes with
//! `notepack.io` 2.2.0).
//!
//! Every Socket.IO packet is one binary engine message: the msgpack map of the packet object,
//! `{type, data, nsp, id}` (`data` left out when there is none, `id` when not set). Binary
//! values stay msgpack `bin` in place, so there are no attachments and no BINARY_EVENT (5) /
//! BINARY_ACK (6) types: the reference decoder refuses types above 4.
//!
//! ```
//! use socketio_protocol::socket::parser::msgpack;
//! use socketio_protocol::socket::{Limits, Packet};
//! use socketio_protocol::Value;
//!
//! let packet = Packet::event("/", Value::Array(vec!["hi".into(), Value::from(1u64)]));
//! let bytes = msgpack::encode(&packet);
//! // {"type":2,"data":["hi",1],"nsp":"/"}
//! assert_eq!(&bytes[..], b"\x83\xa4type\x02\xa4data\x92\xa2hi\x01\xa3nsp\xa1/");
//! assert_eq!(msgpack::decode(&bytes, &Limits::DEFAULT).unwrap(), packet);
//! ```
//!
//! Decoding follows the reference `checkPacket` (type an integer in 0..=4, `nsp` a string,
//! `data` by type, `id` an integer; unknown keys such as the client's `options` are ignored) plus
//! the Socket.IO v5 payload rules: an EVENT needs a non-empty array whose first item is a string
//! or number and not a [reserved name](crate::socket::RESERVED_EVENTS).

mod raw;
mod value;

use alloc::borrow::Cow;
use alloc::vec::Vec;
use core::fmt;

use bytes::Bytes;

use crate::socket::{Limits, Packet, PacketKind, Payload};
use crate::value::{Number, Value};

pub use raw::MsgpackData;
pub(crate) use raw::item_len;
use raw::{First, Shape};
use value::{Item, Reader};
pub use value::{decode_value, decode_value_bytes, encode_value};
pub(crate) use value::{write_bin, write_container_len, write_number, write_str};

/// Why a msgpack message was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MsgpackError {
    /// The input ended inside a value.
    UnexpectedEof,
    /// Bytes were left after the packet (notepack: "N trailing bytes").
    TrailingBytes(usize),
    /// The never-used marker `0xc1`.
    InvalidMarker(u8),
    /// Arrays/maps nest deeper than the allowed depth.
    TooDeep {
        /// The limit that was exceeded.
        max_depth: usize,
    },
    /// A map key is binary, an array, a map or an extension.
    InvalidMapKey,
    /// An extension with no [`Value`] form (notepack's legacy Date, fixext 8 of type 0).
    UnsupportedExtension {
        /// The extension type.
        ext_type: i8,
    },
    /// The packet is not a msgpack map.
    NotAMap,
    /// `type` is missing, not an integer, or not 0..=4 (reference: "invalid packet type").
    InvalidType,
    /// `nsp` is missing or not a string (reference: "invalid namespace").
    InvalidNamespace,
    /// `data` does not fit the packet type (reference: "invalid payload").
    InvalidPayload(PacketKind),
    /// An EVENT named after a reserved event (`connect`, `disconnect`, …).
    ReservedEvent,
    /// `id` is present but not a non-negative integer that fits `u64`
    /// (reference: "invalid packet id").
    InvalidId,
}

impl fmt::Display for MsgpackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MsgpackError::UnexpectedEof => f.write_str("msgpack input ended inside a value"),
            MsgpackError::TrailingBytes(n) => {
                write!(f, "{n} trailing bytes after the msgpack packet")
            }
            MsgpackError::InvalidMarker(m) => write!(f, "invalid msgpack marker 0x{m:02x}"),
            MsgpackError::TooDeep { max_depth } => {
                write!(f, "msgpack arrays/maps nest deeper than {max_depth}")
            }
            MsgpackError::InvalidMapKey => f.write_str("msgpack map key is not a scalar"),
            MsgpackError::UnsupportedExtension { ext_type } => {
                write!(f, "unsupported msgpack extension type {ext_type}")
            }
            MsgpackError::NotAMap => f.write_str("msgpack packet is not a map"),
            MsgpackError::InvalidType => f.write_str("invalid packet type"),
            MsgpackError::InvalidNamespace => f.write_str("invalid namespace"),
            MsgpackError::InvalidPayload(kind) => write!(f, "invalid payload for {kind:?} packet"),
            MsgpackError::ReservedEvent => f.write_str("event name is reserved"),
            MsgpackError::InvalidId => f.write_str("invalid packet id"),
        }
    }
}

impl core::error::Error for MsgpackError {}

/// The order in which the packet keys are written.
///
/// notepack writes object keys in insertion order, and the reference server builds packet
/// objects in different orders on different paths; decoders accept any order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum KeyOrder {
    /// `type, data, nsp, id`: the order of the packet model, and of the server's broadcasts
    /// (`io.emit`, `to(room).emit`, broadcasts with acks).
    #[default]
    Standard,
    /// The order of the server `Socket`'s own packets: `socket.emit` writes
    /// `type, data, id, nsp`, an ack reply `id, type, data, nsp`, anything else
    /// `type, data, nsp` (then `id`).
    ServerSocket,
}

#[derive(Clone, Copy)]
enum Key {
    Type,
    Data,
    Nsp,
    Id,
}

impl KeyOrder {
    fn keys(self, kind: PacketKind) -> [Key; 4] {
        match (self, kind) {
            (KeyOrder::ServerSocket, PacketKind::Event) => {
                [Key::Type, Key::Data, Key::Id, Key::Nsp]
            }
            (KeyOrder::ServerSocket, PacketKind::Ack) => [Key::Id, Key::Type, Key::Data, Key::Nsp],
            _ => [Key::Type, Key::Data, Key::Nsp, Key::Id],
        }
    }
}

/// Encodes `packet` as one binary engine message, keys in [`KeyOrder::Standard`] order.
pub fn encode(packet: &Packet) -> Bytes {
    encode_with_order(packet, KeyOrder::Standard)
}

/// Encodes `packet` as one binary engine message with the given key order.
///
/// [`Payload::Msgpack`] data is copied as it is; [`Payload::Json`] data is parsed and written as
/// msgpack (if it does not parse, `null` is written in its place).
pub fn encode_with_order(packet: &Packet, order: KeyOrder) -> Bytes {
    let hint = match &packet.data {
        Some(Payload::Msgpack(data)) => data.as_bytes().len(),
        _ => 16,
    };
    let mut out = Vec::with_capacity(16 + packet.nsp.len() + hint);
    let len = 2 + usize::from(packet.data.is_some()) + usize::from(packet.id.is_some());
    value::write_container_len(len, 0x80, 0xde, 0xdf, &mut out);
    for key in order.keys(packet.kind) {
        match key {
            Key::Type => {
                value::write_str("type", &mut out);
                out.push(packet.kind.wire_type(false));
            }
            Key::Data => {
                if let Some(data) = &packet.data {
                    value::write_str("data", &mut out);
                    match data {
                        Payload::Msgpack(data) => out.extend_from_slice(data.as_bytes()),
                        Payload::Value(value) => encode_value(value, &mut out),
                        other => encode_value(&other.to_value().unwrap_or(Value::Null), &mut out),
                    }
                }
            }
            Key::Nsp => {
                value::write_str("nsp", &mut out);
                value::write_str(&packet.nsp, &mut out);
            }
            Key::Id => {
                if let Some(id) = packet.id {
                    value::write_str("id", &mut out);
                    value::write_number(Number::PosInt(id), &mut out);
                }
            }
        }
    }
    Bytes::from(out)
}

/// Decodes one binary engine message into a packet.
///
/// The data comes back as [`Payload::Msgpack`], sharing `bytes`' buffer: it is checked (as
/// strictly as a full decode, nested at most `limits.max_depth` deep) but not built into a
/// tree until it is read.
pub fn decode(bytes: &Bytes, limits: &Limits) -> Result<Packet, MsgpackError> {
    decode_packet(Reader::shared(bytes), limits)
}

/// Like [`decode`], from a borrowed slice (the data is copied).
pub fn decode_slice(bytes: &[u8], limits: &Limits) -> Result<Packet, MsgpackError> {
    decode_packet(Reader::new(bytes), limits)
}

/// A key of the packet map.
enum Field {
    Type,
    Nsp,
    Data,
    Id,
    Other,
}

impl Field {
    fn of(key: &[u8]) -> Field {
        match key {
            b"type" => Field::Type,
            b"nsp" => Field::Nsp,
            b"data" => Field::Data,
            b"id" => Field::Id,
            _ => Field::Other,
        }
    }
}

/// Reads a key of the packet map; a short string (the usual case) without allocating.
fn read_field(r: &mut Reader<'_>) -> Result<Field, MsgpackError> {
    match r.peek() {
        Some(marker @ 0xa0..=0xbf) => {
            r.u8()?;
            Ok(Field::of(r.take(usize::from(marker & 0x1f))?))
        }
        _ => Ok(Field::of(value::read_key(r)?.as_bytes())),
    }
}

fn decode_packet(mut r: Reader<'_>, limits: &Limits) -> Result<Packet, MsgpackError> {
    let mut fields = Fields::default();
    // The packet map itself does not count towards the payload depth.
    let len = value::read_map_header(&mut r)?.ok_or(MsgpackError::NotAMap)?;
    for _ in 0..len {
        // Later keys win, as with JavaScript object assignment.
        match read_field(&mut r)? {
            Field::Type => fields.kind = Some(value::read_item(&mut r, limits.max_depth)?),
            // The root namespace, the usual case, needs no allocation.
            Field::Nsp if r.input().get(r.position()..r.position() + 2) == Some(b"\xa1/") => {
                r.take(2)?;
                fields.nsp = Some(Nsp::Root);
            }
            Field::Nsp => {
                fields.nsp = Some(Nsp::Item(value::read_item(&mut r, limits.max_depth)?));
            }
            Field::Id => fields.id = Some(value::read_item(&mut r, limits.max_depth)?),
            Field::Data => {
                let start = r.position();
                raw::skip_item(&mut r, limits.max_depth)?;
                fields.data = Some(start..r.position());
            }
            Field::Other => raw::skip_item(&mut r, limits.max_depth)?,
        }
    }
    let total = r.input().len();
    if r.position() != total {
        return Err(MsgpackError::TrailingBytes(total - r.position()));
    }
    fields.into_packet(&r)
}

/// The `nsp` field as read.
enum Nsp {
    Root,
    Item(Item),
}

#[derive(Default)]
struct Fields {
    kind: Option<Item>,
    nsp: Option<Nsp>,
    /// Where the data's bytes are in the input.
    data: Option<core::ops::Range<usize>>,
    id: Option<Item>,
}

/// A present value (`undefined` counts as absent, as in the reference's `=== undefined`).
fn present(item: Option<Item>) -> Option<Value> {
    match item {
        Some(Item::Value(value)) => Some(value),
        Some(Item::Undefined) | None => None,
    }
}

/// `Number.isInteger` in range: the integer value of `n`, if it is one within `0..=u64::MAX`.
fn as_index(n: Number) -> Option<u64> {
    match n {
        Number::PosInt(u) => Some(u),
        Number::NegInt(i) => u64::try_from(i).ok(),
        Number::Float(f) if f % 1.0 == 0.0 && f > -1.0 && f < 18_446_744_073_709_551_616.0 => {
            Some(f as u64)
        }
        Number::Float(_) => None,
    }
}

impl Fields {
    fn into_packet(self, r: &Reader<'_>) -> Result<Packet, MsgpackError> {
        let kind = match present(self.kind) {
            Some(Value::Number(n)) => match as_index(n) {
                Some(0) => PacketKind::Connect,
                Some(1) => PacketKind::Disconnect,
                Some(2) => PacketKind::Event,
                Some(3) => PacketKind::Ack,
                Some(4) => PacketKind::ConnectError,
                _ => return Err(MsgpackError::InvalidType),
            },
            _ => return Err(MsgpackError::InvalidType),
        };
        let nsp: Cow<'static, str> = match self.nsp {
            Some(Nsp::Root) => Cow::Borrowed("/"),
            Some(Nsp::Item(item)) => match present(Some(item)) {
                Some(Value::String(nsp)) => Cow::Owned(nsp),
                _ => return Err(MsgpackError::InvalidNamespace),
            },
            None => return Err(MsgpackError::InvalidNamespace),
        };
        let data = self.data.and_then(|range| {
            let shape = raw::shape(r.input().get(range.clone())?);
            (!matches!(shape, Shape::Undefined)).then_some((range, shape))
        });
        let valid = match (kind, data.as_ref().map(|(_, shape)| shape)) {
            (PacketKind::Connect, None | Some(Shape::Map)) => true,
            (PacketKind::Disconnect, None) => true,
            (PacketKind::ConnectError, Some(Shape::Map | Shape::Str)) => true,
            (PacketKind::Event, Some(Shape::Array(Some(First::Name(name))))) => {
                if raw::is_reserved(name) {
                    return Err(MsgpackError::ReservedEvent);
                }
                true
            }
            (PacketKind::Event, Some(Shape::Array(Some(First::Number)))) => true,
            (PacketKind::Ack, Some(Shape::Array(_))) => true,
            _ => false,
        };
        if !valid {
            return Err(MsgpackError::InvalidPayload(kind));
        }
        let id = match present(self.id) {
            None => None,
            Some(Value::Number(n)) => Some(as_index(n).ok_or(MsgpackError::InvalidId)?),
            Some(_) => return Err(MsgpackError::InvalidId),
        };
        Ok(Packet {
            kind,
            nsp,
            id,
            data: data.map(|(range, _)| Payload::Msgpack(MsgpackData::checked(r.bytes(range)))),
        })
    }
}
