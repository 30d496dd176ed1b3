//! Socket.IO on async-io / async-net: the [`socketio`] API with async-io timers and the
//! executor of your choice ([`AsyncIoRuntime`]: smol, async-std or another), HTTP/1.1 on
//! hyper driven over async-net ([`HttpServer`], [`AsyncIoConnector`]), WebSockets on
//! async-tungstenite. The same crate runs under async-std and smol.
//!
//! No tokio runtime runs under async-std or smol: hyper 1 is driven through its own runtime
//! traits (`hyper::rt`), adapted here to futures-io streams and `async_io::Timer`s, and HTTP/1
//! needs no executor from hyper. tokio is in the dependency tree only because hyper uses its
//! `sync` module (channels, no runtime, no IO, no timers); `cargo tree -e features -i tokio`
//! shows that feature alone. With hyper, the tokio and async-io runtime crates share one HTTP
//! stack.
//!
//! async-std is discontinued upstream (RUSTSEC-2025-0052); only its spawner is used, behind the
//! `async-std` feature. The `smol` feature gives `AsyncIoRuntime::smol()`.
//!
//! This crate is thin glue. Everything of Socket.IO and Engine.IO lives in `socketio` (the async
//! layer) and `socketio-protocol` (the sans-IO core); both are re-exported here.
//!
//! Per connection, hyper keeps a read and a write buffer of 8 KiB while an HTTP connection is
//! open; an accepted WebSocket leaves hyper and keeps tungstenite's buffers
//! ([`WEBSOCKET_READ_BUFFER`], [`WEBSOCKET_WRITE_BUFFER`]). Measured with
//! `examples/idle_memory.rs` (2,000 idle connections on smol, server RSS delta, release build):
//! about 28 KiB per polling client with its long-poll pending, 19 KiB per WebSocket client.
//!
//! `examples/smol.rs` embeds the server and the client in one plain smol program (an event
//! acknowledged each way, then a clean shutdown): `cargo run -p socketio-async-std --example smol`.
//!
//! ```no_run
//! use socketio_async_std::{AsyncIoRuntime, HttpServer, Server};
//! # fn main() -> std::io::Result<()> {
//! smol::block_on(async {
//!     let io = Server::builder().build(std::sync::Arc::new(AsyncIoRuntime::smol()));
//!     HttpServer::new(io).listen("0.0.0.0:3000").await
//! })
//! # }
//! ```

#[path = "client.rs"]
mod async_io_client;
mod body;
mod glue;
mod rt;
mod runtime;
mod server_io;

pub use async_io_client::{AsyncIoConnector, AsyncIoConnectorBuilder, ClientBuilderExt};
pub use async_tungstenite::tungstenite;
pub use async_tungstenite::tungstenite::protocol::WebSocketConfig;
pub use glue::HttpServer;
pub use runtime::AsyncIoRuntime;
pub use socketio::http::{
    SHUTDOWN_GRACE, WEBSOCKET_MAX_MESSAGE, WEBSOCKET_READ_BUFFER, WEBSOCKET_WRITE_BUFFER,
    default_websocket_config,
};
pub use socketio::*;
