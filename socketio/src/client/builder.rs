//! The client's options.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use socketio_protocol::Value;
use socketio_protocol::engine::client::TransportKind as EngineTransport;
use socketio_protocol::socket::client::{ManagerConfig, ParserKind};
use socketio_protocol::value::to_value;

use super::driver::{AuthFn, AuthSource, Origin};
use super::{BuildError, Client, Connector};
use crate::{Parser, Runtime, TransportKind};

/// Options of a [`Client`], with the official client's defaults (`reconnection` on,
/// unbounded attempts, delays 1 s to 5 s with jitter 0.5, `timeout` 20 s, no ack timeout, no
/// retries, JSON parser, polling then upgrade to WebSocket, path `/socket.io/`).
///
/// ```no_run
/// # fn runtime() -> std::sync::Arc<dyn socketio::Runtime> { unimplemented!() }
/// # fn connector() -> std::sync::Arc<dyn socketio::client::Connector> { unimplemented!() }
/// use std::time::Duration;
/// use socketio::client::Client;
///
/// let client = Client::builder("https://example.com/admin?room=1")
///     .header("x-api-key", "secret")
///     .auth_fn(|| serde_json::json!({ "token": "fresh" }))
///     .reconnection_delay(Duration::from_millis(500))
///     .ack_timeout(Duration::from_secs(5))
///     .connect(runtime(), connector())
///     .unwrap();
/// ```
#[derive(Clone)]
pub struct ClientBuilder {
    url: String,
    path: Option<String>,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    auth: Result<AuthSource, String>,
    config: ManagerConfig,
    namespaces: Vec<String>,
    max_pending_events: usize,
}

/// How many received events may wait for their handlers to finish before the client stops
/// reading from the server ([`ClientBuilder::max_pending_events`]): 256, the server's
/// [`Backpressure::max_backlog`](crate::flow::Backpressure) too.
pub const DEFAULT_MAX_PENDING_EVENTS: usize = 256;

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("url", &self.url)
            .field("path", &self.path)
            .field("query", &self.query)
            .field("config", &self.config)
            .field("namespaces", &self.namespaces)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// Options for `url`: `http://`, `https://`, `ws://` or `wss://`, host and port; its path
    /// is the namespace of [`Client::default_socket`] (`/` when empty) and its query is sent
    /// with every request.
    ///
    /// ```
    /// let builder = socketio::client::ClientBuilder::new("http://localhost:3000/chat?v=1");
    /// # let _ = builder;
    /// ```
    pub fn new(url: impl Into<String>) -> Self {
        let mut config = ManagerConfig::default();
        let mut seed = [0u8; 8];
        let _ = getrandom::fill(&mut seed);
        config.seed = u64::from_le_bytes(seed);
        config.engine.timestamp_seed = u64::from(u16::from_le_bytes([seed[0], seed[1]]));
        ClientBuilder {
            url: url.into(),
            path: None,
            query: Vec::new(),
            headers: Vec::new(),
            auth: Ok(AuthSource::None),
            config,
            namespaces: Vec::new(),
            max_pending_events: DEFAULT_MAX_PENDING_EVENTS,
        }
    }

    /// The Engine.IO path (`path`, default `/socket.io`).
    ///
    /// ```
    /// let b = socketio::client::Client::builder("http://localhost:3000").path("/my-app");
    /// # let _ = b;
    /// ```
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// Adds a query parameter to every request (`query`).
    ///
    /// ```
    /// let b = socketio::client::Client::builder("http://localhost:3000").query("token", "abc");
    /// # let _ = b;
    /// ```
    pub fn query(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((name.into(), value.into()));
        self
    }

    /// Adds a header to every HTTP request and WebSocket handshake (`extraHeaders`).
    ///
    /// ```
    /// let b = socketio::client::Client::builder("http://localhost:3000").header("authorization", "Bearer x");
    /// # let _ = b;
    /// ```
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The auth payload (an object) sent in every namespace CONNECT (`auth`).
    ///
    /// ```
    /// let b = socketio::client::Client::builder("http://localhost:3000")
    ///     .auth(&serde_json::json!({ "token": "abc" }));
    /// # let _ = b;
    /// ```
    pub fn auth<T: Serialize + ?Sized>(mut self, auth: &T) -> Self {
        self.auth = to_value(auth)
            .map_err(|e| e.0)
            .and_then(check_object)
            .map(AuthSource::Value);
        self
    }

    /// The auth payload computed on every (re)connection, as `auth: (cb) => cb(...)`. The
    /// function runs under the client's lock: it must not call the client.
    ///
    /// ```
    /// let b = socketio::client::Client::builder("http://localhost:3000")
    ///     .auth_fn(|| serde_json::json!({ "token": "fresh" }));
    /// # let _ = b;
    /// ```
    pub fn auth_fn<T, F>(mut self, auth: F) -> Self
    where
        T: Serialize,
        F: Fn() -> T + Send + Sync + 'static,
    {
        let erased: AuthFn = Arc::new(move || {
            to_value(&auth())
                .map_err(|e| e.0)
                .and_then(check_object)
                .map_err(|error| tracing::warn!(%error, "auth function: not an object"))
                .ok()
        });
        self.auth = Ok(AuthSource::Fn(erased));
        self
    }

    /// The transports, in order (`transports`, default polling then WebSocket). The first
    /// one opens the connection; with polling first, the client upgrades to WebSocket if it
    /// is listed and [`upgrade`](Self::upgrade) is on.
    ///
    /// ```
    /// use socketio::TransportKind;
    /// let b = socketio::client::Client::builder("http://localhost:3000")
    ///     .transports([TransportKind::WebSocket]);
    /// # let _ = b;
    /// ```
    pub fn transports(mut self, transports: impl IntoIterator<Item = TransportKind>) -> Self {
        self.config.engine.transports = transports
            .into_iter()
            .map(|t| match t {
                TransportKind::Polling => EngineTransport::Polling,
                _ => EngineTransport::WebSocket,
            })
            .collect();
        self
    }

    /// Whether to upgrade from polling to WebSocket (`upgrade`, default true).
    ///
    /// ```
    /// let b = socketio::client::Client::builder("http://localhost:3000").upgrade(false);
    /// # let _ = b;
    /// ```
    pub fn upgrade(mut self, upgrade: bool) -> Self {
        self.config.engine.upgrade = upgrade;
        self
    }

    /// Whether to reconnect automatically (`reconnection`, default true).
    ///
    /// ```
    /// let b = socketio::client::Client::builder("http://localhost:3000").reconnection(false);
    /// # let _ = b;
    /// ```
    pub fn reconnection(mut self, reconnection: bool) -> Self {
        self.config.reconnection = reconnection;
        self
    }

    /// Most reconnection attempts before `reconnect_failed` (`reconnectionAttempts`, default
    /// unbounded).
    ///
    /// ```
    /// let b = socketio::client::Client::builder("http://localhost:3000").reconnection_attempts(5);
    /// # let _ = b;
    /// ```
    pub fn reconnection_attempts(mut self, attempts: u32) -> Self {
        self.config.reconnection_attempts = Some(attempts);
        self
    }

    /// The first reconnection delay (`reconnectionDelay`, default 1 s), doubled per attempt.
    ///
    /// ```
    /// let b = socketio::client::Client::builder("http://localhost:3000")
    ///     .reconnection_delay(std::time::Duration::from_millis(100));
    /// # let _ = b;
    /// ```
    pub fn reconnection_delay(mut self, delay: Duration) -> Self {
        self.config.reconnection_delay = delay;
        self
    }

    /// The largest reconnection delay (`reconnectionDelayMax`, default 5 s).
    ///
    /// ```
    /// let b = socketio::client::Client::builder("http://localhost:3000")
    ///     .reconnection_delay_max(std::time::Duration::from_secs(10));
    /// # let _ = b;
    /// ```
    pub fn reconnection_delay_max(mut self, delay: Duration) -> Self {
        self.config.reconnection_delay_max = delay;
        self
    }

    /// The jitter of the reconnection delays, between 0 and 1 (`randomizationFactor`,
    /// default 0.5).
    ///
    /// ```
    /// let b = socketio::client::Client::builder("http://localhost:3000").randomization_factor(0.0);
    /// # let _ = b;
    /// ```
    pub fn randomization_factor(mut self, factor: f64) -> Self {
        self.config.randomization_factor = factor;
        self
    }

    /// How long a connection attempt may take before it fails with `timeout` (`timeout`,
    /// default 20 s).
    ///
    /// ```
    /// let b = socketio::client::Client::builder("http://localhost:3000")
    ///     .timeout(std::time::Duration::from_secs(5));
    /// # let _ = b;
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.config.timeout = Some(timeout);
        self
    }

    /// The default timeout of [`emit_with_ack`](super::ClientSocket::emit_with_ack)
    /// (`ackTimeout`, default none).
    ///
    /// ```
    /// let b = socketio::client::Client::builder("http://localhost:3000")
    ///     .ack_timeout(std::time::Duration::from_secs(5));
    /// # let _ = b;
    /// ```
    pub fn ack_timeout(mut self, timeout: Duration) -> Self {
        self.config.ack_timeout = Some(timeout);
        self
    }

    /// `retries`: every non-volatile emit is queued, sent one at a time with an ack request
    /// and tried up to `retries + 1` times (at-least-once delivery, in order).
    ///
    /// ```
    /// let b = socketio::client::Client::builder("http://localhost:3000").retries(3);
    /// # let _ = b;
    /// ```
    pub fn retries(mut self, retries: u32) -> Self {
        self.config.retries = Some(retries);
        self
    }

    /// Most packets buffered per namespace while it is not connected (default 1024).
    ///
    /// ```
    /// let b = socketio::client::Client::builder("http://localhost:3000").max_send_buffer(100);
    /// # let _ = b;
    /// ```
    pub fn max_send_buffer(mut self, packets: usize) -> Self {
        self.config.max_send_buffer = packets;
        self
    }

    /// The parser: [`Parser::Common`] (JSON, the default) or [`Parser::Msgpack`].
    ///
    /// ```
    /// let b = socketio::client::Client::builder("http://localhost:3000").parser(socketio::Parser::Msgpack);
    /// # let _ = b;
    /// ```
    pub fn parser(mut self, parser: Parser) -> Self {
        self.config.parser = match parser {
            Parser::Msgpack => ParserKind::Msgpack,
            _ => ParserKind::Common,
        };
        self
    }

    /// Shorthand for `.parser(Parser::Msgpack)` (`socket.io-msgpack-parser`).
    ///
    /// ```
    /// let b = socketio::client::Client::builder("http://localhost:3000").msgpack();
    /// # let _ = b;
    /// ```
    pub fn msgpack(self) -> Self {
        self.parser(Parser::Msgpack)
    }

    /// How many received events may be pending (handed to their handler, the handler not
    /// finished) before the client stops reading from the server: no WebSocket frame is read
    /// and no polling request sent until one finishes, so a server sending faster than the
    /// handlers consume is slowed down by TCP instead of growing the client's memory. Default
    /// [`DEFAULT_MAX_PENDING_EVENTS`] (256; at least 1). The memory it bounds is at most this
    /// many events of the largest message the client reads
    /// ([`max_payload`](Self::max_payload)).
    ///
    /// A handler that awaits something only a later read brings (the ack of an
    /// `emit_with_ack` without a timeout) holds its place meanwhile: with this many such
    /// handlers at once, reading stays paused. Give such acks a timeout, or raise the bound.
    ///
    /// ```
    /// let b = socketio::client::Client::builder("http://localhost:3000").max_pending_events(64);
    /// # let _ = b;
    /// ```
    pub fn max_pending_events(mut self, events: usize) -> Self {
        self.max_pending_events = events.max(1);
        self
    }

    /// The most bytes the client reads in one polling response body, in place of the default:
    /// 1 000 000 bytes before the handshake, then the server's `maxPayload` kept between
    /// 16 MiB and 100 MB (a poll may carry a burst of everything the server buffered, larger
    /// than its `maxPayload`; a hostile handshake cannot lift the cap past 100 MB). Past it
    /// the connection closes with the reason `payload too large (limit: … bytes)` and the
    /// client reconnects as configured. (WebSocket messages are capped by the connector's
    /// WebSocket configuration, 1 000 000 bytes by default.)
    ///
    /// ```
    /// let b = socketio::client::Client::builder("http://localhost:3000").max_payload(16 << 20);
    /// # let _ = b;
    /// ```
    pub fn max_payload(mut self, bytes: u64) -> Self {
        self.config.engine.max_payload = Some(bytes);
        self
    }

    /// Another namespace to join on [`Client::connect`], over the same connection.
    ///
    /// ```
    /// let b = socketio::client::Client::builder("http://localhost:3000").namespace("/admin");
    /// # let _ = b;
    /// ```
    pub fn namespace(mut self, nsp: impl Into<String>) -> Self {
        self.namespaces.push(nsp.into());
        self
    }

    /// Builds the client without connecting: register handlers on
    /// [`Client::socket`]s, then call [`Client::connect`].
    ///
    /// ```no_run
    /// # fn runtime() -> std::sync::Arc<dyn socketio::Runtime> { unimplemented!() }
    /// # fn connector() -> std::sync::Arc<dyn socketio::client::Connector> { unimplemented!() }
    /// let client = socketio::client::Client::builder("http://localhost:3000")
    ///     .build(runtime(), connector())
    ///     .unwrap();
    /// client.default_socket().on_connect(|s| async move { println!("{:?}", s.id()) });
    /// client.connect();
    /// ```
    pub fn build(
        self,
        runtime: Arc<dyn Runtime>,
        connector: Arc<dyn Connector>,
    ) -> Result<Client, BuildError> {
        let uri: http::Uri = self
            .url
            .parse()
            .map_err(|e| BuildError::InvalidUrl(format!("{}: {e}", self.url)))?;
        let secure = match uri.scheme_str() {
            Some("http") | Some("ws") => false,
            Some("https") | Some("wss") => true,
            _ => return Err(BuildError::InvalidUrl(self.url.clone())),
        };
        let authority = uri
            .authority()
            .ok_or_else(|| BuildError::InvalidUrl(self.url.clone()))?
            .to_string();
        let nsp = match uri.path() {
            "" | "/" => "/".to_owned(),
            path => path.trim_end_matches('/').to_owned(),
        };
        let mut config = self.config;
        if let Some(path) = &self.path {
            config.engine.path = path.clone();
        }
        let mut query = Vec::new();
        if let Some(q) = uri.query() {
            for pair in q.split('&').filter(|p| !p.is_empty()) {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                query.push((percent_decode(name), percent_decode(value)));
            }
        }
        query.extend(self.query);
        config.engine.query = query;
        let mut headers = Vec::new();
        for (name, value) in &self.headers {
            let name = http::HeaderName::try_from(name.as_str())
                .map_err(|e| BuildError::InvalidHeader(format!("{name}: {e}")))?;
            let value = http::HeaderValue::try_from(value.as_str())
                .map_err(|e| BuildError::InvalidHeader(format!("{name}: {e}")))?;
            headers.push((name, value));
        }
        let auth = self.auth.map_err(BuildError::InvalidAuth)?;
        let mut namespaces = vec![nsp];
        for extra in self.namespaces {
            if !extra.starts_with('/') {
                return Err(BuildError::Config(format!(
                    "a namespace starts with '/': {extra}"
                )));
            }
            if !namespaces.contains(&extra) {
                namespaces.push(extra);
            }
        }
        let origin = Origin {
            secure,
            authority,
            headers,
        };
        Client::new(
            runtime,
            connector,
            config,
            origin,
            auth,
            namespaces,
            self.max_pending_events,
        )
    }

    /// Builds the client and connects at once ([`build`](Self::build) then
    /// [`Client::connect`]). Handlers registered afterwards may miss the first events; use
    /// [`ClientSocket::wait_connected`](super::ClientSocket::wait_connected) to wait for the
    /// connection.
    ///
    /// ```no_run
    /// # fn runtime() -> std::sync::Arc<dyn socketio::Runtime> { unimplemented!() }
    /// # fn connector() -> std::sync::Arc<dyn socketio::client::Connector> { unimplemented!() }
    /// # async fn f() {
    /// let client = socketio::client::Client::builder("http://localhost:3000")
    ///     .connect(runtime(), connector())
    ///     .unwrap();
    /// client.default_socket().wait_connected().await.unwrap();
    /// # }
    /// ```
    pub fn connect(
        self,
        runtime: Arc<dyn Runtime>,
        connector: Arc<dyn Connector>,
    ) -> Result<Client, BuildError> {
        let client = self.build(runtime, connector)?;
        client.connect();
        Ok(client)
    }
}

fn check_object(value: Value) -> Result<Value, String> {
    match value {
        Value::Object(_) => Ok(value),
        _ => Err("the auth payload must be an object".to_owned()),
    }
}

/// Decodes `%XX` escapes and `+` (as a space) of a query component.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::percent_decode;

    #[test]
    fn decodes_query_components() {
        assert_eq!(percent_decode("a%20b+c%2"), "a b c%2");
        assert_eq!(percent_decode("%C3%A9"), "é");
    }
}
