//! Socket.IO on async-io / async-net: the [`socketio`] API with async-io timers and the
//! executor of your choice ([`AsyncIoRuntime`]: smol, async-std or another), HTTP/1.1 on
//! async-net ([`HttpServer`]), WebSockets on async-tungstenite. The same crate runs under
//! async-std and smol; tokio is nowhere in its dependency tree.
//!
//! async-std is discontinued upstream (RUSTSEC-2025-0052); only its spawner is used, behind the
//! `async-std` feature. The `smol` feature gives `AsyncIoRuntime::smol()`.
//!
//! This crate is thin glue. Everything of Socket.IO and Engine.IO lives in `socketio` (the async
//! layer) and `socketio-protocol` (the sans-IO core); both are re-exported here.
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
mod glue;
mod h1;
mod runtime;

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
