//! The transport entry points, called by the runtime crates' HTTP and WebSocket glue:
//! [`Server::handle_http`] (polling, handshakes, preflights), [`Server::accept_websocket`]
//! (the upgrade's verdict, a [`WebSocketTicket`]) and [`Server::serve_websocket`] (the frame
//! loop, `wsio::serve`), with what runs after the lock: `allow_request`
//! (`Inner::verify_handshakes`) and the polling backpressure (`Inner::after_poll`).
//!
//! Each feeds the engine core under the lock (through the `Plumbing`), then `State::pump`:
//!
//! ```text
//! handle_http:      read body → with_state(start_request; pump) → verify_handshakes
//!                   → await the answer → after_poll → to_http
//! accept_websocket: with_state(start_websocket; pump) → verify_handshakes → take_verdict
//! serve_websocket:  per frame: with_state(handle_frame; pump) → the session's Gate
//!                   at the end: with_state(websocket_ended; pump)
//! ```

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use futures_channel::oneshot;
use http_body_util::Full;
use socketio_protocol::Str;
use socketio_protocol::engine::server::{ConnectionId, Method, RequestId, TransportId};

use super::{Decrement, Inner, Server};
use crate::httputil::{
    await_answer, close_unread, has_sid, head_from_parts, plain, session_of, to_http,
};
use crate::namespace::lock;
use crate::plumbing::upgrade_headers;
use crate::wsio::{self, WriterEnd};

/// The request being handled, for the handshake hooks.
#[derive(Clone, Copy)]
pub(super) struct RequestCtx<'a> {
    pub(super) parts: Option<&'a http::request::Parts>,
    pub(super) remote: Option<SocketAddr>,
}

pub(super) const NO_CTX: RequestCtx<'static> = RequestCtx {
    parts: None,
    remote: None,
};

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
        let inner = &self.0;
        let (parts, body) = request.into_parts();
        // While shutting down, sessions still open get their answers (a polling client's close
        // packet waits for its next GET); only new handshakes are refused.
        if inner.shut_down.load(Ordering::Acquire) && !has_sid(&parts) {
            return plain(503, "server shutting down");
        }
        let head = head_from_parts(&parts);
        let method = head.method;
        let id = RequestId(inner.next_id.fetch_add(1, Ordering::Relaxed));
        let (tx, rx) = oneshot::channel();
        let ctx = RequestCtx {
            parts: Some(&parts),
            remote,
        };
        // Classified from its head: a POST's body is read only if the core asks for it,
        // after the lock, and only until the core's `request_timeout` answers `408`.
        let (checks, wanted) = inner.with_state(ctx, |st, now, inner| {
            st.io.start_request(&mut st.engine, now, id, head, tx);
            st.pump(inner, now, ctx);
            (
                std::mem::take(&mut st.handshake_checks),
                st.io.take_body_wanted(id),
            )
        });
        inner.verify_handshakes(ctx, checks);
        let mut guard = AbortGuard {
            inner: inner.clone(),
            id,
            armed: true,
        };
        let feed = |body| {
            inner.with_state(NO_CTX, |st, now, inner| {
                st.io.body_arrived(&mut st.engine, now, id, body);
                st.pump(inner, now, NO_CTX);
            })
        };
        let Some((response, unread)) = await_answer(method, body, wanted, rx, feed).await else {
            // The guard aborts the request: its session closes (`transport error`).
            return close_unread(plain(400, "body read error"));
        };
        guard.armed = false;
        if let Some(sid) = session_of(&parts) {
            inner.after_poll(method, sid).await;
        }
        let response = match response {
            Ok(response) => to_http(response),
            Err(_) => plain(400, ""),
        };
        if unread {
            close_unread(response)
        } else {
            response
        }
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
        let inner = &self.0;
        if inner.shut_down.load(Ordering::Acquire) {
            return Err(plain(503, "server shutting down"));
        }
        let connection = ConnectionId(inner.next_id.fetch_add(1, Ordering::Relaxed));
        let (writer, end) = wsio::writer();
        let ctx = RequestCtx {
            parts: Some(request),
            remote,
        };
        let head = head_from_parts(request);
        let checks = inner.with_state(ctx, |st, now, inner| {
            st.io
                .start_websocket(&mut st.engine, now, connection, head, writer);
            st.pump(inner, now, ctx);
            std::mem::take(&mut st.handshake_checks)
        });
        inner.verify_handshakes(ctx, checks);
        let verdict = inner.with_state(NO_CTX, |st, _, _| st.io.take_verdict(connection));
        match verdict {
            Some(Ok(headers)) => Ok(WebSocketTicket {
                server: Some(self.clone()),
                connection,
                headers: upgrade_headers(headers),
                end: Some(end),
            }),
            Some(Err(response)) => Err(to_http(response)),
            None => Err(plain(400, "Bad request")),
        }
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
    pub async fn serve_websocket<S>(&self, mut ticket: WebSocketTicket, socket: S)
    where
        S: futures_core::Stream<Item = Result<tungstenite::Message, tungstenite::Error>>
            + futures_sink::Sink<tungstenite::Message, Error = tungstenite::Error>
            + Send
            + Unpin
            + 'static,
    {
        let inner = self.0.clone();
        ticket.server = None;
        let connection = ticket.connection;
        let Some(end) = ticket.end.take() else {
            return;
        };
        inner.websockets.fetch_add(1, Ordering::AcqRel);
        let _count = Decrement(&inner.websockets);
        let limits = inner.config.backpressure;
        let clean =
            crate::plumbing::serve_websocket(&*inner, connection, end, limits, socket).await;
        tracing::debug!(connection = connection.0, clean, "websocket ended");
    }
}

/// Aborts a polling request whose future was dropped before its answer.
struct AbortGuard {
    inner: Arc<Inner>,
    id: RequestId,
    armed: bool,
}

impl Drop for AbortGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let id = self.id;
        self.inner.with_state(NO_CTX, |st, now, inner| {
            st.io.abort_request(&mut st.engine, now, id);
            st.pump(inner, now, NO_CTX);
        });
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
    server: Option<Server>,
    connection: ConnectionId,
    headers: Vec<(http::HeaderName, http::HeaderValue)>,
    end: Option<WriterEnd>,
}

impl std::fmt::Debug for WebSocketTicket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocketTicket")
            .field("connection", &self.connection.0)
            .field("headers", &self.headers)
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
        &self.headers
    }
}

impl Drop for WebSocketTicket {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            let connection = self.connection;
            server.0.with_state(NO_CTX, |st, now, inner| {
                st.io
                    .websocket_ended(&mut st.engine, now, connection, false);
                st.pump(inner, now, NO_CTX);
            });
        }
    }
}

impl Inner {
    /// Backpressure over polling, once a request of session `sid` has its answer: a GET took
    /// the buffer, so a POST paused on it may go on; a POST is answered only once the
    /// session's buffer and backlog are below the marks (the client sends its next POST after
    /// the answer, so its sending pauses meanwhile).
    async fn after_poll(&self, method: Method, sid: &str) {
        let Some(gate) = self.with_state(NO_CTX, |st, _, _| {
            let sid = Str::from(sid.to_owned());
            st.conns.get(&sid).map(|conn| conn.gate.clone())
        }) else {
            return;
        };
        let buffered = || lock(&self.state).engine.buffered_bytes(sid).unwrap_or(0);
        crate::flow::after_poll(
            self.config.backpressure,
            method == Method::Post,
            &gate,
            buffered,
        )
        .await;
    }

    /// Runs `allow_request` (user code, so outside the lock) on the handshakes the request in
    /// `ctx` started, then hands the verdicts to the engine.
    fn verify_handshakes(&self, ctx: RequestCtx<'_>, checks: Vec<TransportId>) {
        if checks.is_empty() {
            return;
        }
        let verdicts = crate::plumbing::allow_request_verdicts(
            self.config.allow_request.as_ref(),
            ctx.parts,
            ctx.remote,
            checks,
        );
        self.with_state(ctx, |st, now, inner| {
            crate::plumbing::apply_verdicts(&mut st.engine, now, verdicts);
            st.pump(inner, now, ctx);
        });
    }
}
