//! The ClusterAdapter message set (`socket.io-adapter` 2.5) as the sharded adapter
//! (`createShardedAdapter` of `@socket.io/redis-adapter` 8.3) sends it: `{type, data, uid,
//! nsp}`, JSON, or msgpack when a message that may carry binary does. Pure: no IO.
//!
//! Channels: `<channelPrefix>#<nsp>#` (every node), `<channelPrefix>#<nsp>#<room>#` (a
//! single-room broadcast without ack, with the dynamic subscription modes), and
//! `<channelPrefix>#<nsp>#<uid>#` (the answers to node `uid`).

use socketio::Value;
use socketio::adapter::BroadcastOptions;
use socketio::protocol::json;
use socketio::protocol::socket::parser::msgpack;
use socketio::protocol::value::Number;

use crate::error::DecodeError;
use crate::wire::{self, Message};

/// The message types of the ClusterAdapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MessageType {
    /// A node started (heartbeat flavour only).
    InitialHeartbeat = 1,
    /// A node is alive (heartbeat flavour only).
    Heartbeat = 2,
    /// A broadcast, with a `requestId` when it wants acks.
    Broadcast = 3,
    /// `socketsJoin`.
    SocketsJoin = 4,
    /// `socketsLeave`.
    SocketsLeave = 5,
    /// `disconnectSockets`.
    DisconnectSockets = 6,
    /// `fetchSockets`.
    FetchSockets = 7,
    /// The answer to `fetchSockets`.
    FetchSocketsResponse = 8,
    /// `serverSideEmit`, with a `requestId` when it wants acks.
    ServerSideEmit = 9,
    /// The ack to a `serverSideEmit`.
    ServerSideEmitResponse = 10,
    /// How many clients a node sent a broadcast with acks to.
    BroadcastClientCount = 11,
    /// One client's ack to a broadcast.
    BroadcastAck = 12,
    /// A node closed its adapter.
    AdapterClose = 13,
}

impl MessageType {
    /// The type of a wire number.
    pub fn from_number(n: u64) -> Option<MessageType> {
        Some(match n {
            1 => MessageType::InitialHeartbeat,
            2 => MessageType::Heartbeat,
            3 => MessageType::Broadcast,
            4 => MessageType::SocketsJoin,
            5 => MessageType::SocketsLeave,
            6 => MessageType::DisconnectSockets,
            7 => MessageType::FetchSockets,
            8 => MessageType::FetchSocketsResponse,
            9 => MessageType::ServerSideEmit,
            10 => MessageType::ServerSideEmitResponse,
            11 => MessageType::BroadcastClientCount,
            12 => MessageType::BroadcastAck,
            13 => MessageType::AdapterClose,
            _ => return None,
        })
    }

    /// Whether its data may hold binary (and so may be sent as msgpack).
    fn may_hold_binary(self) -> bool {
        matches!(
            self,
            MessageType::Broadcast
                | MessageType::BroadcastAck
                | MessageType::FetchSocketsResponse
                | MessageType::ServerSideEmit
                | MessageType::ServerSideEmitResponse
        )
    }
}

/// The sharded adapter's channels for one namespace and node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardedChannels {
    /// `<prefix>#<nsp>#`.
    pub public: String,
    /// `<prefix>#<nsp>#<uid>#`: answers to this node.
    pub private: String,
}

impl ShardedChannels {
    /// The channels of namespace `nsp` under `prefix`, for node `uid`.
    pub fn new(prefix: &str, nsp: &str, uid: &str) -> ShardedChannels {
        let public = format!("{prefix}#{nsp}#");
        ShardedChannels {
            private: format!("{public}{uid}#"),
            public,
        }
    }

    /// The channel of a single room (dynamic subscription modes).
    pub fn room(&self, room: &str) -> String {
        format!("{}{room}#", self.public)
    }

    /// Where answers to node `uid` go.
    pub fn response_to(&self, uid: &str) -> String {
        format!("{}{uid}#", self.public)
    }
}

/// The `subscriptionMode` option of the sharded adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SubscriptionMode {
    /// Every message on the namespace's channel.
    Static,
    /// Single-room broadcasts to public rooms (not socket ids) on the room's channel, which
    /// nodes holding the room subscribe to (the default).
    #[default]
    Dynamic,
    /// Single-room broadcasts to any room, socket ids included, on the room's channel.
    DynamicPrivate,
}

/// A socket id as the reference generates them (20 characters): its room's broadcasts stay
/// on the namespace channel in the `dynamic` mode.
pub fn looks_like_a_socket_id(room: &str) -> bool {
    room.len() == 20
}

fn obj(entries: Vec<(&str, Value)>) -> Value {
    Value::Object(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
    )
}

fn number(n: u64) -> Value {
    Value::Number(Number::PosInt(n))
}

fn string(s: &str) -> Value {
    Value::String(s.to_owned())
}

fn strings(items: &[socketio::protocol::Str]) -> Value {
    Value::Array(items.iter().map(|s| Value::String(s.to_string())).collect())
}

/// `{rooms, except}` (and `flags` when there are any).
fn opts_value(opts: &BroadcastOptions, flags: Option<Value>) -> Value {
    let (rooms, except) = wire::opts_lists(opts);
    let mut entries = vec![("rooms", strings(&rooms)), ("except", strings(&except))];
    if let Some(flags) = flags {
        entries.push(("flags", flags));
    }
    obj(entries)
}

/// Encodes `{type, data, uid, nsp}`: msgpack when `kind` may hold binary and `data` does,
/// JSON otherwise.
pub fn encode(kind: MessageType, data: Value, uid: &str, nsp: &str) -> Vec<u8> {
    let binary = kind.may_hold_binary() && data.has_binary();
    let message = obj(vec![
        ("type", number(kind as u64)),
        ("data", data),
        ("uid", string(uid)),
        ("nsp", string(nsp)),
    ]);
    if binary {
        let mut out = Vec::new();
        msgpack::encode_value(&message, &mut out);
        out
    } else {
        json::to_vec(&message)
    }
}

/// Encodes `{type, data, uid, nsp}` as msgpack (the streams adapter's pub/sub messages).
pub fn encode_msgpack(kind: MessageType, data: Value, uid: &str, nsp: &str) -> Vec<u8> {
    let message = obj(vec![
        ("type", number(kind as u64)),
        ("data", data),
        ("uid", string(uid)),
        ("nsp", string(nsp)),
    ]);
    let mut out = Vec::new();
    msgpack::encode_value(&message, &mut out);
    out
}

/// A decoded message.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterMessage {
    /// Its type.
    pub kind: MessageType,
    /// The sender's uid.
    pub uid: String,
    /// The namespace.
    pub nsp: String,
    /// Its data (`null` when absent), read with [`Message`]'s accessors.
    pub data: Message,
}

/// Decodes a message (`{` first: JSON, else msgpack).
pub fn decode(payload: &[u8]) -> Result<ClusterMessage, DecodeError> {
    let value = wire::decode_payload(payload)?;
    let kind = match value.get("type") {
        Some(Value::Number(n)) => n.as_u64().and_then(MessageType::from_number),
        _ => None,
    }
    .ok_or_else(|| DecodeError("cluster message: unknown type".into()))?;
    let text = |name: &str| value.get(name).and_then(Value::as_str).map(str::to_owned);
    let data = match value.get("data") {
        Some(data @ Value::Object(_)) => data.clone(),
        _ => Value::Object(Vec::new()),
    };
    Ok(ClusterMessage {
        kind,
        uid: text("uid").unwrap_or_default(),
        nsp: text("nsp").unwrap_or_else(|| "/".to_owned()),
        data: Message(data),
    })
}

/// The data of a broadcast: `{packet, requestId?, opts}`.
pub fn broadcast_data(
    nsp: &str,
    event: &Value,
    opts: &BroadcastOptions,
    volatile: bool,
    ack: Option<(&str, u64)>,
) -> Value {
    let packet = obj(vec![
        ("type", number(2)),
        ("data", event.clone()),
        ("nsp", string(nsp)),
    ]);
    let mut flags = Vec::new();
    if volatile {
        flags.push(("volatile", Value::Bool(true)));
    }
    let mut entries = vec![("packet", packet)];
    if let Some((request_id, timeout)) = ack {
        flags.push(("timeout", number(timeout)));
        entries.push(("requestId", string(request_id)));
    }
    entries.push(("opts", opts_value(opts, Some(obj(flags)))));
    obj(entries)
}

/// The data of `socketsJoin` / `socketsLeave`: `{opts, rooms}`.
pub fn rooms_data(opts: &BroadcastOptions, rooms: &[socketio::protocol::Str]) -> Value {
    obj(vec![
        ("opts", opts_value(opts, None)),
        ("rooms", strings(rooms)),
    ])
}

/// The data of `disconnectSockets`: `{opts, close}`.
pub fn disconnect_data(opts: &BroadcastOptions, close: bool) -> Value {
    obj(vec![
        ("opts", opts_value(opts, None)),
        ("close", Value::Bool(close)),
    ])
}

/// The data of `fetchSockets`: `{opts, requestId}`.
pub fn fetch_data(opts: &BroadcastOptions, request_id: &str) -> Value {
    obj(vec![
        ("opts", opts_value(opts, None)),
        ("requestId", string(request_id)),
    ])
}

/// The data of `serverSideEmit`: `{requestId?, packet}`.
pub fn server_side_data(request_id: Option<&str>, packet: &Value) -> Value {
    let mut entries = Vec::new();
    if let Some(id) = request_id {
        entries.push(("requestId", string(id)));
    }
    entries.push(("packet", packet.clone()));
    obj(entries)
}

/// The data of an answer: `{requestId, <name>: value}`.
pub fn response_data(request_id: &str, name: &str, value: Value) -> Value {
    obj(vec![("requestId", string(request_id)), (name, value)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_json_unless_they_hold_binary() {
        let opts = BroadcastOptions::new().to("r");
        let event = Value::Array(vec![Value::from("e"), Value::from(1u64)]);
        let text = encode(
            MessageType::Broadcast,
            broadcast_data("/", &event, &opts, false, None),
            "abc",
            "/",
        );
        assert_eq!(
            String::from_utf8(text.clone()).unwrap(),
            r#"{"type":3,"data":{"packet":{"type":2,"data":["e",1],"nsp":"/"},"opts":{"rooms":["r"],"except":[],"flags":{}}},"uid":"abc","nsp":"/"}"#
        );
        let read = decode(&text).unwrap();
        assert_eq!(
            (read.kind, read.uid.as_str()),
            (MessageType::Broadcast, "abc")
        );
        assert_eq!(read.data.opts(), Some(opts.clone()));

        let binary = Value::Array(vec![
            Value::from("e"),
            Value::Binary(bytes::Bytes::from_static(&[1])),
        ]);
        let packed = encode(
            MessageType::Broadcast,
            broadcast_data("/", &binary, &opts, true, Some(("id1", 500))),
            "abc",
            "/",
        );
        assert_ne!(packed[0], b'{');
        let read = decode(&packed).unwrap();
        assert_eq!(read.data.request_id(), Some("id1"));
        assert_eq!(read.data.flag_timeout(), Some(500));
        assert!(read.data.flag_volatile());
        // A join never goes as msgpack.
        let join = encode(
            MessageType::SocketsJoin,
            rooms_data(&opts, &[socketio::protocol::Str::from("x".to_owned())]),
            "abc",
            "/",
        );
        assert_eq!(
            String::from_utf8(join).unwrap(),
            r#"{"type":4,"data":{"opts":{"rooms":["r"],"except":[]},"rooms":["x"]},"uid":"abc","nsp":"/"}"#
        );
        assert!(decode(b"{\"type\":99}").is_err());
        assert!(decode(b"\xc1").is_err());
    }

    #[test]
    fn channels_and_modes() {
        let channels = ShardedChannels::new("socket.io", "/", "u1");
        assert_eq!(channels.public, "socket.io#/#");
        assert_eq!(channels.private, "socket.io#/#u1#");
        assert_eq!(channels.room("r"), "socket.io#/#r#");
        assert_eq!(channels.response_to("u2"), "socket.io#/#u2#");
        assert!(looks_like_a_socket_id("abcdefghij0123456789"));
        assert!(!looks_like_a_socket_id("room"));
    }
}
