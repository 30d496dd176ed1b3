//! The client: the protocol core's [`ClientManager`] driven over a [`Connection`] and a
//! [`Timer`].
//!
//! See the [crate docs](crate) for the run loop and an example.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::future::{Future, poll_fn};
use core::pin::pin;
use core::task::Poll;
use core::time::Duration;

use embedded_io_async::{Read, Write};
use socketio_protocol::Instant;
use socketio_protocol::engine::Frame;
use socketio_protocol::engine::client::{RequestId, Transmit, TransportKind};
use socketio_protocol::socket::Payload;
use socketio_protocol::socket::client::{
    AckId, ClientManager, ConfigError, EmitError, EmitOptions, Event, ManagerConfig, OpenError,
    SocketId,
};
use socketio_protocol::value::Value;

use crate::handshake::{self, HandshakeError, Response};
use crate::ws::{self, FrameReader, Received, WsError};

/// A byte stream the client can open again and again: a TCP socket (embassy-net, smoltcp, std
/// through an adapter), possibly wrapped in TLS by the caller (see the crate docs for
/// `embedded-tls`).
///
/// The client drops a pending [`Read::read`] when a timer fires first, so `read` must be
/// cancel-safe: bytes are only taken from the stream when the call completes (as embassy-net's
/// `TcpSocket::read` does).
#[allow(async_fn_in_trait)]
pub trait Connection: Read + Write {
    /// Opens the stream to the server: a new TCP connection (and its TLS handshake, if any).
    async fn connect(&mut self) -> Result<(), Self::Error>;
    /// Closes the stream; the next [`connect`](Self::connect) opens a new one.
    async fn disconnect(&mut self);
}

/// The clock and the sleeps the client needs for heartbeats, ack timeouts and reconnection
/// delays (an `embassy_time::Timer`, a hardware timer, or std on a host).
#[allow(async_fn_in_trait)]
pub trait Timer {
    /// The current instant, from any monotonic epoch.
    fn now(&self) -> Instant;
    /// Completes at `at` (at once if it passed). May be dropped before it completes.
    async fn sleep_until(&mut self, at: Instant);
}

/// The client's options. Every bound on memory is here or in the [`Buffers`].
#[derive(Debug, Clone, PartialEq)]
pub struct Config<'a> {
    /// The `Host` header: `example.com` or `example.com:3000`.
    pub host: &'a str,
    /// The Engine.IO path (`/socket.io`).
    pub path: &'a str,
    /// Extra query parameters of the connection URL.
    pub query: &'a [(&'a str, &'a str)],
    /// The namespace to join (`/`).
    pub namespace: &'a str,
    /// The auth object sent with the namespace's CONNECT.
    pub auth: Option<Value>,
    /// Reconnect after a drop, with the core's backoff (true).
    pub reconnection: bool,
    /// Most reconnection attempts in a row; `None` is unbounded.
    pub reconnection_attempts: Option<u32>,
    /// The first reconnection delay (1 s).
    pub reconnection_delay: Duration,
    /// The largest reconnection delay (5 s).
    pub reconnection_delay_max: Duration,
    /// How long a connection may take to open (10 s).
    pub connect_timeout: Duration,
    /// Most emits waiting for their ack (16).
    pub max_pending_acks: usize,
    /// Most packets buffered while not connected, and events buffered before the namespace's
    /// CONNECT reply (16).
    pub max_buffered_packets: usize,
    /// Seed of the generator for WebSocket keys, masks and reconnection jitter: pass a value
    /// from a hardware random number generator.
    pub seed: u64,
}

impl<'a> Config<'a> {
    /// The defaults for `host`.
    pub fn new(host: &'a str) -> Self {
        Config {
            host,
            path: "/socket.io",
            query: &[],
            namespace: "/",
            auth: None,
            reconnection: true,
            reconnection_attempts: None,
            reconnection_delay: Duration::from_millis(1000),
            reconnection_delay_max: Duration::from_millis(5000),
            connect_timeout: Duration::from_millis(10_000),
            max_pending_acks: 16,
            max_buffered_packets: 16,
            seed: 0x5EED_5EED,
        }
    }
}

/// The caller's buffers.
///
/// `rx` holds incoming frames and the upgrade response: its size (less 10 bytes) is the largest
/// message the client accepts, and a larger one closes the connection (then it reconnects).
/// `tx` holds the upgrade request and the masked bytes of outgoing frames while they are
/// written, in chunks of its size. 1 KiB each is plenty for small events; at least 256 bytes
/// each.
#[derive(Debug)]
pub struct Buffers<'b> {
    /// The receive buffer.
    pub rx: &'b mut [u8],
    /// The transmit buffer.
    pub tx: &'b mut [u8],
}

/// What went wrong.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Error<E> {
    /// The stream failed.
    Io(E),
    /// The stream ended.
    Eof,
    /// The WebSocket upgrade failed.
    Handshake(HandshakeError),
    /// A WebSocket framing violation or a message larger than the buffer.
    WebSocket(WsError),
    /// The protocol core refused the configuration.
    Config(ConfigError),
    /// The namespace or auth was refused by the core.
    Open(OpenError),
    /// The emit was refused (not an event, reserved name, buffer full, not connected).
    Emit(EmitError),
    /// [`Config::max_pending_acks`] emits already wait for their ack.
    TooManyPendingAcks,
    /// A buffer is smaller than 256 bytes.
    BufferTooSmall,
    /// The client is closed: disconnected by the application or the server, or out of
    /// reconnection attempts.
    Closed,
}

impl<E: fmt::Debug> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "io error: {e:?}"),
            Error::Eof => f.write_str("the connection was closed by the peer"),
            Error::Handshake(e) => write!(f, "websocket handshake: {e}"),
            Error::WebSocket(e) => write!(f, "websocket: {e}"),
            Error::Config(e) => write!(f, "configuration: {e}"),
            Error::Open(e) => write!(f, "namespace: {e}"),
            Error::Emit(e) => write!(f, "emit: {e}"),
            Error::TooManyPendingAcks => f.write_str("too many emits wait for their ack"),
            Error::BufferTooSmall => f.write_str("a buffer is smaller than 256 bytes"),
            Error::Closed => f.write_str("the client is closed"),
        }
    }
}

impl<E: fmt::Debug> core::error::Error for Error<E> {}

/// The smallest buffer the client accepts.
pub const MIN_BUFFER: usize = 256;

/// A Socket.IO client over one [`Connection`]; see the [crate docs](crate).
pub struct Client<'b, C: Connection, T: Timer> {
    conn: C,
    timer: T,
    manager: ClientManager,
    socket: SocketId,
    reader: FrameReader<'b>,
    tx: &'b mut [u8],
    host: String,
    /// The WebSocket the stream carries, once upgraded.
    ws: Option<RequestId>,
    rng: u64,
    pending_acks: usize,
    max_pending_acks: usize,
    last_error: Option<Error<C::Error>>,
}

impl<C: Connection, T: Timer> fmt::Debug for Client<'_, C, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("host", &self.host)
            .field("ws", &self.ws)
            .field("pending_acks", &self.pending_acks)
            .finish_non_exhaustive()
    }
}

impl<'b, C: Connection, T: Timer> Client<'b, C, T> {
    /// A client for `config`; it connects on the first call to
    /// [`next_event`](Self::next_event) (or any emit, which is buffered until connected).
    pub fn new(
        config: Config<'_>,
        conn: C,
        timer: T,
        buffers: Buffers<'b>,
    ) -> Result<Self, Error<C::Error>> {
        if buffers.rx.len() < MIN_BUFFER || buffers.tx.len() < MIN_BUFFER {
            return Err(Error::BufferTooSmall);
        }
        let mut core = ManagerConfig::default();
        core.engine.path = String::from(config.path);
        core.engine.transports = alloc::vec![TransportKind::WebSocket];
        core.engine.upgrade = false;
        core.engine.query = config
            .query
            .iter()
            .map(|(k, v)| (String::from(*k), String::from(*v)))
            .collect();
        core.engine.max_buffered_messages = config.max_buffered_packets.max(1);
        core.engine.max_buffered_bytes = buffers.tx.len().max(buffers.rx.len()) * 4;
        core.engine.max_payload = Some(buffers.rx.len() as u64);
        core.reconnection = config.reconnection;
        core.reconnection_attempts = config.reconnection_attempts;
        core.reconnection_delay = config.reconnection_delay;
        core.reconnection_delay_max = config.reconnection_delay_max;
        core.timeout = Some(config.connect_timeout);
        core.max_send_buffer = config.max_buffered_packets.max(1);
        core.max_receive_buffer = config.max_buffered_packets.max(1);
        core.seed = config.seed;
        let mut manager = ClientManager::new(core).map_err(Error::Config)?;
        let now = timer.now();
        let socket = manager
            .open_socket(now, config.namespace, config.auth)
            .map_err(Error::Open)?;
        Ok(Client {
            conn,
            timer,
            manager,
            socket,
            reader: FrameReader::new(buffers.rx),
            tx: buffers.tx,
            host: String::from(config.host),
            ws: None,
            rng: config.seed ^ 0xA076_1D64_78BD_642F,
            pending_acks: 0,
            max_pending_acks: config.max_pending_acks,
            last_error: None,
        })
    }

    /// The protocol core, to read its state (`is_connected`, `sid`, the backoff…).
    pub fn manager(&self) -> &ClientManager {
        &self.manager
    }

    /// The namespace's socket in the core.
    pub fn socket(&self) -> SocketId {
        self.socket
    }

    /// Whether the namespace is joined.
    pub fn is_connected(&self) -> bool {
        self.manager.is_connected(self.socket)
    }

    /// The last transport error (the core only learns that the connection failed).
    pub fn last_error(&self) -> Option<&Error<C::Error>> {
        self.last_error.as_ref()
    }

    /// The connection and the timer, to reach the stream (tests, diagnostics).
    pub fn parts_mut(&mut self) -> (&mut C, &mut T) {
        (&mut self.conn, &mut self.timer)
    }

    /// Emits `event` with `args`; buffered while not connected (up to
    /// [`Config::max_buffered_packets`]).
    pub async fn emit(&mut self, event: &str, args: Vec<Value>) -> Result<(), Error<C::Error>> {
        self.emit_with(event, args, EmitOptions::default())
            .await
            .map(|_| ())
    }

    /// Emits `event` with `args` and asks for an ack: the answer comes from
    /// [`next_event`](Self::next_event) as [`Event::Ack`] with the returned id, or
    /// [`Event::AckTimeout`] after `timeout`, or [`Event::AckDisconnected`].
    pub async fn emit_with_ack(
        &mut self,
        event: &str,
        args: Vec<Value>,
        timeout: Duration,
    ) -> Result<AckId, Error<C::Error>> {
        if self.pending_acks >= self.max_pending_acks {
            return Err(Error::TooManyPendingAcks);
        }
        let id = self
            .emit_with(event, args, EmitOptions::with_ack_timeout(timeout))
            .await?;
        self.pending_acks += 1;
        id.ok_or(Error::Emit(EmitError::InvalidEvent))
    }

    async fn emit_with(
        &mut self,
        event: &str,
        args: Vec<Value>,
        options: EmitOptions,
    ) -> Result<Option<AckId>, Error<C::Error>> {
        let mut data = Vec::with_capacity(args.len() + 1);
        data.push(Value::from(event));
        data.extend(args);
        let now = self.timer.now();
        let id = self
            .manager
            .emit(
                now,
                self.socket,
                Payload::Value(Value::Array(data)),
                options,
            )
            .map_err(Error::Emit)?;
        self.flush().await;
        Ok(id)
    }

    /// Answers the server's event that asked for ack `id` (from [`Event::Event`]).
    pub async fn ack(&mut self, id: u64, args: Vec<Value>) -> Result<(), Error<C::Error>> {
        let now = self.timer.now();
        self.manager
            .ack(now, self.socket, id, Payload::Value(Value::Array(args)))
            .map_err(Error::Emit)?;
        self.flush().await;
        Ok(())
    }

    /// Leaves the namespace and closes the connection; no reconnection follows.
    pub async fn disconnect(&mut self) {
        let now = self.timer.now();
        self.manager.close(now);
        self.flush().await;
        if self.ws.take().is_some() {
            self.conn.disconnect().await;
        }
    }

    /// Drives the connection until the next event: connects, reconnects, answers heartbeats,
    /// writes buffered emits, fires ack timeouts. [`Error::Closed`] once nothing is left to do.
    ///
    /// Dropping the future while it waits for input or a deadline loses nothing (it is
    /// usually dropped there, when it races the application's own timer); dropping it while
    /// it writes may cut a frame, and the server then drops the connection.
    pub async fn next_event(&mut self) -> Result<Event, Error<C::Error>> {
        loop {
            self.flush().await;
            if let Some(event) = self.manager.poll_event() {
                if matches!(
                    event,
                    Event::Ack { .. } | Event::AckTimeout { .. } | Event::AckDisconnected { .. }
                ) {
                    self.pending_acks = self.pending_acks.saturating_sub(1);
                }
                return Ok(event);
            }
            let deadline = self.manager.poll_timeout();
            let Some(id) = self.ws else {
                match deadline {
                    Some(at) => {
                        self.timer.sleep_until(at).await;
                        let now = self.timer.now();
                        self.manager.handle_timeout(now);
                        continue;
                    }
                    None => return Err(Error::Closed),
                }
            };
            // Frames already buffered first.
            match self.reader.decode() {
                Ok(Some(received)) => {
                    self.on_received(id, received).await;
                    continue;
                }
                Ok(None) => {}
                Err(error) => {
                    self.fail_ws(id, Error::WebSocket(error)).await;
                    continue;
                }
            }
            let read = {
                let space = self.reader.space();
                select(self.conn.read(space), sleep_opt(&mut self.timer, deadline)).await
            };
            match read {
                Either::Left(Ok(0)) => self.fail_ws(id, Error::Eof).await,
                Either::Left(Ok(n)) => self.reader.advance(n),
                Either::Left(Err(error)) => self.fail_ws(id, Error::Io(error)).await,
                Either::Right(()) => {
                    let now = self.timer.now();
                    self.manager.handle_timeout(now);
                }
            }
        }
    }

    async fn on_received(&mut self, id: RequestId, received: Received) {
        match received {
            Received::Message(frame) => {
                let now = self.timer.now();
                self.manager.handle_ws_frame(now, id, frame);
            }
            Received::Ping(payload) => {
                let mut data = [0u8; 125];
                let payload = payload.as_bytes();
                data[..payload.len()].copy_from_slice(payload);
                if let Err(error) = self.write_frame(ws::OP_PONG, &data[..payload.len()]).await {
                    self.fail_ws(id, error).await;
                }
            }
            Received::Pong => {}
            Received::Close(_) => self.fail_ws(id, Error::Eof).await,
        }
    }

    /// The WebSocket failed: close the stream and tell the core.
    async fn fail_ws(&mut self, id: RequestId, error: Error<C::Error>) {
        if self.ws == Some(id) {
            self.ws = None;
            self.conn.disconnect().await;
        }
        let now = self.timer.now();
        match error {
            Error::WebSocket(WsError::TooLarge { limit }) => {
                self.manager.handle_too_large(now, id, limit as u64)
            }
            _ => self.manager.handle_ws_closed(now, id),
        }
        self.last_error = Some(error);
    }

    /// Carries out everything the core asked for.
    async fn flush(&mut self) {
        while let Some(transmit) = self.manager.poll_transmit() {
            match transmit {
                Transmit::OpenWebSocket { id, path_and_query } => {
                    if self.ws.take().is_some() {
                        self.conn.disconnect().await;
                    }
                    let random = next_random(&mut self.rng);
                    let opened = {
                        let mut opening = pin!(open(
                            &mut self.conn,
                            &mut self.reader,
                            self.tx,
                            &self.host,
                            &path_and_query,
                            random,
                        ));
                        // Deadlines that pass while connecting (an ack timeout, say) are handled
                        // without abandoning the attempt; only the core's open timeout, which
                        // retires the engine, ends it.
                        loop {
                            let deadline = self.manager.poll_timeout();
                            match select(opening.as_mut(), sleep_opt(&mut self.timer, deadline))
                                .await
                            {
                                Either::Left(result) => break Some(result),
                                Either::Right(()) => {
                                    let now = self.timer.now();
                                    self.manager.handle_timeout(now);
                                    if self.manager.engine().is_none() {
                                        break None;
                                    }
                                }
                            }
                        }
                    };
                    let now = self.timer.now();
                    match opened {
                        Some(Ok(())) => {
                            self.ws = Some(id);
                            self.manager.handle_ws_opened(now, id);
                        }
                        Some(Err(error)) => {
                            self.conn.disconnect().await;
                            self.last_error = Some(error);
                            self.manager.handle_ws_closed(now, id);
                        }
                        None => {
                            // The core gave up on this attempt (its open timeout).
                            self.conn.disconnect().await;
                            self.manager.handle_ws_closed(now, id);
                        }
                    }
                }
                Transmit::WsFrame { id, frame } => {
                    if self.ws != Some(id) {
                        continue;
                    }
                    let result = match &frame {
                        Frame::Text(text) => self.write_frame(ws::OP_TEXT, text.as_bytes()).await,
                        Frame::Binary(bytes) => self.write_frame(ws::OP_BINARY, bytes).await,
                    };
                    if let Err(error) = result {
                        self.fail_ws(id, error).await;
                    }
                }
                Transmit::CloseWebSocket { id } if self.ws == Some(id) => {
                    // Best effort: a close frame (1000), then the stream goes.
                    let _ = self.write_frame(ws::OP_CLOSE, &1000u16.to_be_bytes()).await;
                    self.ws = None;
                    self.conn.disconnect().await;
                    let now = self.timer.now();
                    self.manager.handle_ws_closed(now, id);
                }
                Transmit::Http { id, .. } => {
                    // WebSocket only: never asked for, but answer so the core moves on.
                    let now = self.timer.now();
                    self.manager.handle_http_error(now, id);
                }
                _ => {}
            }
        }
    }

    /// Writes one masked frame, the payload masked chunk by chunk in the tx buffer.
    async fn write_frame(&mut self, opcode: u8, payload: &[u8]) -> Result<(), Error<C::Error>> {
        let key = next_random(&mut self.rng);
        let key = [key[0], key[1], key[2], key[3]];
        let mut header = [0u8; ws::MAX_HEADER];
        let n = ws::encode_header(&mut header, opcode, payload.len(), key);
        self.conn.write_all(&header[..n]).await.map_err(Error::Io)?;
        let mut offset = 0;
        for chunk in payload.chunks(self.tx.len().max(1)) {
            let out = &mut self.tx[..chunk.len()];
            out.copy_from_slice(chunk);
            ws::mask(out, key, offset);
            offset += chunk.len();
            self.conn.write_all(out).await.map_err(Error::Io)?;
        }
        self.conn.flush().await.map_err(Error::Io)
    }
}

/// Connects the stream and upgrades it to a WebSocket; leftover bytes stay in `reader`.
async fn open<C: Connection>(
    conn: &mut C,
    reader: &mut FrameReader<'_>,
    tx: &mut [u8],
    host: &str,
    path_and_query: &str,
    random: [u8; 16],
) -> Result<(), Error<C::Error>> {
    conn.connect().await.map_err(Error::Io)?;
    let key = handshake::request_key(random);
    // Base64 is ASCII.
    let key = core::str::from_utf8(&key).unwrap_or_default();
    let n = handshake::write_request(tx, host, path_and_query, key).map_err(Error::Handshake)?;
    conn.write_all(&tx[..n]).await.map_err(Error::Io)?;
    conn.flush().await.map_err(Error::Io)?;
    reader.reset();
    loop {
        let space = reader.space();
        if space.is_empty() {
            return Err(Error::Handshake(HandshakeError::ResponseTooLong));
        }
        let n = conn.read(space).await.map_err(Error::Io)?;
        if n == 0 {
            return Err(Error::Eof);
        }
        reader.advance(n);
        match handshake::parse_response(reader.pending(), key).map_err(Error::Handshake)? {
            Response::Partial => {}
            Response::Complete { head_len } => {
                reader.consume(head_len);
                return Ok(());
            }
        }
    }
}

/// SplitMix64, 16 bytes at a time: WebSocket keys and masks need no cryptographic strength,
/// only unpredictability to intermediaries, which a seed from a hardware RNG gives.
fn next_random(state: &mut u64) -> [u8; 16] {
    let mut out = [0u8; 16];
    for half in out.chunks_mut(8) {
        *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        half.copy_from_slice(&z.to_le_bytes());
    }
    out
}

/// Which of two futures finished first.
enum Either<A, B> {
    Left(A),
    Right(B),
}

/// Polls both futures, `a` first; the other one is dropped.
async fn select<A: Future, B: Future>(a: A, b: B) -> Either<A::Output, B::Output> {
    let mut a = pin!(a);
    let mut b = pin!(b);
    poll_fn(move |cx| {
        if let Poll::Ready(out) = a.as_mut().poll(cx) {
            return Poll::Ready(Either::Left(out));
        }
        if let Poll::Ready(out) = b.as_mut().poll(cx) {
            return Poll::Ready(Either::Right(out));
        }
        Poll::Pending
    })
    .await
}

/// Sleeps until `at`, or forever without a deadline.
async fn sleep_opt<T: Timer>(timer: &mut T, at: Option<Instant>) {
    match at {
        Some(at) => timer.sleep_until(at).await,
        None => core::future::pending().await,
    }
}
