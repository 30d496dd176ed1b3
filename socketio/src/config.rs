//! Server options and the [`ServerBuilder`].

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use socketio_protocol::Str;
use socketio_protocol::engine::server::Config as EngineConfig;
use socketio_protocol::socket::server::Config as SocketConfig;

use crate::Runtime;
pub use socketio_protocol::engine::server::{Cors, CorsOrigin, TransportKind};
pub use socketio_protocol::recovery::RecoveryConfig;
pub use socketio_protocol::socket::server::Parser;

/// The `allowRequest` hook: sees the handshake request head and the peer address, and
/// refuses with a message (`403 {"code":4,"message":…}` over polling).
pub type AllowRequest =
    Arc<dyn Fn(&http::request::Parts, Option<SocketAddr>) -> Result<(), String> + Send + Sync>;

/// Every option of a server (built by [`ServerBuilder`]).
#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) engine: EngineConfig,
    pub(crate) socket: SocketConfig,
    pub(crate) recovery: Option<RecoveryConfig>,
    pub(crate) allow_request: Option<AllowRequest>,
    pub(crate) backpressure: crate::Backpressure,
    pub(crate) adapter: crate::adapter::AdapterFactory,
    pub(crate) ack_timeout: Duration,
    pub(crate) shutdown_timeout: Duration,
    /// Where the server's metrics go (feature `metrics`).
    #[cfg(feature = "metrics")]
    pub(crate) metrics: Option<crate::metrics::Metrics>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("engine", &self.engine)
            .field("socket", &self.socket)
            .field("recovery", &self.recovery)
            .field("allow_request", &self.allow_request.is_some())
            .field("backpressure", &self.backpressure)
            .field("ack_timeout", &self.ack_timeout)
            .finish()
    }
}

impl Default for Config {
    fn default() -> Self {
        let engine = EngineConfig {
            path: Str::from_static("/socket.io"),
            // Bounded in bytes instead (`backpressure.limit`): a burst of small messages is
            // not a slow consumer.
            max_buffered_packets: usize::MAX,
            ..EngineConfig::default()
        };
        Config {
            engine,
            socket: SocketConfig::default(),
            recovery: None,
            allow_request: None,
            backpressure: crate::Backpressure::default(),
            adapter: crate::adapter::InMemoryAdapter::factory(),
            ack_timeout: Duration::from_secs(10),
            shutdown_timeout: Duration::from_secs(5),
            #[cfg(feature = "metrics")]
            metrics: None,
        }
    }
}

/// Builds a [`Server`](crate::Server); every option starts at the reference default.
///
/// ```
/// use std::time::Duration;
/// use socketio::{Cors, CorsOrigin, Server, TransportKind};
///
/// let builder = Server::builder()
///     .path("/socket.io")
///     .ping_interval(Duration::from_secs(25))
///     .ping_timeout(Duration::from_secs(20))
///     .transports([TransportKind::Polling, TransportKind::WebSocket])
///     .cors(Cors::new(CorsOrigin::Any))
///     .max_http_buffer_size(1_000_000);
/// // `builder.build(runtime)` with the runtime of your choice.
/// # let _ = builder;
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct ServerBuilder {
    pub(crate) config: Config,
}

impl ServerBuilder {
    /// A builder with the reference defaults (path `/socket.io`).
    ///
    /// ```
    /// let builder = socketio::ServerBuilder::new();
    /// # let _ = builder;
    /// ```
    pub fn new() -> Self {
        ServerBuilder::default()
    }

    /// The request path prefix (`/socket.io`); requests match on `path + "/"`.
    ///
    /// ```
    /// let builder = socketio::Server::builder().path("/ws");
    /// # let _ = builder;
    /// ```
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.config.engine.path = Str::from(path.into());
        self
    }

    /// Time between server pings (`pingInterval`, 25 s).
    ///
    /// ```
    /// let b = socketio::Server::builder().ping_interval(std::time::Duration::from_secs(10));
    /// # let _ = b;
    /// ```
    pub fn ping_interval(mut self, interval: Duration) -> Self {
        self.config.engine.ping_interval = interval;
        self
    }

    /// Time allowed for the pong (`pingTimeout`, 20 s).
    ///
    /// ```
    /// let b = socketio::Server::builder().ping_timeout(std::time::Duration::from_secs(5));
    /// # let _ = b;
    /// ```
    pub fn ping_timeout(mut self, timeout: Duration) -> Self {
        self.config.engine.ping_timeout = timeout;
        self
    }

    /// Time allowed for a transport upgrade to finish (`upgradeTimeout`, 10 s).
    ///
    /// ```
    /// let b = socketio::Server::builder().upgrade_timeout(std::time::Duration::from_secs(5));
    /// # let _ = b;
    /// ```
    pub fn upgrade_timeout(mut self, timeout: Duration) -> Self {
        self.config.engine.upgrade_timeout = timeout;
        self
    }

    /// How long a POST body may take to arrive once its request was classified from its
    /// head (300 s, Node's `requestTimeout`); past it the POST gets `408` with
    /// `Connection: close` and its session closes (`transport error`). A POST refused from its
    /// head (no session, a bad query) is answered at once, without reading its body.
    ///
    /// ```
    /// let b = socketio::Server::builder().request_timeout(std::time::Duration::from_secs(30));
    /// # let _ = b;
    /// ```
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.config.engine.request_timeout = timeout;
        self
    }

    /// Largest accepted POST body or WebSocket message in bytes (`maxHttpBufferSize`, 1e6).
    ///
    /// ```
    /// let b = socketio::Server::builder().max_http_buffer_size(64 * 1024);
    /// # let _ = b;
    /// ```
    pub fn max_http_buffer_size(mut self, bytes: usize) -> Self {
        self.config.engine.max_payload = bytes;
        self
    }

    /// How long a client may stay without joining a namespace (`connectTimeout`, 45 s).
    ///
    /// ```
    /// let b = socketio::Server::builder().connect_timeout(std::time::Duration::from_secs(5));
    /// # let _ = b;
    /// ```
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.config.socket.connect_timeout = timeout;
        self
    }

    /// The enabled transports (`["polling", "websocket"]`).
    ///
    /// ```
    /// let b = socketio::Server::builder().transports([socketio::TransportKind::WebSocket]);
    /// # let _ = b;
    /// ```
    pub fn transports(mut self, transports: impl IntoIterator<Item = TransportKind>) -> Self {
        self.config.engine.transports = transports.into_iter().collect();
        self
    }

    /// Whether polling sessions may upgrade to WebSocket (`allowUpgrades`, on).
    ///
    /// ```
    /// let b = socketio::Server::builder().allow_upgrades(false);
    /// # let _ = b;
    /// ```
    pub fn allow_upgrades(mut self, allow: bool) -> Self {
        self.config.engine.allow_upgrades = allow;
        self
    }

    /// Whether Engine.IO v3 / Socket.IO v2 clients are accepted (`allowEIO3`, off).
    ///
    /// ```
    /// let b = socketio::Server::builder().allow_eio3(true);
    /// # let _ = b;
    /// ```
    pub fn allow_eio3(mut self, allow: bool) -> Self {
        self.config.engine.allow_eio3 = allow;
        self
    }

    /// CORS headers for polling responses and preflights (`cors`, off).
    ///
    /// ```
    /// use socketio::{Cors, CorsOrigin};
    /// let b = socketio::Server::builder().cors(Cors::new(CorsOrigin::Reflect));
    /// # let _ = b;
    /// ```
    pub fn cors(mut self, cors: Cors) -> Self {
        self.config.engine.cors = Some(cors);
        self
    }

    /// The handshake check (`allowRequest`): called for every new session with the request
    /// head and the peer address; `Err(message)` refuses it (`403` over polling, a plain `400`
    /// for a WebSocket).
    ///
    /// ```
    /// let b = socketio::Server::builder().allow_request(|parts, _remote| {
    ///     match parts.headers.get("x-token") {
    ///         Some(_) => Ok(()),
    ///         None => Err("token required".to_owned()),
    ///     }
    /// });
    /// # let _ = b;
    /// ```
    pub fn allow_request(
        mut self,
        check: impl Fn(&http::request::Parts, Option<SocketAddr>) -> Result<(), String>
        + Send
        + Sync
        + 'static,
    ) -> Self {
        self.config.allow_request = Some(Arc::new(check));
        self
    }

    /// The Socket.IO parser (the common JSON parser by default).
    ///
    /// ```
    /// let b = socketio::Server::builder().parser(socketio::Parser::Common);
    /// # let _ = b;
    /// ```
    pub fn parser(mut self, parser: Parser) -> Self {
        self.config.socket.parser = parser;
        self
    }

    /// Uses the msgpack parser (`socket.io-msgpack-parser`).
    ///
    /// ```
    /// let b = socketio::Server::builder().msgpack();
    /// # let _ = b;
    /// ```
    pub fn msgpack(self) -> Self {
        self.parser(Parser::Msgpack)
    }

    /// Enables connection state recovery (`connectionStateRecovery`).
    ///
    /// ```
    /// let b = socketio::Server::builder()
    ///     .connection_state_recovery(socketio::RecoveryConfig::default());
    /// # let _ = b;
    /// ```
    pub fn connection_state_recovery(mut self, recovery: RecoveryConfig) -> Self {
        self.config.socket.recovery = true;
        self.config.recovery = Some(recovery);
        self
    }

    /// How many messages may wait for the next polling GET of one session (unbounded by
    /// default: the buffer is bounded in bytes by [`backpressure`](Self::backpressure));
    /// beyond it its sockets leave with `transport error` and the session closes, see the
    /// crate docs on slow consumers.
    ///
    /// ```
    /// let b = socketio::Server::builder().max_buffered_packets(256);
    /// # let _ = b;
    /// ```
    pub fn max_buffered_packets(mut self, packets: usize) -> Self {
        self.config.engine.max_buffered_packets = packets.max(1);
        self
    }

    /// The backpressure limits of every connection: when reading pauses and when a peer is a
    /// slow consumer (see [`Backpressure`](crate::Backpressure) and the crate docs).
    ///
    /// ```
    /// let limits = socketio::Backpressure {
    ///     limit: 4 << 20,
    ///     ..socketio::Backpressure::default()
    /// };
    /// let b = socketio::Server::builder().backpressure(limits);
    /// # let _ = b;
    /// ```
    pub fn backpressure(mut self, limits: crate::Backpressure) -> Self {
        self.config.backpressure = limits;
        self
    }

    /// How each namespace's adapter is made (rooms, broadcasts, requests across nodes): the
    /// single-node [`InMemoryAdapter`](crate::adapter::InMemoryAdapter) by default. See the
    /// [`adapter`](crate::adapter) module.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use socketio::adapter::{Adapter, InMemoryAdapter, LocalNamespace};
    /// let b = socketio::Server::builder()
    ///     .adapter(|local: LocalNamespace| InMemoryAdapter::new(local) as Arc<dyn Adapter>);
    /// # let _ = b;
    /// ```
    pub fn adapter<F>(mut self, factory: F) -> Self
    where
        F: Fn(crate::adapter::LocalNamespace) -> Arc<dyn crate::adapter::Adapter>
            + Send
            + Sync
            + 'static,
    {
        self.config.adapter = Arc::new(factory);
        self
    }

    /// The timeout of a broadcast with acks that has no `.timeout(..)` (10 s).
    ///
    /// ```
    /// let b = socketio::Server::builder().ack_timeout(std::time::Duration::from_secs(3));
    /// # let _ = b;
    /// ```
    pub fn ack_timeout(mut self, timeout: Duration) -> Self {
        self.config.ack_timeout = timeout;
        self
    }

    /// How long [`Server::shutdown`](crate::Server::shutdown) waits for handler tasks (5 s).
    ///
    /// ```
    /// let b = socketio::Server::builder().shutdown_timeout(std::time::Duration::from_secs(1));
    /// # let _ = b;
    /// ```
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.config.shutdown_timeout = timeout;
        self
    }

    /// Counts this server's traffic in `metrics` (feature `metrics`; see
    /// [`crate::metrics`]): serve `metrics.encode()` where Prometheus scrapes it.
    ///
    /// ```
    /// let metrics = socketio::metrics::Metrics::new();
    /// let b = socketio::Server::builder().metrics(&metrics);
    /// # let _ = b;
    /// ```
    #[cfg(feature = "metrics")]
    pub fn metrics(mut self, metrics: &crate::metrics::Metrics) -> Self {
        self.config.metrics = Some(metrics.clone());
        self
    }

    /// Builds the server on `runtime` (starts its timer task).
    ///
    /// ```no_run
    /// # fn runtime() -> std::sync::Arc<dyn socketio::Runtime> { unimplemented!() }
    /// let io = socketio::Server::builder().build(runtime());
    /// # let _ = io;
    /// ```
    pub fn build(self, runtime: Arc<dyn Runtime>) -> crate::Server {
        crate::Server::from_config(self.config, runtime)
    }
}
