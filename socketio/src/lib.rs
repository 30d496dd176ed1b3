//! Async Socket.IO server over the sans-IO core in [`socketio_protocol`], generic over a
//! [`Runtime`] (spawn, sleep, clock), so it runs on tokio, async-std, smol or a custom
//! executor. Runtime crates (`socketio-tokio`, …) add the HTTP and WebSocket glue and call
//! the entry points [`Server::handle_http`], [`Server::accept_websocket`] and
//! [`Server::serve_websocket`].
//!
//! ```no_run
//! # fn runtime() -> std::sync::Arc<dyn socketio::Runtime> { unimplemented!() }
//! use socketio::{AckSender, ConnectError, Handshake, Server, Socket};
//!
//! #[derive(serde::Serialize, serde::Deserialize)]
//! struct Chat { room: String, text: String }
//!
//! let io = Server::builder().build(runtime());
//! io.ns("/", |socket: Socket| async move {
//!     socket.join("lobby");
//!     socket.on("chat", |socket: Socket, msg: Chat, ack: Option<AckSender>| async move {
//!         socket.to(msg.room.as_str()).emit("chat", &msg).ok();
//!         if let Some(ack) = ack { ack.send(&true).ok(); }
//!     });
//!     socket.on_disconnect(|socket: Socket, reason| async move {
//!         tracing::info!(id = socket.id(), %reason, "gone");
//!     });
//! })
//! .with(|handshake: Handshake| async move {
//!     match handshake.auth_field::<String>("token") {
//!         Some(_) => Ok(()),
//!         None => Err(ConnectError::new("not authorized")),
//!     }
//! });
//! ```
//!
//! # Design
//!
//! One `Mutex` per server guards the Engine.IO core (all sessions), one `ServerConnection`
//! per session, and per namespace its sockets. Rooms, broadcasts, cluster requests and the
//! recovery store live in each namespace's [`adapter`] (the in-memory one by default), which
//! the server calls without holding its lock. Every input (an HTTP request, a WebSocket
//! frame, an API call, the timer) locks the state, feeds the cores, drains their outputs and
//! unlocks. Outputs go to oneshot channels (held polling requests) and per-WebSocket queues
//! written by [`Server::serve_websocket`]; user code (handlers, middlewares, hooks, matchers)
//! runs after the lock is released, never under it. A single timer task per server sleeps
//! until the earliest deadline of all cores (heartbeats, upgrade and connect timeouts, ack
//! deadlines) and is woken when an earlier one appears. Emits never wait: they encode once
//! (a broadcast is encoded once for all recipients) and queue. `ARCHITECTURE.md` at the
//! repository's root walks through the files and the flows.
//!
//! Handlers: each socket has a runner task that starts, in order, the namespace (connect)
//! handler and then the handler of every event as it arrives, polling each once; a handler
//! that awaits continues in a task of its own. So handlers registered before the connect
//! handler's first `.await` see every event, handlers start in arrival order (as the
//! reference calls them synchronously), and a slow handler does not hold back the others.
//! The disconnect handlers run last; the runner then ends.
//!
//! # Backpressure and slow consumers
//!
//! Each connection's outgoing queue is bounded in bytes, not frames ([`Backpressure`], set
//! with `ServerBuilder::backpressure`; the module [`flow`] has the details):
//! - a burst is not a slow consumer: while the queue holds more than `high_water` bytes
//!   (1 MiB) or more than `max_backlog` events (256) wait for their handlers, the connection's
//!   reading pauses (the WebSocket reader stops reading; a polling POST is answered only once
//!   the queue is back at half), so an echoing handler slows its own client down. The official
//!   client emitting 10,000 events back to back gets all 10,000 echoes, in order.
//! - a client that stops reading costs at most `limit` bytes (16 MiB) in its queue plus what
//!   the runtime's WebSocket and TCP buffers hold; past it, or after `slow_consumer_timeout`
//!   (30 s) above the high water mark, its connection is aborted (a WebSocket is dropped
//!   without a close frame; a polling session is closed, its close packet going out on its
//!   next GET) and its sockets leave with `transport error` (recoverable: with connection
//!   state recovery the session is kept for the recovery window). Measured on tokio
//!   (`runtime-tokio/tests/never_reading.rs`): 100 broadcasts of 1 MiB to a client that never
//!   reads grew the server's RSS by 19 MiB, and the client was dropped; with the frame-counted
//!   queue this replaced, the same run grew it by 100 MiB and kept the client.
//! - volatile emits are dropped instead while anything waits in the queue; they never cause
//!   a disconnect.
//!
//! The reference server has no bound at all.
//!
//! Incoming data is bounded by `max_http_buffer_size` (POST bodies, WebSocket messages are
//! bounded by the runtime's WebSocket config) and the decoders' limits.
//!
//! # Limits under abuse
//!
//! Everything a peer can make the server hold is bounded; what happens past each bound, with
//! the reference's (socket.io 4.8 on Node's HTTP server and `ws` 8) default beside ours:
//!
//! | what a peer sends | bound (ours) | past it | reference |
//! |---|---|---|---|
//! | a request head | 60 s to arrive, 16 KiB (both runtimes, hyper) | closed (hyper sends no `408`); `431` | `headersTimeout` 60 s (`408`), `maxHeaderSize` 16 KiB |
//! | a POST the server refuses from its head (no `sid`, bad query) | its body is not read | answered at once, `Connection: close` | same |
//! | a POST body | `max_http_buffer_size` (1 MB); `request_timeout` (300 s) to arrive | `413`; `408` with `Connection: close`, session closed (`transport error`) | `maxHttpBufferSize` 1 MB; `requestTimeout` 300 s |
//! | a second POST while one is read | one at a time | `400`, session closed (`transport error`) | same |
//! | a WebSocket message | 1 MB (`max_http_buffer_size`) | close code 1009 | same |
//! | invalid UTF-8; an unmasked frame, a reserved opcode or RSV bit | — | close code 1007; 1002 | same |
//! | WebSocket pings | 100 per heartbeat interval (pongs are never queued more than one) | close code 1008 | none (measured: took 1,000,000 unread pings, +106 MiB; `BENCHMARKS.md`, hostile input) |
//! | Engine.IO v3 pings over polling | one pong waits at most | — | one per ping |
//! | events faster than its handlers | `max_backlog` (256) waiting | reading pauses (no disconnect) | none |
//! | not reading what it is sent | `high_water` 1 MiB, `limit` 16 MiB, 30 s | reading pauses; then `transport error` | none (buffers without bound) |
//! | packet structure | 10 attachments, nesting depth 128 | `parse error` | 10 attachments; no depth limit (5,000-deep JSON crashed it in an outside probe) |
//! | an ack id past `u64` | — | packet ignored | ignored |
//! | a late pong | `pingTimeout` (20 s) from when the ping reached it (written to the WebSocket, or taken by a GET); a ping no GET takes: `pingInterval + pingTimeout` from when it was queued | `ping timeout` | `pingTimeout` from when the ping was queued |
//!
//! Parse working memory: a message is validated without building a tree (JSON stays text
//! until a handler reads it); a handler that asks for a dynamic [`Value`] gets a tree of 40 bytes
//! (`size_of::<Value>()`) per JSON value, built when the handler starts.
#![forbid(unsafe_code)]

pub mod adapter;
mod args;
pub mod client;
mod config;
mod driver;
mod endpoint;
pub mod engine;
mod error;
mod fasthash;
pub mod flow;
mod handshake;
pub mod hooks;
pub mod http;
mod httputil;
mod ids;
#[cfg(feature = "metrics")]
pub mod metrics;
mod namespace;
mod operators;
mod outbox;
mod plumbing;
mod probe;
mod room_names;
mod runtime;
mod server;
mod socket;
mod wsio;

pub use client::{Client, ClientBuilder, ClientSocket};
pub use config::{
    AllowRequest, Cors, CorsOrigin, Parser, RecoveryConfig, ServerBuilder, TransportKind,
};
pub use endpoint::{BoxError, Endpoint};
pub use error::{AckError, BroadcastAckError, ConnectError, EmitError};
pub use flow::Backpressure;
pub use handshake::{Handshake, RemoteHandshake};
pub use http::ClientBundle;
pub use namespace::{DynamicNamespace, Namespace};
pub use operators::BroadcastOperator;
pub use room_names::{Room, Rooms};
pub use runtime::{BoxTask, Runtime};
pub use server::{Server, WeakServer, WebSocketTicket};
pub use socket::{AckRequest, AckSender, Socket};
pub use socketio_protocol as protocol;
pub use socketio_protocol::Value;
pub use socketio_protocol::socket::DisconnectReason;
pub use socketio_protocol::value::{from_value, to_value};
