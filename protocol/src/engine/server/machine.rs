//! The server: the session table, request routing, and the handle/poll interface.

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::string::String;
use alloc::vec::Vec;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE;
use bytes::Bytes;
use core::fmt;

use super::config::{Config, TransportKind};
use super::http::{
    ConnectionId, ErrorCode, Header, Method, Query, RequestHead, RequestId, Response, TransportId,
    is_invalid_header_value,
};
use super::session::{
    Active, ConnectionState, Outputs, PostBody, RequestState, Session, SidKey, poll_response,
    sid_key,
};
use crate::engine::{CloseReason, Data, Frame, OpenPacket, Packet, ProtocolVersion};
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

/// A handshake parked until the application's verdict.
#[derive(Debug)]
struct Pending {
    head: RequestHead,
    query: Query,
    headers: Vec<Header>,
}

/// How many generated ids may collide with live sessions before a handshake is refused.
const ID_ATTEMPTS: usize = 8;

/// A polling session the client closed by POST while no GET was held: the first GET that
/// crossed the close still gets its noop
/// (see [`CLOSED_POLL_GRACE`](super::session::CLOSED_POLL_GRACE)).
#[derive(Debug, Clone, Copy)]
struct ClosedPoll {
    /// Until when the noop is owed.
    until: Instant,
    /// The session's protocol revision (how the noop is encoded).
    version: ProtocolVersion,
}

/// The sans-IO Engine.IO server: every session, every transport, one set of timers.
pub struct Server {
    config: Config,
    prefix: String,
    ids: Box<dyn FnMut() -> [u8; 15] + Send>,
    sessions: BTreeMap<SidKey, Session>,
    timers: BTreeSet<(Instant, SidKey)>,
    pending: BTreeMap<TransportId, Pending>,
    /// Sessions closed by the client over polling, owing a noop to a GET that crossed the
    /// close; with their expiries in order (the grace is constant, so a queue).
    closed_polls: BTreeMap<SidKey, ClosedPoll>,
    closed_poll_expiries: VecDeque<(Instant, SidKey)>,
    out: Outputs,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("config", &self.config)
            .field("sessions", &self.sessions.len())
            .field("pending", &self.pending.len())
            .finish_non_exhaustive()
    }
}

impl Server {
    /// A server with `config`; `ids` yields 15 random bytes per session (base64url → 20 chars).
    pub fn new(config: Config, ids: impl FnMut() -> [u8; 15] + Send + 'static) -> Self {
        Server {
            prefix: config.path_prefix(),
            config,
            ids: Box::new(ids),
            sessions: BTreeMap::new(),
            timers: BTreeSet::new(),
            pending: BTreeMap::new(),
            closed_polls: BTreeMap::new(),
            closed_poll_expiries: VecDeque::new(),
            out: Outputs::default(),
        }
    }

    /// The options.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Whether a request path belongs to this server (starts with `path + "/"`).
    pub fn matches_path(&self, path: &str) -> bool {
        path.starts_with(&self.prefix)
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
        self.session(sid).map(|session| session.version)
    }

    fn session(&self, sid: &str) -> Option<&Session> {
        sid_key(sid).and_then(|key| self.sessions.get(&key))
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
        if self.out.requests.contains_key(&request) {
            return Err(Error::IdInUse);
        }
        self.forget_closed_polls(now);
        if !self.matches_path(&head.path) {
            self.out.respond(request, Response::empty(404, Vec::new()));
            return Ok(());
        }
        if let Some(cors) = &self.config.cors
            && head.method == Method::Options
        {
            let headers = cors.headers(&head, true);
            self.out.respond(request, Response::empty(204, headers));
            return Ok(());
        }
        let headers = self.cors_headers(&head);
        let query = Query::parse(&head.query);
        let key = match self.verify(&head, &query, false) {
            Ok(key) => key,
            Err(code) => {
                let response = match self.take_closed_poll(now, code, &head, &query) {
                    Some(version) => poll_response(version, false, &[Packet::Noop], headers),
                    None => Response::error(code, None, headers),
                };
                self.out.respond(request, response);
                return Ok(());
            }
        };
        let Some(key) = key else {
            self.begin_handshake(now, TransportId::Polling(request), head, query, headers);
            return Ok(());
        };
        let Some(session) = self.sessions.get_mut(&key) else {
            return Ok(());
        };
        let on_websocket = session.transport() == TransportKind::WebSocket;
        match head.method {
            Method::Get | Method::Post if on_websocket => {
                // A plain request on a WebSocket session (`transport=websocket` without upgrade).
                let response = Response::error(ErrorCode::BadRequest, None, headers);
                self.out.respond(request, response);
            }
            Method::Get => session.on_poll(now, request, headers, &self.config, &mut self.out),
            Method::Post => {
                let binary = head.is_octet_stream();
                session.on_post(now, request, binary, headers, &self.config, &mut self.out);
            }
            _ => self.out.respond(request, Response::empty(500, headers)),
        }
        self.touch(key);
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
        let Some(RequestState::Data { .. }) = self.out.requests.get(&request) else {
            return Err(Error::UnknownRequest);
        };
        let Some(RequestState::Data {
            sid,
            binary,
            headers,
        }) = self.out.requests.remove(&request)
        else {
            return Err(Error::UnknownRequest);
        };
        let Some(session) = self.sessions.get_mut(&sid) else {
            return Err(Error::UnknownRequest);
        };
        let post_body = PostBody {
            request,
            body,
            binary,
            headers,
        };
        session.on_body(now, post_body, &self.config, &mut self.out);
        self.touch(sid);
        Ok(())
    }

    /// The client went away before request `request` was answered. An aborted poll or POST
    /// closes its session (`transport error`); an aborted pending handshake is forgotten.
    pub fn handle_request_aborted(
        &mut self,
        now: Instant,
        request: RequestId,
    ) -> Result<(), Error> {
        let _ = now;
        match self.out.requests.remove(&request) {
            None => Err(Error::UnknownRequest),
            Some(RequestState::Handshake) => {
                self.pending.remove(&TransportId::Polling(request));
                Ok(())
            }
            Some(RequestState::Poll(key) | RequestState::Data { sid: key, .. }) => {
                if let Some(session) = self.sessions.get_mut(&key) {
                    if let Active::Polling { get, post } = &mut session.active {
                        if get.as_ref().is_some_and(|held| held.request == request) {
                            *get = None;
                        }
                        if *post == Some(request) {
                            *post = None;
                        }
                    }
                    session.close(
                        CloseReason::TransportError,
                        super::session::Farewell::Close,
                        &mut self.out,
                    );
                }
                self.touch(key);
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
        if self.out.connections.contains_key(&connection) {
            return Err(Error::IdInUse);
        }
        if !self.matches_path(&head.path) {
            self.out.transmits.push_back(Transmit::RefuseWebSocket {
                connection,
                response: Response::empty(404, Vec::new()),
            });
            return Ok(());
        }
        let headers = self.cors_headers(&head);
        let query = Query::parse(&head.query);
        let key = match self.verify(&head, &query, true) {
            Ok(key) => key,
            Err(code) => {
                self.refuse(TransportId::WebSocket(connection), code, None, headers);
                return Ok(());
            }
        };
        let accept_then_close = |out: &mut Outputs, headers| {
            out.transmits.push_back(Transmit::AcceptWebSocket {
                connection,
                headers,
            });
            out.transmits
                .push_back(Transmit::CloseWebSocket { connection });
        };
        if query.transport.as_deref() != Some(TransportKind::WebSocket.as_str()) {
            // `transport=polling` on an upgrade: the reference accepts the socket and closes it.
            accept_then_close(&mut self.out, headers);
            return Ok(());
        }
        let Some(key) = key else {
            self.begin_handshake(
                now,
                TransportId::WebSocket(connection),
                head,
                query,
                headers,
            );
            return Ok(());
        };
        let Some(session) = self.sessions.get_mut(&key) else {
            return Ok(());
        };
        if session.probe.is_some() || session.upgraded || !session.is_open() {
            accept_then_close(&mut self.out, headers);
            return Ok(());
        }
        self.out.transmits.push_back(Transmit::AcceptWebSocket {
            connection,
            headers,
        });
        session.start_probe(now, connection, &self.config, &mut self.out);
        self.touch(key);
        Ok(())
    }

    /// A frame arrived on WebSocket `connection`.
    pub fn handle_frame(
        &mut self,
        now: Instant,
        connection: ConnectionId,
        frame: Frame,
    ) -> Result<(), Error> {
        let (key, probe) = match self.out.connections.get(&connection) {
            Some(ConnectionState::Main(key)) => (*key, false),
            Some(ConnectionState::Probe(key)) => (*key, true),
            Some(ConnectionState::Handshake) | None => return Err(Error::UnknownConnection),
        };
        if let Some(session) = self.sessions.get_mut(&key) {
            if probe {
                session.on_probe_frame(now, frame, &mut self.out);
            } else {
                session.on_frame(now, frame, &self.config, &mut self.out);
            }
        }
        self.touch(key);
        Ok(())
    }

    /// The ping announced by [`Transmit::Heartbeat`] on WebSocket `connection` has been
    /// written: the client has `pingTimeout` from `now` to answer it.
    pub fn handle_heartbeat_written(
        &mut self,
        now: Instant,
        connection: ConnectionId,
    ) -> Result<(), Error> {
        let Some(ConnectionState::Main(key)) = self.out.connections.get(&connection) else {
            return Err(Error::UnknownConnection);
        };
        let key = *key;
        if let Some(session) = self.sessions.get_mut(&key) {
            session.on_ping_written(now, &self.config);
        }
        self.touch(key);
        Ok(())
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
        let _ = now;
        match self.out.connections.remove(&connection) {
            None => Err(Error::UnknownConnection),
            Some(ConnectionState::Handshake) => {
                self.pending.remove(&TransportId::WebSocket(connection));
                Ok(())
            }
            Some(ConnectionState::Main(key)) => {
                if let Some(session) = self.sessions.get_mut(&key) {
                    session.close(reason, super::session::Farewell::Close, &mut self.out);
                }
                self.touch(key);
                Ok(())
            }
            Some(ConnectionState::Probe(key)) => {
                if let Some(session) = self.sessions.get_mut(&key) {
                    session.on_probe_closed(&mut self.out);
                }
                self.touch(key);
                Ok(())
            }
        }
    }

    /// Runs the timers due at `now` (pings, ping timeouts, upgrade checks and timeouts, the
    /// polling close safety timer).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.forget_closed_polls(now);
        while let Some(&(at, key)) = self.timers.first() {
            if at > now {
                break;
            }
            self.timers.pop_first();
            if let Some(session) = self.sessions.get_mut(&key) {
                session.armed = None;
                session.on_timeout(now, &self.config, &mut self.out);
            }
            self.touch(key);
        }
    }

    /// Completes the handshake parked for `transport` (the application allowed it).
    pub fn accept_handshake(&mut self, now: Instant, transport: TransportId) -> Result<(), Error> {
        let pending = self.take_pending(transport)?;
        self.complete_handshake(now, transport, pending.head, pending.query, pending.headers);
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
        let _ = now;
        let pending = self.take_pending(transport)?;
        self.refuse(transport, ErrorCode::Forbidden, message, pending.headers);
        Ok(())
    }

    fn take_pending(&mut self, transport: TransportId) -> Result<Pending, Error> {
        let pending = self
            .pending
            .remove(&transport)
            .ok_or(Error::UnknownHandshake)?;
        match transport {
            TransportId::Polling(request) => {
                self.out.requests.remove(&request);
            }
            TransportId::WebSocket(connection) => {
                self.out.connections.remove(&connection);
            }
        }
        Ok(pending)
    }

    /// The bytes of messages waiting in session `sid`'s polling buffer for the next GET
    /// (0 over WebSocket, where frames leave at once), or `None` for an unknown session.
    pub fn buffered_bytes(&self, sid: &str) -> Option<usize> {
        sid_key(sid)
            .and_then(|key| self.sessions.get(&key))
            .map(|session| session.buffered_bytes)
    }

    /// Queues a message to session `sid`.
    ///
    /// Over WebSocket the frame is emitted at once; over polling it waits for the next GET,
    /// and at most [`Config::max_buffered_packets`] messages wait: beyond that this returns
    /// [`Error::QueueFull`] and the message is not queued (the caller chooses to drop it,
    /// retry later or close the session).
    pub fn send(&mut self, sid: &str, data: Data) -> Result<(), Error> {
        let (session, out) = self.writable_session(sid)?;
        session.push(Packet::Message(data), out);
        Ok(())
    }

    /// The open session `sid` if it can take one more message (see [`send`](Self::send)),
    /// with the outputs to push it to.
    fn writable_session(&mut self, sid: &str) -> Result<(&mut Session, &mut Outputs), Error> {
        let session = sid_key(sid)
            .and_then(|key| self.sessions.get_mut(&key))
            .ok_or(Error::UnknownSession)?;
        if !session.is_open() {
            return Err(Error::SessionClosing);
        }
        if session.transport() == TransportKind::Polling
            && (session.buffered_messages >= self.config.max_buffered_packets
                || (session.buffered_messages > 0
                    && session.buffered_bytes >= self.config.max_buffered_bytes))
        {
            return Err(Error::QueueFull);
        }
        Ok((session, &mut self.out))
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
        let (session, out) = self.writable_session(sid)?;
        session.push_prepared(message, out);
        Ok(())
    }

    /// Closes session `sid` (`forced close`). A polling session without a pending GET sends
    /// its buffer and the close packet on the next GET, or closes after
    /// [`Config::polling_close_timeout`].
    pub fn close(&mut self, now: Instant, sid: &str) -> Result<(), Error> {
        let key = sid_key(sid)
            .filter(|key| self.sessions.contains_key(key))
            .ok_or(Error::UnknownSession)?;
        if let Some(session) = self.sessions.get_mut(&key) {
            session.force_close(now, &self.config, &mut self.out);
        }
        self.touch(key);
        Ok(())
    }

    /// Closes every session at once (`forced close`), as on server shutdown.
    pub fn close_all(&mut self, now: Instant) {
        let _ = now;
        let keys: Vec<SidKey> = self.sessions.keys().copied().collect();
        for key in keys {
            if let Some(session) = self.sessions.get_mut(&key) {
                session.close(
                    CloseReason::ForcedClose,
                    super::session::Farewell::Close,
                    &mut self.out,
                );
            }
            self.touch(key);
        }
    }

    /// The next thing to write: responses, frames, WebSocket accepts and closes, in order.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.transmits.pop_front()
    }

    /// The next event for the application, in order.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.out.events.pop_front()
    }

    /// The earliest instant at which [`Server::handle_timeout`] must be called.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.first().map(|&(at, _)| at)
    }

    /// CORS headers for the simple (non-preflight) response to `head`.
    fn cors_headers(&self, head: &RequestHead) -> Vec<Header> {
        self.config
            .cors
            .as_ref()
            .map(|cors| cors.headers(head, false))
            .unwrap_or_default()
    }

    /// The reference `verify`: the session key for a request with a `sid`, `None` for a
    /// handshake, or the error code.
    fn verify(
        &self,
        head: &RequestHead,
        query: &Query,
        upgrade: bool,
    ) -> Result<Option<SidKey>, ErrorCode> {
        let transport = query
            .transport
            .as_deref()
            .and_then(TransportKind::from_query)
            .filter(|&transport| self.config.allows(transport))
            .ok_or(ErrorCode::UnknownTransport)?;
        if head.origin.as_deref().is_some_and(is_invalid_header_value) {
            return Err(ErrorCode::BadRequest);
        }
        if let Some(sid) = &query.sid {
            let (key, session) = sid_key(sid)
                .and_then(|key| Some((key, self.sessions.get(&key)?)))
                .filter(|(_, session)| !session.closed)
                .ok_or(ErrorCode::UnknownSid)?;
            if !upgrade && session.transport() != transport {
                return Err(ErrorCode::BadRequest);
            }
            return Ok(Some(key));
        }
        if head.method != Method::Get {
            return Err(ErrorCode::BadHandshakeMethod);
        }
        if transport == TransportKind::WebSocket && !upgrade {
            return Err(ErrorCode::BadRequest);
        }
        Ok(None)
    }

    /// Refuses a handshake or upgrade with `code`.
    fn refuse(
        &mut self,
        transport: TransportId,
        code: ErrorCode,
        message: Option<&str>,
        headers: Vec<Header>,
    ) {
        match transport {
            TransportId::Polling(request) => {
                self.out
                    .respond(request, Response::error(code, message, headers));
            }
            TransportId::WebSocket(connection) => {
                self.out.connections.remove(&connection);
                self.out.transmits.push_back(Transmit::RefuseWebSocket {
                    connection,
                    response: Response::websocket_refusal(code, message),
                });
            }
        }
    }

    /// Parks the handshake for the application's verdict, or completes it at once.
    fn begin_handshake(
        &mut self,
        now: Instant,
        transport: TransportId,
        head: RequestHead,
        query: Query,
        headers: Vec<Header>,
    ) {
        if !self.config.verify_handshakes {
            self.complete_handshake(now, transport, head, query, headers);
            return;
        }
        match transport {
            TransportId::Polling(request) => {
                self.out.requests.insert(request, RequestState::Handshake);
            }
            TransportId::WebSocket(connection) => {
                self.out
                    .connections
                    .insert(connection, ConnectionState::Handshake);
            }
        }
        self.out.events.push_back(Event::HandshakeRequest {
            transport,
            head: head.clone(),
        });
        self.pending.insert(
            transport,
            Pending {
                head,
                query,
                headers,
            },
        );
    }

    /// Opens a session on `transport` and sends the open packet.
    fn complete_handshake(
        &mut self,
        now: Instant,
        transport: TransportId,
        head: RequestHead,
        query: Query,
        mut headers: Vec<Header>,
    ) {
        let version = match query.eio.as_deref() {
            Some("4") => ProtocolVersion::V4,
            _ if self.config.allow_eio3 => ProtocolVersion::V3,
            _ => {
                self.refuse(
                    transport,
                    ErrorCode::UnsupportedProtocolVersion,
                    None,
                    headers,
                );
                return;
            }
        };
        let Some((sid, key)) = self.generate_sid() else {
            self.refuse(transport, ErrorCode::BadRequest, None, headers);
            return;
        };
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
        let mut session = Session::new(
            now,
            sid.clone(),
            key,
            version,
            !query.b64,
            active,
            &self.config,
        );
        self.out.events.push_back(Event::Opened(Handshake {
            sid: sid.clone(),
            protocol: version,
            transport,
            head,
        }));
        if let TransportId::WebSocket(connection) = transport {
            self.out.transmits.push_back(Transmit::AcceptWebSocket {
                connection,
                headers: core::mem::take(&mut headers),
            });
            self.out
                .connections
                .insert(connection, ConnectionState::Main(key));
        }
        let open = OpenPacket {
            sid: sid.clone(),
            upgrades: self.config.upgrades(kind),
            ping_interval: millis(self.config.ping_interval),
            ping_timeout: millis(self.config.ping_timeout),
            max_payload: Some(self.config.max_payload as u64),
        };
        session.push(open.to_packet(), &mut self.out);
        if let Some(initial) = &self.config.initial_packet {
            session.push(Packet::Message(initial.clone()), &mut self.out);
        }
        if let TransportId::Polling(request) = transport {
            if let Some(cookie) = &self.config.cookie {
                headers.push(("Set-Cookie", Str::from(cookie.header_value(&sid))));
            }
            session.on_poll(now, request, headers, &self.config, &mut self.out);
        }
        self.sessions.insert(key, session);
        self.touch(key);
    }

    /// For a polling GET refused with `code` because its session is gone: the protocol
    /// revision of that session if the client closed it by POST while this GET was on its way
    /// (within the grace, and for the first such GET only), so it gets the noop instead.
    fn take_closed_poll(
        &mut self,
        now: Instant,
        code: ErrorCode,
        head: &RequestHead,
        query: &Query,
    ) -> Option<ProtocolVersion> {
        if code != ErrorCode::UnknownSid
            || head.method != Method::Get
            || query.transport.as_deref() != Some(TransportKind::Polling.as_str())
        {
            return None;
        }
        let key = sid_key(query.sid.as_deref()?)?;
        let closed = self.closed_polls.remove(&key)?;
        (now < closed.until).then_some(closed.version)
    }

    /// Drops the owed noops whose grace is over.
    fn forget_closed_polls(&mut self, now: Instant) {
        while let Some(&(until, key)) = self.closed_poll_expiries.front() {
            if until > now {
                break;
            }
            self.closed_poll_expiries.pop_front();
            if self
                .closed_polls
                .get(&key)
                .is_some_and(|closed| closed.until == until)
            {
                self.closed_polls.remove(&key);
            }
        }
    }

    /// A fresh session id that no live session uses.
    fn generate_sid(&mut self) -> Option<(Str, SidKey)> {
        for _ in 0..ID_ATTEMPTS {
            let bytes = (self.ids)();
            let sid = URL_SAFE.encode(bytes);
            let key = sid_key(&sid)?;
            if !self.sessions.contains_key(&key) {
                return Some((Str::from(sid), key));
            }
        }
        None
    }

    /// Files the session under its next deadline, or drops it if it closed.
    fn touch(&mut self, key: SidKey) {
        let Some(session) = self.sessions.get_mut(&key) else {
            return;
        };
        if session.closed {
            if let Some(at) = session.armed.take() {
                self.timers.remove(&(at, key));
            }
            if let Some(until) = session.noop_owed {
                let version = session.version;
                self.closed_polls.insert(key, ClosedPoll { until, version });
                self.closed_poll_expiries.push_back((until, key));
            }
            self.sessions.remove(&key);
            return;
        }
        let deadline = session.deadline();
        if deadline != session.armed {
            if let Some(at) = session.armed {
                self.timers.remove(&(at, key));
            }
            if let Some(at) = deadline {
                self.timers.insert((at, key));
            }
            session.armed = deadline;
        }
    }
}

/// A duration in whole milliseconds, saturating.
fn millis(duration: core::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
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
