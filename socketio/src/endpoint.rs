//! [`Endpoint`]: what the HTTP glue of a runtime crate serves — the Socket.IO
//! [`Server`](crate::Server), the Engine.IO-only [`EngineServer`](crate::engine::EngineServer),
//! or any other Engine.IO-shaped server with the same entry points.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Request, Response};
use http_body_util::Full;

use crate::{Runtime, Server, WebSocketTicket};

/// A boxed error, as `http_body` bodies report them.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The runtime-neutral entry points a server offers to the HTTP glue of a runtime crate: path
/// test, HTTP requests, WebSocket verdict and service, shutdown. The glue routes a request with
/// [`handles`](Self::handles), answers polling requests with [`handle_http`](Self::handle_http),
/// and for a WebSocket upgrade asks [`accept_websocket`](Self::accept_websocket), answers `101`
/// with [`websocket_headers`](Self::websocket_headers) added, and hands the WebSocket (a
/// `Stream + Sink` of tungstenite messages) to [`serve_websocket`](Self::serve_websocket).
///
/// [`Server`] and [`EngineServer`](crate::engine::EngineServer) implement it.
///
/// ```no_run
/// use socketio::Endpoint;
///
/// /// A request loop of some HTTP stack, for any endpoint.
/// async fn answer<E: Endpoint>(endpoint: &E, request: http::Request<http_body_util::Full<bytes::Bytes>>) {
///     if endpoint.handles(request.uri().path()) {
///         let response = endpoint.handle_http(request, None).await;
///         println!("{}", response.status());
///     }
/// }
/// ```
pub trait Endpoint: Clone + Send + Sync + 'static {
    /// The server's acceptance of a WebSocket upgrade, passed on to
    /// [`serve_websocket`](Self::serve_websocket).
    type Ticket: Send + 'static;

    /// Whether a request path belongs to this server.
    fn handles(&self, path: &str) -> bool;

    /// The runtime the server runs on (the glue spawns its connection tasks there).
    fn runtime(&self) -> Arc<dyn Runtime>;

    /// The largest POST body or WebSocket message accepted, in bytes (`maxPayload`).
    fn max_payload(&self) -> usize;

    /// Answers a non-upgrade HTTP request for this server.
    fn handle_http<B>(
        &self,
        request: Request<B>,
        remote: Option<SocketAddr>,
    ) -> impl Future<Output = Response<Full<Bytes>>> + Send
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>;

    /// The verdict on a WebSocket upgrade request: a ticket, or the refusal to write.
    #[allow(clippy::result_large_err)] // the refusal is the response to write
    fn accept_websocket(
        &self,
        request: &http::request::Parts,
        remote: Option<SocketAddr>,
    ) -> Result<Self::Ticket, Response<Full<Bytes>>>;

    /// Extra headers for the `101` response of an accepted upgrade (CORS).
    fn websocket_headers(ticket: &Self::Ticket) -> Vec<(HeaderName, HeaderValue)>;

    /// Serves an accepted WebSocket until it closes.
    fn serve_websocket<S>(
        &self,
        ticket: Self::Ticket,
        socket: S,
    ) -> impl Future<Output = ()> + Send
    where
        S: futures_core::Stream<Item = Result<tungstenite::Message, tungstenite::Error>>
            + futures_sink::Sink<tungstenite::Message, Error = tungstenite::Error>
            + Send
            + Unpin
            + 'static;

    /// Shuts the server down gracefully.
    fn shutdown(&self) -> impl Future<Output = ()> + Send;
}

impl Endpoint for Server {
    type Ticket = WebSocketTicket;

    fn handles(&self, path: &str) -> bool {
        Server::handles(self, path)
    }

    fn runtime(&self) -> Arc<dyn Runtime> {
        Server::runtime(self)
    }

    fn max_payload(&self) -> usize {
        Server::max_payload(self)
    }

    fn handle_http<B>(
        &self,
        request: Request<B>,
        remote: Option<SocketAddr>,
    ) -> impl Future<Output = Response<Full<Bytes>>> + Send
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        Server::handle_http(self, request, remote)
    }

    fn accept_websocket(
        &self,
        request: &http::request::Parts,
        remote: Option<SocketAddr>,
    ) -> Result<WebSocketTicket, Response<Full<Bytes>>> {
        Server::accept_websocket(self, request, remote)
    }

    fn websocket_headers(ticket: &WebSocketTicket) -> Vec<(HeaderName, HeaderValue)> {
        ticket.headers().to_vec()
    }

    fn serve_websocket<S>(
        &self,
        ticket: WebSocketTicket,
        socket: S,
    ) -> impl Future<Output = ()> + Send
    where
        S: futures_core::Stream<Item = Result<tungstenite::Message, tungstenite::Error>>
            + futures_sink::Sink<tungstenite::Message, Error = tungstenite::Error>
            + Send
            + Unpin
            + 'static,
    {
        Server::serve_websocket(self, ticket, socket)
    }

    fn shutdown(&self) -> impl Future<Output = ()> + Send {
        Server::shutdown(self)
    }
}
