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
//! the runtime outside the lock. Memory per session is bounded: a WebSocket's outgoing queue
//! ([`EngineBuilder::backpressure`], the connection is aborted beyond its limit), a polling
//! session's buffer ([`EngineBuilder::max_buffered_packets`], `send` fails beyond it), the
//! received messages not yet taken ([`EngineBuilder::incoming_queue`], the session is closed
//! beyond it), POST bodies (`max_http_buffer_size`).

mod builder;
mod driver;
mod socket;

pub use builder::EngineBuilder;
pub use driver::{EngineServer, EngineTicket};
pub use socket::{EngineSocket, Message, SendError};
pub use socketio_protocol::engine::server::{SameSite, SessionCookie};
pub use socketio_protocol::engine::{CloseReason, ProtocolVersion};
