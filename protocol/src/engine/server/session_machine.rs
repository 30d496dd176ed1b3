//! [`Session`]: one Engine.IO session as a machine of its own, with its own outputs and
//! timers, so that a driver can keep each session behind its own lock (or in its own task)
//! and use the [`Router`](super::Router) only to classify requests and open sessions.

use alloc::sync::Arc;
use alloc::vec::Vec;
use bytes::Bytes;

use super::config::{Config, TransportKind};
use super::http::{ConnectionId, Header, Method, RequestId, Response, TransportId};
use super::machine::{Error, Event, Handshake, PreparedMessage, Transmit};
use super::session::{
    Active, ConnectionState, Farewell, Outputs, PostBody, RequestState, SessionState, SidKey,
};
use crate::engine::{CloseReason, Data, Frame, OpenPacket, Packet, ProtocolVersion};
use crate::{Instant, Str};

/// One Engine.IO session: its transports (a held GET and a POST, or a WebSocket, and an
/// upgrade probe), its polling buffer, heartbeat, upgrade and close, under the handle/poll
/// contract of the other machines.
///
/// Made by the [`Router`](super::Router) when a handshake completes. The caller hands it the
/// requests and WebSockets the router says are this session's ([`Session::handle_request`],
/// [`Session::handle_upgrade`]) and the later inputs of those transports, and drains
/// [`poll_transmit`](Self::poll_transmit) and [`poll_event`](Self::poll_event) after each.
/// Once [`is_closed`](Self::is_closed), it is dropped, after telling the router
/// ([`Router::session_closed`](super::Router::session_closed)).
#[derive(Debug)]
pub struct Session {
    state: SessionState,
    config: Arc<Config>,
    out: Outputs,
}

impl Session {
    /// Opens a session on `transport` (the handshake's request or WebSocket): the `Opened`
    /// event, the WebSocket's acceptance, the open packet (and the initial packet), and for
    /// polling the handshake's answer.
    #[allow(clippy::too_many_arguments)] // the handshake's parts, all needed
    pub(super) fn open(
        now: Instant,
        config: Arc<Config>,
        sid: Str,
        key: SidKey,
        version: ProtocolVersion,
        supports_binary: bool,
        transport: TransportId,
        head: super::http::RequestHead,
        mut headers: Vec<Header>,
    ) -> Session {
        let (kind, active) = match transport {
            TransportId::Polling(_) => (
                TransportKind::Polling,
                Active::Polling {
                    get: None,
                    post: None,
                },
            ),
            TransportId::WebSocket(connection) => {
                (TransportKind::WebSocket, Active::WebSocket(connection))
            }
        };
        let state = SessionState::new(
            now,
            sid.clone(),
            key,
            version,
            supports_binary,
            active,
            &config,
        );
        let mut session = Session {
            state,
            config,
            out: Outputs::default(),
        };
        session.out.events.push_back(Event::Opened(Handshake {
            sid: sid.clone(),
            protocol: version,
            transport,
            head,
        }));
        if let TransportId::WebSocket(connection) = transport {
            session.out.transmits.push_back(Transmit::AcceptWebSocket {
                connection,
                headers: core::mem::take(&mut headers),
            });
            session
                .out
                .connections
                .insert(connection, ConnectionState::Main);
        }
        let open = OpenPacket {
            sid: sid.clone(),
            upgrades: session.config.upgrades(kind),
            ping_interval: millis(session.config.ping_interval),
            ping_timeout: millis(session.config.ping_timeout),
            max_payload: Some(session.config.max_payload as u64),
        };
        session.state.push(open.to_packet(), &mut session.out);
        if let Some(initial) = session.config.initial_packet.clone() {
            session
                .state
                .push(Packet::Message(initial), &mut session.out);
        }
        if let TransportId::Polling(request) = transport {
            if let Some(cookie) = &session.config.cookie {
                headers.push(("Set-Cookie", Str::from(cookie.header_value(&sid))));
            }
            session
                .state
                .on_poll(now, request, headers, &session.config, &mut session.out);
        }
        session
    }

    /// The session id.
    pub fn sid(&self) -> &Str {
        &self.state.sid
    }

    /// The id as a table key.
    pub(super) fn key(&self) -> SidKey {
        self.state.key
    }

    /// The protocol revision.
    pub fn protocol(&self) -> ProtocolVersion {
        self.state.version
    }

    /// The active transport.
    pub fn transport(&self) -> TransportKind {
        self.state.transport()
    }

    /// Whether the session has closed (its `Closed` event is queued); drop it then.
    pub fn is_closed(&self) -> bool {
        self.state.closed
    }

    /// Until when a GET that crossed the client's close (sent by POST while no GET was held)
    /// is owed a noop; for [`Router::session_closed`](super::Router::session_closed).
    pub fn noop_owed(&self) -> Option<Instant> {
        self.state.noop_owed
    }

    /// The bytes of messages waiting in the polling buffer (0 over WebSocket).
    pub fn buffered_bytes(&self) -> usize {
        self.state.buffered_bytes
    }

    /// A polling request the router routed to this session (`method` GET or POST; a POST's
    /// body is asked for with [`Transmit::ReadBody`]). On a WebSocket session it is refused
    /// (`400`); another method gets `500`, as the reference.
    pub fn handle_request(
        &mut self,
        now: Instant,
        request: RequestId,
        method: Method,
        binary: bool,
        headers: Vec<Header>,
    ) {
        let on_websocket = self.state.transport() == TransportKind::WebSocket;
        match method {
            Method::Get | Method::Post if on_websocket => {
                // A plain request on a WebSocket session (`transport=websocket` without upgrade).
                self.out.respond(
                    request,
                    Response::error(super::http::ErrorCode::BadRequest, None, headers),
                );
            }
            Method::Get => self
                .state
                .on_poll(now, request, headers, &self.config, &mut self.out),
            Method::Post => {
                self.state
                    .on_post(now, request, binary, headers, &self.config, &mut self.out)
            }
            _ => self.out.respond(request, Response::empty(500, headers)),
        }
    }

    /// The body of a POST asked for with [`Transmit::ReadBody`].
    pub fn handle_request_body(
        &mut self,
        now: Instant,
        request: RequestId,
        body: Bytes,
    ) -> Result<(), Error> {
        let Some(RequestState::Data { .. }) = self.out.requests.get(&request) else {
            return Err(Error::UnknownRequest);
        };
        let Some(RequestState::Data { binary, headers }) = self.out.requests.remove(&request)
        else {
            return Err(Error::UnknownRequest);
        };
        let post_body = PostBody {
            request,
            body,
            binary,
            headers,
        };
        self.state
            .on_body(now, post_body, &self.config, &mut self.out);
        Ok(())
    }

    /// The client went away before `request` (a held GET or a POST) was answered: the session
    /// closes (`transport error`).
    pub fn handle_request_aborted(
        &mut self,
        now: Instant,
        request: RequestId,
    ) -> Result<(), Error> {
        let _ = now;
        if self.out.requests.remove(&request).is_none() {
            return Err(Error::UnknownRequest);
        }
        if let Active::Polling { get, post } = &mut self.state.active {
            if get.as_ref().is_some_and(|held| held.request == request) {
                *get = None;
            }
            if *post == Some(request) {
                *post = None;
            }
        }
        self.state
            .close(CloseReason::TransportError, Farewell::Close, &mut self.out);
        Ok(())
    }

    /// A WebSocket upgrade request for this session on `connection`: probed as the new
    /// transport, or (a probe already running, the session upgraded or closing) accepted and
    /// closed at once, as the reference.
    pub fn handle_upgrade(&mut self, now: Instant, connection: ConnectionId, headers: Vec<Header>) {
        let state = &self.state;
        if state.probe.is_some() || state.upgraded || !state.is_open() {
            self.out.transmits.push_back(Transmit::AcceptWebSocket {
                connection,
                headers,
            });
            self.out
                .transmits
                .push_back(Transmit::CloseWebSocket { connection });
            return;
        }
        self.out.transmits.push_back(Transmit::AcceptWebSocket {
            connection,
            headers,
        });
        self.state
            .start_probe(now, connection, &self.config, &mut self.out);
    }

    /// A frame on one of this session's WebSockets (its transport or its probe).
    pub fn handle_frame(
        &mut self,
        now: Instant,
        connection: ConnectionId,
        frame: Frame,
    ) -> Result<(), Error> {
        match self.out.connections.get(&connection) {
            Some(ConnectionState::Main) => {
                self.state.on_frame(now, frame, &self.config, &mut self.out);
                Ok(())
            }
            Some(ConnectionState::Probe) => {
                self.state.on_probe_frame(now, frame, &mut self.out);
                Ok(())
            }
            None => Err(Error::UnknownConnection),
        }
    }

    /// The ping announced by [`Transmit::Heartbeat`] on `connection` has been written.
    pub fn handle_heartbeat_written(
        &mut self,
        now: Instant,
        connection: ConnectionId,
    ) -> Result<(), Error> {
        match self.out.connections.get(&connection) {
            Some(ConnectionState::Main) => {
                self.state.on_ping_written(now, &self.config);
                Ok(())
            }
            _ => Err(Error::UnknownConnection),
        }
    }

    /// WebSocket `connection` ended: closed (`transport close`) or failed (`transport error`)
    /// for the session's transport; a probe just ends the upgrade attempt.
    pub fn handle_websocket_gone(
        &mut self,
        now: Instant,
        connection: ConnectionId,
        reason: CloseReason,
    ) -> Result<(), Error> {
        let _ = now;
        match self.out.connections.remove(&connection) {
            Some(ConnectionState::Main) => {
                self.state.close(reason, Farewell::Close, &mut self.out);
                Ok(())
            }
            Some(ConnectionState::Probe) => {
                self.state.on_probe_closed(&mut self.out);
                Ok(())
            }
            None => Err(Error::UnknownConnection),
        }
    }

    /// Runs the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.state.on_timeout(now, &self.config, &mut self.out);
    }

    /// Queues a message (see [`Server::send`](super::Server::send)).
    pub fn send(&mut self, data: Data) -> Result<(), Error> {
        self.writable()?;
        self.state.push(Packet::Message(data), &mut self.out);
        Ok(())
    }

    /// Queues a message prepared for many sessions (see
    /// [`Server::send_prepared`](super::Server::send_prepared)).
    pub fn send_prepared(&mut self, message: &PreparedMessage) -> Result<(), Error> {
        self.writable()?;
        self.state.push_prepared(message, &mut self.out);
        Ok(())
    }

    /// A message prepared for many sessions, as the frame to write right now, bypassing the
    /// outputs: over WebSocket, when the session is open and nothing else waits in its
    /// outputs (so the order of what it writes holds), the connection and the frame, which the
    /// caller must write at once. `None`: it must go through
    /// [`send_prepared`](Self::send_prepared) (polling, an output pending, closing). Nothing
    /// in the session changes either way, so a caller that wrote the frame need not drain or
    /// re-arm anything (a broadcast to many sessions saves that work per recipient).
    ///
    /// ```
    /// use socketio_protocol::engine::Data;
    /// use socketio_protocol::engine::server::PreparedMessage;
    /// # fn f(session: &socketio_protocol::engine::server::Session) {
    /// let message = PreparedMessage::new(Data::Text("2[\"tick\"]".into()));
    /// match session.direct_frame(&message) {
    ///     Some((connection, frame)) => { /* write `frame` on `connection` now */ }
    ///     None => { /* session.send_prepared(&message), then drain its outputs */ }
    /// }
    /// # }
    /// ```
    #[must_use]
    pub fn direct_frame(&self, message: &PreparedMessage) -> Option<(ConnectionId, Frame)> {
        if !self.state.is_open() || !self.out.transmits.is_empty() {
            return None;
        }
        match &self.state.active {
            Active::WebSocket(connection) => Some((*connection, message.frame(self.state.version))),
            _ => None,
        }
    }

    /// Whether the session can take one more message.
    fn writable(&self) -> Result<(), Error> {
        let state = &self.state;
        if !state.is_open() {
            return Err(Error::SessionClosing);
        }
        if state.transport() == TransportKind::Polling
            && (state.buffered_messages >= self.config.max_buffered_packets
                || (state.buffered_messages > 0
                    && state.buffered_bytes >= self.config.max_buffered_bytes))
        {
            return Err(Error::QueueFull);
        }
        Ok(())
    }

    /// Closes the session (`forced close`; see [`Server::close`](super::Server::close)).
    pub fn close(&mut self, now: Instant) {
        self.state.force_close(now, &self.config, &mut self.out);
    }

    /// Closes the session at once (`forced close`), as on server shutdown.
    pub fn close_now(&mut self) {
        self.state
            .close(CloseReason::ForcedClose, Farewell::Close, &mut self.out);
    }

    /// The next thing to write, in order.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        crate::pop_or_release(&mut self.out.transmits)
    }

    /// The next event, in order.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        crate::pop_or_release(&mut self.out.events)
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.state.deadline()
    }
}

/// A duration in whole milliseconds, saturating.
pub(super) fn millis(duration: core::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
