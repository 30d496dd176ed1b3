//! Server options, with the reference defaults of engine.io 6.6.

use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use super::cors::Cors;
use crate::Str;
use crate::engine::Data;

/// A low-level transport of the Engine.IO protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
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

    /// Parses the `transport` query parameter (`None` for anything else, e.g. `webtransport`).
    pub fn from_query(value: &str) -> Option<Self> {
        match value {
            "polling" => Some(TransportKind::Polling),
            "websocket" => Some(TransportKind::WebSocket),
            _ => None,
        }
    }
}

/// The `SameSite` attribute of the session cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SameSite {
    /// `SameSite=Strict`.
    Strict,
    /// `SameSite=Lax` (the reference default).
    Lax,
    /// `SameSite=None`.
    None,
}

/// The cookie carrying the session id, set on the polling handshake response (`cookie` option).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionCookie {
    /// Cookie name (`io`).
    pub name: Str,
    /// `Path` attribute (`/`).
    pub path: Option<Str>,
    /// `Domain` attribute (none).
    pub domain: Option<Str>,
    /// `Max-Age` attribute in seconds (none).
    pub max_age: Option<u64>,
    /// `HttpOnly` attribute (on).
    pub http_only: bool,
    /// `Secure` attribute (off).
    pub secure: bool,
    /// `SameSite` attribute (`Lax`).
    pub same_site: Option<SameSite>,
}

impl Default for SessionCookie {
    fn default() -> Self {
        SessionCookie {
            name: Str::from_static("io"),
            path: Some(Str::from_static("/")),
            domain: None,
            max_age: None,
            http_only: true,
            secure: false,
            same_site: Some(SameSite::Lax),
        }
    }
}

impl SessionCookie {
    /// The `Set-Cookie` value for `sid`, attributes in the order of the `cookie` npm package:
    /// `io=<sid>; Path=/; HttpOnly; SameSite=Lax` with the defaults.
    pub fn header_value(&self, sid: &str) -> String {
        let mut out = String::with_capacity(64);
        out.push_str(&self.name);
        out.push('=');
        out.push_str(sid);
        if let Some(max_age) = self.max_age {
            out.push_str("; Max-Age=");
            out.push_str(itoa::Buffer::new().format(max_age));
        }
        if let Some(domain) = &self.domain {
            out.push_str("; Domain=");
            out.push_str(domain);
        }
        if let Some(path) = &self.path {
            out.push_str("; Path=");
            out.push_str(path);
        }
        if self.http_only {
            out.push_str("; HttpOnly");
        }
        if self.secure {
            out.push_str("; Secure");
        }
        match self.same_site {
            Some(SameSite::Strict) => out.push_str("; SameSite=Strict"),
            Some(SameSite::Lax) => out.push_str("; SameSite=Lax"),
            Some(SameSite::None) => out.push_str("; SameSite=None"),
            None => {}
        }
        out
    }
}

/// Server options. `Config::default()` has the reference defaults.
#[derive(Debug, Clone)]
pub struct Config {
    /// Request path prefix (`/engine.io`); requests match on `path + "/"`.
    pub path: Str,
    /// Time between server pings in v4, and the client's ping period in v3 (25 s).
    pub ping_interval: Duration,
    /// Time allowed for the heartbeat answer (20 s).
    pub ping_timeout: Duration,
    /// Time allowed for an upgrade probe to finish (10 s).
    pub upgrade_timeout: Duration,
    /// Largest accepted POST body or WebSocket frame in bytes (`maxHttpBufferSize`, 1 000 000).
    pub max_payload: usize,
    /// Enabled transports (`["polling", "websocket"]`).
    pub transports: Vec<TransportKind>,
    /// Whether polling sessions may upgrade to WebSocket (on).
    pub allow_upgrades: bool,
    /// Whether Engine.IO v3 clients (Socket.IO v2) are accepted (off).
    pub allow_eio3: bool,
    /// CORS headers for polling responses and preflight requests (off).
    pub cors: Option<Cors>,
    /// A message sent right after the open packet (none).
    pub initial_packet: Option<Data>,
    /// The session cookie set on the polling handshake (none).
    pub cookie: Option<SessionCookie>,
    /// Whether handshakes wait for the application's verdict (`allowRequest`); when off they
    /// are accepted at once. See [`Event::HandshakeRequest`](super::Event::HandshakeRequest).
    pub verify_handshakes: bool,
    /// How long a POST body may take to arrive once its head was classified (300 s, Node's
    /// `requestTimeout`): past it the POST is answered `408` with `Connection: close` and
    /// its session closes (`transport error`).
    pub request_timeout: Duration,
    /// How long a server-closed polling session waits for a GET to carry the close packet (30 s).
    pub polling_close_timeout: Duration,
    /// How many messages may wait for the next polling GET before `send` fails (1024).
    pub max_buffered_packets: usize,
    /// How many bytes of messages may wait for the next polling GET before `send` fails
    /// (unbounded by default, as the reference; a message is always taken when nothing
    /// waits).
    pub max_buffered_bytes: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            path: Str::from_static("/engine.io"),
            ping_interval: Duration::from_millis(25_000),
            ping_timeout: Duration::from_millis(20_000),
            upgrade_timeout: Duration::from_millis(10_000),
            max_payload: 1_000_000,
            transports: alloc::vec![TransportKind::Polling, TransportKind::WebSocket],
            allow_upgrades: true,
            allow_eio3: false,
            cors: None,
            initial_packet: None,
            cookie: None,
            verify_handshakes: false,
            request_timeout: Duration::from_millis(300_000),
            polling_close_timeout: Duration::from_millis(30_000),
            max_buffered_packets: 1024,
            max_buffered_bytes: usize::MAX,
        }
    }
}

impl Config {
    /// Whether `transport` is enabled.
    pub fn allows(&self, transport: TransportKind) -> bool {
        self.transports.contains(&transport)
    }

    /// The normalized path prefix: `path` without a trailing `/`, plus `/`.
    pub fn path_prefix(&self) -> String {
        let mut prefix = String::from(self.path.trim_end_matches('/'));
        prefix.push('/');
        prefix
    }

    /// The upgrades offered in the open packet of a session on `transport`.
    pub(crate) fn upgrades(&self, transport: TransportKind) -> Vec<Str> {
        if self.allow_upgrades
            && transport == TransportKind::Polling
            && self.allows(TransportKind::WebSocket)
        {
            alloc::vec![Str::from_static("websocket")]
        } else {
            Vec::new()
        }
    }
}
