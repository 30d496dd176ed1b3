//! The Socket.IO packet model shared by the common (JSON) and msgpack parsers.

use alloc::borrow::Cow;

use crate::str::Str;
use crate::value::Value;

#[cfg(feature = "msgpack")]
pub use crate::socket::parser::msgpack::MsgpackData;

/// Which Socket.IO protocol revision a packet is encoded for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProtocolVersion {
    /// Socket.IO v4 (socket.io 2.x, over Engine.IO v3): implicit `/`, query-string auth in the
    /// CONNECT namespace, CONNECT_ERROR (`ERROR`) carries a plain string.
    V4,
    /// Socket.IO v5 (socket.io 3.x and 4.x, over Engine.IO v4).
    V5,
}

/// Event names a peer may not send (they are local lifecycle events in the reference).
pub const RESERVED_EVENTS: [&str; 6] = [
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

/// The logical kind of a packet.
///
/// Binary-ness is not a kind: an `Event`/`Ack` whose payload holds binary is written as
/// `BINARY_EVENT` (5) / `BINARY_ACK` (6) by the common parser, and decoded back to
/// `Event`/`Ack`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PacketKind {
    /// `0` CONNECT: a namespace connection request (client) or its acceptance (server).
    Connect,
    /// `1` DISCONNECT: leave a namespace.
    Disconnect,
    /// `2` EVENT (or `5` BINARY_EVENT).
    Event,
    /// `3` ACK (or `6` BINARY_ACK).
    Ack,
    /// `4` CONNECT_ERROR (`ERROR` in v4): a refused namespace connection.
    ConnectError,
}

impl PacketKind {
    /// The wire type digit for this kind, given whether the payload carries binary.
    pub fn wire_type(self, binary: bool) -> u8 {
        match (self, binary) {
            (PacketKind::Connect, _) => 0,
            (PacketKind::Disconnect, _) => 1,
            (PacketKind::Event, false) => 2,
            (PacketKind::Ack, false) => 3,
            (PacketKind::ConnectError, _) => 4,
            (PacketKind::Event, true) => 5,
            (PacketKind::Ack, true) => 6,
        }
    }
}

/// The data part of a packet.
///
/// What arrived stays in its wire form until a handler reads it: JSON text without binary is
/// kept as validated text ([`Payload::Json`]) and msgpack data as validated bytes
/// ([`Payload::Msgpack`]); neither builds a tree on decode, and re-encoding them with their own
/// parser copies them. Typed encoders build those forms directly ([`Payload::event`],
/// [`Payload::msgpack_event`]). A [`Payload::Value`] is a tree: what the application built by
/// hand, or a common-parser packet with binary (its placeholders swapped for the buffers).
///
/// Two payloads are equal when they hold the same value, whatever their forms (JSON text
/// compares equal to the tree it parses to, and to msgpack that decodes to that tree).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Payload {
    /// Validated JSON text of the whole data part (for an event: the `[name, ...args]` array).
    /// [`Str`] guarantees UTF-8, so the common encoder copies it without checking it again.
    Json(Str),
    /// One msgpack value, validated (for an event: the `[name, ...args]` array).
    #[cfg(feature = "msgpack")]
    Msgpack(MsgpackData),
    /// A structured value (for an event: an array whose first item is the name).
    Value(Value),
}

impl PartialEq for Payload {
    fn eq(&self, other: &Payload) -> bool {
        match (self, other) {
            (Payload::Value(a), Payload::Value(b)) => a == b,
            (Payload::Json(a), Payload::Json(b)) if a == b => true,
            #[cfg(feature = "msgpack")]
            (Payload::Msgpack(a), Payload::Msgpack(b)) if a == b => true,
            _ => matches!((self.to_value(), other.to_value()), (Ok(a), Ok(b)) if a == b),
        }
    }
}

impl Payload {
    /// The payload as a [`Value`], parsing JSON text or msgpack if needed.
    pub fn to_value(&self) -> Result<Value, crate::json::JsonError> {
        match self {
            Payload::Json(text) => {
                crate::json::parse(text.as_bytes(), crate::socket::Limits::DEFAULT.max_depth)
            }
            #[cfg(feature = "msgpack")]
            Payload::Msgpack(data) => Ok(data.to_value()),
            Payload::Value(value) => Ok(value.clone()),
        }
    }

    /// True if the payload holds binary (never for [`Payload::Json`]).
    pub fn has_binary(&self) -> bool {
        match self {
            Payload::Json(_) => false,
            #[cfg(feature = "msgpack")]
            Payload::Msgpack(data) => data.has_binary(),
            Payload::Value(value) => value.has_binary(),
        }
    }

    /// An event's name and arguments, from its `[name, ...args]` array: the name is a string,
    /// or a number written as JavaScript's `String(n)` writes it (`1`, `1.5`, `1e+21`), as the
    /// reference dispatches numeric names. `None` for anything else (which the decoders refuse
    /// for EVENT packets).
    ///
    /// ```
    /// use socketio_protocol::socket::Payload;
    /// use socketio_protocol::Value;
    ///
    /// let (name, args) = Payload::Json(r#"["chat","hi"]"#.into()).event_parts().unwrap();
    /// assert_eq!((name.as_str(), args), ("chat", vec![Value::from("hi")]));
    /// let (name, _) = Payload::Json("[1.5]".into()).event_parts().unwrap();
    /// assert_eq!(name, "1.5");
    /// ```
    pub fn event_parts(&self) -> Option<(alloc::string::String, alloc::vec::Vec<Value>)> {
        let Ok(Value::Array(items)) = self.to_value() else {
            return None;
        };
        let mut items = items.into_iter();
        let name = match items.next()? {
            Value::String(name) => name,
            Value::Number(number) => {
                let mut text = alloc::vec::Vec::new();
                crate::json::write_number(number, &mut text);
                alloc::string::String::from_utf8(text).ok()?
            }
            _ => return None,
        };
        Some((name, items.collect()))
    }

    /// An ack's arguments: the items of its array, or a lone value as the one argument (the
    /// reference always sends an array; a peer that does not is read leniently).
    ///
    /// ```
    /// use socketio_protocol::socket::Payload;
    /// use socketio_protocol::Value;
    ///
    /// let args = Payload::Json("[1,2]".into()).ack_args().unwrap();
    /// assert_eq!(args, vec![Value::from(1u64), Value::from(2u64)]);
    /// ```
    pub fn ack_args(&self) -> Result<alloc::vec::Vec<Value>, crate::json::JsonError> {
        Ok(match self.to_value()? {
            Value::Array(items) => items,
            other => alloc::vec![other],
        })
    }
}

impl From<Value> for Payload {
    fn from(value: Value) -> Self {
        Payload::Value(value)
    }
}

/// One Socket.IO packet.
#[derive(Debug, Clone, PartialEq)]
pub struct Packet {
    /// What the packet does.
    pub kind: PacketKind,
    /// The namespace, `/` by default. For a v4 CONNECT it may carry a query string
    /// (`/admin?token=1`), exactly as received.
    pub nsp: Cow<'static, str>,
    /// The acknowledgement id: set on an event that expects an ack, and on the ack itself.
    pub id: Option<u64>,
    /// The data part, if any.
    pub data: Option<Payload>,
}

impl Packet {
    /// A packet of `kind` on `nsp` with no id and no data.
    pub fn new(kind: PacketKind, nsp: impl Into<Cow<'static, str>>) -> Self {
        Packet {
            kind,
            nsp: nsp.into(),
            id: None,
            data: None,
        }
    }

    /// An EVENT on `nsp` with the given data (an array: name first, then arguments).
    pub fn event(nsp: impl Into<Cow<'static, str>>, data: impl Into<Payload>) -> Self {
        Packet {
            kind: PacketKind::Event,
            nsp: nsp.into(),
            id: None,
            data: Some(data.into()),
        }
    }

    /// An ACK on `nsp` for `id` with the given data (an array of arguments).
    pub fn ack(nsp: impl Into<Cow<'static, str>>, id: u64, data: impl Into<Payload>) -> Self {
        Packet {
            kind: PacketKind::Ack,
            nsp: nsp.into(),
            id: Some(id),
            data: Some(data.into()),
        }
    }

    /// This packet with the ack id set.
    pub fn with_id(mut self, id: u64) -> Self {
        self.id = Some(id);
        self
    }

    /// True if the payload holds binary (it is then sent as BINARY_EVENT / BINARY_ACK).
    pub fn has_binary(&self) -> bool {
        self.data.as_ref().is_some_and(Payload::has_binary)
    }
}
