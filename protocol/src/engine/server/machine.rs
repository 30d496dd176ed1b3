//! The server: the session table, request routing, and the handle/poll interface.

use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::vec::Vec;
use bytes::Bytes;
use core::fmt;

use super::config::{Config, TransportKind};
use super::http::{ConnectionId, Header, RequestHead, RequestId, Response, TransportId};
use super::router::{RequestRoute, Router, UpgradeRoute};
use super::session::{SidKey, sid_key};
use super::session_machine::Session;
use crate::engine::{CloseReason, Data, Frame, Packet, ProtocolVersion};
use crate::{Instant, Str};

/// One message for many sessions ([`Server::send_prepared`]): the data, and its WebSocket
/// frame for each protocol version, encoded on first use and then shared (a cheap clone).
#[derive(Debug, Clone)]
pub struct PreparedMessage {
    data: Data,
    v4: core::cell::OnceCell<Frame>,
    v3: core::cell::OnceCell<Frame>,
}

impl PreparedMessage {
    /// A message with `data`.
    pub fn new(data: Data) -> Self {
        PreparedMessage {
            data,
            v4: core::cell::OnceCell::new(),
            v3: core::cell::OnceCell::new(),
        }
    }

    /// The message's data.
    pub fn data(&self) -> &Data {
        &self.data
    }

    /// Its WebSocket frame for `version`, encoded once.
    pub fn frame(&self, version: ProtocolVersion) -> Frame {
        let cell = match version {
            ProtocolVersion::V4 => &self.v4,
            ProtocolVersion::V3 => &self.v3,
        };
        cell.get_or_init(|| Packet::Message(self.data.clone()).encode_frame(version))
            .clone()
    }
}

/// Work for the runtime, drained with [`Server::poll_transmit`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Transmit {
    /// Write this response to HTTP request `request` (which is then finished).
    Response {
        /// The request.
        request: RequestId,
        /// The response.
        response: Response,
    },
    /// Read the body of POST `request` and pass it to [`Server::handle_request_body`]; reading
    /// may stop after `limit + 1` bytes (a longer body is refused with `413` anyway).
    ReadBody {
        /// The request.
        request: RequestId,
        /// The largest acceptable body, in bytes.
        limit: usize,
    },
    /// Drop HTTP request `request` without answering (its session went away).
    Abort {
        /// The request.
        request: RequestId,
    },
    /// Complete the WebSocket upgrade of `connection` (`101`), adding these headers.
    AcceptWebSocket {
        /// The connection.
        connection: ConnectionId,
        /// Extra response headers (CORS).
        headers: Vec<Header>,
    },
    /// Refuse the WebSocket upgrade of `connection` with this plain HTTP response, then close.
    RefuseWebSocket {
        /// The connection.
        connection: ConnectionId,
        /// The response (`400`, the error message as text).
        response: Response,
    },
    /// Send a frame on WebSocket `connection`.
    Frame {
        /// The connection.
        connection: ConnectionId,
        /// The frame.
        frame: Frame,
    },
    /// Send a heartbeat ping on WebSocket `connection`, as [`Transmit::Frame`], and report
    /// with [`Server::handle_heartbeat_written`] once it has been written: the client's time
    /// to answer (`pingTimeout`) counts from then, so a writer running late cannot make a
    /// healthy client miss its deadline. Unreported, the deadline is
    /// `pingInterval + pingTimeout` from when the ping was queued.
    Heartbeat {
        /// The connection.
        connection: ConnectionId,
        /// The ping frame.
        frame: Frame,
    },
    /// Close WebSocket `connection` (the engine has forgotten it).
    CloseWebSocket {
        /// The connection.
        connection: ConnectionId,
    },
}

/// What a session opened with.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Handshake {
    /// The new session id.
    pub sid: Str,
    /// The protocol revision.
    pub protocol: ProtocolVersion,
    /// The transport that carried the handshake.
    pub transport: TransportId,
    /// The handshake request.
    pub head: RequestHead,
}

/// Something the application should know, drained with [`Server::poll_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A handshake waits for [`Server::accept_handshake`] or [`Server::refuse_handshake`]
    /// (only with [`Config::verify_handshakes`]): the `allowRequest` hook.
    HandshakeRequest {
        /// The transport asking.
        transport: TransportId,
        /// Its request.
        head: RequestHead,
    },
    /// A session opened.
    Opened(Handshake),
    /// A message from a session's client.
    Message {
        /// The session.
        sid: Str,
        /// The message.
        data: Data,
    },
    /// A session moved to WebSocket `connection`.
    Upgraded {
        /// The session.
        sid: Str,
        /// Its new transport.
        connection: ConnectionId,
    },
    /// A session closed; nothing more is delivered for it.
    Closed {
        /// The session.
        sid: Str,
        /// Why.
        reason: CloseReason,
    },
}

/// API misuse reported by the server (never caused by a peer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// No open session has this id.
    UnknownSession,
    /// The session is closing and takes no more messages.
    SessionClosing,
    /// The session's polling buffer is full ([`Config::max_buffered_packets`]).
    QueueFull,
    /// No request with this id is waiting for this input.
    UnknownRequest,
    /// No WebSocket with this id is known (or it is not accepted yet).
    UnknownConnection,
    /// No handshake with this transport waits for a verdict.
    UnknownHandshake,
    /// The request or connection id is already in use.
    IdInUse,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::UnknownSession => "unknown engine.io session",
            Error::SessionClosing => "engine.io session is closing",
            Error::QueueFull => "engine.io session buffer is full",
            Error::UnknownRequest => "unknown or finished request",
            Error::UnknownConnection => "unknown or closed websocket",
            Error::UnknownHandshake => "no handshake waits for a verdict on this transport",
            Error::IdInUse => "request or connection id already in use",
        })
    }
}

impl core::error::Error for Error {}

/// Who a live request or WebSocket of the [`Server`] belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    /// A handshake parked in the router.
    Router,
    /// A session.
    Session(SidKey),
}

/// The sans-IO Engine.IO server: a [`Router`] and every [`Session`] in one machine, with one
/// set of timers. (A driver that keeps each session behind its own lock uses the router and
/// the sessions directly.)
pub struct Server {
    router: Router,
    sessions: BTreeMap<SidKey, (Session, Option<Instant>)>,
    timers: BTreeSet<(Instant, SidKey)>,
    requests: BTreeMap<RequestId, Owner>,
    connections: BTreeMap<ConnectionId, Owner>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("router", &self.router)
            .field("sessions", &self.sessions.len())
            .finish_non_exhaustive()
    }
}

impl Server {
    /// A server with `config`; `ids` yields 15 random bytes per session (base64url → 20 chars).
    pub fn new(config: Config, ids: impl FnMut() -> [u8; 15] + Send + 'static) -> Self {
        Server {
            router: Router::new(config, ids),
            sessions: BTreeMap::new(),
            timers: BTreeSet::new(),
            requests: BTreeMap::new(),
            connections: BTreeMap::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// The options.
    pub fn config(&self) -> &Config {
        self.router.config()
    }

    /// Whether a request path belongs to this server (starts with `path + "/"`).
    pub fn matches_path(&self, path: &str) -> bool {
        self.router.matches_path(path)
    }

    /// The number of sessions (open or closing).
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// Whether `sid` is a live session.
    pub fn contains(&self, sid: &str) -> bool {
        self.session(sid).is_some()
    }

    /// The active transport of session `sid`.
    pub fn transport_of(&self, sid: &str) -> Option<TransportKind> {
        self.session(sid).map(Session::transport)
    }

    /// The protocol revision of session `sid`.
    pub fn protocol_of(&self, sid: &str) -> Option<ProtocolVersion> {
        self.session(sid).map(Session::protocol)
    }

    fn session(&self, sid: &str) -> Option<&Session> {
        sid_key(sid)
            .and_then(|key| self.sessions.get(&key))
            .map(|(session, _)| session)
    }

    /// An HTTP request (not a WebSocket upgrade) arrived: handshake, poll, data POST, or an
    /// error answered at once. A POST asks for its body with [`Transmit::ReadBody`].
    ///
    /// A client's close packet (`1`) in a POST ends its session at once, and a held GET is
    /// answered with a noop (`6`). When no GET was held, the first GET of that session to
    /// arrive within two seconds is the one that crossed the close on its own connection: it
    /// is answered with that noop too, as if it had come first; any other is
    /// `400 Session ID unknown`.
    pub fn handle_request(
        &mut self,
        now: Instant,
        request: RequestId,
        head: RequestHead,
    ) -> Result<(), Error> {
        if self.requests.contains_key(&request) {
            return Err(Error::IdInUse);
        }
        let sessions = &self.sessions;
        let route = self
            .router
            .route_request(now, request, head, |sid| live_transport(sessions, sid));
        match route {
            RequestRoute::Router => {
                if self.router.is_pending(TransportId::Polling(request)) {
                    self.requests.insert(request, Owner::Router);
                }
            }
            RequestRoute::Opened(session) => {
                self.requests.insert(request, Owner::Session(session.key()));
                self.insert(*session);
            }
            RequestRoute::Session {
                sid,
                method,
                binary,
                headers,
            } => {
                if let Some(key) = sid_key(&sid)
                    && let Some((session, _)) = self.sessions.get_mut(&key)
                {
                    self.requests.insert(request, Owner::Session(key));
                    session.handle_request(now, request, method, binary, headers);
                    self.collect(key);
                }
            }
        }
        self.collect_router();
        Ok(())
    }

    /// The body of a POST announced by [`Transmit::ReadBody`] (possibly cut after
    /// `limit + 1` bytes).
    pub fn handle_request_body(
        &mut self,
        now: Instant,
        request: RequestId,
        body: Bytes,
    ) -> Result<(), Error> {
        let Some(&Owner::Session(key)) = self.requests.get(&request) else {
            return Err(Error::UnknownRequest);
        };
        let (session, _) = self.sessions.get_mut(&key).ok_or(Error::UnknownRequest)?;
        session.handle_request_body(now, request, body)?;
        self.collect(key);
        Ok(())
    }

    /// The client went away before request `request` was answered. An aborted poll or POST
    /// closes its session (`transport error`); an aborted pending handshake is forgotten.
    pub fn handle_request_aborted(
        &mut self,
        now: Instant,
        request: RequestId,
    ) -> Result<(), Error> {
        match self.requests.remove(&request) {
            None => Err(Error::UnknownRequest),
            Some(Owner::Router) => {
                self.router.handshake_gone(TransportId::Polling(request));
                Ok(())
            }
            Some(Owner::Session(key)) => {
                if let Some((session, _)) = self.sessions.get_mut(&key) {
                    let _ = session.handle_request_aborted(now, request);
                    self.collect(key);
                }
                Ok(())
            }
        }
    }

    /// A WebSocket upgrade request arrived on `connection`: a handshake, an upgrade probe for
    /// an existing session, or a refusal ([`Transmit::RefuseWebSocket`]).
    pub fn handle_websocket(
        &mut self,
        now: Instant,
        connection: ConnectionId,
        head: RequestHead,
    ) -> Result<(), Error> {
        if self.connections.contains_key(&connection) {
            return Err(Error::IdInUse);
        }
        let sessions = &self.sessions;
        let route = self
            .router
            .route_websocket(now, connection, head, |sid| live_transport(sessions, sid));
        match route {
            UpgradeRoute::Router => {
                if self.router.is_pending(TransportId::WebSocket(connection)) {
                    self.connections.insert(connection, Owner::Router);
                }
            }
            UpgradeRoute::Opened(session) => {
                self.connections
                    .insert(connection, Owner::Session(session.key()));
                self.insert(*session);
            }
            UpgradeRoute::Session { sid, headers } => {
                if let Some(key) = sid_key(&sid)
                    && let Some((session, _)) = self.sessions.get_mut(&key)
                {
                    self.connections.insert(connection, Owner::Session(key));
                    session.handle_upgrade(now, connection, headers);
                    self.collect(key);
                }
            }
        }
        self.collect_router();
        Ok(())
    }

    /// A frame arrived on WebSocket `connection`.
    pub fn handle_frame(
        &mut self,
        now: Instant,
        connection: ConnectionId,
        frame: Frame,
    ) -> Result<(), Error> {
        let Some(&Owner::Session(key)) = self.connections.get(&connection) else {
            return Err(Error::UnknownConnection);
        };
        let (session, _) = self
            .sessions
            .get_mut(&key)
            .ok_or(Error::UnknownConnection)?;
        let result = session.handle_frame(now, connection, frame);
        self.collect(key);
        result
    }

    /// The ping announced by [`Transmit::Heartbeat`] on WebSocket `connection` has been
    /// written: the client has `pingTimeout` from `now` to answer it.
    pub fn handle_heartbeat_written(
        &mut self,
        now: Instant,
        connection: ConnectionId,
    ) -> Result<(), Error> {
        let Some(&Owner::Session(key)) = self.connections.get(&connection) else {
            return Err(Error::UnknownConnection);
        };
        let (session, _) = self
            .sessions
            .get_mut(&key)
            .ok_or(Error::UnknownConnection)?;
        let result = session.handle_heartbeat_written(now, connection);
        self.collect(key);
        result
    }

    /// WebSocket `connection` closed (by the peer or the network): `transport close` for a
    /// session on it; a probe just ends the upgrade attempt.
    pub fn handle_websocket_closed(
        &mut self,
        now: Instant,
        connection: ConnectionId,
    ) -> Result<(), Error> {
        self.websocket_gone(now, connection, CloseReason::TransportClose)
    }

    /// WebSocket `connection` failed (read/write error): `transport error` for its session.
    pub fn handle_websocket_error(
        &mut self,
        now: Instant,
        connection: ConnectionId,
    ) -> Result<(), Error> {
        self.websocket_gone(now, connection, CloseReason::TransportError)
    }

    fn websocket_gone(
        &mut self,
        now: Instant,
        connection: ConnectionId,
        reason: CloseReason,
    ) -> Result<(), Error> {
        match self.connections.remove(&connection) {
            None => Err(Error::UnknownConnection),
            Some(Owner::Router) => {
                self.router
                    .handshake_gone(TransportId::WebSocket(connection));
                Ok(())
            }
            Some(Owner::Session(key)) => {
                if let Some((session, _)) = self.sessions.get_mut(&key) {
                    let _ = session.handle_websocket_gone(now, connection, reason);
                    self.collect(key);
                }
                Ok(())
            }
        }
    }

    /// Runs the timers due at `now` (pings, ping timeouts, upgrade checks and timeouts, the
    /// polling close safety timer, body deadlines).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.router.handle_timeout(now);
        while let Some(&(at, key)) = self.timers.first() {
            if at > now {
                break;
            }
            self.timers.pop_first();
            if let Some((session, armed)) = self.sessions.get_mut(&key) {
                *armed = None;
                session.handle_timeout(now);
            }
            self.collect(key);
        }
    }

    /// Completes the handshake parked for `transport` (the application allowed it).
    pub fn accept_handshake(&mut self, now: Instant, transport: TransportId) -> Result<(), Error> {
        let sessions = &self.sessions;
        let opened = self
            .router
            .accept_handshake(now, transport, |sid| live_transport(sessions, sid))?;
        match (opened, transport) {
            (Some(session), TransportId::Polling(request)) => {
                self.requests.insert(request, Owner::Session(session.key()));
                self.insert(session);
            }
            (Some(session), TransportId::WebSocket(connection)) => {
                self.connections
                    .insert(connection, Owner::Session(session.key()));
                self.insert(session);
            }
            (None, _) => self.forget_transport(transport),
        }
        self.collect_router();
        Ok(())
    }

    /// Refuses the handshake parked for `transport`: `403 {"code":4,"message":…}` over
    /// polling (`message` replaces `Forbidden`), a plain `400` for a WebSocket.
    pub fn refuse_handshake(
        &mut self,
        now: Instant,
        transport: TransportId,
        message: Option<&str>,
    ) -> Result<(), Error> {
        self.router.refuse_handshake(now, transport, message)?;
        self.forget_transport(transport);
        self.collect_router();
        Ok(())
    }

    fn forget_transport(&mut self, transport: TransportId) {
        match transport {
            TransportId::Polling(request) => {
                self.requests.remove(&request);
            }
            TransportId::WebSocket(connection) => {
                self.connections.remove(&connection);
            }
        }
    }

    /// The bytes of messages waiting in session `sid`'s polling buffer for the next GET
    /// (0 over WebSocket, where frames leave at once), or `None` for an unknown session.
    pub fn buffered_bytes(&self, sid: &str) -> Option<usize> {
        self.session(sid).map(Session::buffered_bytes)
    }

    /// Queues a message to session `sid`.
    ///
    /// Over WebSocket the frame is emitted at once; over polling it waits for the next GET,
    /// and at most [`Config::max_buffered_packets`] messages wait: beyond that this returns
    /// [`Error::QueueFull`] and the message is not queued (the caller chooses to drop it,
    /// retry later or close the session).
    pub fn send(&mut self, sid: &str, data: Data) -> Result<(), Error> {
        let key = sid_key(sid).ok_or(Error::UnknownSession)?;
        let (session, _) = self.sessions.get_mut(&key).ok_or(Error::UnknownSession)?;
        session.send(data)?;
        self.collect(key);
        Ok(())
    }

    /// [`send`](Self::send) for a message going to many sessions (a broadcast): its
    /// WebSocket frame is encoded once per protocol version and shared by every WebSocket
    /// session it goes to, instead of being encoded (and allocated) for each.
    ///
    /// ```
    /// use socketio_protocol::engine::Data;
    /// use socketio_protocol::engine::server::{Config, PreparedMessage, Server};
    /// let mut server = Server::new(Config::default(), || [7; 15]);
    /// let message = PreparedMessage::new(Data::Text("2[\"tick\"]".into()));
    /// // No such session: the same error as `send`.
    /// assert!(server.send_prepared("nope", &message).is_err());
    /// ```
    pub fn send_prepared(&mut self, sid: &str, message: &PreparedMessage) -> Result<(), Error> {
        let key = sid_key(sid).ok_or(Error::UnknownSession)?;
        let (session, _) = self.sessions.get_mut(&key).ok_or(Error::UnknownSession)?;
        session.send_prepared(message)?;
        self.collect(key);
        Ok(())
    }

    /// Closes session `sid` (`forced close`). A polling session without a pending GET sends
    /// its buffer and the close packet on the next GET, or closes after
    /// [`Config::polling_close_timeout`].
    pub fn close(&mut self, now: Instant, sid: &str) -> Result<(), Error> {
        let key = sid_key(sid).ok_or(Error::UnknownSession)?;
        let (session, _) = self.sessions.get_mut(&key).ok_or(Error::UnknownSession)?;
        session.close(now);
        self.collect(key);
        Ok(())
    }

    /// Closes every session at once (`forced close`), as on server shutdown.
    pub fn close_all(&mut self, now: Instant) {
        let _ = now;
        let keys: Vec<SidKey> = self.sessions.keys().copied().collect();
        for key in keys {
            if let Some((session, _)) = self.sessions.get_mut(&key) {
                session.close_now();
            }
            self.collect(key);
        }
    }

    /// The next thing to write: responses, frames, WebSocket accepts and closes, in order.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event for the application, in order.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The earliest instant at which [`Server::handle_timeout`] must be called.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.first().map(|&(at, _)| at)
    }

    /// Adds a session the router opened, and takes its first outputs.
    fn insert(&mut self, session: Session) {
        let key = session.key();
        self.sessions.insert(key, (session, None));
        self.collect(key);
    }

    /// Moves the router's outputs to the server's queues.
    fn collect_router(&mut self) {
        while let Some(transmit) = self.router.poll_transmit() {
            forget_finished(&mut self.requests, &mut self.connections, &transmit);
            self.transmits.push_back(transmit);
        }
        while let Some(event) = self.router.poll_event() {
            self.events.push_back(event);
        }
    }

    /// Moves session `key`'s outputs to the server's queues, then files it under its next
    /// deadline, or drops it if it closed.
    fn collect(&mut self, key: SidKey) {
        let Some((session, armed)) = self.sessions.get_mut(&key) else {
            return;
        };
        while let Some(transmit) = session.poll_transmit() {
            forget_finished(&mut self.requests, &mut self.connections, &transmit);
            self.transmits.push_back(transmit);
        }
        while let Some(event) = session.poll_event() {
            self.events.push_back(event);
        }
        if session.is_closed() {
            if let Some(at) = armed.take() {
                self.timers.remove(&(at, key));
            }
            if let Some((session, _)) = self.sessions.remove(&key) {
                self.router.session_closed(&session);
            }
            return;
        }
        let deadline = session.poll_timeout();
        if deadline != *armed {
            if let Some(at) = *armed {
                self.timers.remove(&(at, key));
            }
            if let Some(at) = deadline {
                self.timers.insert((at, key));
            }
            *armed = deadline;
        }
    }
}

/// Forgets the request or WebSocket a transmit finishes (answered, aborted, refused, closed).
fn forget_finished(
    requests: &mut BTreeMap<RequestId, Owner>,
    connections: &mut BTreeMap<ConnectionId, Owner>,
    transmit: &Transmit,
) {
    match transmit {
        Transmit::Response { request, .. } | Transmit::Abort { request } => {
            requests.remove(request);
        }
        Transmit::RefuseWebSocket { connection, .. } | Transmit::CloseWebSocket { connection } => {
            connections.remove(connection);
        }
        _ => {}
    }
}

/// The active transport of live session `sid` (the router's lookup).
fn live_transport(
    sessions: &BTreeMap<SidKey, (Session, Option<Instant>)>,
    sid: &str,
) -> Option<TransportKind> {
    let (session, _) = sessions.get(&sid_key(sid)?)?;
    (!session.is_closed()).then(|| session.transport())
}

#[cfg(test)]
mod prepared_tests {
    use super::*;

    #[test]
    fn a_prepared_message_encodes_each_version_once_and_shares_it() {
        let message = PreparedMessage::new(Data::Text(Str::from("2[\"tick\",1]")));
        let (a, b) = (
            message.frame(ProtocolVersion::V4),
            message.frame(ProtocolVersion::V4),
        );
        let expected = Packet::Message(message.data().clone()).encode_frame(ProtocolVersion::V4);
        assert_eq!(a, expected);
        match (&a, &b) {
            (Frame::Text(a), Frame::Text(b)) => {
                assert_eq!(
                    a.as_bytes().as_ptr(),
                    b.as_bytes().as_ptr(),
                    "shared, not copied"
                )
            }
            _ => panic!("a text message has a text frame"),
        }
        let binary = PreparedMessage::new(Data::Binary(Bytes::from_static(&[1, 2])));
        assert_eq!(
            binary.frame(ProtocolVersion::V3),
            Packet::Message(binary.data().clone()).encode_frame(ProtocolVersion::V3)
        );
    }
}
