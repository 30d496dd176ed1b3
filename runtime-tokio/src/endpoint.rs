//! [`Endpoint`]: what [`HttpServer`](crate::HttpServer) serves — the Socket.IO [`Server`], or any
//! other Engine.IO-shaped server with the same entry points.

use std::{future::Future, net::SocketAddr};

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Request, Response};
use http_body_util::Full;
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;

use crate::{BoxError, Server, WebSocketTicket};

/// An accepted WebSocket, as [`Endpoint::serve_websocket`] gets it.
pub type UpgradedWebSocket = WebSocketStream<TokioIo<Upgraded>>;

/// The runtime-neutral entry points a server offers to the HTTP glue: path test, HTTP requests,
/// WebSocket verdict and service, shutdown. [`Server`] implements it by delegation.
pub trait Endpoint: Clone + Send + Sync + 'static {
    /// The server's acceptance of a WebSocket upgrade.
    type Ticket: Send + 'static;

    /// Whether a request path belongs to this server.
    fn handles(&self, path: &str) -> bool;

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
    #[allow(clippy::result_large_err)] // mirrors `Server::accept_websocket`
    fn accept_websocket(
        &self,
        request: &http::request::Parts,
        remote: Option<SocketAddr>,
    ) -> Result<Self::Ticket, Response<Full<Bytes>>>;

    /// Extra headers for the `101` response of an accepted upgrade (CORS).
    fn websocket_headers(ticket: &Self::Ticket) -> Vec<(HeaderName, HeaderValue)>;

    /// Serves an accepted WebSocket until it closes.
    fn serve_websocket(
        &self,
        ticket: Self::Ticket,
        socket: UpgradedWebSocket,
    ) -> impl Future<Output = ()> + Send;

    /// Shuts the server down gracefully.
    fn shutdown(&self) -> impl Future<Output = ()> + Send;
}

impl Endpoint for Server {
    type Ticket = WebSocketTicket;

    fn handles(&self, path: &str) -> bool {
        Server::handles(self, path)
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

    fn serve_websocket(
        &self,
        ticket: WebSocketTicket,
        socket: UpgradedWebSocket,
    ) -> impl Future<Output = ()> + Send {
        Server::serve_websocket(self, ticket, socket)
    }

    fn shutdown(&self) -> impl Future<Output = ()> + Send {
        Server::shutdown(self)
    }
}
