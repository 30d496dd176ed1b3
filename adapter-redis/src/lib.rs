//! Scale-out on Redis for `socketio` servers, wire-compatible with the official Node
//! packages, so Node and Rust nodes can share one cluster:
//!
//! - [`RedisNode`] / [`RedisAdapter`]: the classic pub/sub adapter of
//!   `@socket.io/redis-adapter` 8.3 (`createAdapter`): broadcasts as notepack msgpack on
//!   `<key>#<nsp>#` (or `<key>#<nsp>#<room>#` for one room), the JSON requests on
//!   `<key>-request#<nsp>#` and their answers on `<key>-response#<nsp>#`, nodes counted with
//!   `PUBSUB NUMSUB`, requests timing out after `requestsTimeout` (5 s).
//! - The sharded flavour ([`Flavor::Sharded`]) of `createShardedAdapter` (Redis 7): the
//!   ClusterAdapter messages (JSON, or msgpack when they hold binary) with `SPUBLISH` on
//!   `<channelPrefix>#<nsp>#` (single-room broadcasts on `<channelPrefix>#<nsp>#<room>#` in
//!   the `dynamic` and `dynamic-private` subscription modes), answers on
//!   `<channelPrefix>#<nsp>#<uid>#`, nodes counted with `PUBSUB SHARDNUMSUB`. Its `channelPrefix`
//!   is the `key` option. redis-rs 1.x has `SSUBSCRIBE` only on cluster connections, so this
//!   flavour subscribes through a small RESP2 client of its own (on async-io's socket, whose
//!   reactor runs beside any executor; `redis://host:port` addresses, with `AUTH` when the URL
//!   has a password).
//! - [`Emitter`]: sends from a process that is not a server, as `@socket.io/redis-emitter`
//!   5.1 does (uid `"emitter"`): emits with `to` / `except` / `of` / `volatile`,
//!   `sockets_join`, `sockets_leave`, `disconnect_sockets`, `server_side_emit`.
//!
//! - The streams flavour ([`Flavor::Streams`], options [`StreamsOptions`]) of
//!   `@socket.io/redis-streams-adapter` 0.3: broadcasts, joins, leaves and disconnects
//!   appended to the stream named `key` (`XADD MAXLEN ~ maxLen`, entries `{uid, nsp, type,
//!   data}`, data JSON or base64 msgpack) and read by one `XREAD BLOCK` reader per node;
//!   broadcasts with acks, fetches, server-side emits and every answer as msgpack with
//!   `PUBLISH` on `<key>#<nsp>#` / `<key>#<nsp>#<uid>#`; nodes counted with `PUBSUB NUMSUB`.
//!   With connection state recovery on, each broadcast carries its stream entry id as offset,
//!   a disconnected socket's session is kept under `<sessionKeyPrefix><pid>` (base64 msgpack,
//!   `PX` maxDisconnectionDuration), and any node restores it: same id, rooms and data, and
//!   the broadcasts it missed. A node delivers its own broadcasts once `XADD` answered (to
//!   have the offset), in order. With `streamCount` ([`StreamsOptions::stream_count`]) `n` >
//!   1, each namespace uses one of the streams `<key>-<i>`, picked by the official hash of
//!   its name (so its messages stay in order and its offsets name entries of that stream);
//!   the reader reads them all in one `XREAD`. With `useShardedPubSub`
//!   ([`StreamsOptions::use_sharded_pub_sub`], Redis 7) the pub/sub part is `SPUBLISH` /
//!   `SSUBSCRIBE` (through the sharded flavour's subscriber) and nodes are counted with
//!   `PUBSUB SHARDNUMSUB`.
//!
//! The emitter speaks the classic format, as the official one does: classic nodes (ours and
//! Node's) read it; sharded and streams nodes do not.
//!
//! ```no_run
//! # fn f(runtime: std::sync::Arc<dyn socketio::Runtime>) -> Result<(), redis::RedisError> {
//! use socketio_redis::{RedisAdapterOptions, RedisNode};
//! let client = redis::Client::open("redis://127.0.0.1:6379")?;
//! let node = RedisNode::new(client, runtime.clone(), RedisAdapterOptions::with_key("my-app"));
//! let io = socketio::Server::builder().adapter(node.factory()).build(runtime);
//! # let _ = io; Ok(()) }
//! ```
//!
//! The streams flavour with both options, beside official nodes made with
//! `createAdapter(redis, {streamName: "my-app", channelPrefix: "my-app", streamCount: 3,
//! useShardedPubSub: true})`:
//!
//! ```no_run
//! # fn f(runtime: std::sync::Arc<dyn socketio::Runtime>) -> Result<(), redis::RedisError> {
//! use socketio_redis::{Flavor, RedisAdapterOptions, RedisNode, StreamsOptions};
//! let mut options = RedisAdapterOptions::with_key("my-app");
//! options.flavor = Flavor::Streams(StreamsOptions {
//!     stream_count: 3,
//!     use_sharded_pub_sub: true,
//!     ..StreamsOptions::default()
//! });
//! let client = redis::Client::open("redis://127.0.0.1:6379")?;
//! let node = RedisNode::new(client, runtime.clone(), options);
//! let io = socketio::Server::builder().adapter(node.factory()).build(runtime);
//! # let _ = io; Ok(()) }
//! ```
//!
//! # Every adapter operation across nodes
//!
//! Broadcasts (`to`, `except`, `volatile`, binary; `local` is not published), broadcasts with
//! acks (each node reports its client count, then each client's first ack argument),
//! `fetch_sockets` (with each socket's handshake, rooms and data), `sockets_join`,
//! `sockets_leave`, `disconnect_sockets`, `server_side_emit` with acks and `server_count`.
//! Nodes answer acked server-side events through [`RedisNode::on_server_side_ack`].
//!
//! # Runtimes
//!
//! Built on `redis` (redis-rs) 1.x with its `tokio-comp` and `smol-comp` features: a
//! connection opened inside a tokio runtime runs on tokio, any other on async-io (smol's
//! reactor), which also serves async-std's executor. The connection tasks are spawned on the
//! server's [`Runtime`](socketio::Runtime). Verified by the workspace's cluster tests, which run the
//! same cluster scenarios with servers on tokio, on smol and on async-std
//! (`tests/tests/cluster_redis*.rs` in the workspace), against a real Redis; and beside the
//! official Node adapters in mixed clusters.
//!
//! # When Redis goes away
//!
//! Each node keeps serving its own clients: local broadcasts, rooms and acks work as before.
//! The publishing connection and each namespace's subscribing connection reconnect with
//! backoff (100 ms doubling to 5 s, with jitter). While Redis is unreachable:
//!
//! - every message this node publishes (broadcasts, room and disconnect requests, answers to
//!   other nodes) is **dropped**, not queued: other nodes never see it (with the streams
//!   flavour, this node's own clients still get its broadcasts, without an offset, and the
//!   sessions of clients leaving meanwhile are not kept);
//! - every message other nodes publish meanwhile is lost for this node (pub/sub keeps nothing;
//!   with the streams flavour, what reached the stream is read once this node is back, from
//!   where it stopped, if Redis itself kept it);
//! - `fetch_sockets`, `server_side_emit` and `server_count` fail at once with
//!   [`RedisAdapterError::Unavailable`] (as an [`AdapterError`](socketio::adapter::AdapterError));
//!   requests in flight end with [`RedisAdapterError::Timeout`] after `requestsTimeout`; a
//!   broadcast with acks resolves with this node's answers, marked incomplete;
//! - once Redis is back, the subscriptions are made again and broadcasts flow again.
//!
//! # Bounds
//!
//! Messages waiting to be published: `publish_queue` (beyond: dropped, with a warning).
//! Requests waiting for answers: `max_pending_requests` (beyond: an error); answers to other
//! nodes' requests being made at once: `max_pending_requests` too (beyond: dropped). Answers per
//! request: `max_responses`. Messages read from Redis: `max_message_size` bytes, decoded with
//! a nesting limit; a malformed message is dropped, never a panic. One gap: redis-rs queues
//! the messages its subscribing connection reads in an unbounded channel; the adapter handles
//! each at once (decoding and queueing deliveries, no waiting), so it grows only while a node
//! is starved of CPU.

mod adapter;
pub mod cluster_wire;
mod conn;
mod emitter;
mod error;
mod resp;
mod streams;
pub mod wire;

pub use adapter::{
    Flavor, Parser, RedisAdapter, RedisAdapterOptions, RedisNode, ServerSideAckHandler,
};
pub use cluster_wire::SubscriptionMode;
pub use conn::Reconnect;
pub use emitter::{EMITTER_UID, Emitter, EmitterOperator};
pub use error::{DecodeError, RedisAdapterError};
pub use redis;
pub use streams::StreamsOptions;
