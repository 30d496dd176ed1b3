//! An Engine.IO-only server, without the Socket.IO layer: the counterpart of the Node
//! `engine.io` package, on any [`Runtime`](crate::Runtime).
//!
//! [`EngineServer`] accepts Engine.IO sessions over HTTP long-polling and WebSocket (with
//! upgrades), v4 and, when allowed, v3; each session is an [`EngineSocket`] handed to the
//! [`on_connection`](EngineServer::on_connection) handler. The socket delivers the client's
//! messages ([`EngineSocket::recv`]), text as text and binary as binary, sends messages
//! ([`EngineSocket::send`]), closes ([`EngineSocket::close`]) and tells why it closed
//! ([`EngineSocket::closed`]). The heartbeat, upgrades, payload encodings and every protocol
//! violation are handled by the sans-IO core (`socketio_protocol::engine::server`).
//!
//! A runtime crate serves it like the Socket.IO server, through [`Endpoint`](crate::Endpoint):
//!
//! ```ignore
//! // tokio (socketio-tokio):
//! let engine = EngineServer::builder().build(Arc::new(TokioRuntime::new()));
//! engine.on_connection(echo);
//! socketio_tokio::HttpServer::new(engine).listen("0.0.0.0:3000").await?;
//! // smol or async-std (socketio-async-std):
//! let engine = EngineServer::builder().build(Arc::new(AsyncIoRuntime::smol()));
//! socketio_async_std::HttpServer::new(engine).listen("0.0.0.0:3000").await?;
//! ```
//!
//! An echo server:
//!
//! ```no_run
//! # fn runtime() -> std::sync::Arc<dyn socketio::Runtime> { unimplemented!() }
//! use socketio::engine::{EngineServer, EngineSocket, Message};
//!
//! let engine = EngineServer::builder().path("/engine.io").build(runtime());
//! engine.on_connection(|socket: EngineSocket| async move {
//!     socket.send("hello").ok();
//!     while let Some(message) = socket.recv().await {
//!         if let Message::Text(text) = &message {
//!             println!("{} says {text}", socket.id());
//!         }
//!         socket.send(message).ok();
//!     }
//!     println!("{} closed: {}", socket.id(), socket.closed().await);
//! });
//! ```
//!
//! # Design and bounds
//!
//! The driver follows [`Server`](crate::Server)'s: one lock over the core, every input fed and
//! every output drained under it, one timer task per server, connection handlers spawned on
//! the runtime outside the lock.
//!
//! # Backpressure
//!
//! As with [`Server`](crate::Server) (see [`Backpressure`](crate::Backpressure)), a client
//! sending faster than the application reads is slowed down, not disconnected. A received
//! message counts against its session from the moment it is read until
//! [`EngineSocket::recv`] takes it. While more than [`EngineBuilder::incoming_queue`] messages
//! (by default [`Backpressure::max_backlog`](crate::Backpressure::max_backlog), 256) wait, or
//! the session's outgoing bytes are above
//! [`Backpressure::high_water`](crate::Backpressure::high_water), the session's reading pauses
//! until both are back at half: the WebSocket reader stops reading frames (the client's
//! writes then back up in its socket), and a polling POST is answered only then (the client
//! sends its next POST after the answer). An echoing application thus paces its own client.
//!
//! Memory per session is bounded: the received messages not yet taken (the mark, plus one
//! WebSocket message or one POST body read before pausing), a WebSocket's outgoing queue (the
//! connection is aborted as a slow consumer past [`Backpressure::limit`](crate::Backpressure::limit)
//! or after [`Backpressure::slow_consumer_timeout`](crate::Backpressure::slow_consumer_timeout)
//! above the high water mark, see [`EngineBuilder::backpressure`]), a polling session's buffer
//! (`send` fails with [`SendError::QueueFull`] past the same byte limit, or past
//! [`EngineBuilder::max_buffered_packets`] messages when set), POST bodies and WebSocket
//! messages (`max_http_buffer_size`). An application that stops calling `recv` for good
//! leaves its client's heartbeat answers unread too: the session then ends with `ping timeout`.

mod builder;
mod driver;
mod socket;

pub use builder::EngineBuilder;
pub use driver::{EngineServer, EngineTicket};
pub use socket::{EngineSocket, Message, SendError};
pub use socketio_protocol::engine::server::{SameSite, SessionCookie};
pub use socketio_protocol::engine::{CloseReason, ProtocolVersion};
