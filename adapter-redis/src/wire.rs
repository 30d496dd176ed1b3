//! The classic adapter's wire format (`@socket.io/redis-adapter` 8.3, `createAdapter`, and
//! `@socket.io/redis-emitter` 5.1): channel names, the broadcast message, the requests and
//! responses. Pure: values in, bytes out, and back; no IO.
//!
//! - Broadcast: msgpack (as notepack writes it) `[uid, {type: 2, data, nsp}, {rooms, except,
//!   flags}]` on `<key>#<nsp>#`, or `<key>#<nsp>#<room>#` when exactly one room is targeted.
//! - Requests on `<key>-request#<nsp>#`: JSON objects `{uid, requestId?, type, ...}`, except the
//!   broadcast-with-ack request, which is msgpack (it may carry binary).
//! - Responses on `<key>-response#<nsp>#` (or `<key>-response#<nsp>#<uid>#`): JSON, except the
//!   client acks of a broadcast (msgpack).
//! - A receiver reads a payload that starts with `{` as JSON, anything else as msgpack.

use socketio::Value;
use socketio::adapter::BroadcastOptions;
use socketio::protocol::Str;
use socketio::protocol::json;
use socketio::protocol::socket::parser::msgpack;
use socketio::protocol::value::Number;

use crate::error::DecodeError;

/// How deep decoded messages may nest.
pub(crate) const MAX_DEPTH: usize = 64;

/// The request types of the classic adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestType {
    /// `allSockets()`: the ids of the selected sockets.
    Sockets = 0,
    /// `allRooms()`.
    AllRooms = 1,
    /// `socketsJoin()` (or the legacy `remoteJoin(sid, room)`).
    RemoteJoin = 2,
    /// `socketsLeave()` (or the legacy `remoteLeave(sid, room)`).
    RemoteLeave = 3,
    /// `disconnectSockets()` (or the legacy `remoteDisconnect(sid, close)`).
    RemoteDisconnect = 4,
    /// `fetchSockets()`.
    RemoteFetch = 5,
    /// `serverSideEmit()`, with or without ack.
    ServerSideEmit = 6,
    /// A broadcast with acks.
    Broadcast = 7,
    /// The answer to a broadcast with acks: how many clients a node sent it to.
    BroadcastClientCount = 8,
    /// The answer to a broadcast with acks: one client's ack.
    BroadcastAck = 9,
}

impl RequestType {
    /// The type of a wire number.
    pub fn from_number(n: u64) -> Option<RequestType> {
        Some(match n {
            0 => RequestType::Sockets,
            1 => RequestType::AllRooms,
            2 => RequestType::RemoteJoin,
            3 => RequestType::RemoteLeave,
            4 => RequestType::RemoteDisconnect,
            5 => RequestType::RemoteFetch,
            6 => RequestType::ServerSideEmit,
            7 => RequestType::Broadcast,
            8 => RequestType::BroadcastClientCount,
            9 => RequestType::BroadcastAck,
            _ => return None,
        })
    }

    fn value(self) -> Value {
        number(self as u64)
    }
}

/// The channel names of one namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channels {
    /// `<key>#<nsp>#`: broadcasts (and the prefix of single-room channels).
    pub broadcast: String,
    /// `<key>-request#<nsp>#`.
    pub request: String,
    /// `<key>-response#<nsp>#`.
    pub response: String,
    /// `<key>-response#<nsp>#<uid>#`.
    pub specific_response: String,
}

impl Channels {
    /// The channels of namespace `nsp` under `key`, for the node `uid`.
    pub fn new(key: &str, nsp: &str, uid: &str) -> Channels {
        let response = format!("{key}-response#{nsp}#");
        Channels {
            broadcast: format!("{key}#{nsp}#"),
            request: format!("{key}-request#{nsp}#"),
            specific_response: format!("{response}{uid}#"),
            response,
        }
    }

    /// The pattern the node subscribes to for broadcasts.
    pub fn broadcast_pattern(&self) -> String {
        format!("{}*", self.broadcast)
    }

    /// The channel of a broadcast to `opts` (its room's channel when it targets one room).
    pub fn broadcast_channel(&self, opts: &BroadcastOptions) -> String {
        match (opts.rooms.len(), opts.rooms.iter().next()) {
            (1, Some(room)) => format!("{}{room}#", self.broadcast),
            _ => self.broadcast.clone(),
        }
    }

    /// The room of a broadcast channel (`Some("")` for the namespace-wide one); `None` for a
    /// channel that is not one of this namespace's broadcast channels.
    pub fn room_of<'a>(&self, channel: &'a str) -> Option<&'a str> {
        channel
            .strip_prefix(self.broadcast.as_str())?
            .strip_suffix('#')
            .or(Some("").filter(|_| channel.len() == self.broadcast.len()))
    }

    /// Where a response to a request of node `requester` goes.
    pub fn response_channel(&self, specific: bool, requester: &str) -> String {
        if specific {
            format!("{}{requester}#", self.response)
        } else {
            self.response.clone()
        }
    }
}

/// A broadcast as it travels: who sent it, what, and to whom.
#[derive(Debug, Clone, PartialEq)]
pub struct WireBroadcast {
    /// The sending node's uid (`"emitter"` for the emitter).
    pub uid: String,
    /// The namespace of the packet.
    pub nsp: String,
    /// `[event, ...args]`.
    pub data: Value,
    /// Target rooms (every socket when empty).
    pub rooms: Vec<Str>,
    /// Excepted rooms (socket ids included).
    pub except: Vec<Str>,
    /// The `volatile` flag.
    pub volatile: bool,
}

/// Which writer's key order a broadcast's options follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptsOrder {
    /// The adapter's `{rooms, except, flags}`.
    Adapter,
    /// The emitter's `{rooms, flags, except}`.
    Emitter,
}

fn number(n: u64) -> Value {
    Value::Number(Number::PosInt(n))
}

fn strings(items: &[Str]) -> Value {
    Value::Array(items.iter().map(|s| Value::String(s.to_string())).collect())
}

fn obj(entries: Vec<(&str, Value)>) -> Value {
    Value::Object(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
    )
}

/// The rooms and excepted rooms of `opts` as the wire lists them (excepted sockets are
/// excepted rooms: every socket is in its own room).
pub fn opts_lists(opts: &BroadcastOptions) -> (Vec<Str>, Vec<Str>) {
    let rooms = opts.rooms.iter().cloned().collect();
    let mut except: Vec<Str> = opts.except.iter().cloned().collect();
    for sid in &opts.except_sockets {
        if !opts.except.contains(sid) {
            except.push(sid.clone());
        }
    }
    (rooms, except)
}

/// Broadcast options from wire lists.
pub fn opts_from_lists(rooms: Vec<Str>, except: Vec<Str>) -> BroadcastOptions {
    let mut opts = BroadcastOptions::new();
    opts.rooms.extend(rooms);
    opts.except.extend(except);
    opts
}

/// The packet object `{type: 2, data, nsp}`.
fn packet(data: &Value, nsp: &str) -> Value {
    obj(vec![
        ("type", number(2)),
        ("data", data.clone()),
        ("nsp", Value::String(nsp.to_owned())),
    ])
}

fn flags(volatile: bool, timeout_ms: Option<u64>) -> Value {
    let mut entries = Vec::new();
    if volatile {
        entries.push(("volatile", Value::Bool(true)));
    }
    if let Some(ms) = timeout_ms {
        entries.push(("timeout", number(ms)));
    }
    obj(entries)
}

/// The wire options object of a broadcast.
fn wire_opts(rooms: &[Str], except: &[Str], flags: Value, order: OptsOrder) -> Value {
    match order {
        OptsOrder::Adapter => obj(vec![
            ("rooms", strings(rooms)),
            ("except", strings(except)),
            ("flags", flags),
        ]),
        OptsOrder::Emitter => obj(vec![
            ("rooms", strings(rooms)),
            ("flags", flags),
            ("except", strings(except)),
        ]),
    }
}

/// Encodes a broadcast message, msgpack as notepack writes it.
pub fn encode_broadcast(message: &WireBroadcast, order: OptsOrder) -> Vec<u8> {
    let value = Value::Array(vec![
        Value::String(message.uid.clone()),
        packet(&message.data, &message.nsp),
        wire_opts(
            &message.rooms,
            &message.except,
            flags(message.volatile, None),
            order,
        ),
    ]);
    let mut out = Vec::new();
    msgpack::encode_value(&value, &mut out);
    out
}

/// Reads a payload: JSON when it starts with `{`, msgpack otherwise.
pub fn decode_payload(payload: &[u8]) -> Result<Value, DecodeError> {
    if payload.first() == Some(&b'{') {
        json::parse(payload, MAX_DEPTH).map_err(|e| DecodeError(format!("JSON: {e:?}")))
    } else {
        decode_msgpack(payload)
    }
}

/// Reads a msgpack payload (one value, nothing after it).
pub fn decode_msgpack(payload: &[u8]) -> Result<Value, DecodeError> {
    let bytes = bytes::Bytes::copy_from_slice(payload);
    let (value, used) = msgpack::decode_value_bytes(&bytes, MAX_DEPTH)
        .map_err(|e| DecodeError(format!("msgpack: {e:?}")))?;
    if used != payload.len() {
        return Err(DecodeError("msgpack: trailing bytes".into()));
    }
    Ok(value)
}

/// A room name as JavaScript would have it: rooms are strings, numbers are read as their
/// decimal text.
fn room_name(value: &Value) -> Option<Str> {
    match value {
        Value::String(s) => Some(Str::from(s.clone())),
        Value::Number(n) => {
            let mut out = Vec::new();
            json::write_number(*n, &mut out);
            String::from_utf8(out).ok().map(Str::from)
        }
        _ => None,
    }
}

/// The room names of a wire list (absent: none).
pub fn room_list(value: Option<&Value>) -> Vec<Str> {
    match value {
        Some(Value::Array(items)) => items.iter().filter_map(room_name).collect(),
        _ => Vec::new(),
    }
}

/// Decodes a broadcast message.
pub fn decode_broadcast(payload: &[u8]) -> Result<WireBroadcast, DecodeError> {
    let value = decode_msgpack(payload)?;
    let Value::Array(mut items) = value else {
        return Err(DecodeError("broadcast: not an array".into()));
    };
    if items.len() < 3 {
        return Err(DecodeError("broadcast: fewer than 3 items".into()));
    }
    let opts = items.remove(2);
    let packet = items.remove(1);
    let uid = match &items[0] {
        Value::String(s) => s.clone(),
        _ => String::new(),
    };
    let nsp = match packet.get("nsp") {
        Some(Value::String(s)) => s.clone(),
        _ => "/".to_owned(),
    };
    let data = match packet.get("data") {
        Some(data @ Value::Array(_)) => data.clone(),
        _ => return Err(DecodeError("broadcast: packet without data".into())),
    };
    let volatile = matches!(
        opts.get("flags").and_then(|f| f.get("volatile")),
        Some(Value::Bool(true))
    );
    Ok(WireBroadcast {
        uid,
        nsp,
        data,
        rooms: room_list(opts.get("rooms")),
        except: room_list(opts.get("except")),
        volatile,
    })
}

/// A request or response, read (see [`decode_payload`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Message(pub Value);

impl Message {
    /// Reads one.
    pub fn decode(payload: &[u8]) -> Result<Message, DecodeError> {
        let value = decode_payload(payload)?;
        if !matches!(value, Value::Object(_)) {
            return Err(DecodeError("request: not an object".into()));
        }
        Ok(Message(value))
    }

    /// Its `type`.
    pub fn kind(&self) -> Option<RequestType> {
        match self.0.get("type") {
            Some(Value::Number(n)) => n.as_u64().and_then(RequestType::from_number),
            _ => None,
        }
    }

    /// A string field.
    pub fn str(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(Value::as_str)
    }

    /// A field.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }

    /// Its `requestId`.
    pub fn request_id(&self) -> Option<&str> {
        self.str("requestId")
    }

    /// Its `opts` as broadcast options, if it has them.
    pub fn opts(&self) -> Option<BroadcastOptions> {
        let opts = self.0.get("opts")?;
        Some(opts_from_lists(
            room_list(opts.get("rooms")),
            room_list(opts.get("except")),
        ))
    }

    /// `opts.flags.timeout` in milliseconds, if given.
    pub fn flag_timeout(&self) -> Option<u64> {
        match self.0.get("opts")?.get("flags")?.get("timeout")? {
            Value::Number(n) => n.as_u64(),
            _ => None,
        }
    }

    /// `opts.flags.volatile`.
    pub fn flag_volatile(&self) -> bool {
        matches!(
            self.0
                .get("opts")
                .and_then(|o| o.get("flags"))
                .and_then(|f| f.get("volatile")),
            Some(Value::Bool(true))
        )
    }
}

fn uid_field(uid: Option<&str>) -> Vec<(&'static str, Value)> {
    uid.map(|uid| vec![("uid", Value::String(uid.to_owned()))])
        .unwrap_or_default()
}

fn json_text(value: &Value) -> Vec<u8> {
    json::to_vec(value)
}

/// `{uid?, type: 2|3, opts: {rooms, except}, rooms}` (`socketsJoin` / `socketsLeave`); the
/// emitter sends no uid.
pub fn encode_remote_rooms(
    uid: Option<&str>,
    join: bool,
    opts: &BroadcastOptions,
    rooms: &[Str],
) -> Vec<u8> {
    let (targets, except) = opts_lists(opts);
    let kind = if join {
        RequestType::RemoteJoin
    } else {
        RequestType::RemoteLeave
    };
    let mut entries = uid_field(uid);
    entries.push(("type", kind.value()));
    entries.push((
        "opts",
        obj(vec![
            ("rooms", strings(&targets)),
            ("except", strings(&except)),
        ]),
    ));
    entries.push(("rooms", strings(rooms)));
    json_text(&obj(entries))
}

/// `{uid?, type: 4, opts: {rooms, except}, close}` (`disconnectSockets`).
pub fn encode_remote_disconnect(
    uid: Option<&str>,
    opts: &BroadcastOptions,
    close: bool,
) -> Vec<u8> {
    let (targets, except) = opts_lists(opts);
    let mut entries = uid_field(uid);
    entries.push(("type", RequestType::RemoteDisconnect.value()));
    entries.push((
        "opts",
        obj(vec![
            ("rooms", strings(&targets)),
            ("except", strings(&except)),
        ]),
    ));
    entries.push(("close", Value::Bool(close)));
    json_text(&obj(entries))
}

/// `{uid, requestId, type: 5, opts: {rooms, except}}` (`fetchSockets`).
pub fn encode_fetch(uid: &str, request_id: &str, opts: &BroadcastOptions) -> Vec<u8> {
    let (targets, except) = opts_lists(opts);
    json_text(&obj(vec![
        ("uid", Value::String(uid.to_owned())),
        ("requestId", Value::String(request_id.to_owned())),
        ("type", RequestType::RemoteFetch.value()),
        (
            "opts",
            obj(vec![
                ("rooms", strings(&targets)),
                ("except", strings(&except)),
            ]),
        ),
    ]))
}

/// `{uid, requestId?, type: 6, data}` (`serverSideEmit`; with a request id when acks are
/// wanted).
pub fn encode_server_side_emit(uid: &str, request_id: Option<&str>, data: &Value) -> Vec<u8> {
    let mut entries = vec![("uid", Value::String(uid.to_owned()))];
    if let Some(id) = request_id {
        entries.push(("requestId", Value::String(id.to_owned())));
    }
    entries.push(("type", RequestType::ServerSideEmit.value()));
    entries.push(("data", data.clone()));
    json_text(&obj(entries))
}

/// `{type: 6, requestId, data}`: a node's ack to a server-side emit.
pub fn encode_server_side_ack(request_id: &str, data: &Value) -> Vec<u8> {
    json_text(&obj(vec![
        ("type", RequestType::ServerSideEmit.value()),
        ("requestId", Value::String(request_id.to_owned())),
        ("data", data.clone()),
    ]))
}

/// The broadcast-with-ack request, msgpack: `{uid, requestId, type: 7, packet, opts}`.
pub fn encode_broadcast_request(
    uid: &str,
    request_id: &str,
    nsp: &str,
    data: &Value,
    opts: &BroadcastOptions,
    volatile: bool,
    timeout_ms: u64,
) -> Vec<u8> {
    let (rooms, except) = opts_lists(opts);
    let value = obj(vec![
        ("uid", Value::String(uid.to_owned())),
        ("requestId", Value::String(request_id.to_owned())),
        ("type", RequestType::Broadcast.value()),
        ("packet", packet(data, nsp)),
        (
            "opts",
            wire_opts(
                &rooms,
                &except,
                flags(volatile, Some(timeout_ms)),
                OptsOrder::Adapter,
            ),
        ),
    ]);
    let mut out = Vec::new();
    msgpack::encode_value(&value, &mut out);
    out
}

/// `{type: 8, requestId, clientCount}`.
pub fn encode_client_count(request_id: &str, count: usize) -> Vec<u8> {
    json_text(&obj(vec![
        ("type", RequestType::BroadcastClientCount.value()),
        ("requestId", Value::String(request_id.to_owned())),
        ("clientCount", number(count as u64)),
    ]))
}

/// `{type: 9, requestId, packet}`, msgpack: one client's ack (its first argument).
pub fn encode_client_ack(request_id: &str, answer: &Value) -> Vec<u8> {
    let value = obj(vec![
        ("type", RequestType::BroadcastAck.value()),
        ("requestId", Value::String(request_id.to_owned())),
        ("packet", answer.clone()),
    ]);
    let mut out = Vec::new();
    msgpack::encode_value(&value, &mut out);
    out
}

/// `{requestId, ...fields}`: a JSON response.
pub fn encode_response(request_id: &str, fields: Vec<(&str, Value)>) -> Vec<u8> {
    let mut entries = vec![("requestId", Value::String(request_id.to_owned()))];
    entries.extend(fields);
    json_text(&obj(entries))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn channel_names_are_the_official_ones() {
        let channels = Channels::new("socket.io", "/", "abc123");
        assert_eq!(channels.broadcast, "socket.io#/#");
        assert_eq!(channels.broadcast_pattern(), "socket.io#/#*");
        assert_eq!(channels.request, "socket.io-request#/#");
        assert_eq!(channels.response, "socket.io-response#/#");
        assert_eq!(channels.specific_response, "socket.io-response#/#abc123#");
        let one = BroadcastOptions::new().to("room1");
        assert_eq!(channels.broadcast_channel(&one), "socket.io#/#room1#");
        let two = one.clone().to("room2");
        assert_eq!(channels.broadcast_channel(&two), "socket.io#/#");
        assert_eq!(channels.room_of("socket.io#/#room1#"), Some("room1"));
        assert_eq!(channels.room_of("socket.io#/#"), Some(""));
        assert_eq!(channels.room_of("socket.io#/chat#"), None);
        assert_eq!(
            channels.response_channel(true, "xyz"),
            "socket.io-response#/#xyz#"
        );
    }

    #[test]
    fn a_broadcast_is_encoded_as_notepack_writes_it() {
        // notepack.encode(["emitter", {type: 2, data: ["a", 1], nsp: "/"},
        //   {rooms: ["r"], flags: {}, except: []}])
        let message = WireBroadcast {
            uid: "emitter".into(),
            nsp: "/".into(),
            data: Value::Array(vec![Value::from("a"), Value::from(1u64)]),
            rooms: vec![Str::from("r".to_owned())],
            except: vec![],
            volatile: false,
        };
        let bytes = encode_broadcast(&message, OptsOrder::Emitter);
        assert_eq!(
            hex(&bytes),
            concat!(
                "93",
                "a7656d6974746572",
                "83",
                "a474797065",
                "02",
                "a464617461",
                "92a16101",
                "a36e7370",
                "a12f",
                "83",
                "a5726f6f6d73",
                "91a172",
                "a5666c616773",
                "80",
                "a6657863657074",
                "90"
            )
        );
        assert_eq!(decode_broadcast(&bytes).unwrap(), message);
    }

    #[test]
    fn a_broadcast_keeps_binary_and_reads_numeric_rooms() {
        let data = Value::Array(vec![
            Value::from("bin"),
            Value::Binary(bytes::Bytes::from_static(&[1, 2, 3])),
        ]);
        let message = WireBroadcast {
            uid: "n1".into(),
            nsp: "/chat".into(),
            data: data.clone(),
            rooms: vec![],
            except: vec![Str::from("x".to_owned())],
            volatile: true,
        };
        let bytes = encode_broadcast(&message, OptsOrder::Adapter);
        assert!(hex(&bytes).contains("c403010203"), "bin 8");
        assert_eq!(decode_broadcast(&bytes).unwrap(), message);

        // rooms: [42] (a JavaScript number) reads as the room "42"; no nsp means "/".
        let mut raw = Vec::new();
        msgpack::encode_value(
            &Value::Array(vec![
                Value::from("n2"),
                obj(vec![("type", number(2)), ("data", data)]),
                obj(vec![("rooms", Value::Array(vec![Value::from(42u64)]))]),
            ]),
            &mut raw,
        );
        let read = decode_broadcast(&raw).unwrap();
        assert_eq!(read.nsp, "/");
        assert_eq!(read.rooms, vec![Str::from("42".to_owned())]);
        assert!(read.except.is_empty() && !read.volatile);
    }

    #[test]
    fn malformed_payloads_are_errors_not_panics() {
        for bad in [
            &b""[..],
            b"\x93",
            b"\x92\xa1a\xa1b",
            b"{\"type\":",
            b"\xc1",
            b"\x93\xa1a\x80\x80trailing",
        ] {
            assert!(decode_broadcast(bad).is_err(), "{bad:?}");
        }
        assert!(Message::decode(b"[1]").is_err());
        assert!(Message::decode(b"{\"type\":99}").unwrap().kind().is_none());
    }

    #[test]
    fn requests_are_the_official_json() {
        let opts = BroadcastOptions::new()
            .to("a")
            .except("b")
            .except_socket("sid1");
        assert_eq!(
            String::from_utf8(encode_remote_rooms(
                Some("u1"),
                true,
                &opts,
                &[Str::from("c".to_owned())]
            ))
            .unwrap(),
            r#"{"uid":"u1","type":2,"opts":{"rooms":["a"],"except":["b","sid1"]},"rooms":["c"]}"#
        );
        assert_eq!(
            String::from_utf8(encode_remote_disconnect(
                None,
                &BroadcastOptions::new(),
                true
            ))
            .unwrap(),
            r#"{"type":4,"opts":{"rooms":[],"except":[]},"close":true}"#
        );
        assert_eq!(
            String::from_utf8(encode_fetch("u1", "r1", &BroadcastOptions::new().to("x"))).unwrap(),
            r#"{"uid":"u1","requestId":"r1","type":5,"opts":{"rooms":["x"],"except":[]}}"#
        );
        let data = Value::Array(vec![Value::from("who")]);
        assert_eq!(
            String::from_utf8(encode_server_side_emit("u1", Some("r2"), &data)).unwrap(),
            r#"{"uid":"u1","requestId":"r2","type":6,"data":["who"]}"#
        );
        assert_eq!(
            String::from_utf8(encode_client_count("r3", 2)).unwrap(),
            r#"{"type":8,"requestId":"r3","clientCount":2}"#
        );
        let request = Message::decode(&encode_broadcast_request(
            "u1", "r4", "/", &data, &opts, false, 2000,
        ))
        .unwrap();
        assert_eq!(request.kind(), Some(RequestType::Broadcast));
        assert_eq!(request.flag_timeout(), Some(2000));
        assert_eq!(
            request.opts().unwrap(),
            opts_from_lists(
                vec![Str::from("a".to_owned())],
                vec![Str::from("b".to_owned()), Str::from("sid1".to_owned())]
            )
        );
        let ack = Message::decode(&encode_client_ack("r4", &Value::from("yes"))).unwrap();
        assert_eq!(ack.kind(), Some(RequestType::BroadcastAck));
        assert_eq!(ack.get("packet"), Some(&Value::from("yes")));
    }
}
