//! The Engine.IO client state machine: handshake, polling, WebSocket, upgrade, heartbeat, close.
//!
//! [`EngineClient`] does no IO and reads no clock. It behaves like the official
//! `engine.io-client` 6.6 (v4) and 3.x (v3): it tells the caller which HTTP requests to make and
//! which WebSocket frames to write, and the caller feeds back what came in.
//!
//! - **inputs**: [`handle_http_response`](EngineClient::handle_http_response),
//!   [`handle_http_error`](EngineClient::handle_http_error),
//!   [`handle_ws_opened`](EngineClient::handle_ws_opened),
//!   [`handle_ws_frame`](EngineClient::handle_ws_frame),
//!   [`handle_ws_closed`](EngineClient::handle_ws_closed),
//!   [`handle_timeout`](EngineClient::handle_timeout); results for ids the client no longer
//!   waits for (after a close, or a failed upgrade probe) are ignored;
//! - **commands**: [`send`](EngineClient::send), [`close`](EngineClient::close);
//! - **outputs**, drained after every input or command: [`poll_transmit`](EngineClient::poll_transmit)
//!   (in the order they must go out), [`poll_event`](EngineClient::poll_event), then
//!   [`poll_timeout`](EngineClient::poll_timeout).
//!
//! Polling keeps at most one GET and one POST in flight; queued packets go out together in one
//! POST, cut where the official client cuts them for the server's `maxPayload`. After an open
//! over polling the client probes a WebSocket (`2probe` → `3probe`), waits for the in-flight GET
//! and POST to finish, sends `5` and continues on the WebSocket; a failed probe keeps polling.
//!
//! ```
//! use socketio_protocol::Instant;
//! use socketio_protocol::engine::client::{ClientConfig, EngineClient, Event, Transmit};
//!
//! let mut now = Instant::ZERO;
//! let mut client = EngineClient::new(ClientConfig::default(), now).unwrap();
//! client.send("hello".into()).unwrap(); // buffered until the session is open
//!
//! // The run loop: write what `poll_transmit` gives, hand events to the application,
//! // re-arm the timer, then wait for IO or the timer and feed the result back in.
//! let Some(Transmit::Http { id, path_and_query, .. }) = client.poll_transmit() else { panic!() };
//! assert_eq!(path_and_query, "/engine.io/?EIO=4&transport=polling&t=0");
//! now = Instant::from_millis(10);
//! let open = r#"0{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;
//! client.handle_http_response(now, id, 200, open.into());
//! assert!(matches!(client.poll_event(), Some(Event::Open(_))));
//! // The buffered message is POSTed, and the next GET is sent.
//! let Some(Transmit::Http { body, .. }) = client.poll_transmit() else { panic!() };
//! assert_eq!(&body[..], b"4hello");
//! let Some(Transmit::Http { path_and_query, .. }) = client.poll_transmit() else { panic!() };
//! assert_eq!(path_and_query, "/engine.io/?EIO=4&transport=polling&t=2&sid=abc");
//! // No ping within pingInterval + pingTimeout means the server is gone.
//! assert_eq!(client.poll_timeout(), Some(Instant::from_millis(45_010)));
//! ```

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;
use bytes::Bytes;
use core::fmt;
use core::time::Duration;

use super::{CloseReason, Data, Frame, OpenPacket, Packet, ProtocolVersion, payload};
use crate::{Instant, Str};

/// The content type of a polling POST body, as the official client sends it.
pub const POST_CONTENT_TYPE: &str = "text/plain;charset=UTF-8";

/// The most bytes a polling response body may have before the handshake told the client the
/// server's `maxPayload` (and when it told none): 1 000 000, the reference server's default
/// `maxHttpBufferSize`.
pub const DEFAULT_MAX_PAYLOAD: u64 = 1_000_000;

/// The smallest cap on a polling response body once the session is open: 16 MiB. A server
/// sends everything it buffered for a polling client in one body, which may be much larger
/// than its `maxPayload` (the reference server does so; this crate's server buffers up to its
/// backpressure limit, 16 MiB by default), so the handshake's `maxPayload` alone would cut
/// legitimate bursts.
pub const MIN_POLL_BODY_LIMIT: u64 = 16 << 20;

/// The largest handshake `maxPayload` the client takes as its cap on polling response bodies:
/// 100 000 000 bytes (the reference documentation's example of a raised `maxHttpBufferSize`).
/// A server announcing more gets this cap, so a hostile handshake cannot lift it.
pub const MAX_TRUSTED_PAYLOAD: u64 = 100_000_000;

/// A low-level transport the client can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransportKind {
    /// HTTP long-polling (`transport=polling`).
    Polling,
    /// WebSocket (`transport=websocket`).
    WebSocket,
}

impl TransportKind {
    /// The value of the `transport` query parameter.
    pub const fn as_str(self) -> &'static str {
        match self {
            TransportKind::Polling => "polling",
            TransportKind::WebSocket => "websocket",
        }
    }
}

/// Client options, with the official client's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// The request path; a trailing `/` is added as the official client does (`/engine.io/`).
    pub path: String,
    /// Extra query parameters, sent (URI-component encoded) before the Engine.IO ones.
    pub query: Vec<(String, String)>,
    /// The transports to use, in order; the first one opens the session.
    pub transports: Vec<TransportKind>,
    /// Whether to probe and upgrade to WebSocket after an open over polling.
    pub upgrade: bool,
    /// Open directly over WebSocket when [`prior_websocket_success`](Self::prior_websocket_success).
    pub remember_upgrade: bool,
    /// Whether a previous session of this caller ran over WebSocket (see
    /// [`EngineClient::websocket_succeeded`]); only read when `remember_upgrade` is set.
    pub prior_websocket_success: bool,
    /// The Engine.IO revision to speak (`EIO=4` or `EIO=3`).
    pub version: ProtocolVersion,
    /// Cache-buster policy: `None` stamps polling requests only (the official default),
    /// `Some(true)` stamps every request, `Some(false)` none.
    pub timestamp_requests: Option<bool>,
    /// The name of the cache-buster query parameter (`t`).
    pub timestamp_param: String,
    /// The first cache-buster value; each stamped request uses the next one, in base 36.
    pub timestamp_seed: u64,
    /// Most messages [`EngineClient::send`] buffers before it returns [`SendError::BufferFull`].
    pub max_buffered_messages: usize,
    /// Most message bytes buffered before [`EngineClient::send`] returns
    /// [`SendError::BufferFull`] (a single larger message is still accepted into an empty buffer).
    pub max_buffered_bytes: usize,
    /// The most bytes the client reads in one polling response body
    /// ([`EngineClient::max_response_len`]): `None` (the default) is [`DEFAULT_MAX_PAYLOAD`]
    /// before the handshake, then the handshake's `maxPayload` kept between
    /// [`MIN_POLL_BODY_LIMIT`] and [`MAX_TRUSTED_PAYLOAD`]; `Some(n)` is `n` bytes always.
    pub max_payload: Option<u64>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            path: String::from("/engine.io"),
            query: Vec::new(),
            transports: alloc::vec![TransportKind::Polling, TransportKind::WebSocket],
            upgrade: true,
            remember_upgrade: false,
            prior_websocket_success: false,
            version: ProtocolVersion::V4,
            timestamp_requests: None,
            timestamp_param: String::from("t"),
            timestamp_seed: 0,
            max_buffered_messages: 1024,
            max_buffered_bytes: 16 * 1024 * 1024,
            max_payload: None,
        }
    }
}

impl ClientConfig {
    /// The defaults with another path (Socket.IO uses `/socket.io/`).
    pub fn with_path(path: &str) -> Self {
        ClientConfig {
            path: String::from(path),
            ..ClientConfig::default()
        }
    }
}

/// Identifies one HTTP request or one WebSocket connection the client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub u64);

/// The method of a polling request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Method {
    /// A poll (or the handshake): the response body carries packets.
    Get,
    /// A write: the request body carries packets; the response is `ok`.
    Post,
}

/// Something the caller must put on the network.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Transmit {
    /// Make this HTTP request; answer with [`EngineClient::handle_http_response`] or
    /// [`EngineClient::handle_http_error`].
    Http {
        /// The request's id.
        id: RequestId,
        /// GET (poll) or POST (write).
        method: Method,
        /// The path and query, e.g. `/engine.io/?EIO=4&transport=polling&t=0`.
        path_and_query: String,
        /// The body (empty for a GET).
        body: Bytes,
        /// The `Content-Type` header to send, if any.
        content_type: Option<&'static str>,
    },
    /// Open a WebSocket; report [`EngineClient::handle_ws_opened`] or
    /// [`EngineClient::handle_ws_closed`].
    OpenWebSocket {
        /// The connection's id.
        id: RequestId,
        /// The path and query, e.g. `/engine.io/?EIO=4&transport=websocket&sid=abc`.
        path_and_query: String,
    },
    /// Write this frame on the WebSocket `id`.
    WsFrame {
        /// The connection's id.
        id: RequestId,
        /// The frame.
        frame: Frame,
    },
    /// Close the WebSocket `id`; nothing more will be read from it.
    CloseWebSocket {
        /// The connection's id.
        id: RequestId,
    },
}

/// Something the application must learn.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The handshake completed; the session is open.
    Open(OpenPacket),
    /// A message from the server.
    Message(Data),
    /// The session moved from polling to WebSocket.
    Upgraded,
    /// The WebSocket probe failed; the session keeps polling.
    UpgradeFailed,
    /// The session ended; nothing more will happen.
    Closed(CloseReason),
}

/// Why [`EngineClient::send`] refused a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SendError {
    /// The session is closing or closed.
    Closed,
    /// The send buffer is at its bound ([`ClientConfig::max_buffered_messages`] or
    /// [`ClientConfig::max_buffered_bytes`]); the message was not queued. Retry after the
    /// buffer drains (after the in-flight POST is answered).
    BufferFull,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SendError::Closed => "the engine.io session is closed",
            SendError::BufferFull => "the engine.io send buffer is full",
        })
    }
}

impl core::error::Error for SendError {}

/// Why a [`ClientConfig`] was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConfigError {
    /// [`ClientConfig::transports`] is empty.
    NoTransports,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConfigError::NoTransports => "no engine.io transports configured",
        })
    }
}

impl core::error::Error for ConfigError {}

/// The session's lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for the open packet.
    Opening,
    /// Open.
    Open,
    /// [`EngineClient::close`] was called; waiting for the buffer to drain or the upgrade to end.
    Closing,
    /// Closed.
    Closed,
}

/// Polling's pause state during an upgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PollPhase {
    /// Polling normally.
    Running,
    /// Waiting for the in-flight GET and POST before switching to the WebSocket.
    Pausing,
}

/// The transport carrying the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Main {
    /// HTTP long-polling.
    Polling {
        /// The GET in flight.
        get: Option<RequestId>,
        /// The POST in flight.
        post: Option<RequestId>,
        /// Running or pausing.
        phase: PollPhase,
    },
    /// A WebSocket.
    WebSocket {
        /// The connection.
        id: RequestId,
        /// Whether the caller reported it open.
        connected: bool,
    },
}

/// How far the WebSocket probe got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProbeStage {
    /// Waiting for the WebSocket to open.
    Connecting,
    /// `2probe` sent; waiting for `3probe`.
    AwaitingPong,
    /// `3probe` received; polling is pausing.
    Switching,
}

/// The engine.io client state machine; see the [module docs](self) for the run loop.
#[derive(Debug)]
pub struct EngineClient {
    config: ClientConfig,
    state: State,
    main: Main,
    probe: Option<(RequestId, ProbeStage)>,
    handshake: Option<OpenPacket>,
    /// Packets waiting to be written; the first `in_flight` ones are in the POST in flight.
    write_buffer: VecDeque<Packet>,
    in_flight: usize,
    /// Message packets in `write_buffer`.
    buffered_messages: usize,
    /// Message bytes in `write_buffer`.
    buffered_bytes: usize,
    /// The server is considered gone at this instant (no packet since).
    ping_deadline: Option<Instant>,
    /// v3: the instant the next client ping is due.
    next_ping: Option<Instant>,
    next_id: u64,
    next_stamp: u64,
    websocket_succeeded: bool,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
}

impl EngineClient {
    /// Starts a session: the first transmit is the handshake (a GET or a WebSocket).
    pub fn new(config: ClientConfig, now: Instant) -> Result<Self, ConfigError> {
        let _ = now;
        let first = if config.remember_upgrade
            && config.prior_websocket_success
            && config.transports.contains(&TransportKind::WebSocket)
        {
            TransportKind::WebSocket
        } else {
            *config.transports.first().ok_or(ConfigError::NoTransports)?
        };
        let mut config = config;
        let trimmed = config.path.trim_end_matches('/').len();
        config.path.truncate(trimmed);
        config.path.push('/');
        let mut client = EngineClient {
            next_stamp: config.timestamp_seed,
            config,
            state: State::Opening,
            main: Main::Polling {
                get: None,
                post: None,
                phase: PollPhase::Running,
            },
            probe: None,
            handshake: None,
            write_buffer: VecDeque::new(),
            in_flight: 0,
            buffered_messages: 0,
            buffered_bytes: 0,
            ping_deadline: None,
            next_ping: None,
            next_id: 0,
            websocket_succeeded: false,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        };
        match first {
            TransportKind::Polling => client.start_get(),
            TransportKind::WebSocket => {
                let id = client.open_websocket();
                client.main = Main::WebSocket {
                    id,
                    connected: false,
                };
            }
        }
        Ok(client)
    }

    /// The next thing to put on the network, in order.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event for the application.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next be called, if ever.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.state == State::Closed {
            return None;
        }
        match (self.ping_deadline, self.next_ping) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The handshake, once the session is open.
    pub fn handshake(&self) -> Option<&OpenPacket> {
        self.handshake.as_ref()
    }

    /// The session id, once the session is open.
    pub fn sid(&self) -> Option<&Str> {
        self.handshake.as_ref().map(|open| &open.sid)
    }

    /// The transport carrying the session now.
    pub fn transport(&self) -> TransportKind {
        match self.main {
            Main::Polling { .. } => TransportKind::Polling,
            Main::WebSocket { .. } => TransportKind::WebSocket,
        }
    }

    /// Whether the session is open (handshake done, not closing or closed).
    pub fn is_open(&self) -> bool {
        self.state == State::Open
    }

    /// Whether the session has ended.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// Whether this session ran over WebSocket (feed into
    /// [`ClientConfig::prior_websocket_success`] for the next one).
    pub fn websocket_succeeded(&self) -> bool {
        self.websocket_succeeded
    }

    /// Messages buffered and not yet acknowledged by the transport.
    pub fn buffered_messages(&self) -> usize {
        self.buffered_messages
    }

    /// The most bytes the caller may read of a polling response body (see
    /// [`ClientConfig::max_payload`]); past it, report
    /// [`handle_too_large`](Self::handle_too_large) instead of the response.
    ///
    /// ```
    /// use socketio_protocol::Instant;
    /// use socketio_protocol::engine::client::{
    ///     ClientConfig, EngineClient, Transmit, DEFAULT_MAX_PAYLOAD, MIN_POLL_BODY_LIMIT,
    /// };
    ///
    /// let mut client = EngineClient::new(ClientConfig::default(), Instant::ZERO).unwrap();
    /// assert_eq!(client.max_response_len(), DEFAULT_MAX_PAYLOAD);
    /// let Some(Transmit::Http { id, .. }) = client.poll_transmit() else { panic!() };
    /// let open = r#"0{"sid":"a","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":50000000}"#;
    /// client.handle_http_response(Instant::ZERO, id, 200, open.into());
    /// assert_eq!(client.max_response_len(), 50_000_000);
    /// # let _ = MIN_POLL_BODY_LIMIT;
    /// ```
    pub fn max_response_len(&self) -> u64 {
        if let Some(limit) = self.config.max_payload {
            return limit;
        }
        if self.handshake.is_none() {
            return DEFAULT_MAX_PAYLOAD;
        }
        let announced = self
            .handshake
            .as_ref()
            .and_then(|open| open.max_payload)
            .unwrap_or(0);
        announced.clamp(MIN_POLL_BODY_LIMIT, MAX_TRUSTED_PAYLOAD)
    }

    /// Queues a message; it goes out as soon as the transport is writable.
    ///
    /// Messages sent before the open are buffered. Over v4 polling, text must not contain the
    /// record separator `\u{1e}` (as with the official client, the server would split it).
    pub fn send(&mut self, data: Data) -> Result<(), SendError> {
        if matches!(self.state, State::Closing | State::Closed) {
            return Err(SendError::Closed);
        }
        let len = data.len();
        if self.buffered_messages >= self.config.max_buffered_messages
            || (self.buffered_messages > 0
                && self.buffered_bytes.saturating_add(len) > self.config.max_buffered_bytes)
        {
            return Err(SendError::BufferFull);
        }
        self.buffered_messages += 1;
        self.buffered_bytes = self.buffered_bytes.saturating_add(len);
        self.write_buffer.push_back(Packet::Message(data));
        self.flush();
        Ok(())
    }

    /// Closes the session (`forced close`) once the send buffer has drained and any upgrade in
    /// progress has finished. Closing a closed session does nothing.
    pub fn close(&mut self) {
        match self.state {
            State::Opening => self.finish(CloseReason::ForcedClose, true),
            State::Open => {
                self.state = State::Closing;
                self.maybe_finish_closing();
            }
            State::Closing | State::Closed => {}
        }
    }

    /// The answer to the HTTP request `id`: its status and body.
    pub fn handle_http_response(&mut self, now: Instant, id: RequestId, status: u16, body: Bytes) {
        let Main::Polling { get, post, .. } = self.main else {
            return;
        };
        if self.state == State::Closed {
            return;
        }
        if get == Some(id) {
            self.set_get(None);
            if status != 200 {
                self.finish(CloseReason::TransportError, true);
                return;
            }
            self.on_poll_body(now, body);
            if self.state == State::Closed {
                return;
            }
            if self.handshake.is_none() {
                // The handshake answer carried no open packet.
                self.finish(CloseReason::ParseError, true);
                return;
            }
            self.flush();
            if let Main::Polling {
                get: None,
                phase: PollPhase::Running,
                ..
            } = self.main
                && self.handshake.is_some()
            {
                self.start_get();
            }
            self.maybe_paused();
        } else if post == Some(id) {
            self.set_post(None);
            if status != 200 {
                self.finish(CloseReason::TransportError, true);
                return;
            }
            self.on_drain();
            self.maybe_paused();
        }
    }

    /// The response body of the HTTP request `id`, or a message on the WebSocket `id`, was
    /// larger than the caller reads (`limit` bytes, e.g. [`max_response_len`](Self::max_response_len)
    /// for a polling body): the session closes with [`CloseReason::PayloadTooLarge`]. For a
    /// WebSocket probe, the probe fails and the session keeps polling.
    ///
    /// ```
    /// use socketio_protocol::Instant;
    /// use socketio_protocol::engine::CloseReason;
    /// use socketio_protocol::engine::client::{ClientConfig, EngineClient, Event, Transmit};
    ///
    /// let mut client = EngineClient::new(ClientConfig::default(), Instant::ZERO).unwrap();
    /// let Some(Transmit::Http { id, .. }) = client.poll_transmit() else { panic!() };
    /// client.handle_too_large(Instant::ZERO, id, client.max_response_len());
    /// assert_eq!(
    ///     client.poll_event(),
    ///     Some(Event::Closed(CloseReason::PayloadTooLarge { limit: 1_000_000 }))
    /// );
    /// ```
    pub fn handle_too_large(&mut self, now: Instant, id: RequestId, limit: u64) {
        let _ = now;
        if self.state == State::Closed {
            return;
        }
        let reason = CloseReason::PayloadTooLarge { limit };
        match self.main {
            Main::Polling { get, post, .. } if get == Some(id) || post == Some(id) => {
                self.set_get(None);
                self.set_post(None);
                self.finish(reason, true);
            }
            Main::WebSocket { id: main, .. } if main == id => self.finish(reason, true),
            _ => {
                if matches!(self.probe, Some((probe, _)) if probe == id) {
                    self.probe_failed(true);
                }
            }
        }
    }

    /// The HTTP request `id` failed (connection error, timeout, aborted).
    pub fn handle_http_error(&mut self, now: Instant, id: RequestId) {
        let _ = now;
        if self.state == State::Closed {
            return;
        }
        if let Main::Polling { get, post, .. } = self.main
            && (get == Some(id) || post == Some(id))
        {
            self.set_get(None);
            self.set_post(None);
            self.finish(CloseReason::TransportError, true);
        }
    }

    /// The WebSocket `id` is connected.
    pub fn handle_ws_opened(&mut self, now: Instant, id: RequestId) {
        let _ = now;
        if self.state == State::Closed {
            return;
        }
        if let Main::WebSocket {
            id: main,
            connected,
        } = &mut self.main
            && *main == id
        {
            *connected = true;
            return;
        }
        if let Some((probe, stage)) = &mut self.probe
            && *probe == id
            && *stage == ProbeStage::Connecting
        {
            *stage = ProbeStage::AwaitingPong;
            let frame = Packet::Ping(Str::from_static("probe")).encode_frame(self.config.version);
            self.transmits.push_back(Transmit::WsFrame { id, frame });
        }
    }

    /// A frame arrived on the WebSocket `id`.
    pub fn handle_ws_frame(&mut self, now: Instant, id: RequestId, frame: Frame) {
        if self.state == State::Closed {
            return;
        }
        if let Main::WebSocket { id: main, .. } = self.main
            && main == id
        {
            match Packet::decode_frame(self.config.version, frame) {
                Ok(packet) => {
                    self.on_packet(now, packet);
                    self.flush();
                }
                Err(_) => self.finish(CloseReason::ParseError, true),
            }
            return;
        }
        let Some((probe, stage)) = self.probe else {
            return;
        };
        if probe != id {
            return;
        }
        match stage {
            ProbeStage::AwaitingPong => match Packet::decode_frame(self.config.version, frame) {
                Ok(Packet::Pong(data)) if data == "probe" => {
                    self.probe = Some((probe, ProbeStage::Switching));
                    if let Main::Polling { phase, .. } = &mut self.main {
                        *phase = PollPhase::Pausing;
                    }
                    self.maybe_paused();
                }
                _ => self.probe_failed(true),
            },
            // The server sends nothing else on the probe before it receives `5`.
            ProbeStage::Connecting | ProbeStage::Switching => {}
        }
    }

    /// The WebSocket `id` closed or failed.
    pub fn handle_ws_closed(&mut self, now: Instant, id: RequestId) {
        let _ = now;
        if self.state == State::Closed {
            return;
        }
        if let Main::WebSocket { id: main, .. } = self.main
            && main == id
        {
            self.finish(CloseReason::TransportClose, false);
            return;
        }
        if matches!(self.probe, Some((probe, _)) if probe == id) {
            self.probe_failed(false);
        }
    }

    /// Timers: the heartbeat deadline and (v3) the client ping.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.state == State::Closed {
            return;
        }
        if self.ping_deadline.is_some_and(|deadline| deadline <= now) {
            self.finish(CloseReason::PingTimeout, true);
            return;
        }
        if self.next_ping.is_some_and(|due| due <= now) {
            let timeout = self.ping_timeout();
            self.next_ping = None;
            self.ping_deadline = Some(now + timeout);
            if self.state == State::Open {
                self.write_buffer.push_back(Packet::Ping(Str::default()));
                self.flush();
            }
        }
    }

    // ----- internals -----

    fn ping_interval(&self) -> Duration {
        Duration::from_millis(self.handshake.as_ref().map_or(0, |open| open.ping_interval))
    }

    fn ping_timeout(&self) -> Duration {
        Duration::from_millis(self.handshake.as_ref().map_or(0, |open| open.ping_timeout))
    }

    fn new_id(&mut self) -> RequestId {
        let id = RequestId(self.next_id);
        self.next_id += 1;
        id
    }

    fn set_get(&mut self, value: Option<RequestId>) {
        if let Main::Polling { get, .. } = &mut self.main {
            *get = value;
        }
    }

    fn set_post(&mut self, value: Option<RequestId>) {
        if let Main::Polling { post, .. } = &mut self.main {
            *post = value;
        }
    }

    /// The path and query of a request over `transport`.
    fn uri(&mut self, transport: TransportKind) -> String {
        let mut out = self.config.path.clone();
        out.push('?');
        for (key, value) in &self.config.query {
            push_component(&mut out, key);
            out.push('=');
            push_component(&mut out, value);
            out.push('&');
        }
        out.push_str("EIO=");
        out.push_str(self.config.version.as_query());
        out.push_str("&transport=");
        out.push_str(transport.as_str());
        let stamp = match self.config.timestamp_requests {
            None => transport == TransportKind::Polling,
            Some(stamp) => stamp,
        };
        if stamp {
            out.push('&');
            push_component(&mut out, &self.config.timestamp_param);
            out.push('=');
            push_base36(&mut out, self.next_stamp);
            self.next_stamp = self.next_stamp.wrapping_add(1);
        }
        if self.config.version == ProtocolVersion::V3 && transport == TransportKind::Polling {
            out.push_str("&b64=1");
        }
        if let Some(open) = &self.handshake {
            out.push_str("&sid=");
            push_component(&mut out, &open.sid);
        }
        out
    }

    fn start_get(&mut self) {
        let id = self.new_id();
        let path_and_query = self.uri(TransportKind::Polling);
        self.set_get(Some(id));
        self.transmits.push_back(Transmit::Http {
            id,
            method: Method::Get,
            path_and_query,
            body: Bytes::new(),
            content_type: None,
        });
    }

    fn open_websocket(&mut self) -> RequestId {
        let id = self.new_id();
        let path_and_query = self.uri(TransportKind::WebSocket);
        self.transmits
            .push_back(Transmit::OpenWebSocket { id, path_and_query });
        id
    }

    /// Decodes and handles a GET response body.
    fn on_poll_body(&mut self, now: Instant, body: Bytes) {
        let version = self.config.version;
        if version == ProtocolVersion::V3 && matches!(body.first(), Some(0 | 1)) {
            for packet in payload::iter_v3_binary(body) {
                if !self.on_decoded(now, packet) {
                    return;
                }
            }
            return;
        }
        let Ok(text) = Str::from_utf8(body) else {
            self.finish(CloseReason::ParseError, true);
            return;
        };
        match version {
            ProtocolVersion::V4 => {
                for packet in payload::iter_v4(text) {
                    if !self.on_decoded(now, packet) {
                        return;
                    }
                }
            }
            ProtocolVersion::V3 => {
                for packet in payload::iter_v3_text(text) {
                    if !self.on_decoded(now, packet) {
                        return;
                    }
                }
            }
        }
    }

    /// Handles one decoded payload packet; false once the session closed.
    fn on_decoded(&mut self, now: Instant, packet: Result<Packet, super::DecodeError>) -> bool {
        match packet {
            Ok(packet) => self.on_packet(now, packet),
            Err(_) => self.finish(CloseReason::ParseError, true),
        }
        self.state != State::Closed
    }

    /// Handles one packet from the server on the session's transport.
    fn on_packet(&mut self, now: Instant, packet: Packet) {
        if self.state == State::Closed {
            return;
        }
        if self.handshake.is_some() {
            // Any packet shows the server is alive.
            self.ping_deadline = Some(now + self.ping_interval() + self.ping_timeout());
        }
        match packet {
            Packet::Open(json) => {
                if self.handshake.is_some() {
                    self.finish(CloseReason::ParseError, true);
                    return;
                }
                match OpenPacket::decode(&json) {
                    Ok(open) => self.on_handshake(now, open),
                    Err(_) => self.finish(CloseReason::ParseError, true),
                }
            }
            Packet::Close => self.finish(CloseReason::TransportClose, true),
            Packet::Ping(_) if self.config.version == ProtocolVersion::V4 => {
                // Answer with `3`; one unsent pong at a time is enough.
                let pong_queued = self
                    .write_buffer
                    .iter()
                    .skip(self.in_flight)
                    .any(|packet| matches!(packet, Packet::Pong(data) if data.is_empty()));
                if self.state == State::Open && !pong_queued {
                    self.write_buffer.push_back(Packet::Pong(Str::default()));
                }
            }
            Packet::Pong(_)
                if self.config.version == ProtocolVersion::V3 && self.handshake.is_some() =>
            {
                self.next_ping = Some(now + self.ping_interval());
            }
            Packet::Message(data) => {
                if self.handshake.is_none() {
                    self.finish(CloseReason::ParseError, true);
                } else {
                    self.events.push_back(Event::Message(data));
                }
            }
            _ => {}
        }
    }

    fn on_handshake(&mut self, now: Instant, open: OpenPacket) {
        let probe_websocket = self.config.upgrade
            && matches!(self.main, Main::Polling { .. })
            && self.config.transports.contains(&TransportKind::WebSocket)
            && open.upgrades.iter().any(|name| *name == "websocket");
        let interval = Duration::from_millis(open.ping_interval);
        let timeout = Duration::from_millis(open.ping_timeout);
        self.ping_deadline = Some(now + interval + timeout);
        if self.config.version == ProtocolVersion::V3 {
            self.next_ping = Some(now + interval);
        }
        if matches!(self.main, Main::WebSocket { .. }) {
            self.websocket_succeeded = true;
        }
        self.handshake = Some(open.clone());
        self.state = State::Open;
        self.events.push_back(Event::Open(open));
        self.flush();
        if probe_websocket {
            let id = self.open_websocket();
            self.probe = Some((id, ProbeStage::Connecting));
        }
    }

    /// How many packets from the front of the buffer fit in one POST, as the official client
    /// counts: the first packet always goes; the next ones while the estimated size (1 for the
    /// first type byte, the data's UTF-8 length or 1.33 × its binary length, plus 2 per
    /// separator and type) stays within `maxPayload`.
    fn writable_count(&self) -> usize {
        let total = self.write_buffer.len();
        let max = match self.handshake.as_ref().and_then(|open| open.max_payload) {
            Some(max) if max > 0 && total > 1 => max,
            _ => return total,
        };
        let mut size: u64 = 1;
        for (index, packet) in self.write_buffer.iter().enumerate() {
            size = size.saturating_add(estimated_len(packet));
            if index > 0 && size > max {
                return index;
            }
            size = size.saturating_add(2);
        }
        total
    }

    /// Writes buffered packets if the transport is writable.
    fn flush(&mut self) {
        if self.state == State::Closed
            || self.handshake.is_none()
            || self.write_buffer.is_empty()
            || matches!(self.probe, Some((_, ProbeStage::Switching)))
        {
            return;
        }
        let version = self.config.version;
        match self.main {
            Main::Polling { post: Some(_), .. } => {}
            Main::Polling { post: None, .. } => {
                let count = self.writable_count();
                let packets: Vec<Packet> = self.write_buffer.iter().take(count).cloned().collect();
                let body = match version {
                    ProtocolVersion::V4 => payload::encode_v4(&packets),
                    ProtocolVersion::V3 => payload::encode_v3_text(&packets),
                };
                let id = self.new_id();
                self.in_flight = count;
                self.set_post(Some(id));
                let path_and_query = self.uri(TransportKind::Polling);
                self.transmits.push_back(Transmit::Http {
                    id,
                    method: Method::Post,
                    path_and_query,
                    body: body.into_bytes(),
                    content_type: Some(POST_CONTENT_TYPE),
                });
            }
            Main::WebSocket { id, .. } => {
                while let Some(packet) = self.write_buffer.pop_front() {
                    self.forget(&packet);
                    let frame = packet.encode_frame(version);
                    self.transmits.push_back(Transmit::WsFrame { id, frame });
                }
                self.in_flight = 0;
                self.maybe_finish_closing();
            }
        }
    }

    /// Drops a written packet from the buffer accounting.
    fn forget(&mut self, packet: &Packet) {
        if let Packet::Message(data) = packet {
            self.buffered_messages = self.buffered_messages.saturating_sub(1);
            self.buffered_bytes = self.buffered_bytes.saturating_sub(data.len());
        }
    }

    /// The POST in flight was accepted.
    fn on_drain(&mut self) {
        for _ in 0..self.in_flight {
            if let Some(packet) = self.write_buffer.pop_front() {
                self.forget(&packet);
            }
        }
        self.in_flight = 0;
        if self.write_buffer.is_empty() {
            self.maybe_finish_closing();
        } else {
            self.flush();
        }
    }

    /// Finishes a requested close once nothing is left to write and no upgrade is running.
    fn maybe_finish_closing(&mut self) {
        if self.state == State::Closing
            && self.write_buffer.is_empty()
            && !matches!(self.probe, Some((_, ProbeStage::Switching)))
        {
            self.finish(CloseReason::ForcedClose, true);
        }
    }

    /// Switches to the probe once polling has paused (no GET or POST in flight).
    fn maybe_paused(&mut self) {
        let Some((probe, ProbeStage::Switching)) = self.probe else {
            return;
        };
        if self.state == State::Closed {
            return;
        }
        let Main::Polling {
            get: None,
            post: None,
            ..
        } = self.main
        else {
            return;
        };
        self.probe = None;
        self.main = Main::WebSocket {
            id: probe,
            connected: true,
        };
        self.websocket_succeeded = true;
        let frame = Packet::Upgrade.encode_frame(self.config.version);
        self.transmits
            .push_back(Transmit::WsFrame { id: probe, frame });
        self.events.push_back(Event::Upgraded);
        self.flush();
        self.maybe_finish_closing();
    }

    /// The probe failed: drop it and keep polling.
    fn probe_failed(&mut self, close_socket: bool) {
        let Some((probe, _)) = self.probe.take() else {
            return;
        };
        if close_socket {
            self.transmits
                .push_back(Transmit::CloseWebSocket { id: probe });
        }
        self.events.push_back(Event::UpgradeFailed);
        if let Main::Polling { get, phase, .. } = &mut self.main {
            *phase = PollPhase::Running;
            let idle = get.is_none();
            if idle && self.handshake.is_some() {
                self.start_get();
            }
        }
        self.flush();
        self.maybe_finish_closing();
    }

    /// Ends the session; `notify` tells the server (POST `1` over polling, close the WebSocket).
    fn finish(&mut self, reason: CloseReason, notify: bool) {
        if self.state == State::Closed {
            return;
        }
        let opened = self.handshake.is_some();
        self.state = State::Closed;
        if let Some((probe, _)) = self.probe.take() {
            self.transmits
                .push_back(Transmit::CloseWebSocket { id: probe });
        }
        match self.main {
            Main::Polling { .. } if notify && opened => {
                let body = match self.config.version {
                    ProtocolVersion::V4 => payload::encode_v4(&[Packet::Close]),
                    ProtocolVersion::V3 => payload::encode_v3_text(&[Packet::Close]),
                };
                let id = self.new_id();
                let path_and_query = self.uri(TransportKind::Polling);
                self.transmits.push_back(Transmit::Http {
                    id,
                    method: Method::Post,
                    path_and_query,
                    body: body.into_bytes(),
                    content_type: Some(POST_CONTENT_TYPE),
                });
            }
            Main::Polling { .. } => {}
            Main::WebSocket { id, .. } => {
                if notify {
                    self.transmits.push_back(Transmit::CloseWebSocket { id });
                }
            }
        }
        if let Main::Polling { get, post, .. } = &mut self.main {
            *get = None;
            *post = None;
        }
        self.write_buffer.clear();
        self.in_flight = 0;
        self.buffered_messages = 0;
        self.buffered_bytes = 0;
        self.ping_deadline = None;
        self.next_ping = None;
        self.events.push_back(Event::Closed(reason));
    }
}

/// The official client's size estimate of a packet's data.
fn estimated_len(packet: &Packet) -> u64 {
    let len = match packet {
        Packet::Message(Data::Text(text)) | Packet::Ping(text) | Packet::Pong(text) => text.len(),
        Packet::Open(text) => text.len(),
        // Base64 overhead, as `Math.ceil(byteLength * 1.33)`.
        Packet::Message(Data::Binary(bytes)) => {
            return (bytes.len() as u64).saturating_mul(133).div_ceil(100);
        }
        _ => 0,
    };
    len as u64
}

/// Appends `text` encoded as `encodeURIComponent` does.
fn push_component(out: &mut String, text: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &byte in text.as_bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0xF)]));
        }
    }
}

/// Appends `value` in base 36 (lowercase).
fn push_base36(out: &mut String, mut value: u64) {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut buf = [0u8; 13];
    let mut pos = buf.len();
    loop {
        pos -= 1;
        buf[pos] = DIGITS[(value % 36) as usize];
        value /= 36;
        if value == 0 {
            break;
        }
    }
    for &digit in &buf[pos..] {
        out.push(char::from(digit));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_query_components_and_stamps() {
        let mut out = String::new();
        push_component(&mut out, "a b&c=d/é~");
        assert_eq!(out, "a%20b%26c%3Dd%2F%C3%A9~");
        let mut out = String::new();
        push_base36(&mut out, 0);
        push_base36(&mut out, 35);
        push_base36(&mut out, 36);
        push_base36(&mut out, u64::MAX);
        assert_eq!(out, "0z103w5e11264sgsf");
    }
}
