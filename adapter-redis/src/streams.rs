//! The streams flavour (`@socket.io/redis-streams-adapter` 0.3): durable messages appended to
//! a Redis stream as `{uid, nsp, type, data}` entries (data JSON, or base64 msgpack when it
//! holds binary), read by every node with `XREAD BLOCK`; sessions kept as base64 msgpack under
//! `<sessionKeyPrefix><pid>`; a session restored on any node from the stream.

use std::collections::BTreeSet;
use std::sync::{Arc, Weak};
use std::time::Duration;

use base64::Engine as _;
use redis::Value as Redis;
use socketio::Value;
use socketio::adapter::{Restored, SessionRecord};
use socketio::protocol::Str;
use socketio::protocol::socket::parser::msgpack;
use socketio::protocol::socket::{Packet, Payload};

use crate::cluster_wire::{ClusterMessage, MessageType};
use crate::conn::{Reconnect, random_unit};
use crate::error::DecodeError;
use crate::wire::{self, Message};

/// How many `XRANGE` pages a restore reads at most (as the reference).
const RESTORE_MAX_PAGES: usize = 100;
/// Entries per `XRANGE` page.
const RESTORE_PAGE: usize = 1000;

/// The options of the streams flavour, named and defaulted as the official ones; the stream
/// name and the `channelPrefix` are the `key` option.
///
/// ```
/// use socketio_redis::{Flavor, RedisAdapterOptions, StreamsOptions};
/// let mut options = RedisAdapterOptions::with_key("my-app");
/// options.flavor = Flavor::Streams(StreamsOptions {
///     stream_count: 3,           // streams my-app-0, my-app-1, my-app-2
///     use_sharded_pub_sub: true, // SPUBLISH / SSUBSCRIBE (Redis 7)
///     ..StreamsOptions::default()
/// });
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamsOptions {
    /// `streamCount`: how many streams the durable messages are spread over (1). With one, the
    /// stream is named `key`; with `n` > 1, each namespace has its messages (and its recovery
    /// offsets) in `<key>-<i>`, `i` = the official `hashCode` of its name (Java's string hash
    /// over UTF-16 units, 32-bit signed) remainder `n`, as JavaScript's `%` makes it: negative
    /// for a negative hash (`<key>--1`, a stream the official nodes never read, so there
    /// they get no durable message of that namespace; ours read those streams too). 0 counts
    /// as 1. A node reads all its streams with one `XREAD`.
    pub stream_count: usize,
    /// `useShardedPubSub`: the pub/sub part (broadcasts with acks, fetches, server-side emits,
    /// every answer) with `SPUBLISH` / `SSUBSCRIBE`, nodes counted with `PUBSUB SHARDNUMSUB`
    /// (Redis 7) instead of `PUBLISH` / `SUBSCRIBE` / `PUBSUB NUMSUB` (false).
    pub use_sharded_pub_sub: bool,
    /// `maxLen`: the stream is trimmed to about this many entries (10,000).
    pub max_len: usize,
    /// `readCount`: entries per `XREAD` (100).
    pub read_count: usize,
    /// `blockTimeInMs`: how long an `XREAD` blocks (5 s).
    pub block_time: Duration,
    /// `sessionKeyPrefix`: where sessions are kept (`sio:session:`).
    pub session_key_prefix: String,
}

impl Default for StreamsOptions {
    fn default() -> Self {
        StreamsOptions {
            stream_count: 1,
            use_sharded_pub_sub: false,
            max_len: 10_000,
            read_count: 100,
            block_time: Duration::from_secs(5),
            session_key_prefix: "sio:session:".to_owned(),
        }
    }
}

/// The official `hashCode` of a namespace name: `h = h * 31 + unit` over its UTF-16 code
/// units, wrapping at 32 bits (signed).
pub(crate) fn hash_code(name: &str) -> i32 {
    name.encode_utf16().fold(0i32, |h, unit| {
        h.wrapping_mul(31).wrapping_add(i32::from(unit))
    })
}

/// The stream namespace `nsp`'s messages go to: `key` with one stream, else `<key>-<i>` with
/// `i` the hash's remainder as JavaScript's `%` makes it (same sign as the hash).
pub(crate) fn stream_of(key: &str, count: usize, nsp: &str) -> String {
    if count <= 1 {
        return key.to_owned();
    }
    let count = i64::try_from(count).unwrap_or(i64::MAX);
    format!("{key}-{}", i64::from(hash_code(nsp)) % count)
}

/// Every stream a node reads: those of [`stream_of`] for any namespace (`<key>-0` to
/// `<key>-<n-1>`, and the negative remainders `<key>--1` to `<key>--<n-1>`).
pub(crate) fn streams_read(key: &str, count: usize) -> Vec<String> {
    if count <= 1 {
        return vec![key.to_owned()];
    }
    let positive = (0..count).map(|i| format!("{key}-{i}"));
    let negative = (1..count).map(|i| format!("{key}--{i}"));
    positive.chain(negative).collect()
}

fn base64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// The fields of a stream entry.
pub(crate) fn encode_entry(
    kind: MessageType,
    data: &Value,
    uid: &str,
    nsp: &str,
) -> Vec<(&'static str, Vec<u8>)> {
    let binary = matches!(
        kind,
        MessageType::Broadcast
            | MessageType::FetchSocketsResponse
            | MessageType::ServerSideEmit
            | MessageType::ServerSideEmitResponse
            | MessageType::BroadcastAck
    ) && data.has_binary();
    let data = if binary {
        let mut packed = Vec::new();
        msgpack::encode_value(data, &mut packed);
        base64().encode(packed).into_bytes()
    } else {
        socketio::protocol::json::to_vec(data)
    };
    vec![
        ("uid", uid.as_bytes().to_vec()),
        ("nsp", nsp.as_bytes().to_vec()),
        ("type", (kind as u64).to_string().into_bytes()),
        ("data", data),
    ]
}

/// A stream entry's message.
pub(crate) fn decode_entry(fields: &[(String, Vec<u8>)]) -> Result<ClusterMessage, DecodeError> {
    let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v);
    let text = |name: &str| field(name).map(|v| String::from_utf8_lossy(v).into_owned());
    let kind = text("type")
        .and_then(|t| t.parse::<u64>().ok())
        .and_then(MessageType::from_number)
        .ok_or_else(|| DecodeError("stream entry: unknown type".into()))?;
    let data = match field("data") {
        Some(raw) if raw.first() == Some(&b'{') => wire::decode_payload(raw)?,
        Some(raw) => {
            let packed = base64()
                .decode(raw)
                .map_err(|e| DecodeError(format!("stream entry: base64: {e}")))?;
            wire::decode_msgpack(&packed)?
        }
        None => Value::Object(Vec::new()),
    };
    Ok(ClusterMessage {
        kind,
        uid: text("uid").unwrap_or_default(),
        nsp: text("nsp").unwrap_or_else(|| "/".to_owned()),
        data: Message(data),
    })
}

/// A stream entry's fields, in order.
pub(crate) type Fields = Vec<(String, Vec<u8>)>;

/// A stream entry: its id and fields.
pub(crate) type Entry = (String, Fields);

fn bulk(value: &Redis) -> Option<Vec<u8>> {
    match value {
        Redis::BulkString(bytes) => Some(bytes.clone()),
        Redis::SimpleString(text) => Some(text.clone().into_bytes()),
        _ => None,
    }
}

/// The entries of an `XRANGE` reply (or of one stream of an `XREAD` reply): id and fields.
pub(crate) fn entries(value: &Redis) -> Vec<Entry> {
    let Redis::Array(items) = value else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|entry| {
            let Redis::Array(parts) = entry else {
                return None;
            };
            let id = String::from_utf8(bulk(parts.first()?)?).ok()?;
            let Redis::Array(flat) = parts.get(1)? else {
                return None;
            };
            let fields = flat
                .chunks(2)
                .filter_map(|pair| {
                    let name = String::from_utf8(bulk(pair.first()?)?).ok()?;
                    Some((name, bulk(pair.get(1)?)?))
                })
                .collect();
            Some((id, fields))
        })
        .collect()
}

/// The entries of an `XREAD` reply, stream by stream (none on a timeout): RESP2 answers
/// `[[name, entries], ...]`, RESP3 a map of name to entries.
pub(crate) fn read_reply(value: &Redis) -> Vec<(String, Vec<Entry>)> {
    let streams: Vec<(&Redis, &Redis)> = match value {
        Redis::Array(streams) => streams
            .iter()
            .filter_map(|stream| match stream {
                Redis::Array(parts) if parts.len() == 2 => Some((&parts[0], &parts[1])),
                _ => None,
            })
            .collect(),
        Redis::Map(pairs) => pairs.iter().map(|(k, v)| (k, v)).collect(),
        _ => return Vec::new(),
    };
    streams
        .into_iter()
        .filter_map(|(name, list)| {
            let name = String::from_utf8(bulk(name)?).ok()?;
            Some((name, entries(list)))
        })
        .collect()
}

/// A session as the reference keeps it: base64 of msgpack `{sid, pid, rooms, data}`.
pub(crate) fn encode_session(session: &SessionRecord) -> String {
    let value = Value::Object(vec![
        ("sid".to_owned(), Value::String(session.sid.to_string())),
        ("pid".to_owned(), Value::String(session.pid.to_string())),
        (
            "rooms".to_owned(),
            Value::Array(
                session
                    .rooms
                    .iter()
                    .map(|r| Value::String(r.to_string()))
                    .collect(),
            ),
        ),
        ("data".to_owned(), session.data.clone()),
    ]);
    let mut packed = Vec::new();
    msgpack::encode_value(&value, &mut packed);
    base64().encode(packed)
}

/// Reads a kept session.
pub(crate) fn decode_session(text: &[u8]) -> Option<SessionRecord> {
    let packed = base64().decode(text).ok()?;
    let value = wire::decode_msgpack(&packed).ok()?;
    let string = |name: &str| value.get(name).and_then(Value::as_str).map(str::to_owned);
    Some(SessionRecord {
        sid: Str::from(string("sid")?),
        pid: Str::from(string("pid")?),
        rooms: wire::room_list(value.get("rooms")).into_iter().collect(),
        data: value.get("data").cloned().unwrap_or(Value::Null),
    })
}

/// Whether a stored broadcast reaches a socket in `rooms` (its targets meet them, its
/// exceptions do not).
fn reaches(rooms: &BTreeSet<Str>, message: &Message) -> bool {
    let Some(opts) = message.opts() else {
        return false;
    };
    (opts.rooms.is_empty() || opts.rooms.iter().any(|r| rooms.contains(r)))
        && !opts.except.iter().any(|r| rooms.contains(r))
}

/// A valid stream offset (`<ms>-<seq>`).
pub(crate) fn valid_offset(offset: &str) -> bool {
    match offset.split_once('-') {
        Some((ms, seq)) => {
            !ms.is_empty()
                && !seq.is_empty()
                && ms.bytes().all(|b| b.is_ascii_digit())
                && seq.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

/// Restores session `pid` of namespace `nsp` from offset `offset`: takes the session
/// (`GETDEL`), checks the offset is still in the stream, then collects the namespace's
/// broadcasts after it that reach the session's rooms, each with its offset appended.
pub(crate) async fn restore(
    conn: &mut redis::aio::MultiplexedConnection,
    stream: &str,
    session_key: &str,
    nsp: &str,
    offset: &str,
) -> Option<Restored> {
    if !valid_offset(offset) {
        return None;
    }
    let (session, here): (Option<Vec<u8>>, Redis) = redis::pipe()
        .cmd("GETDEL")
        .arg(session_key)
        .cmd("XRANGE")
        .arg(stream)
        .arg(offset)
        .arg(offset)
        .query_async(conn)
        .await
        .ok()?;
    let session = decode_session(&session?)?;
    if entries(&here).is_empty() {
        return None; // the offset was trimmed away (or never existed)
    }
    let missed = broadcasts_after(conn, stream, nsp, &session.rooms, offset).await?;
    Some(Restored {
        sid: session.sid,
        pid: session.pid,
        rooms: session.rooms,
        data: session.data,
        missed,
    })
}

/// The broadcasts of namespace `nsp` in `stream` after entry `offset` that reach `rooms`,
/// oldest first, each with its entry id appended as its offset (at most
/// `RESTORE_MAX_PAGES` pages).
pub(crate) async fn broadcasts_after(
    conn: &mut redis::aio::MultiplexedConnection,
    stream: &str,
    nsp: &str,
    rooms: &BTreeSet<Str>,
    offset: &str,
) -> Option<Vec<Packet>> {
    let mut missed = Vec::new();
    let mut from = format!("({offset}");
    for _ in 0..RESTORE_MAX_PAGES {
        let page: Redis = redis::cmd("XRANGE")
            .arg(stream)
            .arg(&from)
            .arg("+")
            .arg("COUNT")
            .arg(RESTORE_PAGE)
            .query_async(conn)
            .await
            .ok()?;
        let page = entries(&page);
        let Some((last, _)) = page.last() else { break };
        from = format!("({last}");
        let full = page.len() == RESTORE_PAGE;
        for (id, fields) in page {
            let Ok(message) = decode_entry(&fields) else {
                continue;
            };
            if message.kind != MessageType::Broadcast
                || message.nsp != nsp
                || message.data.request_id().is_some()
                || !reaches(rooms, &message.data)
            {
                continue;
            }
            let Some(Value::Array(mut data)) = message
                .data
                .get("packet")
                .and_then(|p| p.get("data"))
                .cloned()
            else {
                continue;
            };
            data.push(Value::String(id));
            missed.push(Packet::event(
                nsp.to_owned(),
                Payload::Value(Value::Array(data)),
            ));
        }
        if !full {
            break;
        }
    }
    Some(missed)
}

/// The namespaces' adapters of a node, for its stream reader.
pub(crate) type Sinks =
    std::sync::Mutex<std::collections::HashMap<String, Vec<Weak<dyn EntrySink>>>>;

/// What the node's stream reader hands each entry to.
pub(crate) trait EntrySink: Send + Sync {
    /// One entry of the stream, with its id.
    fn on_entry(&self, id: &str, message: ClusterMessage);
}

/// Where a new node starts reading: a second before now (by this machine's clock), rather
/// than `$` (the end at the time of the first `XREAD`), so that nothing appended between the
/// node's start and its first read is missed. Entries of that second find no socket on a
/// node that just started.
pub(crate) fn start_offset() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    format!("{}-0", ms.saturating_sub(1000))
}

/// What the node's stream reader ([`read_loop`]) works with.
pub(crate) struct StreamReader {
    pub client: redis::Client,
    pub runtime: Arc<dyn socketio::Runtime>,
    /// The streams read, each from `start` on.
    pub streams: Vec<String>,
    pub options: StreamsOptions,
    pub reconnect: Reconnect,
    pub sinks: Weak<Sinks>,
    pub start: String,
    /// Where reconnections are reported.
    pub reports: crate::conn::Reports,
}

/// Reads `streams`, each from `start` on, with one `XREAD BLOCK` over them all, handing each
/// entry to the sink of its namespace, reconnecting with backoff (and going on from the last
/// entry read in each stream), until the node is gone.
pub(crate) async fn read_loop(reader: StreamReader) {
    let StreamReader {
        client,
        runtime,
        streams,
        options,
        reconnect,
        sinks,
        start,
        reports,
    } = reader;
    // `STREAMS <names...> <last ids...>`, the ids kept up to date in place.
    let count = streams.len();
    let mut args: Vec<String> = streams;
    args.extend(std::iter::repeat_n(start, count));
    let mut backoff = reconnect.backoff();
    let config = redis::AsyncConnectionConfig::new()
        .set_response_timeout(Some(options.block_time + Duration::from_secs(5)));
    loop {
        match client
            .get_multiplexed_async_connection_with_config(&config)
            .await
        {
            Ok(mut conn) => {
                if backoff.attempts() > 0 {
                    tracing::info!("redis stream reader reconnected");
                    crate::conn::reconnected(&reports, "stream_reader");
                }
                backoff.reset();
                loop {
                    if sinks.strong_count() == 0 {
                        return;
                    }
                    let reply: Result<Redis, _> = redis::cmd("XREAD")
                        .arg("COUNT")
                        .arg(options.read_count)
                        .arg("BLOCK")
                        .arg(options.block_time.as_millis() as u64)
                        .arg("STREAMS")
                        .arg(&args)
                        .query_async(&mut conn)
                        .await;
                    let reply = match reply {
                        Ok(reply) => reply,
                        Err(error) => {
                            tracing::warn!(%error, "redis stream reader");
                            break;
                        }
                    };
                    for (stream, entries) in read_reply(&reply) {
                        // Only the streams asked for (their position among the names).
                        let Some(at) = args[..count].iter().position(|s| *s == stream) else {
                            continue;
                        };
                        for (id, fields) in entries {
                            args[count + at] = id.clone();
                            let message = match decode_entry(&fields) {
                                Ok(message) => message,
                                Err(error) => {
                                    tracing::debug!(%error, "stream entry dropped");
                                    continue;
                                }
                            };
                            let Some(sinks) = sinks.upgrade() else { return };
                            let live: Vec<Arc<dyn EntrySink>> = sinks
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner)
                                .get(&message.nsp)
                                .map(|list| list.iter().filter_map(Weak::upgrade).collect())
                                .unwrap_or_default();
                            for sink in live {
                                sink.on_entry(&id, message.clone());
                            }
                        }
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "redis stream reader cannot connect"),
        }
        runtime.sleep(backoff.duration(random_unit())).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_sessions_and_offsets() {
        let data = Value::Object(vec![("x".to_owned(), Value::from(1u64))]);
        let fields = encode_entry(MessageType::SocketsJoin, &data, "u", "/");
        assert_eq!(fields[2], ("type", b"4".to_vec()));
        assert_eq!(fields[3], ("data", br#"{"x":1}"#.to_vec()));
        let owned: Vec<(String, Vec<u8>)> =
            fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        let message = decode_entry(&owned).unwrap();
        assert_eq!(
            (message.kind, message.uid.as_str()),
            (MessageType::SocketsJoin, "u")
        );

        let binary = Value::Object(vec![(
            "b".to_owned(),
            Value::Binary(bytes::Bytes::from_static(&[1, 2])),
        )]);
        let fields = encode_entry(MessageType::Broadcast, &binary, "u", "/");
        assert_ne!(fields[3].1.first(), Some(&b'{'));
        let owned: Vec<(String, Vec<u8>)> =
            fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        assert_eq!(decode_entry(&owned).unwrap().data.0, binary);

        let session = SessionRecord {
            sid: Str::from("s".to_owned()),
            pid: Str::from("p".to_owned()),
            rooms: [Str::from("s".to_owned()), Str::from("r".to_owned())]
                .into_iter()
                .collect(),
            data: Value::from("d"),
        };
        assert_eq!(
            decode_session(encode_session(&session).as_bytes()),
            Some(session)
        );
        assert!(decode_session(b"!!").is_none());
        assert!(valid_offset("1700000000000-0") && !valid_offset("1-") && !valid_offset("x-1"));
    }

    #[test]
    fn streams_of_namespaces_as_the_official_adapter_names_them() {
        // `hashCode` and `hashCode(nsp) % 3` as the official util.js computes them (node).
        for (nsp, hash, stream) in [
            ("/", 47, "k-2"),
            ("/chat", 46_457_863, "k-1"),
            ("/news", 46_783_362, "k-0"),
            ("/orders", 2_049_197_012, "k-2"),
            ("/notifications", -1_014_064_871, "k--2"),
            ("/namespace-with-a-long-name", -1_583_632_406, "k--2"),
            ("/é", 1690, "k-1"),
            ("/😀", 1_818_066, "k-0"),
        ] {
            assert_eq!(hash_code(nsp), hash, "{nsp}");
            assert_eq!(stream_of("k", 3, nsp), stream, "{nsp}");
        }
        assert_eq!(stream_of("k", 1, "/chat"), "k");
        assert_eq!(stream_of("k", 0, "/chat"), "k");
        assert_eq!(streams_read("k", 1), ["k"]);
        assert_eq!(streams_read("k", 3), ["k-0", "k-1", "k-2", "k--1", "k--2"]);
    }

    #[test]
    fn read_replies_per_stream() {
        let entry = |id: &str| {
            Redis::Array(vec![
                Redis::BulkString(id.as_bytes().to_vec()),
                Redis::Array(vec![
                    Redis::BulkString(b"nsp".to_vec()),
                    Redis::BulkString(b"/".to_vec()),
                ]),
            ])
        };
        let stream = |name: &str, ids: &[&str]| {
            (
                Redis::BulkString(name.as_bytes().to_vec()),
                Redis::Array(ids.iter().map(|id| entry(id)).collect()),
            )
        };
        let (a, b) = (stream("k-0", &["1-0", "2-0"]), stream("k-2", &["1-1"]));
        let expected = vec![
            ("k-0".to_owned(), vec!["1-0".to_owned(), "2-0".to_owned()]),
            ("k-2".to_owned(), vec!["1-1".to_owned()]),
        ];
        let ids = |reply: Vec<(String, Vec<Entry>)>| -> Vec<(String, Vec<String>)> {
            reply
                .into_iter()
                .map(|(name, list)| (name, list.into_iter().map(|(id, _)| id).collect()))
                .collect()
        };
        let resp2 = Redis::Array(vec![
            Redis::Array(vec![a.0.clone(), a.1.clone()]),
            Redis::Array(vec![b.0.clone(), b.1.clone()]),
        ]);
        assert_eq!(ids(read_reply(&resp2)), expected);
        assert_eq!(ids(read_reply(&Redis::Map(vec![a, b]))), expected);
        assert!(read_reply(&Redis::Nil).is_empty());
    }
}
