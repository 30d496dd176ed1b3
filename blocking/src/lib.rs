//! A blocking Socket.IO client for thread-per-connection programs: no async runtime anywhere
//! in its dependency tree.
//!
//! It drives the sans-IO core of `socketio-protocol` ([`ClientManager`]: Socket.IO v5 on
//! Engine.IO v4, acks, binary attachments, reconnection with the core's backoff) over
//! `std::net::TcpStream` with `tungstenite` in its synchronous form, and `rustls` for
//! `https://` / `wss://` URLs (feature `tls`). Every call runs the same small loop on the
//! calling thread: write what the core queued, read one frame with `set_read_timeout` set to
//! the core's next deadline (heartbeat, ack timeout, reconnection delay), feed it in, repeat
//! until the call has its answer.
//!
//! ```no_run
//! use std::time::Duration;
//! use socketio_blocking::{Client, ClientEvent, Value};
//!
//! let mut client = Client::builder("http://localhost:3000/custom")
//!     .auth(Value::Object(vec![("token".into(), "abc".into())]))
//!     .connect()?;
//! client.emit("hello", vec![Value::from("world")])?;
//! let reply = client.emit_with_ack("sum", vec![Value::from(1u64), Value::from(2u64)], Duration::from_secs(5))?;
//! println!("{reply:?}");
//! while let Some(event) = client.recv(Some(Duration::from_secs(1)))? {
//!     if let ClientEvent::Event { name, args, ack } = event {
//!         println!("{name}: {args:?}");
//!         if let Some(ack) = ack {
//!             client.ack(ack, vec![Value::from("thanks")])?;
//!         }
//!     }
//! }
//! client.disconnect();
//! # Ok::<(), socketio_blocking::Error>(())
//! ```
//!
//! # Transport: WebSocket only
//!
//! The session opens directly over WebSocket, as the official client does with
//! `transports: ["websocket"]`. Long-polling would need two HTTP requests in flight at once
//! (a pending GET while a POST writes), so two sockets and a second thread or non-blocking IO,
//! which is the complexity this crate exists to avoid; every official server accepts a direct
//! WebSocket, and one blocking socket with a read timeout is all the loop needs.
//!
//! # Reconnection
//!
//! After a drop the core waits its backoff delay (`reconnectionDelay` × 2ⁿ with jitter, at
//! most `reconnectionDelayMax`) and reconnects; this happens inside whatever call is running
//! (`recv`, `emit_with_ack`), which reports [`ClientEvent::Reconnecting`] and
//! [`ClientEvent::Connected`] again. Emits while disconnected are buffered (bounded) and sent
//! on reconnection.
//!
//! [`ClientManager`]: socketio_protocol::socket::client::ClientManager

#![forbid(unsafe_code)]

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant as StdInstant};

use bytes::Bytes;
use socketio_protocol::Instant;
use socketio_protocol::Str;
use socketio_protocol::engine::Frame;
use socketio_protocol::engine::client::{RequestId, Transmit, TransportKind};
use socketio_protocol::socket::client::{
    AckId, ClientManager, EmitOptions, Event, ManagerConfig, SocketId,
};
use socketio_protocol::socket::{DisconnectReason, Payload};
use tungstenite::protocol::WebSocketConfig;
use tungstenite::{Message, WebSocket};

pub use socketio_protocol::json;
pub use socketio_protocol::value::{Number, Value};

/// What went wrong.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The URL is not `http(s)://` or `ws(s)://` with a host, or `https` without the `tls`
    /// feature.
    InvalidUrl(String),
    /// The protocol core refused the configuration, namespace, auth or emit.
    Refused(String),
    /// The server refused the namespace (`connect_error`).
    ConnectError {
        /// The error message.
        message: String,
        /// The error data the server attached.
        data: Option<Value>,
    },
    /// No connection within the connect timeout; the last transport error, if any.
    ConnectTimeout(Option<String>),
    /// No ack within the timeout.
    AckTimeout,
    /// The connection dropped after the emit was sent; its ack will not come.
    AckDisconnected,
    /// The event backlog ([`ClientBuilder::max_buffered_events`]) filled while waiting.
    BacklogFull,
    /// The client is closed: disconnected by the application or the server, or out of
    /// reconnection attempts.
    Closed,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidUrl(url) => write!(f, "invalid url: {url}"),
            Error::Refused(why) => write!(f, "refused: {why}"),
            Error::ConnectError { message, .. } => write!(f, "connect error: {message}"),
            Error::ConnectTimeout(Some(last)) => write!(f, "connect timeout ({last})"),
            Error::ConnectTimeout(None) => f.write_str("connect timeout"),
            Error::AckTimeout => f.write_str("ack timeout"),
            Error::AckDisconnected => f.write_str("disconnected before the ack"),
            Error::BacklogFull => f.write_str("event backlog full"),
            Error::Closed => f.write_str("the client is closed"),
        }
    }
}

impl std::error::Error for Error {}

/// An event the server asked to acknowledge; answer with [`Client::ack`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AckRequest(u64);

/// Something that happened on the connection.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ClientEvent {
    /// An event from the server.
    Event {
        /// Its name (a numeric name as JavaScript writes it).
        name: String,
        /// Its arguments.
        args: Vec<Value>,
        /// Set when the server wants an ack.
        ack: Option<AckRequest>,
    },
    /// The namespace was joined (again, after a reconnection).
    Connected {
        /// The socket id the server gave.
        sid: String,
    },
    /// The namespace was left; `reason.allows_reconnect()` tells whether a reconnection follows.
    Disconnected {
        /// Why.
        reason: DisconnectReason,
    },
    /// The server refused the namespace, or a connection attempt failed (`refused` false).
    ConnectError {
        /// The message.
        message: String,
        /// The server's data.
        data: Option<Value>,
        /// True when the server refused (the client stops).
        refused: bool,
    },
    /// A reconnection attempt starts, numbered from 1.
    Reconnecting {
        /// The attempt.
        attempt: u32,
    },
    /// No more reconnection attempts.
    ReconnectFailed,
}

/// Options of a [`Client`], with the official client's defaults.
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    url: String,
    namespace: Option<String>,
    path: String,
    auth: Option<Value>,
    reconnection: bool,
    reconnection_attempts: Option<u32>,
    reconnection_delay: Duration,
    reconnection_delay_max: Duration,
    connect_timeout: Duration,
    max_message_size: usize,
    max_buffered_events: usize,
    #[cfg(feature = "tls")]
    tls: Option<std::sync::Arc<rustls::ClientConfig>>,
}

impl ClientBuilder {
    /// Options for `url`: `http://host[:port][/namespace][?query]` (also `ws://`, and
    /// `https://` / `wss://` with the `tls` feature). The path is the namespace.
    pub fn new(url: &str) -> Self {
        ClientBuilder {
            url: url.to_string(),
            namespace: None,
            path: "/socket.io".to_string(),
            auth: None,
            reconnection: true,
            reconnection_attempts: None,
            reconnection_delay: Duration::from_millis(1000),
            reconnection_delay_max: Duration::from_millis(5000),
            connect_timeout: Duration::from_secs(20),
            max_message_size: 16 << 20,
            max_buffered_events: 1024,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// The namespace, instead of the URL's path.
    pub fn namespace(mut self, namespace: &str) -> Self {
        self.namespace = Some(namespace.to_string());
        self
    }

    /// The Engine.IO path (`/socket.io`).
    pub fn path(mut self, path: &str) -> Self {
        self.path = path.to_string();
        self
    }

    /// The auth object sent with the namespace's CONNECT (and every reconnection's).
    pub fn auth(mut self, auth: Value) -> Self {
        self.auth = Some(auth);
        self
    }

    /// Whether to reconnect after a drop (true).
    pub fn reconnection(mut self, on: bool) -> Self {
        self.reconnection = on;
        self
    }

    /// Most reconnection attempts in a row (unbounded).
    pub fn reconnection_attempts(mut self, attempts: u32) -> Self {
        self.reconnection_attempts = Some(attempts);
        self
    }

    /// The first and the largest reconnection delay (1 s, 5 s).
    pub fn reconnection_delay(mut self, first: Duration, max: Duration) -> Self {
        self.reconnection_delay = first;
        self.reconnection_delay_max = max;
        self
    }

    /// How long [`connect`](Self::connect) waits for the namespace (20 s), and each attempt
    /// may take.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The largest WebSocket message accepted (16 MiB); a larger one drops the connection.
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Most events kept for [`Client::recv`] while a call waits for something else (1024).
    pub fn max_buffered_events(mut self, events: usize) -> Self {
        self.max_buffered_events = events;
        self
    }

    /// The rustls configuration for `https://` (default: the webpki roots).
    #[cfg(feature = "tls")]
    pub fn tls_config(mut self, config: std::sync::Arc<rustls::ClientConfig>) -> Self {
        self.tls = Some(config);
        self
    }

    /// Connects and waits until the namespace is joined (or refused, or the timeout).
    pub fn connect(self) -> Result<Client, Error> {
        Client::connect(self)
    }
}

/// Where to connect.
#[derive(Debug, Clone)]
struct Target {
    host: String,
    port: u16,
    tls: bool,
}

/// A URL split the way the official client reads it.
#[derive(Debug)]
struct ParsedUrl {
    target: Target,
    /// The path: the namespace.
    namespace: String,
    query: Vec<(String, String)>,
}

/// Splits a URL into where to connect, the namespace and the query.
fn parse_url(url: &str) -> Result<ParsedUrl, Error> {
    let bad = || Error::InvalidUrl(url.to_string());
    let (tls, rest) = if let Some(rest) = url.strip_prefix("http://").or(url.strip_prefix("ws://"))
    {
        (false, rest)
    } else if let Some(rest) = url.strip_prefix("https://").or(url.strip_prefix("wss://")) {
        (true, rest)
    } else {
        return Err(bad());
    };
    if tls && !cfg!(feature = "tls") {
        return Err(Error::InvalidUrl(format!(
            "{url} (https needs the `tls` feature)"
        )));
    }
    let (authority, rest) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => {
            (host, port.parse::<u16>().map_err(|_| bad())?)
        }
        _ => (authority, if tls { 443 } else { 80 }),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(bad());
    }
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let namespace = if path.is_empty() { "/" } else { path };
    let query = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k.to_string(), v.to_string())
        })
        .collect();
    Ok(ParsedUrl {
        target: Target {
            host: host.to_string(),
            port,
            tls,
        },
        namespace: namespace.to_string(),
        query,
    })
}

/// A TCP stream, or TLS over one.
enum Stream {
    Plain(TcpStream),
    #[cfg(feature = "tls")]
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Stream {
    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            #[cfg(feature = "tls")]
            Stream::Tls(s) => &s.sock,
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// How an ack ended.
#[derive(Debug)]
enum AckOutcome {
    Reply(Vec<Value>),
    Timeout,
    Disconnected,
}

/// A connected Socket.IO client; see the [crate docs](crate).
pub struct Client {
    manager: ClientManager,
    socket: SocketId,
    target: Target,
    epoch: StdInstant,
    ws: Option<(RequestId, WebSocket<Stream>)>,
    connect_timeout: Duration,
    max_message_size: usize,
    max_buffered_events: usize,
    inbox: VecDeque<ClientEvent>,
    acks: HashMap<AckId, AckOutcome>,
    last_error: Option<String>,
    #[cfg(feature = "tls")]
    tls: Option<std::sync::Arc<rustls::ClientConfig>>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("target", &self.target)
            .field("connected", &self.is_connected())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Options for `url`; see [`ClientBuilder::new`].
    pub fn builder(url: &str) -> ClientBuilder {
        ClientBuilder::new(url)
    }

    /// Connects to `url` with the default options.
    pub fn connect_to(url: &str) -> Result<Client, Error> {
        ClientBuilder::new(url).connect()
    }

    fn connect(options: ClientBuilder) -> Result<Client, Error> {
        let ParsedUrl {
            target,
            namespace: url_namespace,
            query,
        } = parse_url(&options.url)?;
        let namespace = options.namespace.clone().unwrap_or(url_namespace);
        let mut config = ManagerConfig::default();
        config.engine.path = options.path.clone();
        config.engine.query = query;
        config.engine.transports = vec![TransportKind::WebSocket];
        config.engine.upgrade = false;
        config.reconnection = options.reconnection;
        config.reconnection_attempts = options.reconnection_attempts;
        config.reconnection_delay = options.reconnection_delay;
        config.reconnection_delay_max = options.reconnection_delay_max;
        config.timeout = Some(options.connect_timeout);
        config.seed = seed();
        let mut manager = ClientManager::new(config).map_err(|e| Error::Refused(e.to_string()))?;
        let socket = manager
            .open_socket(Instant::ZERO, &namespace, options.auth.clone())
            .map_err(|e| Error::Refused(e.to_string()))?;
        let mut client = Client {
            manager,
            socket,
            target,
            epoch: StdInstant::now(),
            ws: None,
            connect_timeout: options.connect_timeout,
            max_message_size: options.max_message_size,
            max_buffered_events: options.max_buffered_events,
            inbox: VecDeque::new(),
            acks: HashMap::new(),
            last_error: None,
            #[cfg(feature = "tls")]
            tls: options.tls.clone(),
        };
        let deadline = StdInstant::now() + options.connect_timeout;
        loop {
            if let Some(i) = client
                .inbox
                .iter()
                .position(|e| matches!(e, ClientEvent::Connected { .. }))
            {
                client.inbox.remove(i);
                return Ok(client);
            }
            if let Some(i) = client.inbox.iter().position(|e| {
                matches!(e, ClientEvent::ConnectError { refused: true, .. })
                    || matches!(e, ClientEvent::ReconnectFailed)
                    || (!options.reconnection && matches!(e, ClientEvent::ConnectError { .. }))
            }) {
                return Err(match client.inbox.remove(i) {
                    Some(ClientEvent::ConnectError { message, data, .. }) => {
                        Error::ConnectError { message, data }
                    }
                    _ => Error::ConnectTimeout(client.last_error.clone()),
                });
            }
            if StdInstant::now() >= deadline {
                return Err(Error::ConnectTimeout(client.last_error.clone()));
            }
            match client.step(Some(deadline)) {
                Ok(()) => {}
                Err(Error::Closed) => return Err(Error::ConnectTimeout(client.last_error)),
                Err(e) => return Err(e),
            }
        }
    }

    /// Whether the namespace is joined right now.
    pub fn is_connected(&self) -> bool {
        self.manager.is_connected(self.socket)
    }

    /// The socket id the server gave, while connected.
    pub fn sid(&self) -> Option<&str> {
        self.manager.sid(self.socket).map(Str::as_str)
    }

    /// The last transport error seen (connection refused, handshake failure…).
    pub fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }

    /// The protocol core, to read its state.
    pub fn manager(&self) -> &ClientManager {
        &self.manager
    }

    /// Emits `event` with `args` (buffered while reconnecting).
    pub fn emit(&mut self, event: &str, args: Vec<Value>) -> Result<(), Error> {
        self.emit_with(event, args, EmitOptions::default())?;
        self.flush();
        Ok(())
    }

    /// Emits `event` with `args` and waits for the server's ack: its arguments, or
    /// [`Error::AckTimeout`] after `timeout`, or [`Error::AckDisconnected`]. Events that
    /// arrive meanwhile are kept for [`recv`](Self::recv).
    pub fn emit_with_ack(
        &mut self,
        event: &str,
        args: Vec<Value>,
        timeout: Duration,
    ) -> Result<Vec<Value>, Error> {
        let id = self
            .emit_with(event, args, EmitOptions::with_ack_timeout(timeout))?
            .ok_or_else(|| Error::Refused("no ack id".into()))?;
        loop {
            if let Some(outcome) = self.acks.remove(&id) {
                return match outcome {
                    AckOutcome::Reply(args) => Ok(args),
                    AckOutcome::Timeout => Err(Error::AckTimeout),
                    AckOutcome::Disconnected => Err(Error::AckDisconnected),
                };
            }
            if self.inbox.len() > self.max_buffered_events {
                return Err(Error::BacklogFull);
            }
            self.step(None)?;
        }
    }

    fn emit_with(
        &mut self,
        event: &str,
        args: Vec<Value>,
        options: EmitOptions,
    ) -> Result<Option<AckId>, Error> {
        let mut data = Vec::with_capacity(args.len() + 1);
        data.push(Value::from(event));
        data.extend(args);
        let now = self.now();
        self.manager
            .emit(
                now,
                self.socket,
                Payload::Value(Value::Array(data)),
                options,
            )
            .map_err(|e| Error::Refused(e.to_string()))
    }

    /// Answers an event that asked for an ack.
    pub fn ack(&mut self, request: AckRequest, args: Vec<Value>) -> Result<(), Error> {
        let now = self.now();
        self.manager
            .ack(
                now,
                self.socket,
                request.0,
                Payload::Value(Value::Array(args)),
            )
            .map_err(|e| Error::Refused(e.to_string()))?;
        self.flush();
        Ok(())
    }

    /// The next event, waiting at most `timeout` (`None`: until one comes): `Ok(None)` when
    /// the time ran out, [`Error::Closed`] when nothing more can come. Keeps the connection
    /// alive (heartbeats, reconnection) while it waits.
    pub fn recv(&mut self, timeout: Option<Duration>) -> Result<Option<ClientEvent>, Error> {
        let deadline = timeout.map(|t| StdInstant::now() + t);
        loop {
            if let Some(event) = self.inbox.pop_front() {
                return Ok(Some(event));
            }
            if deadline.is_some_and(|d| StdInstant::now() >= d) {
                return Ok(None);
            }
            self.step(deadline)?;
        }
    }

    /// Calls `handler` for every event until it returns `false` or the client closes.
    ///
    /// ```no_run
    /// use socketio_blocking::{Client, ClientEvent};
    ///
    /// let mut client = Client::connect_to("http://localhost:3000")?;
    /// client.run(|client, event| {
    ///     match event {
    ///         // Answer every ack request with the event's own arguments.
    ///         ClientEvent::Event { args, ack: Some(ack), .. } => client.ack(ack, args).is_ok(),
    ///         ClientEvent::Disconnected { reason } => reason.allows_reconnect(),
    ///         _ => true,
    ///     }
    /// })?;
    /// # Ok::<(), socketio_blocking::Error>(())
    /// ```
    pub fn run(
        &mut self,
        mut handler: impl FnMut(&mut Client, ClientEvent) -> bool,
    ) -> Result<(), Error> {
        loop {
            match self.recv(None) {
                Ok(Some(event)) => {
                    if !handler(self, event) {
                        return Ok(());
                    }
                }
                Ok(None) => {}
                Err(Error::Closed) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    }

    /// Leaves the namespace and closes the connection.
    pub fn disconnect(mut self) {
        let now = self.now();
        self.manager.close(now);
        self.flush();
        if let Some((_, mut ws)) = self.ws.take() {
            let _ = ws.close(None);
            let _ = ws.flush();
            let _ = ws.get_ref().tcp().shutdown(Shutdown::Both);
        }
    }

    // ----- the loop -----

    fn now(&self) -> Instant {
        Instant::from_duration(self.epoch.elapsed())
    }

    fn std_instant(&self, at: Instant) -> StdInstant {
        self.epoch + at.since_epoch()
    }

    /// One turn: write what the core queued, wait for a frame or the next deadline (at most
    /// until `deadline`), feed it in, collect the events.
    fn step(&mut self, deadline: Option<StdInstant>) -> Result<(), Error> {
        let before = (self.inbox.len(), self.acks.len());
        self.flush();
        if (self.inbox.len(), self.acks.len()) != before {
            return Ok(());
        }
        let timer = self.manager.poll_timeout().map(|at| self.std_instant(at));
        let wake = match (timer, deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if let Some((id, ws)) = self.ws.as_mut() {
            let id = *id;
            let wait = wake.map(|w| {
                w.saturating_duration_since(StdInstant::now())
                    .max(Duration::from_millis(1))
            });
            let _ = ws.get_ref().tcp().set_read_timeout(wait);
            let result = ws.read();
            if matches!(result, Ok(Message::Ping(_))) {
                let _ = ws.flush(); // the pong tungstenite queued
            }
            let now = self.now();
            match result {
                Ok(Message::Text(text)) => match Str::from_utf8(Bytes::from(text)) {
                    Ok(text) => self.manager.handle_ws_frame(now, id, Frame::Text(text)),
                    Err(_) => self.drop_ws(id, "invalid utf-8".into()),
                },
                Ok(Message::Binary(bytes)) => {
                    self.manager.handle_ws_frame(now, id, Frame::Binary(bytes))
                }
                Ok(Message::Close(_)) => self.drop_ws(id, "closed by the server".into()),
                Ok(_) => {}
                Err(tungstenite::Error::Io(e))
                    if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(tungstenite::Error::Capacity(e)) => {
                    self.last_error = Some(e.to_string());
                    if let Some((_, ws)) = self.ws.take() {
                        let _ = ws.get_ref().tcp().shutdown(Shutdown::Both);
                    }
                    let limit = self.max_message_size as u64;
                    self.manager.handle_too_large(now, id, limit);
                }
                Err(e) => self.drop_ws(id, e.to_string()),
            }
        } else {
            match wake {
                Some(at) => std::thread::sleep(at.saturating_duration_since(StdInstant::now())),
                None => {
                    if !self.manager.has_live_engines() {
                        return Err(Error::Closed);
                    }
                    // An engine still finishing without a socket or a deadline: wait a
                    // little instead of spinning.
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        }
        if timer.is_some_and(|t| t <= StdInstant::now()) {
            let now = self.now();
            self.manager.handle_timeout(now);
        }
        self.flush();
        Ok(())
    }

    fn drop_ws(&mut self, id: RequestId, error: String) {
        if let Some((_, ws)) = self.ws.take() {
            let _ = ws.get_ref().tcp().shutdown(Shutdown::Both);
        }
        self.last_error = Some(error);
        let now = self.now();
        self.manager.handle_ws_closed(now, id);
    }

    /// Carries out the core's transmits and collects its events.
    fn flush(&mut self) {
        while let Some(transmit) = self.manager.poll_transmit() {
            match transmit {
                Transmit::OpenWebSocket { id, path_and_query } => {
                    if let Some((_, ws)) = self.ws.take() {
                        let _ = ws.get_ref().tcp().shutdown(Shutdown::Both);
                    }
                    match self.dial(&path_and_query) {
                        Ok(ws) => {
                            self.ws = Some((id, ws));
                            let now = self.now();
                            self.manager.handle_ws_opened(now, id);
                        }
                        Err(error) => {
                            self.last_error = Some(error);
                            let now = self.now();
                            self.manager.handle_ws_closed(now, id);
                        }
                    }
                }
                Transmit::WsFrame { id, frame } => {
                    let Some((current, ws)) = self.ws.as_mut() else {
                        continue;
                    };
                    if *current != id {
                        continue;
                    }
                    let message = match frame {
                        Frame::Text(text) => {
                            Message::Text(text.into_bytes().try_into().unwrap_or_default())
                        }
                        Frame::Binary(bytes) => Message::Binary(bytes),
                    };
                    if let Err(e) = ws.send(message) {
                        self.drop_ws(id, e.to_string());
                    }
                }
                Transmit::CloseWebSocket { id } => {
                    if self.ws.as_ref().is_some_and(|(current, _)| *current == id)
                        && let Some((_, mut ws)) = self.ws.take()
                    {
                        let _ = ws.close(None);
                        let _ = ws.flush();
                        let _ = ws.get_ref().tcp().shutdown(Shutdown::Both);
                        let now = self.now();
                        self.manager.handle_ws_closed(now, id);
                    }
                }
                Transmit::Http { id, .. } => {
                    let now = self.now();
                    self.manager.handle_http_error(now, id);
                }
                _ => {}
            }
        }
        while let Some(event) = self.manager.poll_event() {
            self.on_event(event);
        }
    }

    fn on_event(&mut self, event: Event) {
        let translated = match event {
            Event::Connect { sid, .. } => ClientEvent::Connected {
                sid: sid.as_str().to_string(),
            },
            Event::ConnectError {
                message,
                data,
                refused,
                ..
            } => ClientEvent::ConnectError {
                message,
                data,
                refused,
            },
            Event::Event { data, ack, .. } => {
                let Ok(Value::Array(mut items)) = data.to_value() else {
                    return;
                };
                if items.is_empty() {
                    return;
                }
                let name = match items.remove(0) {
                    Value::String(name) => name,
                    Value::Number(n) => {
                        let mut out = Vec::new();
                        json::write_number(n, &mut out);
                        String::from_utf8(out).unwrap_or_default()
                    }
                    _ => return,
                };
                ClientEvent::Event {
                    name,
                    args: items,
                    ack: ack.map(AckRequest),
                }
            }
            Event::Ack { id, data, .. } => {
                let args = match data.to_value() {
                    Ok(Value::Array(args)) => args,
                    Ok(other) => vec![other],
                    Err(_) => Vec::new(),
                };
                self.acks.insert(id, AckOutcome::Reply(args));
                return;
            }
            Event::AckTimeout { id, .. } => {
                self.acks.insert(id, AckOutcome::Timeout);
                return;
            }
            Event::AckDisconnected { id, .. } => {
                self.acks.insert(id, AckOutcome::Disconnected);
                return;
            }
            Event::Disconnect { reason, .. } => ClientEvent::Disconnected { reason },
            Event::ReconnectAttempt(attempt) => ClientEvent::Reconnecting { attempt },
            Event::ReconnectFailed => ClientEvent::ReconnectFailed,
            _ => return,
        };
        self.inbox.push_back(translated);
    }

    /// Opens the TCP (and TLS) stream and upgrades it.
    fn dial(&self, path_and_query: &str) -> Result<WebSocket<Stream>, String> {
        let addrs = (self.target.host.as_str(), self.target.port)
            .to_socket_addrs()
            .map_err(|e| e.to_string())?;
        let mut last = String::from("no address");
        let mut tcp = None;
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, self.connect_timeout) {
                Ok(stream) => {
                    tcp = Some(stream);
                    break;
                }
                Err(e) => last = e.to_string(),
            }
        }
        let tcp = tcp.ok_or(last)?;
        tcp.set_nodelay(true).map_err(|e| e.to_string())?;
        tcp.set_read_timeout(Some(self.connect_timeout))
            .map_err(|e| e.to_string())?;
        tcp.set_write_timeout(Some(self.connect_timeout))
            .map_err(|e| e.to_string())?;
        let stream = self.wrap(tcp)?;
        let scheme = if self.target.tls { "wss" } else { "ws" };
        let host = if self.target.host.contains(':') {
            format!("[{}]", self.target.host)
        } else {
            self.target.host.clone()
        };
        let url = format!("{scheme}://{host}:{}{path_and_query}", self.target.port);
        let config = WebSocketConfig::default()
            .read_buffer_size(4096)
            .write_buffer_size(0)
            .max_message_size(Some(self.max_message_size))
            .max_frame_size(Some(self.max_message_size));
        let (ws, _) = tungstenite::client::client_with_config(url.as_str(), stream, Some(config))
            .map_err(|e| match e {
            tungstenite::HandshakeError::Failure(e) => e.to_string(),
            tungstenite::HandshakeError::Interrupted(_) => "handshake timeout".to_string(),
        })?;
        Ok(ws)
    }

    #[cfg(feature = "tls")]
    fn wrap(&self, tcp: TcpStream) -> Result<Stream, String> {
        if !self.target.tls {
            return Ok(Stream::Plain(tcp));
        }
        let config = match &self.tls {
            Some(config) => config.clone(),
            None => {
                let roots = rustls::RootCertStore {
                    roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
                };
                let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
                std::sync::Arc::new(
                    rustls::ClientConfig::builder_with_provider(provider)
                        .with_safe_default_protocol_versions()
                        .map_err(|e| e.to_string())?
                        .with_root_certificates(roots)
                        .with_no_client_auth(),
                )
            }
        };
        let name = rustls::pki_types::ServerName::try_from(self.target.host.clone())
            .map_err(|e| e.to_string())?;
        let conn = rustls::ClientConnection::new(config, name).map_err(|e| e.to_string())?;
        Ok(Stream::Tls(Box::new(rustls::StreamOwned::new(conn, tcp))))
    }

    #[cfg(not(feature = "tls"))]
    fn wrap(&self, tcp: TcpStream) -> Result<Stream, String> {
        Ok(Stream::Plain(tcp))
    }
}

/// A seed for the reconnection jitter from the std hasher's random keys.
fn seed() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(StdInstant::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_target_namespace_and_query() {
        let ParsedUrl {
            target,
            namespace: nsp,
            query,
        } = parse_url("http://localhost:3000/custom?a=1&b").unwrap();
        assert_eq!(
            (target.host.as_str(), target.port, target.tls),
            ("localhost", 3000, false)
        );
        assert_eq!(nsp, "/custom");
        assert_eq!(
            query,
            vec![("a".into(), "1".into()), ("b".into(), String::new())]
        );
        let ParsedUrl {
            target,
            namespace: nsp,
            ..
        } = parse_url("ws://[::1]").unwrap();
        assert_eq!((target.host.as_str(), target.port), ("::1", 80));
        assert_eq!(nsp, "/");
        assert!(parse_url("ftp://x").is_err());
        assert!(parse_url("http://:80").is_err());
        assert!(parse_url("http://h:notaport").is_err());
    }
}
