//! The transport entry points of the shared driver, behind both servers' `handle_http`,
//! `accept_websocket` and `serve_websocket`:
//!
//! ```text
//! handle_http:      router (front lock) → a new session's connection, or the named one
//!                   (its lock) → allow_request (no lock) → the body, read outside every lock
//!                   and fed to the connection → the answer → polling backpressure
//! accept_websocket: router → the connection (new, or the upgraded one) → allow_request
//!                   → the verdict → a Ticket naming the connection
//! serve_websocket:  per frame: that connection's lock only; at the end: the close
//! ```

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use futures_channel::oneshot;
use futures_util::FutureExt;
use futures_util::future::Either;
use http_body_util::Full;
use socketio_protocol::engine::CloseReason;
use socketio_protocol::engine::server::{
    ConnectionId, Method, RequestId, RequestRoute, Session, TransportId, UpgradeRoute,
};

use super::{Conn, Driver, Effects, Layer, Machine};
use crate::httputil::{await_answer, close_unread, head_from_parts, plain, session_of, to_http};
use crate::namespace::lock;
use crate::plumbing::{Plumbing, allow_request_verdicts, upgrade_headers};
use crate::probe::Dir;
use crate::wsio::{self, Writer, WriterEnd};

/// The request being handled, for the handshake hooks and the session's request info.
#[derive(Clone, Copy)]
pub(crate) struct RequestCtx<'a> {
    pub(crate) parts: Option<&'a http::request::Parts>,
    pub(crate) remote: Option<SocketAddr>,
}

/// The plumbing a parked handshake's transport takes along to its new session.
enum Carried {
    Request(
        RequestId,
        Option<oneshot::Sender<socketio_protocol::engine::server::Response>>,
    ),
    Writer(ConnectionId, Option<Writer>),
}

impl Carried {
    fn attach(self, io: &mut Plumbing) {
        match self {
            Carried::Request(id, Some(tx)) => io.add_request(id, tx),
            Carried::Writer(connection, Some(writer)) => io.add_writer(connection, writer),
            _ => {}
        }
    }
}

impl<L: Layer> Driver<L> {
    /// See [`Server::handle_http`](crate::Server::handle_http).
    pub(crate) async fn handle_http<B>(
        &self,
        request: http::Request<B>,
        remote: Option<SocketAddr>,
    ) -> http::Response<Full<Bytes>>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (parts, body) = request.into_parts();
        // While shutting down, sessions still open get their answers (a polling client's close
        // packet waits for its next GET); only new handshakes are refused.
        if let Some(refusal) = self.refusal(session_of(&parts)) {
            self.layer.probe().refused(503, b"");
            return refusal;
        }
        let head = head_from_parts(&parts);
        let method = head.method;
        let id = RequestId(self.next_id.fetch_add(1, Ordering::Relaxed));
        let (tx, rx) = oneshot::channel();
        let mut tx = Some(tx);
        let ctx = RequestCtx {
            parts: Some(&parts),
            remote,
        };
        let mut fx = Effects::default();
        // Classified from its head: a POST's body is read only if the session asks for it,
        // outside every lock, and only until its `request_timeout` answers `408`.
        let mut owner = None;
        // A request routed to a session that closes before it reaches it (the client's close
        // POST crossed it) goes back to the router once, which knows that close by then.
        for _attempt in 0..2 {
            let route = self.with_front(&mut fx, session_of(&parts), |router, io, now, lookup| {
                let route = router.route_request(now, id, head.clone(), lookup);
                if matches!(route, RequestRoute::Router)
                    && let Some(tx) = tx.take()
                {
                    io.add_request(id, tx);
                }
                route
            });
            match route {
                RequestRoute::Opened(session) => {
                    owner = self.open(*session, ctx, &mut fx, |io| {
                        if let Some(tx) = tx.take() {
                            io.add_request(id, tx);
                        }
                    });
                }
                RequestRoute::Session {
                    sid,
                    method,
                    binary,
                    headers,
                } => {
                    let Some(conn) = self.conn(&sid) else {
                        continue;
                    };
                    let taken = self.drive_with(
                        &conn,
                        &mut fx,
                        |st, cx| {
                            if st.session.is_closed() {
                                return false;
                            }
                            if let Some(tx) = tx.take() {
                                st.io.add_request(id, tx);
                            }
                            st.session
                                .handle_request(cx.now, id, method, binary, headers);
                            true
                        },
                        |_, taken| taken,
                    );
                    if !taken {
                        continue;
                    }
                    owner = Some(conn);
                }
                // `Router`: answered or parked there; anything else is unknown (its answer
                // channel is dropped: 400).
                _ => {}
            }
            break;
        }
        drop(tx);
        let checks = std::mem::take(&mut fx.checks);
        self.run_effects(fx);
        for (transport, conn) in self.verify_handshakes(ctx, checks) {
            if transport == TransportId::Polling(id) {
                owner = Some(conn);
            }
        }
        let wanted = owner
            .as_ref()
            .and_then(|conn| conn.with_state(|st| st.io.take_body_wanted(id)));
        let mut guard = AbortGuard {
            driver: self,
            id,
            owner: owner.clone(),
            armed: true,
        };
        let probe = self.layer.probe();
        let traffic = self.layer.traffic();
        let v3 = (probe.enabled() || traffic.on()) && is_v3(&parts);
        let feed = |body: Bytes| {
            probe.polling_body(Dir::In, &body, v3);
            traffic.polling_body(Dir::In, &body, v3);
            if let Some(conn) = &owner {
                self.drive(conn, |st, cx| {
                    if st.io.has_request(id) {
                        let _ = st.session.handle_request_body(cx.now, id, body);
                    }
                });
            }
        };
        let Some((response, unread)) = await_answer(method, body, wanted, rx, feed).await else {
            // The guard aborts the request: its session closes (`transport error`).
            return close_unread(plain(400, "body read error"));
        };
        guard.armed = false;
        if session_of(&parts).is_some()
            && let Some(conn) = &owner
        {
            self.after_poll(method, conn).await;
        }
        let response = match response {
            Ok(response) => {
                if method == Method::Get && response.status == 200 {
                    probe.polling_body(Dir::Out, &response.body, v3);
                    traffic.polling_body(Dir::Out, &response.body, v3);
                }
                to_http(response)
            }
            Err(_) => plain(400, ""),
        };
        if unread {
            close_unread(response)
        } else {
            response
        }
    }

    /// See [`Server::accept_websocket`](crate::Server::accept_websocket).
    #[allow(clippy::result_large_err)]
    pub(crate) fn accept_websocket(
        &self,
        request: &http::request::Parts,
        remote: Option<SocketAddr>,
    ) -> Result<Ticket<L>, http::Response<Full<Bytes>>> {
        if self.shut_down.load(Ordering::Acquire) {
            self.layer.probe().refused(503, b"");
            return Err(self
                .refusal(None)
                .unwrap_or_else(|| plain(503, "server shutting down")));
        }
        if let Some(refusal) = self.refusal(session_of(request)) {
            self.layer.probe().refused(503, b"");
            return Err(refusal);
        }
        let connection = ConnectionId(self.next_id.fetch_add(1, Ordering::Relaxed));
        let (writer, end) = wsio::writer();
        let mut writer = Some(writer);
        let ctx = RequestCtx {
            parts: Some(request),
            remote,
        };
        let head = head_from_parts(request);
        let mut fx = Effects::default();
        let route = self.with_front(&mut fx, session_of(request), |router, io, now, lookup| {
            let route = router.route_websocket(now, connection, head, lookup);
            if matches!(route, UpgradeRoute::Router)
                && let Some(writer) = writer.take()
            {
                io.add_writer(connection, writer);
            }
            route
        });
        let mut owner = match route {
            UpgradeRoute::Opened(session) => self.open(*session, ctx, &mut fx, |io| {
                if let Some(writer) = writer.take() {
                    io.add_writer(connection, writer);
                }
            }),
            UpgradeRoute::Session { sid, headers } => {
                let conn = self.conn(&sid);
                if let Some(conn) = &conn {
                    self.drive_with(
                        conn,
                        &mut fx,
                        |st, cx| {
                            if let Some(writer) = writer.take() {
                                st.io.add_writer(connection, writer);
                            }
                            st.session.handle_upgrade(cx.now, connection, headers);
                        },
                        |_, _| (),
                    );
                }
                conn
            }
            _ => None,
        };
        let checks = std::mem::take(&mut fx.checks);
        self.run_effects(fx);
        for (transport, conn) in self.verify_handshakes(ctx, checks) {
            if transport == TransportId::WebSocket(connection) {
                owner = Some(conn);
            }
        }
        let verdict = match &owner {
            Some(conn) => conn.with_state(|st| st.io.take_verdict(connection)),
            None => lock(&self.front).io.take_verdict(connection),
        };
        match verdict {
            Some(Ok(headers)) => Ok(Ticket {
                driver: Some(self.arc()),
                connection,
                headers: upgrade_headers(headers),
                end: Some(end),
                owner,
            }),
            Some(Err(response)) => Err(to_http(response)),
            None => {
                // Never accepted: whatever the machines filed for it goes.
                self.websocket_ended(owner.as_ref(), connection, false);
                Err(plain(400, "Bad request"))
            }
        }
    }

    /// See [`Server::serve_websocket`](crate::Server::serve_websocket).
    ///
    /// Not an `async fn`: an `async fn` keeps its arguments (the socket, the ticket) in its
    /// state for the whole connection beside the future they were moved into, some 470 bytes
    /// of every idle connection's task.
    pub(crate) fn serve_websocket<S>(
        &self,
        mut ticket: Ticket<L>,
        socket: S,
    ) -> impl Future<Output = ()> + Send + '_
    where
        S: futures_core::Stream<Item = Result<tungstenite::Message, tungstenite::Error>>
            + futures_sink::Sink<tungstenite::Message, Error = tungstenite::Error>
            + Send
            + Unpin
            + 'static,
    {
        ticket.driver = None;
        let connection = ticket.connection;
        let owner = ticket.owner.take();
        let end = ticket.end.take();
        drop(ticket);
        let frames_owner = owner.clone();
        let heartbeat_owner = owner.clone();
        let served = end.map(|end| {
            self.websockets.fetch_add(1, Ordering::AcqRel);
            let count = super::Decrement(&self.websockets);
            let served = wsio::serve(
                socket,
                end,
                self.limits,
                self.layer.probe().clone(),
                self.layer.traffic(),
                move |frame| {
                    let conn = frames_owner.as_ref()?;
                    self.drive_then(
                        conn,
                        |st, cx| {
                            let _ = st.session.handle_frame(cx.now, connection, frame);
                        },
                        |st, ()| st.io.gate(connection),
                    )
                },
                move || {
                    if let Some(conn) = &heartbeat_owner {
                        self.drive(conn, |st, cx| {
                            let _ = st.session.handle_heartbeat_written(cx.now, connection);
                        });
                    }
                },
            );
            (served, count)
        });
        // A combinator, not an `async` block: a block would keep `served` beside the copy it
        // awaits.
        match served {
            Some((served, count)) => Either::Left(served.map(move |clean| {
                drop(count);
                self.websocket_ended(owner.as_ref(), connection, clean);
                tracing::debug!(connection = connection.0, clean, "websocket ended");
            })),
            None => Either::Right(std::future::ready(())),
        }
    }

    /// WebSocket `connection` ended (`clean`: closed rather than failed, as the reference's
    /// `ws` `close` vs `error`), or its ticket was dropped unused (not clean).
    fn websocket_ended(&self, owner: Option<&Arc<Conn<L>>>, connection: ConnectionId, clean: bool) {
        let reason = if clean {
            CloseReason::TransportClose
        } else {
            CloseReason::TransportError
        };
        match owner {
            Some(conn) => self.drive(conn, |st, cx| {
                st.io.websocket_ended(connection);
                let _ = st.session.handle_websocket_gone(cx.now, connection, reason);
            }),
            None => {
                let mut fx = Effects::default();
                self.with_front(&mut fx, None, |router, io, _, _| {
                    io.websocket_ended(connection);
                    router.handshake_gone(TransportId::WebSocket(connection));
                });
                self.run_effects(fx);
            }
        }
    }

    /// Runs `allow_request` (user code, so outside every lock) on the handshakes the request
    /// in `ctx` started, then hands the verdicts to the router; the sessions it opened.
    fn verify_handshakes(
        &self,
        ctx: RequestCtx<'_>,
        checks: Vec<TransportId>,
    ) -> Vec<(TransportId, Arc<Conn<L>>)> {
        if checks.is_empty() {
            return Vec::new();
        }
        let verdicts =
            allow_request_verdicts(self.allow_request.as_ref(), ctx.parts, ctx.remote, checks);
        let mut fx = Effects::default();
        let accepted: Vec<(TransportId, Session, Carried)> =
            self.with_front(&mut fx, None, |router, io, now, lookup| {
                let mut accepted = Vec::new();
                for (transport, verdict) in verdicts {
                    match verdict {
                        Ok(()) => {
                            if let Ok(Some(session)) =
                                router.accept_handshake(now, transport, lookup)
                            {
                                let carried = match transport {
                                    TransportId::Polling(id) => {
                                        Carried::Request(id, io.take_request(id))
                                    }
                                    TransportId::WebSocket(connection) => {
                                        Carried::Writer(connection, io.take_writer(connection))
                                    }
                                    _ => continue,
                                };
                                accepted.push((transport, session, carried));
                            }
                        }
                        Err(message) => {
                            let _ = router.refuse_handshake(now, transport, Some(&message));
                        }
                    }
                }
                accepted
            });
        let opened = accepted
            .into_iter()
            .filter_map(|(transport, session, carried)| {
                let conn = self.open(session, ctx, &mut fx, |io| carried.attach(io))?;
                Some((transport, conn))
            })
            .collect();
        self.run_effects(fx);
        opened
    }

    /// Backpressure over polling, once a request of session `conn` has its answer: a GET took
    /// the buffer, so a POST paused on it may go on; a POST is answered only once the
    /// session's buffer and backlog are below the marks (the client sends its next POST after
    /// the answer, so its sending pauses meanwhile).
    async fn after_poll(&self, method: Method, conn: &Arc<Conn<L>>) {
        let gate = conn.with_state(|st| L::gate(&st.layer).clone());
        let buffered = || conn.with_state(|st| st.session.session().buffered_bytes());
        crate::flow::after_poll(self.limits, method == Method::Post, &gate, buffered).await;
    }
}

/// Whether a request is of Engine.IO v3 (`EIO=3`), whose polling payloads are counted whole.
fn is_v3(parts: &http::request::Parts) -> bool {
    parts
        .uri
        .query()
        .is_some_and(|query| query.split('&').any(|pair| pair == "EIO=3"))
}

/// Aborts a polling request whose future was dropped before its answer.
struct AbortGuard<'a, L: Layer> {
    driver: &'a Driver<L>,
    id: RequestId,
    owner: Option<Arc<Conn<L>>>,
    armed: bool,
}

impl<L: Layer> Drop for AbortGuard<'_, L> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let id = self.id;
        match &self.owner {
            Some(conn) => self.driver.drive(conn, |st, cx| {
                if st.io.abort_request(id) {
                    let _ = st.session.handle_request_aborted(cx.now, id);
                }
            }),
            None => {
                let mut fx = Effects::default();
                self.driver.with_front(&mut fx, None, |router, io, _, _| {
                    if io.abort_request(id) {
                        router.handshake_gone(TransportId::Polling(id));
                    }
                });
                self.driver.run_effects(fx);
            }
        }
    }
}

/// An accepted WebSocket upgrade, to serve once `101` is written; dropped unused, the
/// WebSocket counts as failed.
pub(crate) struct Ticket<L: Layer> {
    driver: Option<Arc<Driver<L>>>,
    pub(crate) connection: ConnectionId,
    pub(crate) headers: Vec<(http::HeaderName, http::HeaderValue)>,
    end: Option<WriterEnd>,
    owner: Option<Arc<Conn<L>>>,
}

impl<L: Layer> Drop for Ticket<L> {
    fn drop(&mut self) {
        if let Some(driver) = self.driver.take() {
            driver.websocket_ended(self.owner.as_ref(), self.connection, false);
        }
    }
}
