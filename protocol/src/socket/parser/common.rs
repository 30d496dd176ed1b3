//! The common parser (`socket.io-parser`): each packet is a text engine message, binary values
//! follow as separate engine binary messages.
//!
//! Text form: `<type>[<attachments>-][<nsp>,][<ack id>][<JSON>]`, e.g. `42["chat","hi"]`,
//! `2/admin,7["ping"]`, `451-["baz",{"_placeholder":true,"num":0}]`.
//!
//! ```
//! use socketio_protocol::socket::parser::common::{Decoder, encode};
//! use socketio_protocol::socket::{Limits, PacketKind, ProtocolVersion};
//!
//! let mut decoder = Decoder::new(ProtocolVersion::V5, Limits::DEFAULT);
//! let packet = decoder.decode_text("2/chat,7[\"hello\",1]".into()).unwrap().unwrap();
//! assert_eq!(packet.kind, PacketKind::Event);
//! assert_eq!(packet.nsp, "/chat");
//! assert_eq!(packet.id, Some(7));
//! assert_eq!(&*encode(&packet, ProtocolVersion::V5).text, "2/chat,7[\"hello\",1]");
//! ```

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use bytes::Bytes;
use core::fmt;

use crate::json::{self, EventHead, JsonError};
use crate::socket::Limits;
use crate::socket::attachments::{self, IllegalAttachment};
use crate::socket::packet::{Packet, PacketKind, Payload, ProtocolVersion, RESERVED_EVENTS};
use crate::str::Str;
use crate::value::Value;

/// Why a received packet was rejected. Every variant is a protocol violation: the reference
/// server closes the connection (`parse error`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// The message was empty.
    Empty,
    /// The first character is not a packet type `0`–`6`.
    UnknownType(u8),
    /// The attachment count of a binary packet is missing, malformed or not followed by `-`.
    BadAttachmentCount,
    /// The packet announces more attachments than [`Limits::max_attachments`].
    TooManyAttachments(usize),
    /// The ack id does not fit in a `u64`.
    AckIdOverflow,
    /// The data part is not valid JSON (or nests too deep).
    Json(JsonError),
    /// The data part is valid JSON but not what this packet type allows (e.g. an EVENT that is
    /// not a non-empty array led by a non-reserved name).
    InvalidPayload(PacketKind),
    /// An ACK without an id.
    MissingAckId,
    /// A text packet arrived while binary attachments were still expected.
    UnexpectedText,
    /// A binary message arrived with no binary packet waiting for it.
    UnexpectedBinary,
    /// A placeholder points at a buffer that does not exist.
    IllegalAttachment,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Empty => f.write_str("empty packet"),
            DecodeError::UnknownType(t) => write!(f, "unknown packet type {:?}", char::from(*t)),
            DecodeError::BadAttachmentCount => f.write_str("illegal attachments count"),
            DecodeError::TooManyAttachments(n) => write!(f, "too many attachments ({n})"),
            DecodeError::AckIdOverflow => f.write_str("ack id out of range"),
            DecodeError::Json(e) => write!(f, "invalid payload: {e}"),
            DecodeError::InvalidPayload(kind) => write!(f, "invalid payload for {kind:?}"),
            DecodeError::MissingAckId => f.write_str("ack packet without an id"),
            DecodeError::UnexpectedText => {
                f.write_str("got a text packet while reconstructing a binary packet")
            }
            DecodeError::UnexpectedBinary => f.write_str("got binary data when not reconstructing"),
            DecodeError::IllegalAttachment => f.write_str("illegal attachments"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for DecodeError {}

impl From<JsonError> for DecodeError {
    fn from(e: JsonError) -> Self {
        DecodeError::Json(e)
    }
}

impl From<IllegalAttachment> for DecodeError {
    fn from(_: IllegalAttachment) -> Self {
        DecodeError::IllegalAttachment
    }
}

/// A packet encoded for the wire: one text message, then `attachments` as binary messages.
#[derive(Debug, Clone, PartialEq)]
pub struct Encoded {
    /// The text header (the whole packet when there is no binary).
    pub text: Str,
    /// The binary attachments, in placeholder order.
    pub attachments: Vec<Bytes>,
}

/// Encodes `packet`. Binary values become placeholders plus attachments.
///
/// For [`ProtocolVersion::V4`] nothing differs on the encoding side: the caller puts a v4
/// query string in the CONNECT namespace and a string in CONNECT_ERROR data as needed.
pub fn encode(packet: &Packet, version: ProtocolVersion) -> Encoded {
    let _ = version;
    // msgpack data (rare here: a relay between parsers) is written from its tree.
    let tree: Option<Cow<'_, Value>> = match &packet.data {
        Some(Payload::Value(value)) => Some(Cow::Borrowed(value)),
        Some(Payload::Json(_)) | None => None,
        #[cfg(feature = "msgpack")]
        Some(Payload::Msgpack(data)) => Some(Cow::Owned(data.to_value())),
    };
    // Binary values are written as placeholders while the JSON is written (in the order
    // `attachments::split` numbers them), so the tree is neither cloned nor rebuilt.
    let count = tree.as_deref().map_or(0, count_binary);
    let binary = count > 0;
    let mut attachments = Vec::with_capacity(count);
    let mut out = String::with_capacity(if tree.is_some() { 144 } else { 24 } + packet.nsp.len());
    out.push(char::from(b'0' + packet.kind.wire_type(binary)));
    if binary {
        out.push_str(itoa::Buffer::new().format(count));
        out.push('-');
    }
    if packet.nsp != "/" && !packet.nsp.is_empty() {
        out.push_str(&packet.nsp);
        out.push(',');
    }
    if let Some(id) = packet.id {
        out.push_str(itoa::Buffer::new().format(id));
    }
    let text = match (&packet.data, tree.as_deref()) {
        // `Str` is UTF-8: header and text are joined without checking either again.
        (Some(Payload::Json(text)), _) => Str::concat(&out, text),
        (_, Some(value)) if binary => {
            write_split(value, &mut out, &mut attachments);
            Str::from(out)
        }
        (_, Some(value)) => {
            json::write_string(value, &mut out);
            Str::from(out)
        }
        _ => Str::from(out),
    };
    Encoded { text, attachments }
}

/// How many binary values `value` holds.
fn count_binary(value: &Value) -> usize {
    match value {
        Value::Binary(_) => 1,
        Value::Array(items) => items.iter().map(count_binary).sum(),
        Value::Object(entries) => entries.iter().map(|(_, v)| count_binary(v)).sum(),
        _ => 0,
    }
}

/// Writes `value` as JSON with each binary value replaced by its placeholder, collecting the
/// buffers: the same text and buffers as `json::write(&attachments::split(value.clone()))`.
fn write_split(value: &Value, out: &mut String, buffers: &mut Vec<Bytes>) {
    match value {
        Value::Binary(bytes) => {
            out.push_str("{\"");
            out.push_str(attachments::PLACEHOLDER_KEY);
            out.push_str("\":true,\"");
            out.push_str(attachments::NUM_KEY);
            out.push_str("\":");
            out.push_str(itoa::Buffer::new().format(buffers.len()));
            out.push('}');
            buffers.push(bytes.clone());
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_split(item, out, buffers);
            }
            out.push(']');
        }
        Value::Object(entries) => {
            out.push('{');
            for (i, (key, item)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json::write_str_into(key, out);
                out.push(':');
                write_split(item, out, buffers);
            }
            out.push('}');
        }
        other => json::write_string(other, out),
    }
}

/// The binary packet whose attachments are still arriving.
#[derive(Debug)]
struct Reconstruction {
    packet: Packet,
    header: Value,
    expected: usize,
    buffers: Vec<Bytes>,
}

/// Decodes a connection's incoming messages, reassembling binary packets.
///
/// Feed every engine text message to [`decode_text`](Self::decode_text) and every binary one to
/// [`decode_binary`](Self::decode_binary); each returns `Some(packet)` when a packet is complete.
/// Any error is a protocol violation: close the connection.
#[derive(Debug)]
pub struct Decoder {
    version: ProtocolVersion,
    limits: Limits,
    /// Boxed: a connection keeps a decoder for its whole life and is almost never between a
    /// binary packet and its attachments.
    pending: Option<Box<Reconstruction>>,
}

impl Decoder {
    /// A decoder for `version` enforcing `limits`.
    pub fn new(version: ProtocolVersion, limits: Limits) -> Self {
        Decoder {
            version,
            limits,
            pending: None,
        }
    }

    /// True while a binary packet waits for attachments.
    pub fn is_reconstructing(&self) -> bool {
        self.pending.is_some()
    }

    /// Decodes one text message.
    pub fn decode_text(&mut self, text: Str) -> Result<Option<Packet>, DecodeError> {
        if self.pending.is_some() {
            self.pending = None;
            return Err(DecodeError::UnexpectedText);
        }
        let header = parse_header(text.as_bytes(), self.version, &self.limits)?;
        let nsp = match header.nsp {
            None => Cow::Borrowed("/"),
            Some(range) => match text.slice(range) {
                Some(nsp) => Cow::Owned(String::from(nsp.as_str())),
                None => return Err(DecodeError::Json(JsonError::Syntax)),
            },
        };
        // The header is ASCII, so the data starts on a char boundary.
        let body = text
            .slice(header.data_start..text.as_bytes().len())
            .ok_or(DecodeError::Json(JsonError::Syntax))?;
        let mut packet = Packet {
            kind: header.kind,
            nsp,
            id: header.id,
            data: None,
        };
        match header.attachments {
            None => {
                if !body.is_empty() {
                    validate_payload(header.kind, body.as_bytes(), &self.limits)?;
                    packet.data = Some(Payload::Json(body));
                }
                check_ack_id(&packet)?;
                Ok(Some(packet))
            }
            Some(expected) => {
                // Placeholders must be swapped for buffers, so binary payloads become values.
                let value = if body.is_empty() {
                    return Err(DecodeError::InvalidPayload(header.kind));
                } else {
                    json::parse(body.as_bytes(), self.limits.max_depth)?
                };
                check_value(header.kind, &value)?;
                check_ack_id(&packet)?;
                if expected == 0 {
                    packet.data = Some(Payload::Value(attachments::join(value, &[])?));
                    return Ok(Some(packet));
                }
                self.pending = Some(Box::new(Reconstruction {
                    packet,
                    header: value,
                    expected,
                    buffers: Vec::new(),
                }));
                Ok(None)
            }
        }
    }

    /// Decodes one binary message (an attachment of the pending binary packet).
    pub fn decode_binary(&mut self, data: Bytes) -> Result<Option<Packet>, DecodeError> {
        let Some(pending) = self.pending.as_mut() else {
            return Err(DecodeError::UnexpectedBinary);
        };
        pending.buffers.push(data);
        if pending.buffers.len() < pending.expected {
            return Ok(None);
        }
        let Some(pending) = self.pending.take() else {
            return Err(DecodeError::UnexpectedBinary);
        };
        let Reconstruction {
            mut packet,
            header,
            buffers,
            ..
        } = *pending;
        packet.data = Some(Payload::Value(attachments::join(header, &buffers)?));
        Ok(Some(packet))
    }
}

/// The parts of a text packet before its JSON data.
struct Header {
    kind: PacketKind,
    attachments: Option<usize>,
    nsp: Option<core::ops::Range<usize>>,
    id: Option<u64>,
    data_start: usize,
}

fn parse_header(
    bytes: &[u8],
    version: ProtocolVersion,
    limits: &Limits,
) -> Result<Header, DecodeError> {
    let Some(&first) = bytes.first() else {
        return Err(DecodeError::Empty);
    };
    let (kind, binary) = match first {
        b'0' => (PacketKind::Connect, false),
        b'1' => (PacketKind::Disconnect, false),
        b'2' => (PacketKind::Event, false),
        b'3' => (PacketKind::Ack, false),
        b'4' => (PacketKind::ConnectError, false),
        b'5' => (PacketKind::Event, true),
        b'6' => (PacketKind::Ack, true),
        other => return Err(DecodeError::UnknownType(other)),
    };
    let mut pos = 1;
    let attachments = if binary {
        let digits = count_digits(&bytes[pos..]);
        if digits == 0 || bytes.get(pos + digits) != Some(&b'-') {
            return Err(DecodeError::BadAttachmentCount);
        }
        let count = parse_decimal(&bytes[pos..pos + digits])
            .and_then(|n| usize::try_from(n).ok())
            .ok_or(DecodeError::TooManyAttachments(usize::MAX))?;
        // socket.io-parser 4 refuses a binary packet without attachments; 3.x accepts it.
        if count == 0 && version != ProtocolVersion::V4 {
            return Err(DecodeError::BadAttachmentCount);
        }
        if count > limits.max_attachments {
            return Err(DecodeError::TooManyAttachments(count));
        }
        pos += digits + 1;
        Some(count)
    } else {
        None
    };
    let nsp = if bytes.get(pos) == Some(&b'/') {
        let start = pos;
        let end = bytes[pos..]
            .iter()
            .position(|&b| b == b',')
            .map_or(bytes.len(), |i| pos + i);
        pos = (end + 1).min(bytes.len());
        Some(start..end)
    } else {
        None
    };
    let digits = count_digits(&bytes[pos..]);
    let id = if digits > 0 {
        let id = parse_decimal(&bytes[pos..pos + digits]).ok_or(DecodeError::AckIdOverflow)?;
        pos += digits;
        Some(id)
    } else {
        None
    };
    Ok(Header {
        kind,
        attachments,
        nsp,
        id,
        data_start: pos,
    })
}

fn count_digits(bytes: &[u8]) -> usize {
    bytes.iter().take_while(|b| b.is_ascii_digit()).count()
}

fn parse_decimal(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |acc, &d| {
        acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

fn check_ack_id(packet: &Packet) -> Result<(), DecodeError> {
    if packet.kind == PacketKind::Ack && packet.id.is_none() {
        return Err(DecodeError::MissingAckId);
    }
    Ok(())
}

/// Validates JSON text data against the packet type's rules without building a tree.
fn validate_payload(kind: PacketKind, text: &[u8], limits: &Limits) -> Result<(), DecodeError> {
    let allowed = match kind {
        PacketKind::Event => match json::validate_event(text, limits.max_depth) {
            Ok(head) => event_name_allowed(&head),
            Err(JsonError::NotAnArray) => false,
            Err(e) => return Err(e.into()),
        },
        _ => {
            json::validate(text, limits.max_depth)?;
            kind_allows(kind, Kind::of_text(text))
        }
    };
    if allowed {
        Ok(())
    } else {
        Err(DecodeError::InvalidPayload(kind))
    }
}

fn event_name_allowed(head: &EventHead<'_>) -> bool {
    match head {
        EventHead::Name(name) => !RESERVED_EVENTS.contains(&name.as_ref()),
        EventHead::Number(_) => true,
        _ => false,
    }
}

fn kind_allows(kind: PacketKind, data: Kind) -> bool {
    match kind {
        PacketKind::Connect => data == Kind::Object,
        PacketKind::Disconnect => false,
        PacketKind::Ack => data == Kind::Array,
        PacketKind::ConnectError => matches!(data, Kind::Object | Kind::String),
        PacketKind::Event => data == Kind::Array,
    }
}

/// The same rules for data already parsed (binary packets).
fn check_value(kind: PacketKind, value: &Value) -> Result<(), DecodeError> {
    let ok = match (kind, value) {
        (PacketKind::Event, Value::Array(items)) => match items.first() {
            Some(Value::String(name)) => !RESERVED_EVENTS.contains(&name.as_str()),
            Some(Value::Number(_)) => true,
            _ => false,
        },
        (_, value) => kind_allows(kind, Kind::of(value)),
    };
    if ok {
        Ok(())
    } else {
        Err(DecodeError::InvalidPayload(kind))
    }
}

/// The JSON type of a validated text, read off its first significant byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Object,
    Array,
    String,
    Other,
}

impl Kind {
    fn of_text(text: &[u8]) -> Kind {
        match text.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'{') => Kind::Object,
            Some(b'[') => Kind::Array,
            Some(b'"') => Kind::String,
            _ => Kind::Other,
        }
    }

    fn of(value: &Value) -> Kind {
        match value {
            Value::Object(_) => Kind::Object,
            Value::Array(_) => Kind::Array,
            Value::String(_) => Kind::String,
            _ => Kind::Other,
        }
    }
}
