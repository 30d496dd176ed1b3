//! The async Socket.IO client, generic over a [`Runtime`](crate::Runtime) and a [`Connector`].
//!
//! The protocol logic is the sans-IO [`ClientManager`](socketio_protocol::socket::client::ClientManager)
//! (reconnection with backoff, namespaces multiplexed on one connection, send buffer, acks,
//! retries, connection state recovery). This module drives it: one `Mutex` guards the manager;
//! every input (an HTTP response, a WebSocket frame, an API call, the timer) locks it, feeds
//! the manager, drains its outputs and unlocks. Transmits become tasks: HTTP requests and
//! WebSocket dials go through the [`Connector`] (supplied by a runtime crate, e.g.
//! `socketio_tokio::TokioConnector`), and their results are fed back. One timer task sleeps
//! until the manager's next deadline. Handlers never run under the lock: they go through one
//! runner task per client that *starts* them in arrival order (polling each once) and lets
//! the ones that await continue in tasks of their own.
//!
//! ```no_run
//! # fn runtime() -> std::sync::Arc<dyn socketio::Runtime> { unimplemented!() }
//! # fn connector() -> std::sync::Arc<dyn socketio::client::Connector> { unimplemented!() }
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! use socketio::client::{AckSender, Client, ClientSocket};
//! use std::time::Duration;
//!
//! let client = Client::builder("http://localhost:3000")
//!     .auth(&serde_json::json!({ "token": "abc" }))
//!     .build(runtime(), connector())?;
//! let socket = client.socket("/");
//! socket.on("chat", |_socket: ClientSocket, text: String, ack: Option<AckSender>| async move {
//!     println!("chat: {text}");
//!     if let Some(ack) = ack { ack.send(&"thanks").ok(); }
//! });
//! socket.on_disconnect(|_socket: ClientSocket, reason| async move {
//!     println!("disconnected: {reason}");
//! });
//! client.connect();
//! socket.wait_connected().await?;
//! socket.emit("chat", "hello")?;
//! let sum: i64 = socket.emit_with_ack("add", &(1, 2)).timeout(Duration::from_secs(5)).await?;
//! client.disconnect();
//! # Ok(()) }
//! ```

mod builder;
pub mod connect;
mod driver;
mod flow;
mod socket;

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use socketio_protocol::Value;

pub use builder::{ClientBuilder, DEFAULT_MAX_PENDING_EVENTS};
pub use socket::{AckRequest, AckSender, Client, ClientSocket, Volatile};

/// A boxed, sendable future, as the [`Connector`] methods return them.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// A WebSocket as the client uses it: a stream and sink of tungstenite messages.
///
/// Implemented for every type with those bounds (`tokio_tungstenite::WebSocketStream`,
/// in-memory channel pairs in tests, ...).
pub trait WebSocketConnection:
    futures_core::Stream<Item = Result<tungstenite::Message, tungstenite::Error>>
    + futures_sink::Sink<tungstenite::Message, Error = tungstenite::Error>
    + Send
    + Unpin
{
}

impl<T> WebSocketConnection for T where
    T: futures_core::Stream<Item = Result<tungstenite::Message, tungstenite::Error>>
        + futures_sink::Sink<tungstenite::Message, Error = tungstenite::Error>
        + Send
        + Unpin
{
}

/// A boxed [`WebSocketConnection`], as [`Connector::websocket`] returns it.
pub type BoxWebSocket = Box<dyn WebSocketConnection>;

/// How the client reaches the server: HTTP requests (polling) and WebSocket dials. Runtime
/// crates supply one (`socketio_tokio::TokioConnector`); tests can join a client to an
/// in-process [`Server`](crate::Server).
///
/// Requests carry an absolute URI (`http://host:port/socket.io/?EIO=4&…` for HTTP,
/// `ws://…` or `wss://…` for WebSocket) and the client's extra headers.
///
/// **Body cap.** Every HTTP request the client makes carries a [`BodyLimit`] extension: the
/// most bytes of response body the connector may read. A connector must stop reading there
/// and fail the request with a [`ConnectorError`] made from a [`BodyTooLarge`] (the client
/// then closes the connection with the reason `payload too large`); [`read_body`] does both
/// for any [`http_body::Body`]. A connector that reads the whole body regardless lets a
/// hostile server grow the client's memory without bound. The WebSockets it opens should cap
/// incoming messages likewise (tungstenite's `max_message_size`, as
/// [`ConnectorOptions`](connect::ConnectorOptions) sets it) and bound their write buffer
/// (`max_write_buffer_size`).
///
/// ```
/// use bytes::Bytes;
/// use socketio::client::{BoxFuture, BoxWebSocket, Connector, ConnectorError};
///
/// /// A connector that cannot reach anything.
/// struct Offline;
///
/// impl Connector for Offline {
///     fn http(&self, _: http::Request<Bytes>) -> BoxFuture<Result<http::Response<Bytes>, ConnectorError>> {
///         Box::pin(async { Err(ConnectorError::new("offline")) })
///     }
///     fn websocket(&self, _: http::Request<()>) -> BoxFuture<Result<BoxWebSocket, ConnectorError>> {
///         Box::pin(async { Err(ConnectorError::new("offline")) })
///     }
/// }
/// ```
pub trait Connector: Send + Sync + 'static {
    /// Sends one HTTP request (a polling GET or POST) and reads the whole response body.
    fn http(
        &self,
        request: http::Request<Bytes>,
    ) -> BoxFuture<Result<http::Response<Bytes>, ConnectorError>>;

    /// Opens a WebSocket (the request's URI has a `ws` or `wss` scheme).
    fn websocket(
        &self,
        request: http::Request<()>,
    ) -> BoxFuture<Result<BoxWebSocket, ConnectorError>>;
}

/// Why a [`Connector`] could not complete a request or a dial.
///
/// ```
/// let error = socketio::client::ConnectorError::new("connection refused");
/// assert_eq!(error.to_string(), "connection refused");
/// ```
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConnectorError(Box<dyn std::error::Error + Send + Sync>);

impl ConnectorError {
    /// An error from a message or another error.
    ///
    /// ```
    /// let error = socketio::client::ConnectorError::new(std::io::Error::other("reset"));
    /// # let _ = error;
    /// ```
    pub fn new(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        ConnectorError(error.into())
    }

    /// The [`BodyTooLarge`] this error was made from, if it was.
    ///
    /// ```
    /// use socketio::client::ConnectorError;
    /// assert_eq!(ConnectorError::new("reset").body_too_large(), None);
    /// ```
    pub fn body_too_large(&self) -> Option<BodyTooLarge> {
        self.0.downcast_ref::<BodyTooLarge>().copied()
    }
}

/// The most bytes of response body a [`Connector`] may read for this request: an extension
/// on every [`Connector::http`] request (see the trait's "Body cap"). Absent (a request made
/// by other code), the connector may read [`BodyLimit::DEFAULT`].
///
/// ```
/// use socketio::client::BodyLimit;
/// let mut request = http::Request::new(bytes::Bytes::new());
/// request.extensions_mut().insert(BodyLimit(5000));
/// assert_eq!(BodyLimit::of(&request), BodyLimit(5000));
/// assert_eq!(BodyLimit::of(&http::Request::new(())), BodyLimit::DEFAULT);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BodyLimit(pub u64);

impl BodyLimit {
    /// 1 000 000 bytes: the reference server's default `maxHttpBufferSize`, the cap the client
    /// uses before the handshake told it the server's `maxPayload`.
    pub const DEFAULT: BodyLimit =
        BodyLimit(socketio_protocol::engine::client::DEFAULT_MAX_PAYLOAD);

    /// The limit a request carries, or [`BodyLimit::DEFAULT`].
    pub fn of<B>(request: &http::Request<B>) -> BodyLimit {
        request
            .extensions()
            .get::<BodyLimit>()
            .copied()
            .unwrap_or(BodyLimit::DEFAULT)
    }
}

/// A response body was longer than its [`BodyLimit`] (or a WebSocket message longer than the
/// connector reads): the error a [`Connector`] reports, wrapped in a [`ConnectorError`].
///
/// ```
/// use socketio::client::{BodyTooLarge, ConnectorError};
/// let error = ConnectorError::new(BodyTooLarge { limit: 1_000_000 });
/// assert_eq!(error.to_string(), "response body over the limit of 1000000 bytes");
/// assert_eq!(error.body_too_large(), Some(BodyTooLarge { limit: 1_000_000 }));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("response body over the limit of {limit} bytes")]
pub struct BodyTooLarge {
    /// The cap, in bytes.
    pub limit: u64,
}

/// Reads a whole response body, at most `limit` bytes: past it (or when the body announces a
/// larger length), stops reading and returns a [`ConnectorError`] made from [`BodyTooLarge`].
/// The one body reader every [`Connector`] should use for [`Connector::http`].
///
/// ```
/// # futures_executor::block_on(async {
/// use http_body_util::Full;
/// use socketio::client::{read_body, BodyLimit};
///
/// let body = read_body(Full::new(bytes::Bytes::from_static(b"hello")), BodyLimit(5)).await.unwrap();
/// assert_eq!(&body[..], b"hello");
/// let error = read_body(Full::new(bytes::Bytes::from_static(b"hello!")), BodyLimit(5)).await.unwrap_err();
/// assert_eq!(error.body_too_large().map(|e| e.limit), Some(5));
/// # });
/// ```
pub async fn read_body<B>(body: B, limit: BodyLimit) -> Result<Bytes, ConnectorError>
where
    B: http_body::Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    use bytes::Buf;
    use http_body_util::BodyExt;
    let too_large = || ConnectorError::new(BodyTooLarge { limit: limit.0 });
    if body.size_hint().lower() > limit.0 {
        return Err(too_large());
    }
    let mut body = std::pin::pin!(body);
    let mut first: Option<Bytes> = None;
    let mut collected: Vec<u8> = Vec::new();
    let mut total: u64 = 0;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| ConnectorError::new(e.into()))?;
        let Ok(mut data) = frame.into_data() else {
            continue; // trailers
        };
        let chunk = data.copy_to_bytes(data.remaining());
        total = total.saturating_add(chunk.len() as u64);
        if total > limit.0 {
            return Err(too_large());
        }
        // One chunk (the common case) is returned as is, without a copy.
        match first.take() {
            None if collected.is_empty() => first = Some(chunk),
            previous => {
                if let Some(previous) = previous {
                    collected.extend_from_slice(&previous);
                }
                collected.extend_from_slice(&chunk);
            }
        }
    }
    Ok(match first {
        Some(only) => only,
        None => Bytes::from(collected),
    })
}

/// Turns the absolute URI of a [`Connector::http`] request into origin form (path and query)
/// with a `Host` header, for writing on a connection; returns the `scheme://authority` key of
/// the connection it may reuse.
///
/// ```
/// let request = http::Request::get("http://example.com:3000/socket.io/?EIO=4").body(()).unwrap();
/// let (mut parts, _) = request.into_parts();
/// let key = socketio::client::origin_form(&mut parts).unwrap();
/// assert_eq!(key, "http://example.com:3000");
/// assert_eq!(parts.uri, "/socket.io/?EIO=4");
/// assert_eq!(parts.headers["host"], "example.com:3000");
/// ```
pub fn origin_form(parts: &mut http::request::Parts) -> Result<String, ConnectorError> {
    let uri = parts.uri.clone();
    let authority = uri
        .authority()
        .ok_or_else(|| ConnectorError::new("no authority"))?;
    let key = format!("{}://{}", uri.scheme_str().unwrap_or("http"), authority);
    parts.uri = uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/")
        .parse()
        .map_err(ConnectorError::new)?;
    parts.headers.insert(
        http::header::HOST,
        http::HeaderValue::from_str(authority.as_str()).map_err(ConnectorError::new)?,
    );
    Ok(key)
}

/// The WebSocket handshake request for a [`Connector::websocket`] request: tungstenite's
/// client request for its URI (key, version, `Host`) plus the client's extra headers.
pub fn websocket_handshake(
    request: &http::Request<()>,
) -> Result<http::Request<()>, ConnectorError> {
    use tungstenite::client::IntoClientRequest;
    let mut handshake = request
        .uri()
        .clone()
        .into_client_request()
        .map_err(ConnectorError::new)?;
    for (name, value) in request.headers() {
        handshake.headers_mut().append(name.clone(), value.clone());
    }
    Ok(handshake)
}

/// Why [`ClientBuilder::build`] refused the options.
///
/// ```
/// # fn runtime() -> std::sync::Arc<dyn socketio::Runtime> { unimplemented!() }
/// # fn connector() -> std::sync::Arc<dyn socketio::client::Connector> { unimplemented!() }
/// # fn f() {
/// let result = socketio::client::Client::builder("ftp://nope").build(runtime(), connector());
/// assert!(matches!(result, Err(socketio::client::BuildError::InvalidUrl(_))));
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The URL is not an absolute `http`, `https`, `ws` or `wss` URL.
    #[error("invalid url: {0}")]
    InvalidUrl(String),
    /// A header name or value is invalid.
    #[error("invalid header: {0}")]
    InvalidHeader(String),
    /// The auth payload is not an object (or could not be serialized).
    #[error("invalid auth payload: {0}")]
    InvalidAuth(String),
    /// The manager refused the configuration (no transports, ...).
    #[error("invalid configuration: {0}")]
    Config(String),
}

/// A namespace refused the connection, or a connection attempt failed (`connect_error`):
/// the message, the data the server attached, and which of the two it was.
///
/// ```
/// use socketio::client::{ConnectFailed, ConnectFailedKind};
/// let error = ConnectFailed {
///     message: "not authorized".into(),
///     data: None,
///     kind: ConnectFailedKind::Refused,
///     detail: None,
/// };
/// assert_eq!(error.to_string(), "connect_error: not authorized");
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("connect_error: {message}")]
pub struct ConnectFailed {
    /// The error message (`err.message`): the server's, or the engine's reason (`timeout`,
    /// `transport error`, ...) when the connection itself failed.
    pub message: String,
    /// The data the server attached (`err.data`).
    pub data: Option<Value>,
    /// Whether the server refused or the connection failed.
    pub kind: ConnectFailedKind,
    /// For a [`ConnectFailedKind::Connection`]: what the [`Connector`] reported about the
    /// latest failed request or dial (`connection refused`, a TLS certificate refusal, ...),
    /// when it reported something.
    pub detail: Option<String>,
}

/// What a [`ConnectFailed`] was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectFailedKind {
    /// The server refused the namespace (a `CONNECT_ERROR` packet from its middleware, or a
    /// Socket.IO v2 server). The client does not retry this namespace.
    Refused,
    /// The connection attempt failed (unreachable, `timeout`, `transport error`, ...); the
    /// client retries as its reconnection options say.
    Connection,
    /// The client was closed or dropped before the namespace connected.
    Closed,
    /// The namespace is not being joined: [`ClientSocket::connect`] was never called for it,
    /// or it was left with [`ClientSocket::disconnect`] (waiting would never end).
    NotConnecting,
}

/// [`Client::close`] gave up before everything was written (the server stopped answering).
///
/// ```
/// let error = socketio::client::CloseTimeout(std::time::Duration::from_secs(2));
/// assert_eq!(error.to_string(), "close not flushed within 2s");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("close not flushed within {0:?}")]
pub struct CloseTimeout(pub std::time::Duration);
