//! [`Router`]: the part of the Engine.IO server in front of the sessions: it classifies each
//! HTTP request and WebSocket upgrade from its head (path, CORS, query, the reference's
//! `verify`), answers errors and preflights itself, runs handshakes (the `allowRequest` verdict,
//! the session id) and opens [`Session`]s, and routes everything else to the session it names.
//! It holds no session: the caller keeps them (each behind its own lock, say) and tells the
//! router which ids are live with a lookup.

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE;
use core::fmt;

use super::config::{Config, TransportKind};
use super::http::{
    ConnectionId, ErrorCode, Header, Method, Query, RequestHead, RequestId, Response, TransportId,
    is_invalid_header_value,
};
use super::machine::{Error, Event, Transmit};
use super::session::{SidKey, poll_response, sid_key};
use super::session_machine::Session;
use crate::engine::{Packet, ProtocolVersion};
use crate::{Instant, Str};

/// How many generated ids may collide with live sessions before a handshake is refused.
const ID_ATTEMPTS: usize = 8;

/// A handshake parked until the application's verdict.
#[derive(Debug)]
struct Pending {
    head: RequestHead,
    query: Query,
    headers: Vec<Header>,
}

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

/// Where the router sent an HTTP request.
#[derive(Debug)]
#[non_exhaustive]
pub enum RequestRoute {
    /// Answered by the router ([`Router::poll_transmit`]), or parked as a handshake waiting
    /// for the application's verdict ([`Event::HandshakeRequest`]).
    Router,
    /// A handshake completed: the new session, whose outputs hold the answer.
    Opened(Box<Session>),
    /// A request of session `sid`: hand it to [`Session::handle_request`].
    Session {
        /// The session.
        sid: Str,
        /// GET or POST (or another method, which the session refuses).
        method: Method,
        /// Whether a POST declares a binary body (`application/octet-stream`).
        binary: bool,
        /// Headers for the answer (CORS).
        headers: Vec<Header>,
    },
}

/// Where the router sent a WebSocket upgrade.
#[derive(Debug)]
#[non_exhaustive]
pub enum UpgradeRoute {
    /// Refused, or accepted and closed, by the router ([`Router::poll_transmit`]), or parked
    /// as a handshake waiting for the application's verdict.
    Router,
    /// A handshake on the WebSocket completed: the new session.
    Opened(Box<Session>),
    /// An upgrade of session `sid`: hand it to [`Session::handle_upgrade`].
    Session {
        /// The session.
        sid: Str,
        /// Headers for the `101` (CORS).
        headers: Vec<Header>,
    },
}

/// The Engine.IO server's router: see the module docs.
///
/// `lookup(sid)` gives the active transport of a live session (none for an unknown or closed
/// one).
pub struct Router {
    config: Arc<Config>,
    prefix: String,
    ids: Box<dyn FnMut() -> [u8; 15] + Send>,
    pending: BTreeMap<TransportId, Pending>,
    /// Sessions closed by the client over polling, owing a noop to a GET that crossed the
    /// close; with their expiries in order (the grace is constant, so a queue).
    closed_polls: BTreeMap<SidKey, ClosedPoll>,
    closed_poll_expiries: VecDeque<(Instant, SidKey)>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
}

impl fmt::Debug for Router {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Router")
            .field("config", &self.config)
            .field("pending", &self.pending.len())
            .finish_non_exhaustive()
    }
}

impl Router {
    /// A router with `config`; `ids` yields 15 random bytes per session (base64url → 20
    /// chars).
    pub fn new(config: Config, ids: impl FnMut() -> [u8; 15] + Send + 'static) -> Self {
        Router {
            prefix: config.path_prefix(),
            config: Arc::new(config),
            ids: Box::new(ids),
            pending: BTreeMap::new(),
            closed_polls: BTreeMap::new(),
            closed_poll_expiries: VecDeque::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
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

    /// Whether a handshake on `transport` waits for the application's verdict.
    pub fn is_pending(&self, transport: TransportId) -> bool {
        self.pending.contains_key(&transport)
    }

    /// Classifies an HTTP request (not a WebSocket upgrade) from its head.
    ///
    /// A GET of a session the client closed by POST within the last two seconds, while no GET
    /// was held, is answered with the noop a held GET would have got (the GET crossed the
    /// close on its own connection; see [`Router::session_closed`]).
    pub fn route_request(
        &mut self,
        now: Instant,
        request: RequestId,
        head: RequestHead,
        lookup: impl Fn(&str) -> Option<TransportKind>,
    ) -> RequestRoute {
        self.forget_closed_polls(now);
        if !self.matches_path(&head.path) {
            self.respond(request, Response::empty(404, Vec::new()));
            return RequestRoute::Router;
        }
        if let Some(cors) = &self.config.cors
            && head.method == Method::Options
        {
            let headers = cors.headers(&head, true);
            self.respond(request, Response::empty(204, headers));
            return RequestRoute::Router;
        }
        let headers = self.cors_headers(&head);
        let query = Query::parse(&head.query);
        match self.verify(&head, &query, false, &lookup) {
            Err(code) => {
                let response = match self.take_closed_poll(now, code, &head, &query) {
                    Some(version) => poll_response(version, false, &[Packet::Noop], headers),
                    None => Response::error(code, None, headers),
                };
                self.respond(request, response);
                RequestRoute::Router
            }
            Ok(None) => self
                .begin_handshake(
                    now,
                    TransportId::Polling(request),
                    head,
                    query,
                    headers,
                    &lookup,
                )
                .map_or(RequestRoute::Router, |session| {
                    RequestRoute::Opened(Box::new(session))
                }),
            Ok(Some(sid)) => RequestRoute::Session {
                sid,
                method: head.method,
                binary: head.is_octet_stream(),
                headers,
            },
        }
    }

    /// Classifies a WebSocket upgrade request on `connection` from its head.
    pub fn route_websocket(
        &mut self,
        now: Instant,
        connection: ConnectionId,
        head: RequestHead,
        lookup: impl Fn(&str) -> Option<TransportKind>,
    ) -> UpgradeRoute {
        if !self.matches_path(&head.path) {
            self.transmits.push_back(Transmit::RefuseWebSocket {
                connection,
                response: Response::empty(404, Vec::new()),
            });
            return UpgradeRoute::Router;
        }
        let headers = self.cors_headers(&head);
        let query = Query::parse(&head.query);
        let sid = match self.verify(&head, &query, true, &lookup) {
            Ok(sid) => sid,
            Err(code) => {
                self.refuse(TransportId::WebSocket(connection), code, None, headers);
                return UpgradeRoute::Router;
            }
        };
        if query.transport.as_deref() != Some(TransportKind::WebSocket.as_str()) {
            // `transport=polling` on an upgrade: the reference accepts the socket and closes it.
            self.transmits.push_back(Transmit::AcceptWebSocket {
                connection,
                headers,
            });
            self.transmits
                .push_back(Transmit::CloseWebSocket { connection });
            return UpgradeRoute::Router;
        }
        match sid {
            None => self
                .begin_handshake(
                    now,
                    TransportId::WebSocket(connection),
                    head,
                    query,
                    headers,
                    &lookup,
                )
                .map_or(UpgradeRoute::Router, |session| {
                    UpgradeRoute::Opened(Box::new(session))
                }),
            Some(sid) => UpgradeRoute::Session { sid, headers },
        }
    }

    /// Completes the handshake parked for `transport` (the application allowed it): the new
    /// session, or `None` if it was refused after all (an unsupported protocol revision, no
    /// free id), the refusal then being in [`poll_transmit`](Self::poll_transmit).
    pub fn accept_handshake(
        &mut self,
        now: Instant,
        transport: TransportId,
        lookup: impl Fn(&str) -> Option<TransportKind>,
    ) -> Result<Option<Session>, Error> {
        let pending = self
            .pending
            .remove(&transport)
            .ok_or(Error::UnknownHandshake)?;
        Ok(self.complete_handshake(
            now,
            transport,
            pending.head,
            pending.query,
            pending.headers,
            &lookup,
        ))
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
        let pending = self
            .pending
            .remove(&transport)
            .ok_or(Error::UnknownHandshake)?;
        self.refuse(transport, ErrorCode::Forbidden, message, pending.headers);
        Ok(())
    }

    /// The transport of a parked handshake went away (the request was aborted, the WebSocket
    /// closed): the handshake is forgotten. Whether there was one.
    pub fn handshake_gone(&mut self, transport: TransportId) -> bool {
        self.pending.remove(&transport).is_some()
    }

    /// A session closed: if its client closed it by POST while no GET was held, the first
    /// GET crossing that close still gets its noop.
    pub fn session_closed(&mut self, session: &Session) {
        if let Some(until) = session.noop_owed() {
            let key = session.key();
            let version = session.protocol();
            self.closed_polls.insert(key, ClosedPoll { until, version });
            self.closed_poll_expiries.push_back((until, key));
        }
    }

    /// Forgets owed noops whose grace is over (also done on every request).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.forget_closed_polls(now);
    }

    /// The next thing to write: the router's own answers, refusals and WebSocket closes.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event: handshakes waiting for the application's verdict.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    fn respond(&mut self, request: RequestId, response: Response) {
        self.transmits
            .push_back(Transmit::Response { request, response });
    }

    /// CORS headers for the simple (non-preflight) response to `head`.
    fn cors_headers(&self, head: &RequestHead) -> Vec<Header> {
        self.config
            .cors
            .as_ref()
            .map(|cors| cors.headers(head, false))
            .unwrap_or_default()
    }

    /// The reference `verify`: the session id for a request with a `sid`, `None` for a
    /// handshake, or the error code.
    fn verify(
        &self,
        head: &RequestHead,
        query: &Query,
        upgrade: bool,
        lookup: &impl Fn(&str) -> Option<TransportKind>,
    ) -> Result<Option<Str>, ErrorCode> {
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
            let active = sid_key(sid)
                .and_then(|_| lookup(sid))
                .ok_or(ErrorCode::UnknownSid)?;
            if !upgrade && active != transport {
                return Err(ErrorCode::BadRequest);
            }
            return Ok(Some(Str::from(sid.clone())));
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
                self.respond(request, Response::error(code, message, headers));
            }
            TransportId::WebSocket(connection) => {
                self.transmits.push_back(Transmit::RefuseWebSocket {
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
        lookup: &impl Fn(&str) -> Option<TransportKind>,
    ) -> Option<Session> {
        if !self.config.verify_handshakes {
            return self.complete_handshake(now, transport, head, query, headers, lookup);
        }
        self.events.push_back(Event::HandshakeRequest {
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
        None
    }

    /// Opens a session on `transport`.
    fn complete_handshake(
        &mut self,
        now: Instant,
        transport: TransportId,
        head: RequestHead,
        query: Query,
        headers: Vec<Header>,
        lookup: &impl Fn(&str) -> Option<TransportKind>,
    ) -> Option<Session> {
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
                return None;
            }
        };
        let Some((sid, key)) = self.generate_sid(lookup) else {
            self.refuse(transport, ErrorCode::BadRequest, None, headers);
            return None;
        };
        Some(Session::open(
            now,
            self.config.clone(),
            sid,
            key,
            version,
            !query.b64,
            transport,
            head,
            headers,
        ))
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
    fn generate_sid(
        &mut self,
        lookup: &impl Fn(&str) -> Option<TransportKind>,
    ) -> Option<(Str, SidKey)> {
        for _ in 0..ID_ATTEMPTS {
            let bytes = (self.ids)();
            let sid = URL_SAFE.encode(bytes);
            let key = sid_key(&sid)?;
            if lookup(&sid).is_none() {
                return Some((Str::from(sid), key));
            }
        }
        None
    }
}
