//! [`EngineBuilder`]: the options of an [`EngineServer`].

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use socketio_protocol::Str;
use socketio_protocol::engine::server::{Config as CoreConfig, SessionCookie};

use super::{EngineServer, Message};
use crate::{AllowRequest, Cors, Runtime, TransportKind};

/// Every option of an [`EngineServer`].
#[derive(Clone)]
pub(crate) struct EngineConfig {
    pub(crate) core: CoreConfig,
    pub(crate) allow_request: Option<AllowRequest>,
    pub(crate) backpressure: crate::Backpressure,
    /// The pause mark of received messages, when set apart from `backpressure.max_backlog`
    /// (which it then replaces, whatever the order of the builder calls).
    pub(crate) incoming_queue: Option<usize>,
    pub(crate) shutdown_timeout: Duration,
    /// Where the server's metrics go (feature `metrics`).
    #[cfg(feature = "metrics")]
    pub(crate) metrics: Option<crate::metrics::Metrics>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            core: CoreConfig {
                // Bounded in bytes instead (`backpressure.limit`, set by the server): a burst
                // of small messages echoed between two GETs is not a slow consumer.
                max_buffered_packets: usize::MAX,
                ..CoreConfig::default()
            },
            allow_request: None,
            backpressure: crate::Backpressure::default(),
            incoming_queue: None,
            shutdown_timeout: Duration::from_secs(5),
            #[cfg(feature = "metrics")]
            metrics: None,
        }
    }
}

impl fmt::Debug for EngineConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EngineConfig")
            .field("core", &self.core)
            .field("allow_request", &self.allow_request.is_some())
            .field("backpressure", &self.backpressure)
            .field("incoming_queue", &self.incoming_queue)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .finish()
    }
}

/// Builds an [`EngineServer`]; every option starts at the reference default of the `engine.io`
/// package (path `/engine.io`).
///
/// ```
/// use std::time::Duration;
/// use socketio::engine::EngineServer;
/// use socketio::{Cors, CorsOrigin, TransportKind};
///
/// let builder = EngineServer::builder()
///     .path("/engine.io")
///     .ping_interval(Duration::from_millis(300))
///     .ping_timeout(Duration::from_millis(200))
///     .max_http_buffer_size(1_000_000)
///     .transports([TransportKind::Polling, TransportKind::WebSocket])
///     .cors(Cors::new(CorsOrigin::Any))
///     .allow_eio3(true);
/// // `builder.build(runtime)` with the runtime of your choice.
/// # let _ = builder;
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct EngineBuilder {
    pub(crate) config: EngineConfig,
}

impl EngineBuilder {
    /// A builder with the reference defaults.
    ///
    /// ```
    /// let builder = socketio::engine::EngineBuilder::new();
    /// # let _ = builder;
    /// ```
    pub fn new() -> Self {
        EngineBuilder::default()
    }

    /// The request path prefix (`/engine.io`); requests match on `path + "/"`.
    ///
    /// ```
    /// let b = socketio::engine::EngineServer::builder().path("/realtime");
    /// # let _ = b;
    /// ```
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.config.core.path = Str::from(path.into());
        self
    }

    /// Time between server pings (`pingInterval`, 25 s); in Engine.IO v3, the client's ping
    /// period.
    ///
    /// ```
    /// let b = socketio::engine::EngineServer::builder()
    ///     .ping_interval(std::time::Duration::from_secs(10));
    /// # let _ = b;
    /// ```
    pub fn ping_interval(mut self, interval: Duration) -> Self {
        self.config.core.ping_interval = interval;
        self
    }

    /// Time allowed for the heartbeat answer (`pingTimeout`, 20 s).
    ///
    /// ```
    /// let b = socketio::engine::EngineServer::builder()
    ///     .ping_timeout(std::time::Duration::from_secs(5));
    /// # let _ = b;
    /// ```
    pub fn ping_timeout(mut self, timeout: Duration) -> Self {
        self.config.core.ping_timeout = timeout;
        self
    }

    /// Time allowed for a transport upgrade to finish (`upgradeTimeout`, 10 s).
    ///
    /// ```
    /// let b = socketio::engine::EngineServer::builder()
    ///     .upgrade_timeout(std::time::Duration::from_secs(5));
    /// # let _ = b;
    /// ```
    pub fn upgrade_timeout(mut self, timeout: Duration) -> Self {
        self.config.core.upgrade_timeout = timeout;
        self
    }

    /// How long a POST body may take to arrive once its request was classified from its
    /// head (300 s, Node's `requestTimeout`); past it the POST gets `408` with
    /// `Connection: close` and its session closes (`transport error`). A POST refused from its
    /// head (no session, a bad query) is answered at once, without reading its body.
    ///
    /// ```
    /// let b = socketio::engine::EngineServer::builder().request_timeout(std::time::Duration::from_secs(30));
    /// # let _ = b;
    /// ```
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.config.core.request_timeout = timeout;
        self
    }

    /// Largest accepted POST body or WebSocket message in bytes (`maxHttpBufferSize`, 1e6),
    /// announced to clients as `maxPayload`.
    ///
    /// ```
    /// let b = socketio::engine::EngineServer::builder().max_http_buffer_size(64 * 1024);
    /// # let _ = b;
    /// ```
    pub fn max_http_buffer_size(mut self, bytes: usize) -> Self {
        self.config.core.max_payload = bytes;
        self
    }

    /// The enabled transports (`["polling", "websocket"]`).
    ///
    /// ```
    /// let b = socketio::engine::EngineServer::builder()
    ///     .transports([socketio::TransportKind::WebSocket]);
    /// # let _ = b;
    /// ```
    pub fn transports(mut self, transports: impl IntoIterator<Item = TransportKind>) -> Self {
        self.config.core.transports = transports.into_iter().collect();
        self
    }

    /// Whether polling sessions may upgrade to WebSocket (`allowUpgrades`, on).
    ///
    /// ```
    /// let b = socketio::engine::EngineServer::builder().allow_upgrades(false);
    /// # let _ = b;
    /// ```
    pub fn allow_upgrades(mut self, allow: bool) -> Self {
        self.config.core.allow_upgrades = allow;
        self
    }

    /// Whether Engine.IO v3 clients are accepted (`allowEIO3`, off).
    ///
    /// ```
    /// let b = socketio::engine::EngineServer::builder().allow_eio3(true);
    /// # let _ = b;
    /// ```
    pub fn allow_eio3(mut self, allow: bool) -> Self {
        self.config.core.allow_eio3 = allow;
        self
    }

    /// CORS headers for polling responses and preflights (`cors`, off).
    ///
    /// ```
    /// use socketio::{Cors, CorsOrigin};
    /// let b = socketio::engine::EngineServer::builder().cors(Cors::new(CorsOrigin::Any));
    /// # let _ = b;
    /// ```
    pub fn cors(mut self, cors: Cors) -> Self {
        self.config.core.cors = Some(cors);
        self
    }

    /// The handshake check (`allowRequest`): called for every new session with the request
    /// head and the peer address; `Err(message)` refuses it (`403 {"code":4,…}` over polling, a
    /// plain `400` for a WebSocket).
    ///
    /// ```
    /// let b = socketio::engine::EngineServer::builder().allow_request(|parts, _remote| {
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

    /// A message sent to every session right after the open packet (`initialPacket`, none).
    ///
    /// ```
    /// let b = socketio::engine::EngineServer::builder().initial_packet("welcome");
    /// # let _ = b;
    /// ```
    pub fn initial_packet(mut self, message: impl Into<Message>) -> Self {
        self.config.core.initial_packet = Some(message.into().into());
        self
    }

    /// The cookie carrying the session id, set on the polling handshake response (`cookie`,
    /// none).
    ///
    /// ```
    /// use socketio::engine::SessionCookie;
    /// let b = socketio::engine::EngineServer::builder().cookie(SessionCookie::default());
    /// # let _ = b;
    /// ```
    pub fn cookie(mut self, cookie: SessionCookie) -> Self {
        self.config.core.cookie = Some(cookie);
        self
    }

    /// How many messages may wait for the next polling GET of one session (unbounded by
    /// default, as the reference: the buffer is bounded in bytes by
    /// [`Backpressure::limit`](crate::Backpressure::limit), see
    /// [`backpressure`](Self::backpressure)); beyond it
    /// [`EngineSocket::send`](super::EngineSocket::send) fails with
    /// [`SendError::QueueFull`](super::SendError::QueueFull).
    ///
    /// ```
    /// let b = socketio::engine::EngineServer::builder().max_buffered_packets(256);
    /// # let _ = b;
    /// ```
    pub fn max_buffered_packets(mut self, packets: usize) -> Self {
        self.config.core.max_buffered_packets = packets.max(1);
        self
    }

    /// The backpressure limits of every session (see [`Backpressure`](crate::Backpressure)):
    ///
    /// - reading pauses while the session's outgoing bytes (a WebSocket's queue, a polling
    ///   session's buffer for the next GET) are above
    ///   [`Backpressure::high_water`](crate::Backpressure::high_water), or its received
    ///   messages not taken by [`EngineSocket::recv`](super::EngineSocket::recv) above
    ///   [`Backpressure::max_backlog`](crate::Backpressure::max_backlog) (or
    ///   [`incoming_queue`](Self::incoming_queue) when set); it resumes at half of them. The
    ///   WebSocket reader stops reading frames; a polling POST is answered only then (the
    ///   client sends its next POST after the answer).
    /// - a client is a slow consumer when its WebSocket's outgoing bytes pass
    ///   [`Backpressure::limit`](crate::Backpressure::limit) or stay above the high water mark
    ///   for [`Backpressure::slow_consumer_timeout`](crate::Backpressure::slow_consumer_timeout):
    ///   the connection is then aborted and the session closes with `transport error`. Over
    ///   polling, [`EngineSocket::send`](super::EngineSocket::send) fails with
    ///   [`SendError::QueueFull`](super::SendError::QueueFull) once the buffer's bytes reach
    ///   the limit (a single larger message is still taken when nothing waits).
    ///
    /// ```
    /// let limits = socketio::Backpressure { limit: 1 << 20, ..Default::default() };
    /// let b = socketio::engine::EngineServer::builder().backpressure(limits);
    /// # let _ = b;
    /// ```
    pub fn backpressure(mut self, limits: crate::Backpressure) -> Self {
        self.config.backpressure = limits;
        self
    }

    /// How many received messages may wait for [`EngineSocket::recv`](super::EngineSocket::recv)
    /// on one session before its reading pauses (by default
    /// [`Backpressure::max_backlog`](crate::Backpressure::max_backlog), 256): the application
    /// is not keeping up, so the WebSocket reader stops reading frames and a polling POST is
    /// not answered until `recv` has taken the messages down to half of it. The client's
    /// sending pauses meanwhile; the session stays open and nothing is lost.
    ///
    /// Set here, it replaces the `max_backlog` of [`backpressure`](Self::backpressure),
    /// whichever is called first. A WebSocket reads one message past it before pausing; a
    /// polling POST is taken whole (at most [`max_http_buffer_size`](Self::max_http_buffer_size)
    /// bytes), so that many more messages may wait.
    ///
    /// ```
    /// let b = socketio::engine::EngineServer::builder().incoming_queue(4096);
    /// # let _ = b;
    /// ```
    pub fn incoming_queue(mut self, messages: usize) -> Self {
        self.config.incoming_queue = Some(messages.max(1));
        self
    }

    /// How long [`EngineServer::shutdown`] waits for sessions, connection handlers and
    /// WebSockets to end (5 s).
    ///
    /// ```
    /// let b = socketio::engine::EngineServer::builder()
    ///     .shutdown_timeout(std::time::Duration::from_secs(1));
    /// # let _ = b;
    /// ```
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.config.shutdown_timeout = timeout;
        self
    }

    /// Counts this server's traffic in `metrics` (feature `metrics`): the Engine.IO counters
    /// (packets and bytes, handshakes, upgrades, slow consumers); the gauges and the Socket.IO
    /// counters are the Socket.IO server's.
    ///
    /// ```
    /// let metrics = socketio::metrics::Metrics::new();
    /// let b = socketio::engine::EngineBuilder::new().metrics(&metrics);
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
    /// let engine = socketio::engine::EngineServer::builder().build(runtime());
    /// # let _ = engine;
    /// ```
    pub fn build(self, runtime: Arc<dyn Runtime>) -> EngineServer {
        EngineServer::from_config(self.config, runtime)
    }
}
