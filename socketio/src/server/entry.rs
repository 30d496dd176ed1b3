//! The transport entry points, called by the runtime crates' HTTP and WebSocket glue:
//! [`Server::handle_http`] (polling, handshakes, preflights), [`Server::accept_websocket`]
//! (the upgrade's verdict, a [`WebSocketTicket`]) and [`Server::serve_websocket`] (the frame
//! loop). Each is the shared driver's (`crate::driver`, its `entry.rs` has the flow).

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;

use super::Server;
use super::state::SioLayer;
use crate::driver::Ticket;

impl Server {
    /// Answers a non-upgrade HTTP request of this server: polling GET/POST, handshake,
    /// CORS preflight, or an Engine.IO error. Reads the body itself (at most
    /// `max_http_buffer_size + 1` bytes) and sets `Content-Length`. A held poll completes
    /// when there is something to send (or the heartbeat ends it); dropping this future
    /// before it completes aborts the request (`transport error` for the session).
    ///
    /// ```no_run
    /// # async fn f(io: socketio::Server) {
    /// let request = http::Request::get("/socket.io/?EIO=4&transport=polling")
    ///     .body(http_body_util::Empty::<bytes::Bytes>::new())
    ///     .unwrap();
    /// let response = io.handle_http(request, None).await;
    /// assert_eq!(response.status(), 200);
    /// # }
    /// ```
    pub async fn handle_http<B>(
        &self,
        request: http::Request<B>,
        remote: Option<SocketAddr>,
    ) -> http::Response<Full<Bytes>>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        self.0.handle_http(request, remote).await
    }

    /// The engine's verdict on a WebSocket upgrade request of this server. On `Ok`, answer
    /// `101 Switching Protocols` (adding [`WebSocketTicket::headers`]) and pass the socket to
    /// [`serve_websocket`](Self::serve_websocket); on `Err`, write that response.
    ///
    /// ```no_run
    /// # fn f(io: socketio::Server, parts: http::request::Parts) {
    /// match io.accept_websocket(&parts, None) {
    ///     Ok(ticket) => { /* 101, then io.serve_websocket(ticket, ws).await */ }
    ///     Err(response) => { /* write response */ }
    /// }
    /// # }
    /// ```
    #[allow(clippy::result_large_err)] // the signature the runtime crates build against
    pub fn accept_websocket(
        &self,
        request: &http::request::Parts,
        remote: Option<SocketAddr>,
    ) -> Result<WebSocketTicket, http::Response<Full<Bytes>>> {
        self.0
            .accept_websocket(request, remote)
            .map(|ticket| WebSocketTicket { ticket })
    }

    /// Serves an accepted WebSocket until it closes: reads frames into the engine, writes the
    /// connection's queue (batched: flushed when the queue is empty).
    ///
    /// As with the reference (`ws` `close` vs `error`), a WebSocket that ends — with a close
    /// frame, or without one (the stream ends, or fails with `ConnectionClosed`,
    /// `AlreadyClosed`, `ResetWithoutClosingHandshake` or a connection reset) — closes its
    /// session with `transport close`; any other error (a protocol violation, an oversized
    /// message, invalid UTF-8, another IO error) with `transport error`.
    ///
    /// ```no_run
    /// # async fn f<S>(io: socketio::Server, ticket: socketio::WebSocketTicket, ws: S)
    /// # where S: futures_core::Stream<Item = Result<tungstenite::Message, tungstenite::Error>>
    /// #   + futures_sink::Sink<tungstenite::Message, Error = tungstenite::Error> + Send + Unpin + 'static {
    /// io.serve_websocket(ticket, ws).await;
    /// # }
    /// ```
    pub fn serve_websocket<S>(
        &self,
        ticket: WebSocketTicket,
        socket: S,
    ) -> impl Future<Output = ()> + Send + '_
    where
        S: futures_core::Stream<Item = Result<tungstenite::Message, tungstenite::Error>>
            + futures_sink::Sink<tungstenite::Message, Error = tungstenite::Error>
            + Send
            + Unpin
            + 'static,
    {
        self.0.serve_websocket(ticket.ticket, socket)
    }
}

/// The engine's acceptance of a WebSocket upgrade, to pass to
/// [`Server::serve_websocket`] after answering `101`. Dropping it unused tells the engine the
/// WebSocket failed.
///
/// ```no_run
/// # fn f(ticket: socketio::WebSocketTicket) {
/// for (name, value) in ticket.headers() {
///     println!("{name}: {value:?}");
/// }
/// # }
/// ```
pub struct WebSocketTicket {
    ticket: Ticket<SioLayer>,
}

impl std::fmt::Debug for WebSocketTicket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocketTicket")
            .field("connection", &self.ticket.connection.0)
            .field("headers", &self.ticket.headers)
            .finish()
    }
}

impl WebSocketTicket {
    /// Extra headers for the `101` response (CORS).
    ///
    /// ```no_run
    /// # fn f(ticket: socketio::WebSocketTicket) {
    /// let extra = ticket.headers().len();
    /// # }
    /// ```
    pub fn headers(&self) -> &[(http::HeaderName, http::HeaderValue)] {
        &self.ticket.headers
    }
}
