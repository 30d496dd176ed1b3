//! The sans-IO Socket.IO server side of one connection (one Engine.IO session).
//!
//! A [`ServerConnection`] sits on top of one engine session's messages. It decodes packets
//! (common JSON parser with binary reassembly, or msgpack), tracks the namespaces the client
//! joined (one socket per namespace), asks the application for a verdict on every namespace
//! connection request, keeps the ack bookkeeping, and closes the connection on any protocol
//! violation.
//!
//! Run loop (one per engine session; the driver owns the clock and the transport):
//!
//! - inputs: [`handle_message`](ServerConnection::handle_message) for every engine message
//!   (text or binary), [`handle_engine_closed`](ServerConnection::handle_engine_closed) when
//!   the engine session ends, [`handle_timeout`](ServerConnection::handle_timeout) when
//!   [`poll_timeout`](ServerConnection::poll_timeout) is due;
//! - commands: [`accept_connect`](ServerConnection::accept_connect),
//!   [`accept_recovered`](ServerConnection::accept_recovered),
//!   [`refuse_connect`](ServerConnection::refuse_connect),
//!   [`refuse_namespace`](ServerConnection::refuse_namespace) (the verdicts on an
//!   [`Event::ConnectRequest`]), [`emit`](ServerConnection::emit),
//!   [`emit_with_ack`](ServerConnection::emit_with_ack),
//!   [`emit_with_ack_id`](ServerConnection::emit_with_ack_id),
//!   [`expect_ack`](ServerConnection::expect_ack) +
//!   [`send_encoded`](ServerConnection::send_encoded) (a broadcast encoded once),
//!   [`ack`](ServerConnection::ack), [`disconnect`](ServerConnection::disconnect),
//!   [`close`](ServerConnection::close), [`shutdown`](ServerConnection::shutdown);
//! - outputs, drained after every input and command, in this order:
//!   [`poll_transmit`](ServerConnection::poll_transmit) (engine message payloads to pass to
//!   the engine's `send`, which adds the engine `4` type, in order: a
//!   packet's text header, then its attachments), [`poll_event`](ServerConnection::poll_event),
//!   [`poll_timeout`](ServerConnection::poll_timeout).
//!
//! When [`Event::CloseConnection`] comes out, write what `poll_transmit` gave first, then close
//! the engine session; the connection takes no more input.
//!
//! Memory: every peer message yields at most a few events and replies, drained by the caller
//! after each input; received ack ids waiting for an answer are capped per socket
//! ([`Config::max_awaited_acks`]); the decoders enforce [`Limits`]. Acks still pending when a
//! socket leaves are reported as [`Event::AckCancelled`] (the reference keeps their timers
//! running instead and reports a timeout later).
//!
//! Namespaces: with [`NamespacePolicy::Only`] a CONNECT to a namespace outside the list is
//! answered `44/random,{"message":"Invalid namespace"}` at once and the connection is kept;
//! with [`NamespacePolicy::Any`] every request reaches the application, which answers
//! [`refuse_namespace`](ServerConnection::refuse_namespace) for the ones it does not serve (the
//! dynamic-namespace hook). `/` is always known.
//!
//! Ack ids: the reference server takes them from a counter on the *namespace*, shared by all
//! its sockets. This machine keeps one counter per namespace of this connection (starting at
//! 0) for [`emit_with_ack`](ServerConnection::emit_with_ack); a driver that wants the
//! reference's namespace-wide numbering (needed for broadcasts with an ack, which send one id
//! to every recipient) allocates ids itself and uses
//! [`emit_with_ack_id`](ServerConnection::emit_with_ack_id) /
//! [`expect_ack`](ServerConnection::expect_ack).
//!
//! Violations (each closes with [`DisconnectReason::ParseError`]): an undecodable packet
//! (including everything the parsers refuse), a packet other than CONNECT for a namespace not
//! joined (or whose CONNECT is still waiting for the verdict), a CONNECT for a namespace
//! already joined or pending, a CONNECT_ERROR from the client, a text message under the msgpack
//! parser. An ACK with an unknown id is not a violation: it is ignored.
//!
//! ```
//! use socketio_protocol::engine::{Data, ProtocolVersion as EngineVersion};
//! use socketio_protocol::socket::server::{Config, Event, ServerConnection};
//! use socketio_protocol::{Instant, Str};
//!
//! let config = Config::default();
//! let mut conn =
//!     ServerConnection::new(Instant::ZERO, &config, Str::from("engine-sid"), EngineVersion::V4, || [0; 15]);
//! // Engine message `40` on the wire: the engine strips its `4`, the packet is `0`.
//! conn.handle_message(Instant::ZERO, Data::from("0"));
//! while let Some(event) = conn.poll_event() {
//!     if let Event::ConnectRequest { nsp, .. } = event {
//!         conn.accept_connect(&nsp).unwrap();
//!     }
//! }
//! // Sent as an engine message: `40{"sid":…}` on the wire.
//! assert_eq!(conn.poll_transmit(), Some(Data::from("0{\"sid\":\"AAAAAAAAAAAAAAAAAAAA\"}")));
//! assert_eq!(conn.poll_timeout(), None); // joined: no connect timeout any more
//! ```

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::string::String;
use alloc::vec::Vec;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE;
use core::fmt;
use core::time::Duration;

use crate::engine::{self, Data};
use crate::json;
use crate::socket::parser::common::{self, DecodeError, Decoder};
#[cfg(feature = "msgpack")]
use crate::socket::parser::msgpack::{self, KeyOrder, MsgpackError};
use crate::socket::{
    DisconnectReason, Limits, Packet, PacketKind, Payload, ProtocolVersion, RESERVED_EVENTS,
};
use crate::value::Value;
use crate::vecmap::VecMap;
use crate::{Instant, Str};

/// Which Socket.IO parser the connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Parser {
    /// `socket.io-parser`: text packets, binary as separate attachments.
    #[default]
    Common,
    /// `socket.io-msgpack-parser`: one binary message per packet.
    #[cfg(feature = "msgpack")]
    Msgpack,
}

/// Which namespaces exist.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum NamespacePolicy {
    /// Every CONNECT reaches the application as an [`Event::ConnectRequest`] (dynamic
    /// namespaces: the application answers [`ServerConnection::refuse_namespace`] to unknown
    /// ones).
    #[default]
    Any,
    /// Only these namespaces (and `/`) exist; others are refused with `Invalid namespace`.
    Only(BTreeSet<String>),
}

impl NamespacePolicy {
    /// A static list of namespaces.
    pub fn only<I: IntoIterator<Item = S>, S: Into<String>>(names: I) -> Self {
        NamespacePolicy::Only(names.into_iter().map(Into::into).collect())
    }

    fn knows(&self, nsp: &str) -> bool {
        match self {
            NamespacePolicy::Any => true,
            NamespacePolicy::Only(names) => nsp == "/" || names.contains(nsp),
        }
    }
}

/// Options shared by every connection of a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The parser (default: the common JSON parser).
    pub parser: Parser,
    /// Which namespaces exist (default: the application decides each request).
    pub namespaces: NamespacePolicy,
    /// How long a client may stay without joining a namespace (default 45 s).
    pub connect_timeout: Duration,
    /// Connection state recovery: CONNECT replies carry a `pid`, requests surface `pid`/`offset`.
    pub recovery: bool,
    /// Decoder bounds.
    pub limits: Limits,
    /// Most received ack ids per socket waiting for the application's answer; beyond it the
    /// oldest (smallest) id is forgotten.
    pub max_awaited_acks: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            parser: Parser::Common,
            namespaces: NamespacePolicy::Any,
            connect_timeout: Duration::from_millis(45_000),
            recovery: false,
            limits: Limits::DEFAULT,
            max_awaited_acks: 1024,
        }
    }
}

/// A client's request to recover a previous session (`pid` and `offset` in its CONNECT auth).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryRequest {
    /// The private session id the client got in its last CONNECT reply.
    pub pid: String,
    /// The offset of the last event it saw.
    pub offset: String,
}

/// A previous session to restore, found by the application in its recovery store.
#[derive(Debug, Clone, PartialEq)]
pub struct RestoredSession {
    /// The socket id to reuse.
    pub sid: Str,
    /// The private session id to reuse.
    pub pid: Str,
    /// The events the client missed (`[name, ...args, offset]` arrays), sent before the reply.
    pub missed: Vec<Payload>,
}

/// Why the connection closed itself: the peer broke the protocol.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Violation {
    /// The common parser refused a message.
    Decode(DecodeError),
    /// The msgpack parser refused a message.
    #[cfg(feature = "msgpack")]
    Msgpack(MsgpackError),
    /// A text message arrived while the msgpack parser is in use.
    TextWithMsgpack,
    /// A packet (not CONNECT) for a namespace the client has not joined.
    NotJoined {
        /// The namespace.
        nsp: String,
        /// The packet's kind.
        kind: PacketKind,
    },
    /// A CONNECT for a namespace already joined or waiting for a verdict.
    DuplicateConnect {
        /// The namespace.
        nsp: String,
    },
    /// The client sent CONNECT_ERROR, which only servers send.
    ClientConnectError {
        /// The namespace.
        nsp: String,
    },
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::Decode(e) => write!(f, "{e}"),
            #[cfg(feature = "msgpack")]
            Violation::Msgpack(e) => write!(f, "{e}"),
            Violation::TextWithMsgpack => f.write_str("text message with the msgpack parser"),
            Violation::NotJoined { nsp, kind } => {
                write!(f, "{kind:?} packet for namespace {nsp} not joined")
            }
            Violation::DuplicateConnect { nsp } => write!(f, "duplicate CONNECT for {nsp}"),
            Violation::ClientConnectError { nsp } => {
                write!(f, "CONNECT_ERROR from the client for {nsp}")
            }
        }
    }
}

/// Something the application should know, drained with [`ServerConnection::poll_event`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// The client asks to join `nsp`: answer with [`ServerConnection::accept_connect`],
    /// [`ServerConnection::accept_recovered`], [`ServerConnection::refuse_connect`] or
    /// [`ServerConnection::refuse_namespace`] (the middleware / dynamic-namespace hook).
    ConnectRequest {
        /// The namespace, without any v4 query string.
        nsp: String,
        /// The auth object: v5 the CONNECT data (if any); v4 the query string as an object.
        auth: Option<Payload>,
        /// `pid` and `offset` from the auth, when recovery is on and both are strings.
        recovery: Option<RecoveryRequest>,
    },
    /// A socket joined its namespace (after an accept).
    Connected {
        /// The namespace.
        nsp: String,
        /// The socket id.
        sid: Str,
        /// The private session id (recovery on).
        pid: Option<Str>,
        /// True if a previous session was restored.
        recovered: bool,
    },
    /// An event from the client.
    Message {
        /// The socket.
        sid: Str,
        /// The namespace.
        nsp: String,
        /// The `[name, ...args]` array.
        data: Payload,
        /// The ack id to answer with [`ServerConnection::ack`], if the client wants one.
        ack: Option<u64>,
    },
    /// The client answered one of our emits.
    AckReceived {
        /// The socket.
        sid: Str,
        /// The ack id.
        id: u64,
        /// The answer's arguments (an array).
        data: Payload,
    },
    /// An ack deadline passed without an answer.
    AckTimedOut {
        /// The socket.
        sid: Str,
        /// The ack id.
        id: u64,
    },
    /// The socket left before answering: the ack will never come.
    AckCancelled {
        /// The socket.
        sid: Str,
        /// The ack id.
        id: u64,
    },
    /// A socket left its namespace.
    Disconnected {
        /// The socket.
        sid: Str,
        /// The namespace.
        nsp: String,
        /// Why.
        reason: DisconnectReason,
    },
    /// Close the engine session (after writing what `poll_transmit` gives).
    CloseConnection {
        /// Why (`parse error` for a violation).
        reason: DisconnectReason,
        /// The violation, if that is the cause.
        violation: Option<Violation>,
    },
}

/// API misuse (never caused by the peer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// The connection is closed.
    Closed,
    /// No CONNECT for this namespace waits for a verdict.
    NoPendingConnect,
    /// No socket with this id is connected here.
    UnknownSocket,
    /// This ack id is not waiting for an answer (never received, or already answered).
    AckNotAwaited,
    /// This ack id is already waiting for an answer on this socket.
    AckIdInUse,
    /// Event data must be a non-empty array led by a string (not a reserved name) or number.
    InvalidEvent,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::Closed => "socket.io connection is closed",
            Error::NoPendingConnect => "no connect request waits for a verdict on this namespace",
            Error::UnknownSocket => "no such socket on this connection",
            Error::AckNotAwaited => "ack id not awaited (unknown or already answered)",
            Error::AckIdInUse => "ack id already in use on this socket",
            Error::InvalidEvent => "invalid event data",
        })
    }
}

impl core::error::Error for Error {}

/// One joined namespace.
#[derive(Debug)]
struct Socket {
    sid: Str,
    next_ack_id: u64,
    /// Our emits waiting for the client's ACK, with their deadline.
    pending: BTreeMap<u64, Option<Instant>>,
    /// The client's ack ids waiting for the application's answer.
    awaited: BTreeSet<u64>,
}

#[derive(Debug)]
enum NspState {
    /// CONNECT received, verdict pending.
    Pending,
    /// Joined.
    Joined(Socket),
}

/// The Socket.IO server state of one engine session.
pub struct ServerConnection {
    version: ProtocolVersion,
    parser: Parser,
    namespaces: NamespacePolicy,
    recovery: bool,
    limits: Limits,
    max_awaited_acks: usize,
    engine_sid: Str,
    ids: Box<dyn FnMut() -> [u8; 15] + Send>,
    decoder: Decoder,
    nsps: VecMap<String, NspState>,
    /// Ack deadlines: (deadline, namespace, id).
    timers: BTreeSet<(Instant, String, u64)>,
    connect_deadline: Option<Instant>,
    closed: bool,
    transmits: VecDeque<Data>,
    events: VecDeque<Event>,
}

impl fmt::Debug for ServerConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerConnection")
            .field("version", &self.version)
            .field("engine_sid", &self.engine_sid)
            .field("nsps", &self.nsps)
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

impl ServerConnection {
    /// The Socket.IO side of a just-opened engine session `engine_sid` of revision `engine`
    /// (v3 → Socket.IO v4, v4 → v5); `ids` yields 15 random bytes per socket id / pid.
    ///
    /// Socket.IO v4 clients are connected to `/` implicitly: a [`Event::ConnectRequest`] for
    /// `/` is queued at once.
    pub fn new(
        now: Instant,
        config: &Config,
        engine_sid: Str,
        engine: engine::ProtocolVersion,
        ids: impl FnMut() -> [u8; 15] + Send + 'static,
    ) -> Self {
        let version = match engine {
            engine::ProtocolVersion::V3 => ProtocolVersion::V4,
            engine::ProtocolVersion::V4 => ProtocolVersion::V5,
        };
        let mut conn = ServerConnection {
            version,
            parser: config.parser,
            namespaces: config.namespaces.clone(),
            recovery: config.recovery,
            limits: config.limits,
            max_awaited_acks: config.max_awaited_acks.max(1),
            engine_sid,
            ids: Box::new(ids),
            decoder: Decoder::new(version, config.limits),
            nsps: VecMap::default(),
            timers: BTreeSet::new(),
            connect_deadline: Some(now + config.connect_timeout),
            closed: false,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        };
        if version == ProtocolVersion::V4 {
            conn.nsps.insert(String::from("/"), NspState::Pending);
            conn.events.push_back(Event::ConnectRequest {
                nsp: String::from("/"),
                auth: Some(Payload::Value(Value::Object(Vec::new()))),
                recovery: None,
            });
        }
        conn
    }

    /// The Socket.IO protocol revision of this connection.
    pub fn version(&self) -> ProtocolVersion {
        self.version
    }

    /// True once the connection closed (no more input is taken).
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// The socket id joined to `nsp`, if any.
    pub fn socket_of(&self, nsp: &str) -> Option<&Str> {
        match self.nsps.get(nsp) {
            Some(NspState::Joined(socket)) => Some(&socket.sid),
            _ => None,
        }
    }

    /// The namespaces joined, with their socket ids.
    pub fn sockets(&self) -> impl Iterator<Item = (&str, &Str)> {
        self.nsps.iter().filter_map(|(nsp, state)| match state {
            NspState::Joined(socket) => Some((nsp.as_str(), &socket.sid)),
            NspState::Pending => None,
        })
    }

    // -----------------------------------------------------------------------------------------
    // Inputs
    // -----------------------------------------------------------------------------------------

    /// One engine message from the client.
    pub fn handle_message(&mut self, now: Instant, data: Data) {
        let _ = now;
        if self.closed {
            return;
        }
        let decoded = match self.parser {
            Parser::Common => match data {
                Data::Text(text) => self.decoder.decode_text(text),
                Data::Binary(bytes) => self.decoder.decode_binary(bytes),
            }
            .map_err(Violation::Decode),
            #[cfg(feature = "msgpack")]
            Parser::Msgpack => match data {
                Data::Text(_) => Err(Violation::TextWithMsgpack),
                Data::Binary(bytes) => msgpack::decode(&bytes, &self.limits)
                    .map(Some)
                    .map_err(Violation::Msgpack),
            },
        };
        match decoded {
            Ok(Some(packet)) => self.on_packet(packet),
            Ok(None) => {}
            // The reference reads the id as a JS number and finds no ack under it: the packet
            // is ignored, the connection stays.
            Err(Violation::Decode(DecodeError::AckIdOverflow)) => {}
            Err(violation) => self.violate(violation),
        }
    }

    /// The engine session closed (`reason` from the engine): every socket disconnects.
    pub fn handle_engine_closed(&mut self, now: Instant, reason: engine::CloseReason) {
        let _ = now;
        if self.closed {
            return;
        }
        self.close_all(DisconnectReason::from(reason), false);
    }

    /// Runs the timers due at `now`: ack deadlines, then the connect timeout.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.closed {
            return;
        }
        while let Some(first) = self.timers.first() {
            if first.0 > now {
                break;
            }
            let Some((_, nsp, id)) = self.timers.pop_first() else {
                break;
            };
            if let Some(NspState::Joined(socket)) = self.nsps.get_mut(&nsp)
                && socket.pending.remove(&id).is_some()
            {
                self.events.push_back(Event::AckTimedOut {
                    sid: socket.sid.clone(),
                    id,
                });
            }
        }
        if let Some(deadline) = self.connect_deadline
            && now >= deadline
        {
            self.connect_deadline = None;
            if !self.nsps.values().any(|s| matches!(s, NspState::Joined(_))) {
                self.close_all(DisconnectReason::ForcedServerClose, true);
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // Outputs
    // -----------------------------------------------------------------------------------------

    /// The next engine message to send, in order.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Data> {
        crate::pop_or_release(&mut self.transmits)
    }

    /// Whether engine messages wait to be polled. A caller that writes encoded messages to
    /// the engine itself (a broadcast, bypassing [`send_encoded`](Self::send_encoded)) must
    /// drain these first to keep the order.
    pub fn has_transmits(&self) -> bool {
        !self.transmits.is_empty()
    }

    /// The next event for the application.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        crate::pop_or_release(&mut self.events)
    }

    /// When [`handle_timeout`](Self::handle_timeout) must run next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.closed {
            return None;
        }
        let ack = self.timers.first().map(|t| t.0);
        match (ack, self.connect_deadline) {
            (Some(a), Some(c)) => Some(a.min(c)),
            (a, c) => a.or(c),
        }
    }

    // -----------------------------------------------------------------------------------------
    // Commands: verdicts on connect requests
    // -----------------------------------------------------------------------------------------

    /// Accepts the pending CONNECT for `nsp` with a new socket id; returns it.
    ///
    /// v5: replies `40{"sid":…}` (`"pid"` added with recovery); v4: `0` / `0/admin,`, the
    /// socket id being the engine sid (for `/`) or `<nsp>#<engine sid>`.
    pub fn accept_connect(&mut self, nsp: &str) -> Result<Str, Error> {
        self.check_pending(nsp)?;
        let sid = match self.version {
            ProtocolVersion::V4 if nsp == "/" => self.engine_sid.clone(),
            ProtocolVersion::V4 => {
                let mut sid = String::with_capacity(nsp.len() + 1 + self.engine_sid.len());
                sid.push_str(nsp);
                sid.push('#');
                sid.push_str(&self.engine_sid);
                Str::from(sid)
            }
            _ => self.new_id(),
        };
        let pid = self.recovery.then(|| self.new_id());
        self.join(nsp, sid.clone(), pid, false);
        Ok(sid)
    }

    /// Accepts the pending CONNECT for `nsp` by restoring `session`: its missed events are sent
    /// first, then the CONNECT reply with the old socket id and pid.
    pub fn accept_recovered(&mut self, nsp: &str, session: RestoredSession) -> Result<Str, Error> {
        self.check_pending(nsp)?;
        for data in session.missed {
            let packet = Packet::event(Cow::Owned(String::from(nsp)), data);
            self.send_packet(&packet);
        }
        let sid = session.sid.clone();
        self.join(nsp, session.sid, Some(session.pid), true);
        Ok(sid)
    }

    /// Refuses the pending CONNECT for `nsp` (a middleware error): v5
    /// `44{"message":…,"data":…}` (`data` left out when `None`); v4 `44"…"` carrying `data`
    /// if truthy, else `message`. The connection is kept.
    pub fn refuse_connect(
        &mut self,
        nsp: &str,
        message: &str,
        data: Option<Value>,
    ) -> Result<(), Error> {
        self.check_pending(nsp)?;
        self.nsps.remove(nsp);
        let payload = match self.version {
            ProtocolVersion::V4 => match data {
                Some(data) if truthy(&data) => data,
                _ => Value::from(message),
            },
            _ => {
                let mut entries = Vec::with_capacity(2);
                entries.push((String::from("message"), Value::from(message)));
                if let Some(data) = data {
                    entries.push((String::from("data"), data));
                }
                Value::Object(entries)
            }
        };
        self.send_connect_error(nsp, payload);
        Ok(())
    }

    /// Refuses the pending CONNECT for `nsp` as an unknown namespace:
    /// `44/nsp,{"message":"Invalid namespace"}`. The connection is kept.
    pub fn refuse_namespace(&mut self, nsp: &str) -> Result<(), Error> {
        self.check_pending(nsp)?;
        self.nsps.remove(nsp);
        self.send_invalid_namespace(nsp);
        Ok(())
    }

    // -----------------------------------------------------------------------------------------
    // Commands: events and acks
    // -----------------------------------------------------------------------------------------

    /// Emits an event (`[name, ...args]`) to socket `sid`, without ack.
    pub fn emit(&mut self, sid: &str, data: impl Into<Payload>) -> Result<(), Error> {
        let data = data.into();
        check_event(&data, &self.limits)?;
        let nsp = self.nsp_of(sid)?;
        let packet = Packet::event(Cow::Owned(nsp), data);
        self.send_packet(&packet);
        Ok(())
    }

    /// Emits an event expecting an ack, with an id from this namespace's counter; the answer
    /// comes as [`Event::AckReceived`], or [`Event::AckTimedOut`] at `deadline` (if any).
    pub fn emit_with_ack(
        &mut self,
        sid: &str,
        data: impl Into<Payload>,
        deadline: Option<Instant>,
    ) -> Result<u64, Error> {
        let data = data.into();
        check_event(&data, &self.limits)?;
        let nsp = self.nsp_of(sid)?;
        let id = match self.nsps.get_mut(&nsp) {
            Some(NspState::Joined(socket)) => {
                // Skip ids still in use (after a wrap, or taken by `emit_with_ack_id`).
                let mut id = socket.next_ack_id;
                while socket.pending.contains_key(&id) {
                    id = id.wrapping_add(1);
                }
                socket.next_ack_id = id.wrapping_add(1);
                id
            }
            _ => return Err(Error::UnknownSocket),
        };
        self.register_ack(&nsp, id, deadline);
        let packet = Packet::event(Cow::Owned(nsp), data).with_id(id);
        self.send_packet(&packet);
        Ok(id)
    }

    /// Emits an event expecting an ack under an id the caller chose (a namespace-wide counter,
    /// or a broadcast's shared id).
    pub fn emit_with_ack_id(
        &mut self,
        sid: &str,
        id: u64,
        data: impl Into<Payload>,
        deadline: Option<Instant>,
    ) -> Result<(), Error> {
        let data = data.into();
        check_event(&data, &self.limits)?;
        self.expect_ack(sid, id, deadline)?;
        let nsp = self.nsp_of(sid)?;
        let packet = Packet::event(Cow::Owned(nsp), data).with_id(id);
        self.send_packet(&packet);
        Ok(())
    }

    /// Registers ack `id` on socket `sid` for an event the caller sends itself (a pre-encoded
    /// broadcast frame passed to [`send_encoded`](Self::send_encoded)).
    pub fn expect_ack(
        &mut self,
        sid: &str,
        id: u64,
        deadline: Option<Instant>,
    ) -> Result<(), Error> {
        let nsp = self.nsp_of(sid)?;
        if let Some(NspState::Joined(socket)) = self.nsps.get(&nsp)
            && socket.pending.contains_key(&id)
        {
            return Err(Error::AckIdInUse);
        }
        self.register_ack(&nsp, id, deadline);
        Ok(())
    }

    /// Queues engine messages encoded elsewhere (a broadcast encoded once), as they are.
    pub fn send_encoded(&mut self, messages: impl IntoIterator<Item = Data>) -> Result<(), Error> {
        if self.closed {
            return Err(Error::Closed);
        }
        self.transmits.extend(messages);
        Ok(())
    }

    /// Answers the client's event `id` on socket `sid` with `data` (an array of arguments).
    /// Each id is answered once; a second answer is [`Error::AckNotAwaited`].
    pub fn ack(&mut self, sid: &str, id: u64, data: impl Into<Payload>) -> Result<(), Error> {
        let nsp = self.nsp_of(sid)?;
        match self.nsps.get_mut(&nsp) {
            Some(NspState::Joined(socket)) => {
                if !socket.awaited.remove(&id) {
                    return Err(Error::AckNotAwaited);
                }
            }
            _ => return Err(Error::UnknownSocket),
        }
        let packet = Packet::ack(Cow::Owned(nsp), id, data);
        self.send_packet(&packet);
        Ok(())
    }

    // -----------------------------------------------------------------------------------------
    // Commands: leaving
    // -----------------------------------------------------------------------------------------

    /// Disconnects socket `sid` from its namespace: sends DISCONNECT, reports
    /// `server namespace disconnect`. The connection stays open.
    pub fn disconnect(&mut self, sid: &str) -> Result<(), Error> {
        let nsp = self.nsp_of(sid)?;
        self.send_packet(&Packet::new(
            PacketKind::Disconnect,
            Cow::Owned(nsp.clone()),
        ));
        self.leave(&nsp, DisconnectReason::ServerNamespaceDisconnect);
        Ok(())
    }

    /// Disconnects every socket (DISCONNECT each, `server namespace disconnect`) and closes the
    /// connection (`forced server close`), as the reference `socket.disconnect(true)`.
    pub fn close(&mut self) -> Result<(), Error> {
        if self.closed {
            return Err(Error::Closed);
        }
        let joined: Vec<String> = self.joined_nsps();
        for nsp in joined {
            self.send_packet(&Packet::new(
                PacketKind::Disconnect,
                Cow::Owned(nsp.clone()),
            ));
            self.leave(&nsp, DisconnectReason::ServerNamespaceDisconnect);
        }
        self.close_all(DisconnectReason::ForcedServerClose, true);
        Ok(())
    }

    /// Closes the connection as the server shuts down: sockets report `server shutting down`
    /// (a recoverable reason), no DISCONNECT is sent.
    pub fn shutdown(&mut self) -> Result<(), Error> {
        if self.closed {
            return Err(Error::Closed);
        }
        self.close_all(DisconnectReason::ServerShuttingDown, true);
        Ok(())
    }

    /// As [`shutdown`](Self::shutdown), but the engine session is left to the caller to
    /// close (no [`Event::CloseConnection`]): a draining server first makes sure the
    /// sockets' sessions are stored where another node can restore them.
    pub fn shutdown_keeping_transport(&mut self) -> Result<(), Error> {
        if self.closed {
            return Err(Error::Closed);
        }
        self.close_all(DisconnectReason::ServerShuttingDown, false);
        Ok(())
    }

    // -----------------------------------------------------------------------------------------
    // Internals
    // -----------------------------------------------------------------------------------------

    fn on_packet(&mut self, packet: Packet) {
        let Packet {
            kind,
            nsp: raw_nsp,
            id,
            data,
        } = packet;
        // v4 clients put the auth query in the namespace; the reference parses every packet's.
        let (nsp, query) = match self.version {
            ProtocolVersion::V4 => split_query(&raw_nsp),
            _ => (&*raw_nsp, None),
        };
        let joined = matches!(self.nsps.get(nsp), Some(NspState::Joined(_)));
        match kind {
            PacketKind::Connect => {
                if self.nsps.contains_key(nsp) {
                    let nsp = String::from(nsp);
                    return self.violate(Violation::DuplicateConnect { nsp });
                }
                if !self.namespaces.knows(nsp) {
                    self.send_invalid_namespace(nsp);
                    return;
                }
                let auth = match self.version {
                    ProtocolVersion::V4 => Some(Payload::Value(parse_query(query.unwrap_or("")))),
                    _ => data,
                };
                let recovery = if self.recovery {
                    auth.as_ref().and_then(recovery_request)
                } else {
                    None
                };
                let nsp = String::from(nsp);
                self.nsps.insert(nsp.clone(), NspState::Pending);
                self.events.push_back(Event::ConnectRequest {
                    nsp,
                    auth,
                    recovery,
                });
            }
            PacketKind::ConnectError => {
                let nsp = String::from(nsp);
                self.violate(Violation::ClientConnectError { nsp });
            }
            _ if !joined => {
                let nsp = String::from(nsp);
                self.violate(Violation::NotJoined { nsp, kind });
            }
            PacketKind::Disconnect => {
                let nsp = String::from(nsp);
                self.leave(&nsp, DisconnectReason::ClientNamespaceDisconnect);
            }
            PacketKind::Event => {
                let max = self.max_awaited_acks;
                let Some(NspState::Joined(socket)) = self.nsps.get_mut(nsp) else {
                    return;
                };
                if let Some(id) = id {
                    socket.awaited.insert(id);
                    while socket.awaited.len() > max {
                        socket.awaited.pop_first();
                    }
                }
                let sid = socket.sid.clone();
                self.events.push_back(Event::Message {
                    sid,
                    nsp: String::from(nsp),
                    data: data.unwrap_or(Payload::Value(Value::Array(Vec::new()))),
                    ack: id,
                });
            }
            PacketKind::Ack => {
                let Some(NspState::Joined(socket)) = self.nsps.get_mut(nsp) else {
                    return;
                };
                let Some(id) = id else { return };
                // Unknown ack ids are ignored, as the reference does.
                if let Some(deadline) = socket.pending.remove(&id) {
                    let sid = socket.sid.clone();
                    if let Some(deadline) = deadline {
                        self.timers.remove(&(deadline, String::from(nsp), id));
                    }
                    self.events.push_back(Event::AckReceived {
                        sid,
                        id,
                        data: data.unwrap_or(Payload::Value(Value::Array(Vec::new()))),
                    });
                }
            }
        }
    }

    fn check_pending(&self, nsp: &str) -> Result<(), Error> {
        if self.closed {
            return Err(Error::Closed);
        }
        match self.nsps.get(nsp) {
            Some(NspState::Pending) => Ok(()),
            _ => Err(Error::NoPendingConnect),
        }
    }

    fn join(&mut self, nsp: &str, sid: Str, pid: Option<Str>, recovered: bool) {
        self.nsps.insert(
            String::from(nsp),
            NspState::Joined(Socket {
                sid: sid.clone(),
                next_ack_id: 0,
                pending: BTreeMap::new(),
                awaited: BTreeSet::new(),
            }),
        );
        self.connect_deadline = None;
        let mut reply = Packet::new(PacketKind::Connect, Cow::Owned(String::from(nsp)));
        if self.version != ProtocolVersion::V4 {
            let mut entries = Vec::with_capacity(2);
            entries.push((String::from("sid"), Value::from(sid.as_str())));
            if let Some(pid) = &pid {
                entries.push((String::from("pid"), Value::from(pid.as_str())));
            }
            reply.data = Some(Payload::Value(Value::Object(entries)));
        }
        self.send_packet(&reply);
        self.events.push_back(Event::Connected {
            nsp: String::from(nsp),
            sid,
            pid,
            recovered,
        });
    }

    /// Removes the socket on `nsp`, cancelling its acks, and reports `reason`.
    fn leave(&mut self, nsp: &str, reason: DisconnectReason) {
        let Some(NspState::Joined(socket)) = self.nsps.remove(nsp) else {
            return;
        };
        self.events.push_back(Event::Disconnected {
            sid: socket.sid.clone(),
            nsp: String::from(nsp),
            reason,
        });
        for (id, deadline) in socket.pending {
            if let Some(deadline) = deadline {
                self.timers.remove(&(deadline, String::from(nsp), id));
            }
            self.events.push_back(Event::AckCancelled {
                sid: socket.sid.clone(),
                id,
            });
        }
    }

    fn joined_nsps(&self) -> Vec<String> {
        self.nsps
            .iter()
            .filter(|(_, s)| matches!(s, NspState::Joined(_)))
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// Every socket leaves with `reason`; the connection is closed (and the driver told to
    /// close the engine session if `tell`).
    fn close_all(&mut self, reason: DisconnectReason, tell: bool) {
        for nsp in self.joined_nsps() {
            self.leave(&nsp, reason);
        }
        self.nsps.clear();
        self.timers.clear();
        self.connect_deadline = None;
        self.closed = true;
        if tell {
            self.events.push_back(Event::CloseConnection {
                reason,
                violation: None,
            });
        }
    }

    fn violate(&mut self, violation: Violation) {
        self.close_all(DisconnectReason::ParseError, false);
        self.events.push_back(Event::CloseConnection {
            reason: DisconnectReason::ParseError,
            violation: Some(violation),
        });
    }

    fn nsp_of(&self, sid: &str) -> Result<String, Error> {
        if self.closed {
            return Err(Error::Closed);
        }
        self.nsps
            .iter()
            .find_map(|(nsp, state)| match state {
                NspState::Joined(socket) if socket.sid.as_str() == sid => Some(nsp.clone()),
                _ => None,
            })
            .ok_or(Error::UnknownSocket)
    }

    fn register_ack(&mut self, nsp: &str, id: u64, deadline: Option<Instant>) {
        if let Some(NspState::Joined(socket)) = self.nsps.get_mut(nsp) {
            socket.pending.insert(id, deadline);
            if let Some(deadline) = deadline {
                self.timers.insert((deadline, String::from(nsp), id));
            }
        }
    }

    fn new_id(&mut self) -> Str {
        Str::from(URL_SAFE.encode((self.ids)()))
    }

    fn send_invalid_namespace(&mut self, nsp: &str) {
        // The reference sends the object even to v4 clients (client.ts `connect`).
        let payload = Value::Object(alloc::vec![(
            String::from("message"),
            Value::from("Invalid namespace"),
        )]);
        self.send_connect_error(nsp, payload);
    }

    fn send_connect_error(&mut self, nsp: &str, payload: Value) {
        let mut packet = Packet::new(PacketKind::ConnectError, Cow::Owned(String::from(nsp)));
        packet.data = Some(Payload::Value(payload));
        self.send_packet(&packet);
    }

    fn send_packet(&mut self, packet: &Packet) {
        match self.parser {
            Parser::Common => {
                let encoded = common::encode(packet, self.version);
                self.transmits.push_back(Data::Text(encoded.text));
                self.transmits
                    .extend(encoded.attachments.into_iter().map(Data::Binary));
            }
            #[cfg(feature = "msgpack")]
            Parser::Msgpack => {
                let bytes = msgpack::encode_with_order(packet, KeyOrder::ServerSocket);
                self.transmits.push_back(Data::Binary(bytes));
            }
        }
    }
}

/// Checks that event data is a non-empty array led by a non-reserved name or a number.
fn check_event(data: &Payload, limits: &Limits) -> Result<(), Error> {
    let ok = match data {
        Payload::Value(Value::Array(items)) => match items.first() {
            Some(Value::String(name)) => !RESERVED_EVENTS.contains(&name.as_str()),
            Some(Value::Number(_)) => true,
            _ => false,
        },
        Payload::Value(_) => false,
        Payload::Json(text) => match json::validate_event(text.as_bytes(), limits.max_depth) {
            Ok(json::EventHead::Name(name)) => !RESERVED_EVENTS.contains(&name.as_ref()),
            Ok(json::EventHead::Number(_)) => true,
            _ => false,
        },
        #[cfg(feature = "msgpack")]
        Payload::Msgpack(data) => data.event_reserved() == Some(false),
    };
    if ok { Ok(()) } else { Err(Error::InvalidEvent) }
}

/// JavaScript truthiness (for the v4 `err.data || err.message`).
fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => {
            let f = n.as_f64();
            f != 0.0 && !f.is_nan()
        }
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

/// `pid` and `offset` from a CONNECT auth object, when both are strings.
fn recovery_request(auth: &Payload) -> Option<RecoveryRequest> {
    let value = auth.to_value().ok()?;
    let pid = value.get("pid")?.as_str()?;
    let offset = value.get("offset")?.as_str()?;
    Some(RecoveryRequest {
        pid: String::from(pid),
        offset: String::from(offset),
    })
}

/// Splits a v4 namespace into its path and query (`/admin?token=1` → `/admin`, `token=1`), as
/// `url.parse(nsp).pathname` does (a `#` also ends the path).
fn split_query(raw: &str) -> (&str, Option<&str>) {
    let path_end = raw.find(['?', '#']).unwrap_or(raw.len());
    let path = &raw[..path_end];
    let query = raw[path_end..].strip_prefix('?').map(|rest| {
        let end = rest.find('#').unwrap_or(rest.len());
        &rest[..end]
    });
    (path, query)
}

/// Parses a query string into an object as Node's `querystring.parse` does: `+` is a space,
/// `%XX` escapes are decoded, a repeated key collects its values in an array.
fn parse_query(query: &str) -> Value {
    let mut entries: Vec<(String, Value)> = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = percent_decode(key);
        let value = Value::String(percent_decode(value));
        match entries.iter_mut().find(|(k, _)| *k == key) {
            Some((_, Value::Array(items))) => items.push(value),
            Some((_, existing)) => {
                let first = core::mem::take(existing);
                *existing = Value::Array(alloc::vec![first, value]);
            }
            None => entries.push((key, value)),
        }
    }
    Value::Object(entries)
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                    .and_then(|h| core::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
