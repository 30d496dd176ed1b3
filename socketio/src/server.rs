//! The server handle and the entry points of the runtime crates.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;

use crate::config::Config;
use crate::{Runtime, ServerBuilder};

/// A Socket.IO server: a cheap clonable handle.
#[derive(Clone)]
pub struct Server(Arc<Inner>);

struct Inner {
    #[allow(dead_code)]
    runtime: Arc<dyn Runtime>,
    config: Config,
}

/// The engine's acceptance of a WebSocket upgrade.
pub struct WebSocketTicket {
    _private: (),
}

impl Server {
    /// A builder with the reference defaults.
    pub fn builder() -> ServerBuilder {
        ServerBuilder::new()
    }

    pub(crate) fn from_config(config: Config, runtime: Arc<dyn Runtime>) -> Server {
        Server(Arc::new(Inner { runtime, config }))
    }

    /// Whether a request path belongs to this server.
    pub fn handles(&self, path: &str) -> bool {
        path.starts_with(&self.0.config.engine.path_prefix())
    }

    /// Answers a polling request.
    pub async fn handle_http<B>(
        &self,
        request: http::Request<B>,
        remote: Option<SocketAddr>,
    ) -> http::Response<Full<Bytes>>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let _ = (request, remote);
        todo!()
    }

    /// The engine's verdict on a WebSocket upgrade request.
    pub fn accept_websocket(
        &self,
        request: &http::request::Parts,
        remote: Option<SocketAddr>,
    ) -> Result<WebSocketTicket, http::Response<Full<Bytes>>> {
        let _ = (request, remote);
        todo!()
    }

    /// Serves an accepted WebSocket until it closes.
    pub async fn serve_websocket<S>(&self, ticket: WebSocketTicket, socket: S)
    where
        S: futures_core::Stream<Item = Result<tungstenite::Message, tungstenite::Error>>
            + futures_sink::Sink<tungstenite::Message, Error = tungstenite::Error>
            + Send
            + Unpin
            + 'static,
    {
        let _ = (ticket, socket);
        todo!()
    }

    /// Graceful shutdown.
    pub async fn shutdown(&self) {
        todo!()
    }
}
