//! One Engine.IO session: its transport, write buffer, heartbeat and upgrade probe.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;
use bytes::Bytes;
use core::time::Duration;

use super::config::{Config, TransportKind};
use super::http::{ConnectionId, Header, RequestId, Response};
use super::machine::{Event, PreparedMessage, Transmit};
use crate::engine::{CloseReason, DecodeError, Frame, Packet, ProtocolVersion, payload};
use crate::{Instant, Str};

/// A session id as a fixed-size key (ids are always 20 characters).
pub(super) type SidKey = [u8; 20];

/// The key of a session id from a request, if it can be one.
pub(super) fn sid_key(sid: &str) -> Option<SidKey> {
    sid.as_bytes().try_into().ok()
}

/// How often a pending GET is answered with a noop while an upgrade is probed.
pub(super) const UPGRADE_CHECK_INTERVAL: Duration = Duration::from_millis(100);

/// How long after a polling client's close packet (sent by POST while no GET was held) the
/// first GET of the session is still answered with the noop a held GET would have got,
/// rather than `400 Session ID unknown`.
///
/// The GET and the POST travel on two connections, so a GET the client sent with (or just
/// before) its close may reach the engine after the close. The reference (engine.io 3.x and
/// 6.x) answers it `6` when it takes the GET first (held, then ended by the close), and
/// `400 {"code":1}` when it takes it after (the session is already gone); in Node the GET
/// practically always comes first, so the official test-suite ("forcefully closes the
/// session") expects `200` with the noop. Answering such a late GET as if it had come first
/// gives the answer of an order the reference itself may see; a second GET, or one after
/// this grace, is refused as usual.
pub(super) const CLOSED_POLL_GRACE: Duration = Duration::from_secs(2);

/// What an HTTP request of the server is waiting for.
#[derive(Debug)]
pub(super) enum RequestState {
    /// A GET held until the session has something to send.
    Poll,
    /// A POST whose body is being read.
    Data {
        /// Whether the body is declared binary (v3 XHR2 payload).
        binary: bool,
        /// Headers for the answer (CORS).
        headers: Vec<Header>,
    },
}

/// What a WebSocket of the server is.
#[derive(Debug, Clone, Copy)]
pub(super) enum ConnectionState {
    /// The active transport of a session.
    Main,
    /// A probe that may become the session's transport.
    Probe,
}

/// A session's output queues and its live requests and WebSockets.
#[derive(Debug, Default)]
pub(super) struct Outputs {
    /// Transmits, drained by `poll_transmit`.
    pub transmits: VecDeque<Transmit>,
    /// Events, drained by `poll_event`.
    pub events: VecDeque<Event>,
    /// Live requests.
    pub requests: BTreeMap<RequestId, RequestState>,
    /// Live WebSockets.
    pub connections: BTreeMap<ConnectionId, ConnectionState>,
}

impl Outputs {
    /// Answers `request` and forgets it.
    pub fn respond(&mut self, request: RequestId, response: Response) {
        self.requests.remove(&request);
        self.transmits
            .push_back(Transmit::Response { request, response });
    }

    /// Closes WebSocket `connection` and forgets it.
    ///
    /// Nothing is sent for a connection already forgotten (it closed by itself).
    pub fn close_websocket(&mut self, connection: ConnectionId) {
        if self.connections.remove(&connection).is_some() {
            self.transmits
                .push_back(Transmit::CloseWebSocket { connection });
        }
    }
}

/// A polling GET held by a session.
#[derive(Debug)]
pub(super) struct HeldGet {
    /// The request.
    pub request: RequestId,
    /// Extra headers for its answer (CORS, the session cookie on the handshake).
    pub headers: Vec<Header>,
}

/// The active transport of a session.
#[derive(Debug)]
pub(super) enum Active {
    /// Long-polling, with at most one GET and one POST in flight.
    Polling {
        /// The held GET.
        get: Option<HeldGet>,
        /// The POST whose body is being read.
        post: Option<RequestId>,
    },
    /// A WebSocket.
    WebSocket(ConnectionId),
}

/// An upgrade in progress.
#[derive(Debug)]
pub(super) struct Probe {
    /// The probing WebSocket.
    pub connection: ConnectionId,
    /// When the probe is given up (`upgradeTimeout`).
    pub deadline: Instant,
    /// When a held GET is next answered with a noop (set by `2probe`).
    pub noop_at: Option<Instant>,
}

/// What a held GET is answered with when the session closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Farewell {
    /// `1`: the server closes.
    Close,
    /// `6`: the client closed (its `1` arrived by POST).
    Noop,
}

/// The body of a data POST, with what its request said about it.
#[derive(Debug)]
pub(super) struct PostBody {
    /// The request.
    pub request: RequestId,
    /// The body (possibly cut just past `max_payload`).
    pub body: Bytes,
    /// Whether it was declared `application/octet-stream`.
    pub binary: bool,
    /// Headers for the answer (CORS).
    pub headers: Vec<Header>,
}

/// The `200` answer to a polling GET carrying `packets`, encoded for `version` (a v3 client
/// that `supports_binary` gets binary messages as an XHR2 body).
pub(super) fn poll_response(
    version: ProtocolVersion,
    supports_binary: bool,
    packets: &[Packet],
    headers: Vec<Header>,
) -> Response {
    let (body, content_type) = match version {
        ProtocolVersion::V4 => (
            payload::encode_v4(packets).into_bytes(),
            "text/plain; charset=UTF-8",
        ),
        ProtocolVersion::V3 => {
            if supports_binary
                && packets
                    .iter()
                    .any(|packet| matches!(packet, Packet::Message(data) if data.is_binary()))
            {
                (
                    payload::encode_v3_binary(packets),
                    "application/octet-stream",
                )
            } else {
                (
                    payload::encode_v3_text(packets).into_bytes(),
                    "text/plain; charset=UTF-8",
                )
            }
        }
    };
    Response::poll(body, content_type, headers)
}

/// One session's state (driven by [`Session`](super::Session), which owns its outputs).
#[derive(Debug)]
pub(super) struct SessionState {
    /// The id, as sent to the client.
    pub sid: Str,
    /// The id as a table key.
    pub key: SidKey,
    /// The protocol revision.
    pub version: ProtocolVersion,
    /// v3 polling: whether binary payloads may be sent as XHR2 bodies (no `b64`).
    pub supports_binary: bool,
    /// The active transport.
    pub active: Active,
    /// Set when the server closed a polling session that waits for a GET; the deadline.
    pub closing: Option<Instant>,
    /// Whether the session has closed (the server then drops it).
    pub closed: bool,
    /// Packets waiting for a polling GET.
    pub buffer: VecDeque<Packet>,
    /// How many messages `buffer` holds.
    pub buffered_messages: usize,
    /// The bytes of those messages.
    pub buffered_bytes: usize,
    /// v4: when the next ping goes out.
    pub next_ping: Option<Instant>,
    /// v4: when the session closes unless a pong arrives.
    pub pong_deadline: Option<Instant>,
    /// v4: a ping is queued but not known to be written yet (a WebSocket writer not done
    /// with it, or no GET took it): `pong_deadline` is provisional until it is.
    pub ping_unwritten: bool,
    /// When the body of the POST being read must have arrived (`request_timeout`).
    pub body_deadline: Option<Instant>,
    /// v3: when the session closes unless a ping arrives.
    pub ping_deadline: Option<Instant>,
    /// The upgrade in progress.
    pub probe: Option<Probe>,
    /// Whether the session was upgraded.
    pub upgraded: bool,
    /// Set when the client closed by POST while no GET was held: until when a GET crossing
    /// that close is answered with a noop ([`CLOSED_POLL_GRACE`]).
    pub noop_owed: Option<Instant>,
}

impl SessionState {
    /// A new open session whose heartbeat starts at `now`.
    pub fn new(
        now: Instant,
        sid: Str,
        key: SidKey,
        version: ProtocolVersion,
        supports_binary: bool,
        active: Active,
        config: &Config,
    ) -> Self {
        let (next_ping, ping_deadline) = match version {
            ProtocolVersion::V4 => (Some(now + config.ping_interval), None),
            ProtocolVersion::V3 => (None, Some(now + config.ping_interval + config.ping_timeout)),
        };
        SessionState {
            sid,
            key,
            version,
            supports_binary,
            active,
            closing: None,
            closed: false,
            buffer: VecDeque::new(),
            buffered_messages: 0,
            buffered_bytes: 0,
            next_ping,
            pong_deadline: None,
            ping_unwritten: false,
            body_deadline: None,
            ping_deadline,
            probe: None,
            upgraded: false,
            noop_owed: None,
        }
    }

    /// The kind of the active transport.
    pub fn transport(&self) -> TransportKind {
        match self.active {
            Active::Polling { .. } => TransportKind::Polling,
            Active::WebSocket(_) => TransportKind::WebSocket,
        }
    }

    /// The earliest instant at which [`SessionState::on_timeout`] has work.
    pub fn deadline(&self) -> Option<Instant> {
        if self.closed {
            return None;
        }
        let probe = self.probe.as_ref();
        [
            self.closing,
            self.next_ping,
            self.pong_deadline,
            self.ping_deadline,
            self.body_deadline,
            probe.map(|probe| probe.deadline),
            probe.and_then(|probe| probe.noop_at),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Queues a packet on the active transport (a frame at once, or the polling buffer).
    pub fn push(&mut self, packet: Packet, out: &mut Outputs) {
        match &self.active {
            Active::WebSocket(connection) => {
                out.transmits
                    .push_back(frame_transmit(*connection, &packet, self.version));
            }
            Active::Polling { .. } => {
                if let Packet::Message(data) = &packet {
                    self.buffered_messages += 1;
                    self.buffered_bytes += data.len();
                }
                self.buffer.push_back(packet);
                self.flush(out);
            }
        }
    }

    /// [`push`](Self::push) for a message sent to many sessions: on a WebSocket the frame
    /// encoded once for this session's version is shared, not re-encoded.
    pub fn push_prepared(&mut self, message: &PreparedMessage, out: &mut Outputs) {
        match &self.active {
            Active::WebSocket(connection) => {
                out.transmits.push_back(Transmit::Frame {
                    connection: *connection,
                    frame: message.frame(self.version),
                });
            }
            Active::Polling { .. } => self.push(Packet::Message(message.data().clone()), out),
        }
    }

    /// Answers the held GET with the whole buffer, if both exist.
    pub fn flush(&mut self, out: &mut Outputs) {
        if self.buffer.is_empty() {
            return;
        }
        if let Active::Polling { get, .. } = &mut self.active
            && let Some(held) = get.take()
        {
            let packets: Vec<Packet> = self.buffer.drain(..).collect();
            self.buffered_messages = 0;
            self.buffered_bytes = 0;
            self.answer_poll(held, &packets, out);
        }
    }

    /// Answers a GET with `packets`, encoded for this session.
    fn answer_poll(&self, held: HeldGet, packets: &[Packet], out: &mut Outputs) {
        let response = poll_response(self.version, self.supports_binary, packets, held.headers);
        out.respond(held.request, response);
    }

    /// A polling GET for this session.
    pub fn on_poll(
        &mut self,
        now: Instant,
        request: RequestId,
        headers: Vec<Header>,
        config: &Config,
        out: &mut Outputs,
    ) {
        let held = HeldGet { request, headers };
        if self.closing.is_some() {
            // The close waits for this GET: whatever is buffered, then `1`.
            if self.buffer.is_empty() {
                self.buffer.push_back(Packet::Noop);
            }
            self.buffer.push_back(Packet::Close);
            let packets: Vec<Packet> = self.buffer.drain(..).collect();
            self.answer_poll(held, &packets, out);
            self.close(CloseReason::ForcedClose, Farewell::Close, out);
            return;
        }
        let Active::Polling { get, .. } = &mut self.active else {
            out.respond(request, Response::empty(400, held.headers));
            return;
        };
        if get.is_some() {
            // Overlap: the new GET is refused, the session closes and the first gets `1`.
            out.respond(request, Response::empty(400, held.headers));
            self.close(CloseReason::TransportError, Farewell::Close, out);
            return;
        }
        *get = Some(held);
        out.requests.insert(request, RequestState::Poll);
        let ping_waiting = self.ping_unwritten
            && self
                .buffer
                .iter()
                .any(|queued| matches!(queued, Packet::Ping(_)));
        self.flush(out);
        if ping_waiting {
            // This GET carries the ping: the client's time to answer starts now.
            self.on_ping_written(now, config);
        }
    }

    /// The pending ping has reached the client's transport (written to the WebSocket, or
    /// taken by a GET): the pong is due `ping_timeout` from `now`.
    pub fn on_ping_written(&mut self, now: Instant, config: &Config) {
        if core::mem::take(&mut self.ping_unwritten) && self.pong_deadline.is_some() {
            self.pong_deadline = Some(now + config.ping_timeout);
        }
    }

    /// A data POST for this session; its body is read next.
    pub fn on_post(
        &mut self,
        now: Instant,
        request: RequestId,
        binary: bool,
        headers: Vec<Header>,
        config: &Config,
        out: &mut Outputs,
    ) {
        let Active::Polling { post, .. } = &mut self.active else {
            out.respond(request, Response::empty(400, headers));
            return;
        };
        if post.is_some() || (binary && self.version == ProtocolVersion::V4) {
            // Overlapping POSTs, or an octet-stream body in v4: refused, and the session closes.
            out.respond(request, Response::empty(400, headers));
            self.close(CloseReason::TransportError, Farewell::Close, out);
            return;
        }
        *post = Some(request);
        self.body_deadline = Some(now + config.request_timeout);
        out.requests
            .insert(request, RequestState::Data { binary, headers });
        out.transmits.push_back(Transmit::ReadBody {
            request,
            limit: config.max_payload,
        });
    }

    /// The body of a data POST arrived.
    pub fn on_body(
        &mut self,
        now: Instant,
        post_body: PostBody,
        config: &Config,
        out: &mut Outputs,
    ) {
        let PostBody {
            request,
            body,
            binary,
            headers,
        } = post_body;
        if let Active::Polling { post, .. } = &mut self.active
            && *post == Some(request)
        {
            *post = None;
            self.body_deadline = None;
        }
        if body.len() > config.max_payload {
            out.respond(request, Response::empty(413, headers));
            return;
        }
        let result = match (self.version, binary) {
            (ProtocolVersion::V3, true) => {
                self.on_packets(now, payload::iter_v3_binary(body), config, out)
            }
            (version, _) => match Str::from_utf8(body) {
                Ok(text) if version == ProtocolVersion::V4 => {
                    self.on_packets(now, payload::iter_v4(text), config, out)
                }
                Ok(text) => self.on_packets(now, payload::iter_v3_text(text), config, out),
                Err(_) => Err(DecodeError::InvalidUtf8),
            },
        };
        if result.is_err() && self.is_open() {
            self.close(CloseReason::ParseError, Farewell::Close, out);
        }
        out.respond(request, Response::post_ok(headers));
    }

    /// Feeds decoded packets until one fails or the session stops being open.
    fn on_packets(
        &mut self,
        now: Instant,
        packets: impl Iterator<Item = Result<Packet, DecodeError>>,
        config: &Config,
        out: &mut Outputs,
    ) -> Result<(), DecodeError> {
        for packet in packets {
            if !self.is_open() {
                break;
            }
            self.on_packet(now, packet?, config, out);
        }
        Ok(())
    }

    /// Whether the session takes packets (neither closed nor closing).
    pub fn is_open(&self) -> bool {
        !self.closed && self.closing.is_none()
    }

    /// A frame on the session's WebSocket.
    pub fn on_frame(&mut self, now: Instant, frame: Frame, config: &Config, out: &mut Outputs) {
        if !self.is_open() {
            return;
        }
        let len = match &frame {
            Frame::Text(text) => text.len(),
            Frame::Binary(bytes) => bytes.len(),
        };
        if len > config.max_payload {
            self.close(CloseReason::TransportError, Farewell::Close, out);
            return;
        }
        match Packet::decode_frame(self.version, frame) {
            Ok(packet) => self.on_packet(now, packet, config, out),
            Err(_) => self.close(CloseReason::ParseError, Farewell::Close, out),
        }
    }

    /// One packet from the client on the active transport.
    fn on_packet(&mut self, now: Instant, packet: Packet, config: &Config, out: &mut Outputs) {
        match (packet, self.version) {
            (Packet::Ping(_), ProtocolVersion::V3) => {
                self.ping_deadline = Some(now + config.ping_interval + config.ping_timeout);
                // At most one pong waits in the buffer: a client pinging without polling
                // cannot grow it.
                if !self
                    .buffer
                    .iter()
                    .any(|queued| matches!(queued, Packet::Pong(_)))
                {
                    self.push(Packet::Pong(Str::from_static("")), out);
                }
            }
            (Packet::Pong(_), ProtocolVersion::V4) => {
                self.pong_deadline = None;
                self.ping_unwritten = false;
                self.next_ping = Some(now + config.ping_interval);
            }
            (Packet::Ping(_) | Packet::Pong(_), _) => {
                // Heartbeat in the wrong direction.
                self.close(CloseReason::TransportError, Farewell::Close, out);
            }
            (Packet::Message(data), _) => out.events.push_back(Event::Message {
                sid: self.sid.clone(),
                data,
            }),
            (Packet::Close, _) => {
                // A held GET gets the noop now; a GET still on its way gets it on arrival.
                if let Active::Polling { get: None, .. } = self.active {
                    self.noop_owed = Some(now + CLOSED_POLL_GRACE);
                }
                self.close(CloseReason::TransportClose, Farewell::Noop, out)
            }
            _ => {}
        }
    }

    /// The server closes the session (`forced close`).
    pub fn force_close(&mut self, now: Instant, config: &Config, out: &mut Outputs) {
        if !self.is_open() {
            return;
        }
        match &self.active {
            // A probe in flight is left to finish, as the reference does: the client may
            // already be on it (its `5` crossing this close), and then it sends no more GETs.
            // A completed upgrade closes the new transport at once (see `complete_upgrade`).
            Active::Polling { get: None, .. } => {
                // Wait for the next GET to carry the close packet, at most the safety timeout.
                // The heartbeat keeps running (no ping goes out, and no pong is taken), so a
                // silent client still ends with `ping timeout` if that comes first.
                self.closing = Some(now + config.polling_close_timeout);
            }
            _ => {
                self.abort_probe(out);
                self.close(CloseReason::ForcedClose, Farewell::Close, out)
            }
        }
    }

    /// Ends the session: answers or drops its transports and reports the reason.
    pub fn close(&mut self, reason: CloseReason, farewell: Farewell, out: &mut Outputs) {
        if self.closed {
            return;
        }
        self.closed = true;
        self.abort_probe(out);
        match &mut self.active {
            Active::Polling { get, post } => {
                if let Some(request) = post.take() {
                    out.requests.remove(&request);
                    out.transmits.push_back(Transmit::Abort { request });
                }
                if let Some(held) = get.take() {
                    let packet = match farewell {
                        Farewell::Close => Packet::Close,
                        Farewell::Noop => Packet::Noop,
                    };
                    self.answer_poll(held, &[packet], out);
                }
            }
            Active::WebSocket(connection) => out.close_websocket(*connection),
        }
        self.buffer.clear();
        self.buffered_messages = 0;
        self.buffered_bytes = 0;
        out.events.push_back(Event::Closed {
            sid: self.sid.clone(),
            reason,
        });
    }

    /// Handles the timers due at `now`.
    pub fn on_timeout(&mut self, now: Instant, config: &Config, out: &mut Outputs) {
        if self.closed {
            return;
        }
        if self.closing.is_some_and(|deadline| deadline <= now) {
            self.close(CloseReason::ForcedClose, Farewell::Close, out);
            return;
        }
        if self.pong_deadline.is_some_and(|deadline| deadline <= now)
            || self.ping_deadline.is_some_and(|deadline| deadline <= now)
        {
            self.close(CloseReason::PingTimeout, Farewell::Close, out);
            return;
        }
        if self.body_deadline.is_some_and(|deadline| deadline <= now) {
            self.body_deadline = None;
            self.body_timed_out(out);
            return;
        }
        if self.next_ping.is_some_and(|at| at <= now) {
            self.next_ping = None;
            // The deadline counts from now, not from when the ping was due: a timer that fires
            // late must not eat into the client's time.
            self.pong_deadline = Some(now + config.ping_timeout);
            if self.closing.is_none() {
                // Only a held GET takes the ping at once.
                let unwritten = !matches!(&self.active, Active::Polling { get: Some(_), .. });
                self.push(Packet::Ping(Str::from_static("")), out);
                if unwritten {
                    // Not on the wire yet: the client's time starts when it is
                    // (`on_ping_written`); until then a generous bound still ends a session
                    // whose transport never takes it.
                    self.ping_unwritten = true;
                    self.pong_deadline = Some(now + config.ping_interval + config.ping_timeout);
                }
            }
        }
        if let Some(probe) = &mut self.probe {
            if probe.deadline <= now {
                self.abort_probe(out);
            } else if let Some(at) = probe.noop_at.filter(|&at| at <= now) {
                let mut next = at + UPGRADE_CHECK_INTERVAL;
                if next <= now {
                    next = now + UPGRADE_CHECK_INTERVAL;
                }
                probe.noop_at = Some(next);
                if let Active::Polling { get, .. } = &mut self.active
                    && let Some(held) = get.take()
                {
                    self.answer_poll(held, &[Packet::Noop], out);
                }
            }
        }
    }

    /// The body of the POST being read did not arrive within `request_timeout`: `408` with
    /// `Connection: close` (as Node's `requestTimeout`), and the session closes.
    fn body_timed_out(&mut self, out: &mut Outputs) {
        let Active::Polling { post, .. } = &mut self.active else {
            return;
        };
        let Some(request) = post.take() else {
            return;
        };
        let headers = match out.requests.get(&request) {
            Some(RequestState::Data { headers, .. }) => headers.clone(),
            _ => Vec::new(),
        };
        let mut headers = headers;
        headers.push(("connection", Str::from_static("close")));
        out.respond(request, Response::empty(408, headers));
        self.close(CloseReason::TransportError, Farewell::Close, out);
    }

    /// Starts probing WebSocket `connection` as the new transport.
    pub fn start_probe(
        &mut self,
        now: Instant,
        connection: ConnectionId,
        config: &Config,
        out: &mut Outputs,
    ) {
        out.connections.insert(connection, ConnectionState::Probe);
        self.probe = Some(Probe {
            connection,
            deadline: now + config.upgrade_timeout,
            noop_at: None,
        });
    }

    /// A frame on the probing WebSocket: `2probe`, `5`, or anything else (aborts the upgrade).
    pub fn on_probe_frame(&mut self, now: Instant, frame: Frame, out: &mut Outputs) {
        let Some(probe) = &mut self.probe else {
            return;
        };
        match Packet::decode_frame(self.version, frame) {
            Ok(Packet::Ping(data)) if data == "probe" => {
                out.transmits.push_back(Transmit::Frame {
                    connection: probe.connection,
                    frame: Packet::Pong(Str::from_static("probe")).encode_frame(self.version),
                });
                probe.noop_at = Some(now + UPGRADE_CHECK_INTERVAL);
            }
            Ok(Packet::Upgrade) => self.complete_upgrade(out),
            _ => self.abort_probe(out),
        }
    }

    /// The probing WebSocket closed by itself: the session goes on as it was.
    pub fn on_probe_closed(&mut self, out: &mut Outputs) {
        if let Some(probe) = self.probe.take() {
            out.connections.remove(&probe.connection);
        }
    }

    /// Gives up the upgrade in progress and closes the probing WebSocket.
    pub fn abort_probe(&mut self, out: &mut Outputs) {
        if let Some(probe) = self.probe.take() {
            out.close_websocket(probe.connection);
        }
    }

    /// `5` arrived: the probing WebSocket becomes the transport and the buffer flushes there.
    fn complete_upgrade(&mut self, out: &mut Outputs) {
        let Some(probe) = self.probe.take() else {
            return;
        };
        let connection = probe.connection;
        out.connections.insert(connection, ConnectionState::Main);
        match core::mem::replace(&mut self.active, Active::WebSocket(connection)) {
            Active::Polling { get, post } => {
                if let Some(request) = post {
                    out.requests.remove(&request);
                    out.transmits.push_back(Transmit::Abort { request });
                }
                if let Some(held) = get {
                    // The reference closes the discarded polling transport with a close packet.
                    self.answer_poll(held, &[Packet::Close], out);
                }
            }
            Active::WebSocket(old) => out.close_websocket(old),
        }
        self.upgraded = true;
        out.events.push_back(Event::Upgraded {
            sid: self.sid.clone(),
            connection,
        });
        self.buffered_messages = 0;
        self.buffered_bytes = 0;
        for packet in core::mem::take(&mut self.buffer) {
            out.transmits
                .push_back(frame_transmit(connection, &packet, self.version));
        }
        // A close that waited for this upgrade ends the session on the new transport.
        if self.closing.take().is_some() {
            self.close(CloseReason::ForcedClose, Farewell::Close, out);
        }
    }
}

/// The transmit carrying `packet` on WebSocket `connection`: a ping asks to be reported once
/// written ([`Transmit::Heartbeat`]).
fn frame_transmit(connection: ConnectionId, packet: &Packet, version: ProtocolVersion) -> Transmit {
    let frame = packet.encode_frame(version);
    match packet {
        Packet::Ping(_) => Transmit::Heartbeat { connection, frame },
        _ => Transmit::Frame { connection, frame },
    }
}
