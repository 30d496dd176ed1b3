//! The Socket.IO client manager: one Engine.IO connection, many namespaces, reconnection.
//!
//! [`ClientManager`] is the sans-IO counterpart of the official client's `Manager` and `Socket`
//! (socket.io-client 4.8). It owns the [`EngineClient`] of the current connection and creates
//! a new one for every (re)connection attempt, so the caller only ever talks to the manager:
//!
//! - **inputs**, forwarded to the engine of the connection they belong to (results for an engine
//!   that was replaced are ignored): [`handle_http_response`](ClientManager::handle_http_response),
//!   [`handle_http_error`](ClientManager::handle_http_error),
//!   [`handle_ws_opened`](ClientManager::handle_ws_opened),
//!   [`handle_ws_frame`](ClientManager::handle_ws_frame),
//!   [`handle_ws_closed`](ClientManager::handle_ws_closed),
//!   [`handle_timeout`](ClientManager::handle_timeout);
//! - **commands**: [`open_socket`](ClientManager::open_socket) (join a namespace, with auth),
//!   [`emit`](ClientManager::emit), [`ack`](ClientManager::ack),
//!   [`disconnect`](ClientManager::disconnect), [`close`](ClientManager::close);
//! - **outputs**, drained after every input or command:
//!   [`poll_transmit`](ClientManager::poll_transmit) (the engine's [`Transmit`]s, request ids
//!   made unique across connections), [`poll_event`](ClientManager::poll_event), then
//!   [`poll_timeout`](ClientManager::poll_timeout).
//!
//! Behaviour, as the official client:
//! - **Reconnection**: when the connection drops for a reason that allows it (transport
//!   close/error, ping timeout, parse error; not after the last socket was disconnected by the
//!   application or by the server), the manager waits [`Backoff::duration`] (`reconnectionDelay`
//!   × 2ⁿ ± `randomizationFactor`, at most `reconnectionDelayMax`), reports
//!   [`Event::ReconnectAttempt`], opens a new engine and, once it is open, [`Event::Reconnect`];
//!   a failed attempt reports [`Event::ReconnectError`] and waits longer; after
//!   `reconnectionAttempts` failures, [`Event::ReconnectFailed`]. The backoff restarts after
//!   every successful open. A first connection that fails is retried the same way. An engine
//!   that is not open after [`ManagerConfig::timeout`] counts as failed (`timeout`).
//! - **Namespaces** share the connection; each sends its CONNECT (with its auth) whenever the
//!   engine opens. A CONNECT_ERROR or a server DISCONNECT (`io server disconnect`) deactivates
//!   the socket: it is not reconnected. When no socket is active any more, the manager closes
//!   the connection and stops reconnecting.
//! - **Buffers**: emits while the socket is not connected wait in a send buffer bounded by
//!   [`ManagerConfig::max_send_buffer`] ([`EmitError::SendBufferFull`] beyond), flushed on
//!   connect; a volatile emit is dropped when the transport is not writable (engine not open,
//!   or earlier messages still being written). Events received before the namespace's CONNECT
//!   reply are buffered and reported just before its [`Event::Connect`].
//! - **Acks**: an emit may request an ack, with a timeout ([`EmitOptions::timeout`], else
//!   [`ManagerConfig::ack_timeout`]); the outcome is [`Event::Ack`], [`Event::AckTimeout`] at
//!   the deadline (the packet is also dropped from the send buffer), or
//!   [`Event::AckDisconnected`] when the connection drops after the packet was sent.
//! - **Retries** ([`ManagerConfig::retries`]): non-volatile emits go through a per-socket queue;
//!   one packet is in flight at a time, always with an ack request; a timeout (or, with a
//!   timeout configured, a disconnection) is a failed try, resent until `retries + 1` tries were
//!   made; on reconnect the head of the queue is resent (at-least-once, in order).
//! - **Recovery**: when the server's CONNECT reply carries a `pid`, the socket remembers it and
//!   the last offset seen (the last argument of each received event without an ack, when it is
//!   a string); the next CONNECT carries `{"pid","offset",…auth}`, and [`Event::Connect`] says
//!   `recovered` when the server answers with the same `pid`.
//!
//! Differences from the reference, on purpose: [`Event::Disconnect`] is only reported for a
//! socket that was connected; acks without a timeout are reported as
//! [`Event::AckDisconnected`] instead of being forgotten silently; a stale ack timer of a
//! previous retry never triggers a second packet in flight. Only Socket.IO v5 (Engine.IO v4)
//! is spoken.
//!
//! ```
//! use socketio_protocol::Instant;
//! use socketio_protocol::engine::Frame;
//! use socketio_protocol::engine::client::{TransportKind, Transmit};
//! use socketio_protocol::socket::client::{ClientManager, EmitOptions, Event, ManagerConfig};
//! use socketio_protocol::value::Value;
//!
//! let mut config = ManagerConfig::default();
//! config.engine.transports = vec![TransportKind::WebSocket];
//! let mut manager = ClientManager::new(config).unwrap();
//! let now = Instant::ZERO;
//! let socket = manager.open_socket(now, "/", None).unwrap();
//! let data = Value::Array(vec!["hello".into()]);
//! manager.emit(now, socket, data.into(), EmitOptions::default()).unwrap(); // buffered
//!
//! // The run loop: write what `poll_transmit` gives, hand events to the application, re-arm
//! // the timer from `poll_timeout`, then wait for IO or the timer and feed the result back.
//! let Some(Transmit::OpenWebSocket { id, .. }) = manager.poll_transmit() else { panic!() };
//! manager.handle_ws_opened(now, id);
//! let open = r#"0{"sid":"e1","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;
//! manager.handle_ws_frame(now, id, Frame::Text(open.into()));
//! let Some(Transmit::WsFrame { frame, .. }) = manager.poll_transmit() else { panic!() };
//! assert_eq!(frame, Frame::Text("40".into())); // CONNECT to "/"
//! manager.handle_ws_frame(now, id, Frame::Text(r#"40{"sid":"s1"}"#.into()));
//! let Some(Transmit::WsFrame { frame, .. }) = manager.poll_transmit() else { panic!() };
//! assert_eq!(frame, Frame::Text(r#"42["hello"]"#.into())); // the send buffer is flushed
//! assert!(matches!(manager.poll_event(), Some(Event::Connect { recovered: false, .. })));
//! ```

use alloc::collections::{BTreeMap, VecDeque};
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::time::Duration;

use crate::backoff::Backoff;
use crate::engine::client::{self as engine, ClientConfig, EngineClient, RequestId, Transmit};
use crate::engine::{self as eio, Data, Frame};
use crate::json::{self, EventHead};
use crate::socket::parser::common;
use crate::socket::{
    DisconnectReason, Limits, Packet, PacketKind, Payload, ProtocolVersion, RESERVED_EVENTS,
};
use crate::value::Value;
use crate::{Instant, Str};

/// The message of the `connect_error` the reference reports for a CONNECT reply without `sid`.
pub const V2_SERVER_MESSAGE: &str = "It seems you are trying to reach a Socket.IO server in v2.x with a v3.x client, but they are not compatible (more information here: https://socket.io/docs/v3/migrating-from-2-x-to-3-0/)";

/// Bits of a [`RequestId`] given to the engine's own id; the connection's number is above.
const GENERATION_SHIFT: u32 = 40;

/// Which Socket.IO parser the connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ParserKind {
    /// The default JSON parser (`socket.io-parser`), binary as attachments.
    #[default]
    Common,
    /// `socket.io-msgpack-parser`: one binary message per packet.
    #[cfg(feature = "msgpack")]
    Msgpack,
}

/// Manager options, with the official client's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct ManagerConfig {
    /// The engine's options (path `/socket.io/` by default).
    pub engine: ClientConfig,
    /// Whether to reconnect automatically (`reconnection`, true).
    pub reconnection: bool,
    /// Most reconnection attempts in a row; `None` is unbounded (the default).
    pub reconnection_attempts: Option<u32>,
    /// The first reconnection delay (`reconnectionDelay`, 1000 ms).
    pub reconnection_delay: Duration,
    /// The largest reconnection delay (`reconnectionDelayMax`, 5000 ms).
    pub reconnection_delay_max: Duration,
    /// The jitter of the reconnection delays (`randomizationFactor`, 0.5).
    pub randomization_factor: f64,
    /// How long an engine may take to open before the attempt fails (`timeout`, 20000 ms);
    /// `None` waits forever.
    pub timeout: Option<Duration>,
    /// The default ack timeout of emits that request an ack (`ackTimeout`, none).
    pub ack_timeout: Option<Duration>,
    /// `retries`: when set, non-volatile emits are queued, sent one at a time with an ack and
    /// tried up to `retries + 1` times.
    pub retries: Option<u32>,
    /// Most packets buffered per socket while it is not connected (and, with `retries`, most
    /// packets in its queue).
    pub max_send_buffer: usize,
    /// Most events buffered per socket before its CONNECT reply; beyond, the connection is
    /// closed as a `parse error` (and reconnected).
    pub max_receive_buffer: usize,
    /// The parser.
    pub parser: ParserKind,
    /// Decoder bounds.
    pub limits: Limits,
    /// Seed of the generator that draws the reconnection jitter (pass a random value).
    pub seed: u64,
}

impl Default for ManagerConfig {
    fn default() -> Self {
        ManagerConfig {
            engine: ClientConfig::with_path("/socket.io"),
            reconnection: true,
            reconnection_attempts: None,
            reconnection_delay: Duration::from_millis(1000),
            reconnection_delay_max: Duration::from_millis(5000),
            randomization_factor: 0.5,
            timeout: Some(Duration::from_millis(20_000)),
            ack_timeout: None,
            retries: None,
            max_send_buffer: 1024,
            max_receive_buffer: 1024,
            parser: ParserKind::Common,
            limits: Limits::DEFAULT,
            seed: 0x5EED,
        }
    }
}

/// Why a [`ManagerConfig`] was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConfigError {
    /// The engine configuration was refused.
    Engine(engine::ConfigError),
    /// Only Engine.IO v4 (Socket.IO v5) is supported by the manager.
    UnsupportedVersion,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Engine(e) => write!(f, "engine configuration: {e}"),
            ConfigError::UnsupportedVersion => {
                f.write_str("the socket.io client manager speaks Engine.IO v4 only")
            }
        }
    }
}

impl core::error::Error for ConfigError {}

/// A socket (one namespace) of the manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SocketId(pub usize);

/// Identifies an emit that requested an ack, in [`Event::Ack`] and its failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AckId(pub u64);

/// Options of one emit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EmitOptions {
    /// Request an acknowledgement: [`ClientManager::emit`] returns its [`AckId`].
    pub ack: bool,
    /// The ack timeout, overriding [`ManagerConfig::ack_timeout`].
    pub timeout: Option<Duration>,
    /// Drop the packet if the transport is not writable; never queued for retries.
    pub volatile: bool,
}

impl EmitOptions {
    /// An emit that requests an ack.
    pub fn with_ack() -> Self {
        EmitOptions {
            ack: true,
            ..EmitOptions::default()
        }
    }

    /// An emit that requests an ack within `timeout`.
    pub fn with_ack_timeout(timeout: Duration) -> Self {
        EmitOptions {
            ack: true,
            timeout: Some(timeout),
            volatile: false,
        }
    }

    /// A volatile emit.
    pub fn volatile() -> Self {
        EmitOptions {
            volatile: true,
            ..EmitOptions::default()
        }
    }
}

/// Why a socket command was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EmitError {
    /// No such socket.
    UnknownSocket,
    /// The data is not an event: a non-empty array led by a string or number name.
    InvalidEvent,
    /// The event name is reserved (`connect`, `disconnect`, …).
    ReservedEvent,
    /// The socket's send buffer (or retry queue) is full.
    SendBufferFull,
    /// The engine's write buffer is full; retry once it drained.
    EngineBufferFull,
    /// The connection is not open (for [`ClientManager::ack`]).
    NotConnected,
}

impl fmt::Display for EmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EmitError::UnknownSocket => "unknown socket",
            EmitError::InvalidEvent => "not an event (a non-empty array led by a name)",
            EmitError::ReservedEvent => "reserved event name",
            EmitError::SendBufferFull => "the socket's send buffer is full",
            EmitError::EngineBufferFull => "the engine's write buffer is full",
            EmitError::NotConnected => "the connection is not open",
        })
    }
}

impl core::error::Error for EmitError {}

/// Why [`ClientManager::open_socket`] was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OpenError {
    /// The namespace does not start with `/`.
    InvalidNamespace,
    /// The auth payload is not an object.
    InvalidAuth,
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OpenError::InvalidNamespace => "a namespace starts with '/'",
            OpenError::InvalidAuth => "the auth payload must be an object",
        })
    }
}

impl core::error::Error for OpenError {}

/// Something the application must learn.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// The socket joined its namespace (`connect`).
    Connect {
        /// The socket.
        socket: SocketId,
        /// Its namespace.
        nsp: Str,
        /// The socket id the server gave.
        sid: Str,
        /// Whether the server recovered the previous session (same `pid`).
        recovered: bool,
    },
    /// The namespace refused the socket (`connect_error`), or the connection failed before
    /// the socket could join (then `data` is `None` and `message` is the engine's reason or
    /// `timeout`). After a refusal by the server the socket is inactive.
    ConnectError {
        /// The socket.
        socket: SocketId,
        /// Its namespace.
        nsp: Str,
        /// The error message.
        message: String,
        /// The error data the server attached.
        data: Option<Value>,
        /// True when the server refused the socket (a `CONNECT_ERROR` packet, or a v2 server
        /// answering); false when the connection itself failed and `message` is the engine's
        /// close reason (`transport error`, `timeout`, ...).
        refused: bool,
    },
    /// An event from the server: `data` is the array `[name, ...args]`.
    Event {
        /// The socket.
        socket: SocketId,
        /// Its namespace.
        nsp: Str,
        /// The event name and arguments.
        data: Payload,
        /// The ack id to answer with [`ClientManager::ack`], if the server wants one.
        ack: Option<u64>,
    },
    /// The server acknowledged an emit: `data` is the array of ack arguments.
    Ack {
        /// The socket.
        socket: SocketId,
        /// The emit.
        id: AckId,
        /// The ack arguments.
        data: Payload,
    },
    /// An emit was not acknowledged in time (with retries: after its last try).
    AckTimeout {
        /// The socket.
        socket: SocketId,
        /// The emit.
        id: AckId,
    },
    /// The connection dropped after an emit was sent: its ack will not come.
    AckDisconnected {
        /// The socket.
        socket: SocketId,
        /// The emit.
        id: AckId,
    },
    /// A connected socket left its namespace (`disconnect`).
    Disconnect {
        /// The socket.
        socket: SocketId,
        /// Its namespace.
        nsp: Str,
        /// Why; [`DisconnectReason::allows_reconnect`] tells whether the manager reconnects it.
        reason: DisconnectReason,
    },
    /// A reconnection attempt starts (`reconnect_attempt`), numbered from 1.
    ReconnectAttempt(u32),
    /// A reconnection attempt succeeded (`reconnect`) after this many attempts.
    Reconnect(u32),
    /// A reconnection attempt failed (`reconnect_error`).
    ReconnectError,
    /// No more reconnection attempts (`reconnect_failed`).
    ReconnectFailed,
}

/// One engine connection and its decoder.
#[derive(Debug)]
struct Slot {
    generation: u64,
    engine: EngineClient,
    decoder: common::Decoder,
}

/// The connection's lifecycle.
#[derive(Debug)]
enum Conn {
    /// No connection and no attempt planned.
    Closed,
    /// An engine is opening; it fails at `deadline`.
    Opening {
        slot: Slot,
        deadline: Option<Instant>,
    },
    /// The engine is open.
    Open { slot: Slot },
    /// Waiting for the next reconnection attempt.
    Waiting { at: Instant },
}

/// Who waits for an ack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AckTarget {
    /// The application, for an emit outside the retry queue.
    User(AckId),
    /// The retry queue entry with this sequence number.
    Queue(u64),
}

/// An ack being waited for, by wire id.
#[derive(Debug, Clone, Copy)]
struct PendingAck {
    target: AckTarget,
    deadline: Option<Instant>,
}

/// An emit in the retry queue.
#[derive(Debug, Clone)]
struct Queued {
    seq: u64,
    handle: Option<AckId>,
    data: Payload,
    timeout: Option<Duration>,
    tries: u32,
    pending: bool,
}

/// One namespace.
#[derive(Debug)]
struct SocketState {
    nsp: Str,
    auth: Option<Value>,
    /// Subscribed to the manager (the reference's `active`): reconnected when the engine opens.
    active: bool,
    connected: bool,
    /// Whether the latest CONNECT recovered the previous session.
    recovered: bool,
    sid: Option<Str>,
    pid: Option<String>,
    last_offset: Option<String>,
    send_buffer: VecDeque<Packet>,
    receive_buffer: VecDeque<(Payload, Option<u64>)>,
    acks: BTreeMap<u64, PendingAck>,
    next_wire_id: u64,
    queue: VecDeque<Queued>,
    next_seq: u64,
}

/// What a failed ack means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AckFailure {
    Timeout,
    Disconnected,
}

/// A small deterministic generator (SplitMix64) for the reconnection jitter.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The Socket.IO client manager; see the [module docs](self) for the run loop.
#[derive(Debug)]
pub struct ClientManager {
    config: ManagerConfig,
    engine_config: ClientConfig,
    backoff: Backoff,
    rng: Rng,
    conn: Conn,
    /// Engines closed on purpose, kept until they finish writing.
    draining: Vec<Slot>,
    next_generation: u64,
    reconnecting: bool,
    skip_reconnect: bool,
    sockets: Vec<SocketState>,
    next_ack: u64,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
}

impl ClientManager {
    /// A manager with no connection yet: the first [`open_socket`](Self::open_socket) opens it.
    pub fn new(config: ManagerConfig) -> Result<Self, ConfigError> {
        if config.engine.transports.is_empty() {
            return Err(ConfigError::Engine(engine::ConfigError::NoTransports));
        }
        if config.engine.version != eio::ProtocolVersion::V4 {
            return Err(ConfigError::UnsupportedVersion);
        }
        Ok(ClientManager {
            backoff: Backoff::new(
                config.reconnection_delay,
                config.reconnection_delay_max,
                2,
                config.randomization_factor,
            ),
            rng: Rng(config.seed),
            engine_config: config.engine.clone(),
            config,
            conn: Conn::Closed,
            draining: Vec::new(),
            next_generation: 0,
            reconnecting: false,
            skip_reconnect: false,
            sockets: Vec::new(),
            next_ack: 0,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        })
    }

    // ----- outputs -----

    /// The next thing to put on the network.
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
        let mut next: Option<Instant> = None;
        let mut consider = |at: Option<Instant>| {
            if let Some(at) = at {
                next = Some(next.map_or(at, |n| n.min(at)));
            }
        };
        match &self.conn {
            Conn::Closed => {}
            Conn::Opening { slot, deadline } => {
                consider(slot.engine.poll_timeout());
                consider(*deadline);
            }
            Conn::Open { slot } => consider(slot.engine.poll_timeout()),
            Conn::Waiting { at } => consider(Some(*at)),
        }
        for slot in &self.draining {
            consider(slot.engine.poll_timeout());
        }
        for socket in &self.sockets {
            for ack in socket.acks.values() {
                consider(ack.deadline);
            }
        }
        next
    }

    // ----- state -----

    /// Whether the engine connection is open.
    pub fn is_open(&self) -> bool {
        matches!(self.conn, Conn::Open { .. })
    }

    /// Whether an engine is still alive: one opening or open, or a retired one still
    /// flushing its last packets and its close. False once [`close`](Self::close) has
    /// finished on the wire (the caller may still have transports writing what was
    /// transmitted).
    pub fn has_live_engines(&self) -> bool {
        self.engine().is_some() || !self.draining.is_empty()
    }

    /// Whether a reconnection is planned or in progress.
    pub fn is_reconnecting(&self) -> bool {
        self.reconnecting
    }

    /// The current engine, if a connection is opening or open.
    pub fn engine(&self) -> Option<&EngineClient> {
        match &self.conn {
            Conn::Opening { slot, .. } | Conn::Open { slot } => Some(&slot.engine),
            _ => None,
        }
    }

    /// Whether the socket joined its namespace.
    pub fn is_connected(&self, socket: SocketId) -> bool {
        self.sockets.get(socket.0).is_some_and(|s| s.connected)
    }

    /// Whether the socket is active: it (re)joins its namespace whenever the connection opens.
    pub fn is_active(&self, socket: SocketId) -> bool {
        self.sockets.get(socket.0).is_some_and(|s| s.active)
    }

    /// Whether the socket's latest connection recovered its previous session (same `pid`):
    /// true from its CONNECT on, so while the events the server replayed ahead of it are
    /// handled too.
    pub fn is_recovered(&self, socket: SocketId) -> bool {
        self.sockets.get(socket.0).is_some_and(|s| s.recovered)
    }

    /// The socket id the server gave, while connected.
    pub fn sid(&self, socket: SocketId) -> Option<&Str> {
        self.sockets.get(socket.0).and_then(|s| s.sid.as_ref())
    }

    /// The recovery session id (`pid`) and last offset the socket remembers.
    pub fn recovery_state(&self, socket: SocketId) -> Option<(&str, Option<&str>)> {
        let socket = self.sockets.get(socket.0)?;
        Some((socket.pid.as_deref()?, socket.last_offset.as_deref()))
    }

    /// Packets waiting in the socket's send buffer.
    pub fn send_buffer_len(&self, socket: SocketId) -> usize {
        self.sockets
            .get(socket.0)
            .map_or(0, |s| s.send_buffer.len())
    }

    /// Emits waiting in the socket's retry queue (the head may be in flight).
    pub fn queue_len(&self, socket: SocketId) -> usize {
        self.sockets.get(socket.0).map_or(0, |s| s.queue.len())
    }

    /// The reconnection backoff.
    pub fn backoff(&self) -> &Backoff {
        &self.backoff
    }

    // ----- inputs -----

    /// The answer to the HTTP request `id`.
    pub fn handle_http_response(
        &mut self,
        now: Instant,
        id: RequestId,
        status: u16,
        body: bytes::Bytes,
    ) {
        self.forward(now, id, |engine, inner| {
            engine.handle_http_response(now, inner, status, body)
        });
    }

    /// The HTTP request `id` failed.
    pub fn handle_http_error(&mut self, now: Instant, id: RequestId) {
        self.forward(now, id, |engine, inner| {
            engine.handle_http_error(now, inner)
        });
    }

    /// The response body of the HTTP request `id`, or a message on the WebSocket `id`, was
    /// larger than the caller reads (`limit` bytes; for a polling body,
    /// [`max_response_len`](Self::max_response_len)): the connection closes with
    /// [`DisconnectReason::PayloadTooLarge`] (sockets still waiting for their CONNECT reply get
    /// an [`Event::ConnectError`] with the reason as message) and reconnects as configured.
    pub fn handle_too_large(&mut self, now: Instant, id: RequestId, limit: u64) {
        self.forward(now, id, |engine, inner| {
            engine.handle_too_large(now, inner, limit)
        });
    }

    /// The most bytes to read of a polling response body of the current connection
    /// ([`EngineClient::max_response_len`]; without a connection,
    /// [`engine::DEFAULT_MAX_PAYLOAD`] or the engine configuration's `max_payload`).
    pub fn max_response_len(&self) -> u64 {
        match &self.conn {
            Conn::Opening { slot, .. } | Conn::Open { slot } => slot.engine.max_response_len(),
            _ => self
                .engine_config
                .max_payload
                .unwrap_or(engine::DEFAULT_MAX_PAYLOAD),
        }
    }

    /// The WebSocket `id` is connected.
    pub fn handle_ws_opened(&mut self, now: Instant, id: RequestId) {
        self.forward(now, id, |engine, inner| engine.handle_ws_opened(now, inner));
    }

    /// A frame arrived on the WebSocket `id`.
    pub fn handle_ws_frame(&mut self, now: Instant, id: RequestId, frame: Frame) {
        self.forward(now, id, |engine, inner| {
            engine.handle_ws_frame(now, inner, frame)
        });
    }

    /// The WebSocket `id` closed or failed.
    pub fn handle_ws_closed(&mut self, now: Instant, id: RequestId) {
        self.forward(now, id, |engine, inner| engine.handle_ws_closed(now, inner));
    }

    /// Timers: engine heartbeats, the open timeout, the reconnection delay, ack deadlines.
    pub fn handle_timeout(&mut self, now: Instant) {
        match &mut self.conn {
            Conn::Opening { slot, .. } | Conn::Open { slot } => slot.engine.handle_timeout(now),
            _ => {}
        }
        for slot in &mut self.draining {
            slot.engine.handle_timeout(now);
        }
        self.pump(now);
        if let Conn::Opening {
            deadline: Some(deadline),
            ..
        } = self.conn
            && deadline <= now
        {
            self.retire_current();
            self.open_failed(now, "timeout");
            self.pump(now);
        }
        if let Conn::Waiting { at } = self.conn
            && at <= now
        {
            self.conn = Conn::Closed;
            self.events
                .push_back(Event::ReconnectAttempt(self.backoff.attempts()));
            self.open_engine(now);
            self.pump(now);
        }
        self.fire_ack_deadlines(now);
        self.pump(now);
    }

    // ----- commands -----

    /// The socket for `nsp`, created if needed, and makes it active: it sends CONNECT (with
    /// `auth`, an object) as soon as the connection is open, opening it if needed. An existing
    /// socket keeps its auth unless a new one is given.
    pub fn open_socket(
        &mut self,
        now: Instant,
        nsp: &str,
        auth: Option<Value>,
    ) -> Result<SocketId, OpenError> {
        if !nsp.starts_with('/') {
            return Err(OpenError::InvalidNamespace);
        }
        if auth
            .as_ref()
            .is_some_and(|a| !matches!(a, Value::Object(_)))
        {
            return Err(OpenError::InvalidAuth);
        }
        let index = match self.sockets.iter().position(|s| s.nsp == nsp) {
            Some(index) => {
                if auth.is_some() {
                    self.sockets[index].auth = auth;
                }
                index
            }
            None => {
                self.sockets.push(SocketState {
                    nsp: Str::from(String::from(nsp)),
                    auth,
                    active: false,
                    connected: false,
                    recovered: false,
                    sid: None,
                    pid: None,
                    last_offset: None,
                    send_buffer: VecDeque::new(),
                    receive_buffer: VecDeque::new(),
                    acks: BTreeMap::new(),
                    next_wire_id: 0,
                    queue: VecDeque::new(),
                    next_seq: 0,
                });
                self.sockets.len() - 1
            }
        };
        let socket = &mut self.sockets[index];
        if socket.connected {
            return Ok(SocketId(index));
        }
        let was_active = socket.active;
        socket.active = true;
        if !self.reconnecting && matches!(self.conn, Conn::Closed) {
            self.open_engine(now);
        } else if !was_active && matches!(self.conn, Conn::Open { .. }) {
            self.send_connect(now, index);
        }
        self.pump(now);
        Ok(SocketId(index))
    }

    /// Emits an event (`data` is `[name, ...args]`) on `socket`; returns the [`AckId`] when
    /// `options.ack` is set.
    pub fn emit(
        &mut self,
        now: Instant,
        socket: SocketId,
        data: Payload,
        options: EmitOptions,
    ) -> Result<Option<AckId>, EmitError> {
        let index = socket.0;
        if index >= self.sockets.len() {
            return Err(EmitError::UnknownSocket);
        }
        check_event(&data, &self.config.limits)?;
        let timeout = options.timeout.or(self.config.ack_timeout);
        if self.config.retries.is_some() && !options.volatile {
            let state = &mut self.sockets[index];
            if state.queue.len() >= self.config.max_send_buffer {
                return Err(EmitError::SendBufferFull);
            }
            let handle = options.ack.then(|| self.new_ack_id());
            let state = &mut self.sockets[index];
            let seq = state.next_seq;
            state.next_seq += 1;
            state.queue.push_back(Queued {
                seq,
                handle,
                data,
                timeout,
                tries: 0,
                pending: false,
            });
            self.drain_queue(now, index, false);
            self.pump(now);
            return Ok(handle);
        }
        let writable = self.writable();
        let state = &mut self.sockets[index];
        let connected = state.connected;
        if !connected && !options.volatile && state.send_buffer.len() >= self.config.max_send_buffer
        {
            return Err(EmitError::SendBufferFull);
        }
        let mut packet = Packet::event(state.nsp.as_str().to_owned_cow(), data);
        let wire_id = options.ack.then_some(state.next_wire_id);
        packet.id = wire_id;
        let discard = options.volatile && !writable;
        if !discard {
            if connected {
                match self.send_packet(&packet) {
                    Ok(()) => {}
                    Err(SendFailure::Refused) => return Err(EmitError::EngineBufferFull),
                    Err(SendFailure::Broken) => self.fail_connection(now),
                }
            } else {
                let state = &mut self.sockets[index];
                if state.send_buffer.len() >= self.config.max_send_buffer {
                    return Err(EmitError::SendBufferFull);
                }
                state.send_buffer.push_back(packet);
            }
        }
        if wire_id.is_some() {
            self.sockets[index].next_wire_id += 1;
        }
        let handle = match wire_id {
            Some(wire_id) => {
                let handle = self.new_ack_id();
                self.sockets[index].acks.insert(
                    wire_id,
                    PendingAck {
                        target: AckTarget::User(handle),
                        deadline: timeout.map(|t| now + t),
                    },
                );
                Some(handle)
            }
            None => None,
        };
        self.pump(now);
        Ok(handle)
    }

    /// Answers the server's event ack `id` on `socket` with `data` (an array of arguments).
    pub fn ack(
        &mut self,
        now: Instant,
        socket: SocketId,
        id: u64,
        data: Payload,
    ) -> Result<(), EmitError> {
        let Some(state) = self.sockets.get(socket.0) else {
            return Err(EmitError::UnknownSocket);
        };
        if !is_array(&data) {
            return Err(EmitError::InvalidEvent);
        }
        if !matches!(self.conn, Conn::Open { .. }) {
            return Err(EmitError::NotConnected);
        }
        let packet = Packet::ack(state.nsp.as_str().to_owned_cow(), id, data);
        let result = match self.send_packet(&packet) {
            Ok(()) => Ok(()),
            Err(SendFailure::Refused) => Err(EmitError::EngineBufferFull),
            Err(SendFailure::Broken) => {
                self.fail_connection(now);
                Ok(())
            }
        };
        self.pump(now);
        result
    }

    /// Leaves the namespace (`io client disconnect`): sends DISCONNECT if connected and makes
    /// the socket inactive; closes the connection if no active socket remains.
    pub fn disconnect(&mut self, now: Instant, socket: SocketId) {
        self.leave(now, socket, true);
    }

    /// Leaves a namespace; `announce` sends its `DISCONNECT` packet first.
    fn leave(&mut self, now: Instant, socket: SocketId, announce: bool) {
        let index = socket.0;
        let Some(state) = self.sockets.get(index) else {
            return;
        };
        let connected = state.connected;
        if connected && announce {
            let packet = Packet::new(PacketKind::Disconnect, state.nsp.as_str().to_owned_cow());
            if let Err(SendFailure::Broken) = self.send_packet(&packet) {
                self.fail_connection(now);
            }
        }
        self.destroy(now, index);
        if connected {
            self.socket_closed(now, index, DisconnectReason::IoClientDisconnect);
        }
        self.pump(now);
    }

    /// Disconnects every socket and closes the connection; no reconnection follows.
    pub fn close(&mut self, now: Instant) {
        self.close_with(now, true);
    }

    /// Closes the connection without the namespaces' `DISCONNECT` packets (the server sees
    /// `transport close`); what was queued before is still written first. The sockets end
    /// with `io client disconnect`; no reconnection follows.
    pub fn close_transport(&mut self, now: Instant) {
        self.close_with(now, false);
    }

    fn close_with(&mut self, now: Instant, announce: bool) {
        for index in 0..self.sockets.len() {
            if self.sockets[index].active || self.sockets[index].connected {
                self.leave(now, SocketId(index), announce);
            }
        }
        self.close_manager();
        self.pump(now);
    }

    // ----- internals: engines -----

    fn new_ack_id(&mut self) -> AckId {
        let id = AckId(self.next_ack);
        self.next_ack += 1;
        id
    }

    fn current_slot_mut(&mut self) -> Option<&mut Slot> {
        match &mut self.conn {
            Conn::Opening { slot, .. } | Conn::Open { slot } => Some(slot),
            _ => None,
        }
    }

    /// Runs `f` on the engine a request id belongs to, then processes what it produced.
    fn forward(
        &mut self,
        now: Instant,
        id: RequestId,
        f: impl FnOnce(&mut EngineClient, RequestId),
    ) {
        let generation = id.0 >> GENERATION_SHIFT;
        let inner = RequestId(id.0 & ((1u64 << GENERATION_SHIFT) - 1));
        let slot = match self.current_slot_mut() {
            Some(slot) if slot.generation == generation => Some(slot),
            _ => self
                .draining
                .iter_mut()
                .find(|s| s.generation == generation),
        };
        let Some(slot) = slot else {
            return;
        };
        f(&mut slot.engine, inner);
        self.pump(now);
    }

    /// Starts a new engine.
    fn open_engine(&mut self, now: Instant) {
        let generation = self.next_generation;
        self.next_generation += 1;
        self.skip_reconnect = false;
        match EngineClient::new(self.engine_config.clone(), now) {
            Ok(engine) => {
                self.conn = Conn::Opening {
                    slot: Slot {
                        generation,
                        engine,
                        decoder: common::Decoder::new(ProtocolVersion::V5, self.config.limits),
                    },
                    deadline: self.config.timeout.map(|t| now + t),
                };
            }
            // Checked in `new`; kept as a failed attempt rather than a panic.
            Err(_) => self.open_failed(now, "transport error"),
        }
    }

    /// Moves the current engine (if any) to the draining list, closing it, and leaves
    /// `self.conn` closed.
    fn retire_current(&mut self) {
        let conn = core::mem::replace(&mut self.conn, Conn::Closed);
        if let Conn::Opening { mut slot, .. } | Conn::Open { mut slot } = conn {
            if self.engine_config.remember_upgrade && slot.engine.websocket_succeeded() {
                self.engine_config.prior_websocket_success = true;
            }
            slot.engine.close();
            self.draining.push(slot);
        }
    }

    /// Moves transmits out of the engines and handles the current engine's events.
    fn pump(&mut self, now: Instant) {
        loop {
            let mut index = 0;
            while index < self.draining.len() {
                let slot = &mut self.draining[index];
                while let Some(transmit) = slot.engine.poll_transmit() {
                    self.transmits
                        .push_back(map_transmit(slot.generation, transmit));
                }
                while slot.engine.poll_event().is_some() {}
                if slot.engine.is_closed() {
                    self.draining.swap_remove(index);
                } else {
                    index += 1;
                }
            }
            let Some(slot) = self.current_slot_mut() else {
                return;
            };
            let generation = slot.generation;
            let mut moved = Vec::new();
            while let Some(transmit) = slot.engine.poll_transmit() {
                moved.push(map_transmit(generation, transmit));
            }
            let event = slot.engine.poll_event();
            self.transmits.extend(moved);
            let Some(event) = event else {
                return;
            };
            self.on_engine_event(now, event);
        }
    }

    fn on_engine_event(&mut self, now: Instant, event: engine::Event) {
        match event {
            engine::Event::Open(_) => {
                let conn = core::mem::replace(&mut self.conn, Conn::Closed);
                self.conn = match conn {
                    Conn::Opening { slot, .. } => Conn::Open { slot },
                    other => other,
                };
                for index in 0..self.sockets.len() {
                    if self.sockets[index].active && !self.sockets[index].connected {
                        self.send_connect(now, index);
                    }
                }
                if self.reconnecting {
                    let attempts = self.backoff.attempts();
                    self.reconnecting = false;
                    self.backoff.reset();
                    self.events.push_back(Event::Reconnect(attempts));
                }
            }
            engine::Event::Message(data) => self.on_message(now, data),
            engine::Event::Closed(reason) => {
                let opening = matches!(self.conn, Conn::Opening { .. });
                self.retire_current();
                if opening {
                    self.open_failed(now, &alloc::format!("{reason}"));
                } else {
                    self.on_close(now, reason.into());
                }
            }
            _ => {}
        }
    }

    /// An engine failed before it opened (`message` is the reason).
    fn open_failed(&mut self, now: Instant, message: &str) {
        for index in 0..self.sockets.len() {
            let socket = &self.sockets[index];
            if socket.active && !socket.connected {
                self.events.push_back(Event::ConnectError {
                    socket: SocketId(index),
                    nsp: socket.nsp.clone(),
                    message: String::from(message),
                    data: None,
                    refused: false,
                });
            }
        }
        if self.reconnecting {
            self.reconnecting = false;
            self.events.push_back(Event::ReconnectError);
            self.reconnect(now);
        } else if self.config.reconnection && self.backoff.attempts() == 0 {
            self.reconnect(now);
        }
    }

    /// The open connection ended for `reason`. A socket still waiting for its CONNECT reply
    /// learns it as a failed attempt ([`Event::ConnectError`], not refused), so a connection
    /// that keeps dropping before the namespace answers is never a silent loop.
    fn on_close(&mut self, now: Instant, reason: DisconnectReason) {
        self.backoff.reset();
        for index in 0..self.sockets.len() {
            let socket = &self.sockets[index];
            if socket.active && !socket.connected {
                self.events.push_back(Event::ConnectError {
                    socket: SocketId(index),
                    nsp: socket.nsp.clone(),
                    message: alloc::format!("{reason}"),
                    data: None,
                    refused: false,
                });
            }
            if self.sockets[index].active {
                self.socket_closed(now, index, reason);
            }
        }
        if self.config.reconnection && !self.skip_reconnect {
            self.reconnect(now);
        }
    }

    /// Plans the next reconnection attempt, or gives up.
    fn reconnect(&mut self, now: Instant) {
        if self.reconnecting || self.skip_reconnect {
            return;
        }
        if self
            .config
            .reconnection_attempts
            .is_some_and(|max| self.backoff.attempts() >= max)
        {
            self.backoff.reset();
            self.reconnecting = false;
            self.conn = Conn::Closed;
            self.events.push_back(Event::ReconnectFailed);
            return;
        }
        let delay = self.backoff.duration(self.rng.next_f64());
        self.reconnecting = true;
        self.conn = Conn::Waiting { at: now + delay };
    }

    /// No socket is active any more: close and stop reconnecting.
    fn close_manager(&mut self) {
        self.skip_reconnect = true;
        self.reconnecting = false;
        self.backoff.reset();
        self.retire_current();
    }

    /// The connection is unusable (a packet half written, a protocol violation): drop it.
    fn fail_connection(&mut self, now: Instant) {
        if matches!(self.conn, Conn::Open { .. }) {
            self.retire_current();
            self.on_close(now, DisconnectReason::ParseError);
        }
    }

    /// Whether a volatile packet may go out now (the reference's `transport.writable`).
    fn writable(&self) -> bool {
        match &self.conn {
            Conn::Open { slot } => slot.engine.buffered_messages() == 0,
            _ => false,
        }
    }

    /// Encodes and writes one packet on the open engine.
    fn send_packet(&mut self, packet: &Packet) -> Result<(), SendFailure> {
        let parser = self.config.parser;
        let Conn::Open { slot } = &mut self.conn else {
            return Err(SendFailure::Refused);
        };
        match parser {
            ParserKind::Common => {
                let encoded = common::encode(packet, ProtocolVersion::V5);
                slot.engine
                    .send(Data::Text(encoded.text))
                    .map_err(|_| SendFailure::Refused)?;
                for attachment in encoded.attachments {
                    slot.engine
                        .send(Data::Binary(attachment))
                        .map_err(|_| SendFailure::Broken)?;
                }
            }
            #[cfg(feature = "msgpack")]
            ParserKind::Msgpack => {
                let bytes = crate::socket::parser::msgpack::encode(packet);
                slot.engine
                    .send(Data::Binary(bytes))
                    .map_err(|_| SendFailure::Refused)?;
            }
        }
        Ok(())
    }

    /// Sends a packet the protocol requires; a refusal breaks the connection.
    fn send_required(&mut self, now: Instant, packet: &Packet) {
        if self.send_packet(packet).is_err() && matches!(self.conn, Conn::Open { .. }) {
            self.fail_connection(now);
        }
    }

    // ----- internals: packets in -----

    fn on_message(&mut self, now: Instant, data: Data) {
        let parser = self.config.parser;
        let limits = self.config.limits;
        let Some(slot) = self.current_slot_mut() else {
            return;
        };
        let decoded = match parser {
            ParserKind::Common => match data {
                Data::Text(text) => slot.decoder.decode_text(text).map_err(|_| ()),
                Data::Binary(bytes) => slot.decoder.decode_binary(bytes).map_err(|_| ()),
            },
            #[cfg(feature = "msgpack")]
            ParserKind::Msgpack => match data {
                Data::Binary(bytes) => crate::socket::parser::msgpack::decode(&bytes, &limits)
                    .map(Some)
                    .map_err(|_| ()),
                Data::Text(_) => Err(()),
            },
        };
        let _ = limits;
        match decoded {
            Ok(Some(packet)) => self.on_packet(now, packet),
            Ok(None) => {}
            Err(()) => self.fail_connection(now),
        }
    }

    fn on_packet(&mut self, now: Instant, packet: Packet) {
        let Some(index) = self
            .sockets
            .iter()
            .position(|s| s.active && s.nsp == *packet.nsp)
        else {
            return;
        };
        match packet.kind {
            PacketKind::Connect => {
                let value = packet.data.as_ref().and_then(|d| d.to_value().ok());
                let sid = value
                    .as_ref()
                    .and_then(|v| v.get("sid"))
                    .and_then(Value::as_str)
                    .filter(|sid| !sid.is_empty());
                match sid {
                    Some(sid) => {
                        let sid = Str::from(String::from(sid));
                        let pid = value
                            .as_ref()
                            .and_then(|v| v.get("pid"))
                            .and_then(Value::as_str)
                            .map(String::from);
                        self.on_connect(now, index, sid, pid);
                    }
                    None => {
                        let nsp = self.sockets[index].nsp.clone();
                        self.events.push_back(Event::ConnectError {
                            socket: SocketId(index),
                            nsp,
                            message: String::from(V2_SERVER_MESSAGE),
                            data: None,
                            refused: true,
                        });
                    }
                }
            }
            PacketKind::Event => {
                let data = packet
                    .data
                    .unwrap_or(Payload::Value(Value::Array(Vec::new())));
                if self.sockets[index].connected {
                    self.emit_event(index, data, packet.id);
                } else if self.sockets[index].receive_buffer.len() >= self.config.max_receive_buffer
                {
                    self.fail_connection(now);
                } else {
                    self.sockets[index]
                        .receive_buffer
                        .push_back((data, packet.id));
                }
            }
            PacketKind::Ack => {
                let Some(id) = packet.id else {
                    return;
                };
                let Some(pending) = self.sockets[index].acks.remove(&id) else {
                    return;
                };
                let data = packet
                    .data
                    .unwrap_or(Payload::Value(Value::Array(Vec::new())));
                match pending.target {
                    AckTarget::User(handle) => self.events.push_back(Event::Ack {
                        socket: SocketId(index),
                        id: handle,
                        data,
                    }),
                    AckTarget::Queue(seq) => self.queue_result(now, index, seq, Ok(data)),
                }
            }
            PacketKind::Disconnect => {
                self.destroy(now, index);
                self.socket_closed(now, index, DisconnectReason::IoServerDisconnect);
            }
            PacketKind::ConnectError => {
                let value = packet.data.as_ref().and_then(|d| d.to_value().ok());
                let message = value
                    .as_ref()
                    .and_then(|v| v.get("message"))
                    .and_then(Value::as_str)
                    .map(String::from)
                    .unwrap_or_default();
                let data = value.as_ref().and_then(|v| v.get("data")).cloned();
                self.destroy(now, index);
                let nsp = self.sockets[index].nsp.clone();
                self.events.push_back(Event::ConnectError {
                    socket: SocketId(index),
                    nsp,
                    message,
                    data,
                    refused: true,
                });
            }
        }
    }

    /// The server accepted the socket.
    fn on_connect(&mut self, now: Instant, index: usize, sid: Str, pid: Option<String>) {
        let state = &mut self.sockets[index];
        let recovered = pid.is_some() && pid == state.pid;
        state.recovered = recovered;
        state.pid = pid;
        state.sid = Some(sid.clone());
        state.connected = true;
        let received: Vec<_> = state.receive_buffer.drain(..).collect();
        let buffered: Vec<_> = state.send_buffer.drain(..).collect();
        for (data, ack) in received {
            self.emit_event(index, data, ack);
        }
        for packet in buffered {
            if !matches!(self.conn, Conn::Open { .. }) {
                break;
            }
            self.send_required(now, &packet);
        }
        self.drain_queue(now, index, true);
        let nsp = self.sockets[index].nsp.clone();
        self.events.push_back(Event::Connect {
            socket: SocketId(index),
            nsp,
            sid,
            recovered,
        });
    }

    /// Reports a received event and tracks the recovery offset.
    fn emit_event(&mut self, index: usize, data: Payload, ack: Option<u64>) {
        let state = &mut self.sockets[index];
        if state.pid.is_some()
            && ack.is_none()
            && let Ok(Value::Array(items)) = data.to_value()
            && let Some(Value::String(offset)) = items.last()
        {
            state.last_offset = Some(offset.clone());
        }
        self.events.push_back(Event::Event {
            socket: SocketId(index),
            nsp: state.nsp.clone(),
            data,
            ack,
        });
    }

    // ----- internals: sockets -----

    /// Sends the CONNECT packet of socket `index`, with `{pid, offset}` merged into its auth.
    fn send_connect(&mut self, now: Instant, index: usize) {
        let state = &self.sockets[index];
        let data = match (&state.pid, &state.auth) {
            (None, auth) => auth.clone(),
            (Some(pid), auth) => {
                let mut entries = alloc::vec![(String::from("pid"), Value::String(pid.clone()))];
                if let Some(offset) = &state.last_offset {
                    entries.push((String::from("offset"), Value::String(offset.clone())));
                }
                if let Some(Value::Object(auth)) = auth {
                    for (key, value) in auth {
                        match entries.iter_mut().find(|(k, _)| k == key) {
                            Some(entry) => entry.1 = value.clone(),
                            None => entries.push((key.clone(), value.clone())),
                        }
                    }
                }
                Some(Value::Object(entries))
            }
        };
        let mut packet = Packet::new(PacketKind::Connect, state.nsp.as_str().to_owned_cow());
        packet.data = data.map(Payload::Value);
        self.send_required(now, &packet);
    }

    /// Makes socket `index` inactive; closes the manager if no socket is active any more.
    fn destroy(&mut self, _now: Instant, index: usize) {
        self.sockets[index].active = false;
        if !self.sockets.iter().any(|s| s.active) {
            self.close_manager();
        }
    }

    /// Socket `index` left its namespace for `reason`.
    fn socket_closed(&mut self, now: Instant, index: usize, reason: DisconnectReason) {
        let state = &mut self.sockets[index];
        let was_connected = state.connected;
        state.connected = false;
        state.sid = None;
        if was_connected {
            self.events.push_back(Event::Disconnect {
                socket: SocketId(index),
                nsp: state.nsp.clone(),
                reason,
            });
        }
        self.clear_acks(now, index);
    }

    /// Fails the acks of packets already sent: the connection they went on is gone.
    fn clear_acks(&mut self, now: Instant, index: usize) {
        let state = &mut self.sockets[index];
        let sent: Vec<(u64, PendingAck)> = state
            .acks
            .iter()
            .filter(|(id, _)| !state.send_buffer.iter().any(|p| p.id == Some(**id)))
            .map(|(id, ack)| (*id, *ack))
            .collect();
        for (id, _) in &sent {
            state.acks.remove(id);
        }
        for (_, ack) in sent {
            match ack.target {
                AckTarget::User(handle) => self.events.push_back(Event::AckDisconnected {
                    socket: SocketId(index),
                    id: handle,
                }),
                AckTarget::Queue(seq) => {
                    if ack.deadline.is_some() {
                        self.queue_result(now, index, seq, Err(AckFailure::Disconnected));
                    }
                }
            }
        }
    }

    /// Fires the ack deadlines that passed, earliest first.
    fn fire_ack_deadlines(&mut self, now: Instant) {
        let mut due: Vec<(Instant, usize, u64)> = Vec::new();
        for (index, socket) in self.sockets.iter().enumerate() {
            for (id, ack) in &socket.acks {
                if let Some(deadline) = ack.deadline
                    && deadline <= now
                {
                    due.push((deadline, index, *id));
                }
            }
        }
        due.sort_unstable();
        for (_, index, id) in due {
            let state = &mut self.sockets[index];
            let Some(ack) = state.acks.remove(&id) else {
                continue;
            };
            state.send_buffer.retain(|p| p.id != Some(id));
            match ack.target {
                AckTarget::User(handle) => self.events.push_back(Event::AckTimeout {
                    socket: SocketId(index),
                    id: handle,
                }),
                AckTarget::Queue(seq) => {
                    self.queue_result(now, index, seq, Err(AckFailure::Timeout))
                }
            }
        }
    }

    /// The outcome of one try of the retry queue entry `seq`.
    fn queue_result(
        &mut self,
        now: Instant,
        index: usize,
        seq: u64,
        result: Result<Payload, AckFailure>,
    ) {
        let retries = self.config.retries.unwrap_or(0);
        let state = &mut self.sockets[index];
        let Some(head) = state.queue.front_mut() else {
            return;
        };
        if head.seq != seq {
            return;
        }
        let event = match result {
            Err(failure) => {
                if head.tries > retries {
                    let head = state.queue.pop_front();
                    head.and_then(|h| h.handle).map(|id| match failure {
                        AckFailure::Timeout => Event::AckTimeout {
                            socket: SocketId(index),
                            id,
                        },
                        AckFailure::Disconnected => Event::AckDisconnected {
                            socket: SocketId(index),
                            id,
                        },
                    })
                } else {
                    head.pending = false;
                    None
                }
            }
            Ok(data) => {
                let head = state.queue.pop_front();
                head.and_then(|h| h.handle).map(|id| Event::Ack {
                    socket: SocketId(index),
                    id,
                    data,
                })
            }
        };
        if let Some(event) = event {
            self.events.push_back(event);
        }
        self.drain_queue(now, index, false);
    }

    /// Sends the head of the retry queue if it is not in flight (or if `force`).
    fn drain_queue(&mut self, now: Instant, index: usize, force: bool) {
        if !matches!(self.conn, Conn::Open { .. }) {
            return;
        }
        let state = &mut self.sockets[index];
        if !state.connected {
            return;
        }
        let Some(head) = state.queue.front_mut() else {
            return;
        };
        if head.pending && !force {
            return;
        }
        head.pending = true;
        head.tries = head.tries.saturating_add(1);
        let wire_id = state.next_wire_id;
        state.next_wire_id += 1;
        // A forced resend supersedes the try in flight: its ack still counts, its timer not.
        let seq = head.seq;
        for ack in state.acks.values_mut() {
            if ack.target == AckTarget::Queue(seq) {
                ack.deadline = None;
            }
        }
        state.acks.insert(
            wire_id,
            PendingAck {
                target: AckTarget::Queue(seq),
                deadline: head.timeout.map(|t| now + t),
            },
        );
        let packet =
            Packet::event(state.nsp.as_str().to_owned_cow(), head.data.clone()).with_id(wire_id);
        self.send_required(now, &packet);
    }
}

/// Why a packet could not be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SendFailure {
    /// Nothing was written (engine not open or its buffer full).
    Refused,
    /// Part of a binary packet was written: the connection is unusable.
    Broken,
}

/// Puts the connection's number into the request ids of an engine transmit.
fn map_transmit(generation: u64, transmit: Transmit) -> Transmit {
    let map = |id: RequestId| RequestId((generation << GENERATION_SHIFT) | id.0);
    match transmit {
        Transmit::Http {
            id,
            method,
            path_and_query,
            body,
            content_type,
        } => Transmit::Http {
            id: map(id),
            method,
            path_and_query,
            body,
            content_type,
        },
        Transmit::OpenWebSocket { id, path_and_query } => Transmit::OpenWebSocket {
            id: map(id),
            path_and_query,
        },
        Transmit::WsFrame { id, frame } => Transmit::WsFrame { id: map(id), frame },
        Transmit::CloseWebSocket { id } => Transmit::CloseWebSocket { id: map(id) },
    }
}

/// Checks that `data` is an event: a non-empty array led by a non-reserved string or number.
fn check_event(data: &Payload, limits: &Limits) -> Result<(), EmitError> {
    match data {
        Payload::Value(Value::Array(items)) => match items.first() {
            Some(Value::String(name)) if RESERVED_EVENTS.contains(&name.as_str()) => {
                Err(EmitError::ReservedEvent)
            }
            Some(Value::String(_) | Value::Number(_)) => Ok(()),
            _ => Err(EmitError::InvalidEvent),
        },
        Payload::Value(_) => Err(EmitError::InvalidEvent),
        Payload::Json(text) => match json::validate_event(text.as_bytes(), limits.max_depth) {
            Ok(EventHead::Name(name)) if RESERVED_EVENTS.contains(&&*name) => {
                Err(EmitError::ReservedEvent)
            }
            Ok(EventHead::Name(_) | EventHead::Number(_)) => Ok(()),
            _ => Err(EmitError::InvalidEvent),
        },
        #[cfg(feature = "msgpack")]
        Payload::Msgpack(data) => match data.event_reserved() {
            Some(true) => Err(EmitError::ReservedEvent),
            Some(false) => Ok(()),
            None => Err(EmitError::InvalidEvent),
        },
    }
}

/// Whether `data` is an array (ack arguments).
fn is_array(data: &Payload) -> bool {
    match data {
        Payload::Value(value) => matches!(value, Value::Array(_)),
        Payload::Json(text) => text.as_bytes().first() == Some(&b'['),
        #[cfg(feature = "msgpack")]
        Payload::Msgpack(data) => data.is_array(),
    }
}

/// A namespace as the packet model's `Cow`.
trait ToOwnedCow {
    fn to_owned_cow(&self) -> alloc::borrow::Cow<'static, str>;
}

impl ToOwnedCow for str {
    fn to_owned_cow(&self) -> alloc::borrow::Cow<'static, str> {
        if self == "/" {
            alloc::borrow::Cow::Borrowed("/")
        } else {
            alloc::borrow::Cow::Owned(String::from(self))
        }
    }
}
