//! Socket.IO on tokio: the [`socketio`] API with tokio tasks and timers ([`TokioRuntime`]),
//! HTTP on hyper 1.x, WebSockets on tokio-tungstenite, and a tower [`Layer`](tower_layer::Layer)
//! for axum and other tower stacks.
//!
//! This crate is thin glue. Everything of Socket.IO and Engine.IO lives in `socketio` (the async
//! layer) and `socketio-protocol` (the sans-IO core); both are re-exported here, so an
//! application depends on this crate alone.
//!
//! Standalone:
//! ```no_run
//! use socketio_tokio::{Server, ServerBuilderExt, ServerExt};
//! # async fn run() -> std::io::Result<()> {
//! let io = Server::builder().build_tokio();
//! io.listen("0.0.0.0:3000").await
//! # }
//! ```
//! Mounted on an axum router (see `examples/axum.rs`); requests off the Socket.IO path go to
//! the router:
//! ```ignore
//! let app = axum::Router::new().route("/", get(index)).layer(io.layer());
//! axum::serve(listener, app).await?;
//! ```
//!
//! The pieces, for other setups:
//! - [`HttpServer`]: the HTTP side of a server — [`listen`](HttpServer::listen),
//!   [`serve`](HttpServer::serve), [`serve_with_shutdown`](HttpServer::serve_with_shutdown),
//!   [`serve_connection`](HttpServer::serve_connection) (one accepted stream: TLS, Unix socket),
//!   [`handle`](HttpServer::handle) (one request, for a hand-made hyper service),
//!   [`layer`](HttpServer::layer); [`ServerExt`] has the same as shortcuts on [`Server`].
//! - [`ClientBundle`]: the JavaScript client served under the Socket.IO path (`serveClient`).
//! - [`SocketIoLayer`] / [`SocketIoService`]: tower; the handshake address comes from
//!   [`RemoteAddr`] (or axum's `ConnectInfo` with the `axum` feature).
//! - [`Endpoint`]: what `HttpServer` serves; [`Server`] implements it, and so does the
//!   Engine.IO-only [`engine::EngineServer`].
//!
//! Per connection, the HTTP side costs hyper's buffers while a request is in flight; an accepted
//! WebSocket keeps a [`WEBSOCKET_READ_BUFFER`] read buffer and a [`WEBSOCKET_WRITE_BUFFER`] write
//! buffer target (tungstenite's defaults are 128 KiB each), changeable with
//! [`HttpServer::websocket_config`]. tungstenite zero-fills its whole read buffer on every read,
//! so that buffer is resident memory: measured on the conformance server (1000 idle WebSockets
//! connected to `/`, server RSS delta, debug build), 19.7 KiB per connection with 4 KiB buffers
//! against 144.4 KiB with tungstenite's 128 KiB defaults.
//!
//! Tracing: one `http` span per TCP connection (`remote`), one `websocket` span per accepted
//! WebSocket (`remote`, `path`); events at `debug` for upgrades and connection errors, `info` when
//! listening and shutting down, `warn` for accept failures.

mod endpoint;
mod glue;
mod listen;
mod runtime;
mod service;
#[path = "client.rs"]
mod tokio_client;

use std::{future::Future, io, sync::Arc};

use tokio::net::{TcpListener, ToSocketAddrs};

pub use endpoint::{Endpoint, UpgradedWebSocket};
pub use glue::HttpServer;
pub use listen::SHUTDOWN_GRACE;
pub use runtime::TokioRuntime;
pub use service::{NotFound, RemoteAddr, SocketIoLayer, SocketIoService};
pub use socketio::http::{
    WEBSOCKET_MAX_MESSAGE, WEBSOCKET_READ_BUFFER, WEBSOCKET_WRITE_BUFFER, default_websocket_config,
};
pub use socketio::*;
pub use tokio_client::{ClientBuilderExt, TokioConnector, TokioConnectorBuilder};
/// tungstenite (the WebSocket message type of [`Server::serve_websocket`]).
pub use tokio_tungstenite::tungstenite;
/// The WebSocket configuration type of [`HttpServer::websocket_config`].
pub use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// Builds a [`Server`] that runs on tokio.
pub trait ServerBuilderExt {
    /// `build` with a [`TokioRuntime`] bound to the current tokio runtime.
    fn build_tokio(self) -> Server;
}

impl ServerBuilderExt for ServerBuilder {
    fn build_tokio(self) -> Server {
        self.build(Arc::new(TokioRuntime::new()))
    }
}

/// Serving a [`Server`] over HTTP on tokio; each is a shortcut through [`HttpServer`].
pub trait ServerExt {
    /// The HTTP server for this Socket.IO server, to configure (client bundle, WebSocket buffers).
    fn http(&self) -> HttpServer;
    /// Binds `addr` and serves until the process ends.
    fn listen(
        &self,
        addr: impl ToSocketAddrs + Send + 'static,
    ) -> impl Future<Output = io::Result<()>> + Send + 'static;
    /// Serves the connections of `listener` until the process ends.
    fn serve(&self, listener: TcpListener)
    -> impl Future<Output = io::Result<()>> + Send + 'static;
    /// Serves until `signal`, then shuts down gracefully.
    fn serve_with_shutdown(
        &self,
        listener: TcpListener,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> impl Future<Output = io::Result<()>> + Send + 'static;
    /// The tower layer that mounts this server on another service (an axum `Router`).
    fn layer(&self) -> SocketIoLayer;
}

impl ServerExt for Server {
    fn http(&self) -> HttpServer {
        HttpServer::new(self.clone())
    }

    fn listen(
        &self,
        addr: impl ToSocketAddrs + Send + 'static,
    ) -> impl Future<Output = io::Result<()>> + Send + 'static {
        self.http().listen(addr)
    }

    fn serve(
        &self,
        listener: TcpListener,
    ) -> impl Future<Output = io::Result<()>> + Send + 'static {
        self.http().serve(listener)
    }

    fn serve_with_shutdown(
        &self,
        listener: TcpListener,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> impl Future<Output = io::Result<()>> + Send + 'static {
        self.http().serve_with_shutdown(listener, signal)
    }

    fn layer(&self) -> SocketIoLayer {
        SocketIoLayer::new(self.http())
    }
}

impl<E: Endpoint> HttpServer<E> {
    /// The tower layer that mounts this server on another service (an axum `Router`).
    pub fn layer(&self) -> SocketIoLayer<E> {
        SocketIoLayer::new(self.clone())
    }
}
