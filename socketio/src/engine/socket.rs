//! [`EngineSocket`]: one Engine.IO session, as the application sees it; [`Message`].

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

use bytes::Bytes;
use futures_channel::{mpsc, oneshot};
use futures_util::StreamExt;
use socketio_protocol::Str;
use socketio_protocol::engine::{CloseReason, Data, ProtocolVersion};

use super::driver::{EngineCell, Inner};
use crate::TransportKind;
use crate::flow::Gate;
use crate::namespace::lock;

/// An Engine.IO message: text or binary, delivered and sent as it is (a text message stays
/// text, a binary one binary, on every transport and protocol revision).
///
/// ```
/// use socketio::engine::Message;
///
/// let text = Message::from("hello");
/// assert_eq!(text.as_text(), Some("hello"));
/// let binary = Message::from(vec![1u8, 2, 3]);
/// assert_eq!(binary.as_binary().map(|b| b.as_ref()), Some(&[1u8, 2, 3][..]));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Message {
    /// A text message (UTF-8).
    Text(Str),
    /// A binary message.
    Binary(Bytes),
}

impl Message {
    /// The text, if this is a text message.
    ///
    /// ```
    /// assert_eq!(socketio::engine::Message::from("hi").as_text(), Some("hi"));
    /// ```
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Message::Text(text) => Some(text.as_str()),
            Message::Binary(_) => None,
        }
    }

    /// The bytes, if this is a binary message.
    ///
    /// ```
    /// let message = socketio::engine::Message::from(vec![1u8]);
    /// assert_eq!(message.as_binary().map(|b| b.len()), Some(1));
    /// ```
    pub fn as_binary(&self) -> Option<&Bytes> {
        match self {
            Message::Binary(bytes) => Some(bytes),
            Message::Text(_) => None,
        }
    }

    /// Whether this is a binary message.
    ///
    /// ```
    /// assert!(!socketio::engine::Message::from("hi").is_binary());
    /// ```
    pub fn is_binary(&self) -> bool {
        matches!(self, Message::Binary(_))
    }

    /// The length in bytes (UTF-8 bytes for text).
    ///
    /// ```
    /// assert_eq!(socketio::engine::Message::from("héllo").len(), 6);
    /// ```
    pub fn len(&self) -> usize {
        match self {
            Message::Text(text) => text.len(),
            Message::Binary(bytes) => bytes.len(),
        }
    }

    /// Whether the message is empty.
    ///
    /// ```
    /// assert!(socketio::engine::Message::from("").is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl From<&str> for Message {
    fn from(text: &str) -> Self {
        Message::Text(Str::from(text.to_owned()))
    }
}

impl From<String> for Message {
    fn from(text: String) -> Self {
        Message::Text(Str::from(text))
    }
}

impl From<Str> for Message {
    fn from(text: Str) -> Self {
        Message::Text(text)
    }
}

impl From<Bytes> for Message {
    fn from(bytes: Bytes) -> Self {
        Message::Binary(bytes)
    }
}

impl From<Vec<u8>> for Message {
    fn from(bytes: Vec<u8>) -> Self {
        Message::Binary(Bytes::from(bytes))
    }
}

impl From<&[u8]> for Message {
    fn from(bytes: &[u8]) -> Self {
        Message::Binary(Bytes::copy_from_slice(bytes))
    }
}

impl From<Data> for Message {
    fn from(data: Data) -> Self {
        match data {
            Data::Text(text) => Message::Text(text),
            Data::Binary(bytes) => Message::Binary(bytes),
        }
    }
}

impl From<Message> for Data {
    fn from(message: Message) -> Self {
        match message {
            Message::Text(text) => Data::Text(text),
            Message::Binary(bytes) => Data::Binary(bytes),
        }
    }
}

/// Why [`EngineSocket::send`] did not queue a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The session is closed or closing.
    #[error("engine.io session closed")]
    Closed,
    /// The session is on polling and its buffer for the next GET is full: its bytes passed
    /// [`Backpressure::limit`](crate::Backpressure::limit) (see
    /// [`EngineBuilder::backpressure`](super::EngineBuilder::backpressure)), or its messages
    /// [`EngineBuilder::max_buffered_packets`](super::EngineBuilder::max_buffered_packets) when
    /// set; the message was not queued.
    #[error("engine.io session buffer is full")]
    QueueFull,
}

#[derive(Default)]
struct CloseState {
    reason: Option<CloseReason>,
    waiters: Vec<oneshot::Sender<CloseReason>>,
}

pub(crate) struct SocketInner {
    id: Str,
    protocol: ProtocolVersion,
    websocket: AtomicBool,
    remote: Option<SocketAddr>,
    uri: http::Uri,
    headers: http::HeaderMap,
    server: Weak<Inner>,
    /// The session's connection in the driver.
    conn: Weak<EngineCell>,
    incoming: futures_util::lock::Mutex<mpsc::UnboundedReceiver<Message>>,
    /// The session's incoming side (backpressure): messages received and not taken by `recv`
    /// yet, and whoever paused reading on them.
    gate: Arc<Gate>,
    close: Mutex<CloseState>,
}

/// One Engine.IO session (a client connection, across transport upgrades), as the `engine.io`
/// package's `Socket`: [`recv`](Self::recv) its messages, [`send`](Self::send) messages,
/// [`close`](Self::close) it, and learn why it closed ([`closed`](Self::closed),
/// [`close_reason`](Self::close_reason)). A cheap clonable handle; every clone is the same
/// session.
///
/// ```no_run
/// # fn engine() -> socketio::engine::EngineServer { unimplemented!() }
/// use socketio::engine::{EngineSocket, Message};
///
/// engine().on_connection(|socket: EngineSocket| async move {
///     while let Some(message) = socket.recv().await {
///         match &message {
///             Message::Text(text) => println!("{}: {text}", socket.id()),
///             Message::Binary(bytes) => println!("{}: {} bytes", socket.id(), bytes.len()),
///         }
///         socket.send(message).ok();
///     }
///     println!("{} closed: {}", socket.id(), socket.closed().await);
/// });
/// ```
#[derive(Clone)]
pub struct EngineSocket(pub(crate) Arc<SocketInner>);

impl std::fmt::Debug for EngineSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineSocket")
            .field("id", &self.0.id)
            .field("protocol", &self.0.protocol)
            .field("transport", &self.transport())
            .field("remote", &self.0.remote)
            .finish_non_exhaustive()
    }
}

impl EngineSocket {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        id: Str,
        protocol: ProtocolVersion,
        websocket: bool,
        parts: Option<&http::request::Parts>,
        remote: Option<SocketAddr>,
        server: Weak<Inner>,
        conn: Weak<EngineCell>,
        incoming: mpsc::UnboundedReceiver<Message>,
        gate: Arc<Gate>,
    ) -> Self {
        EngineSocket(Arc::new(SocketInner {
            id,
            protocol,
            websocket: AtomicBool::new(websocket),
            remote,
            uri: parts.map(|p| p.uri.clone()).unwrap_or_default(),
            headers: parts.map(|p| p.headers.clone()).unwrap_or_default(),
            server,
            conn,
            incoming: futures_util::lock::Mutex::new(incoming),
            gate,
            close: Mutex::new(CloseState::default()),
        }))
    }

    /// The session id (`sid`, 20 characters).
    ///
    /// ```no_run
    /// # fn f(socket: socketio::engine::EngineSocket) {
    /// assert_eq!(socket.id().len(), 20);
    /// # }
    /// ```
    pub fn id(&self) -> &str {
        &self.0.id
    }

    /// The protocol revision the client speaks (`EIO=4` or `EIO=3`).
    ///
    /// ```no_run
    /// # fn f(socket: socketio::engine::EngineSocket) {
    /// let v3 = socket.protocol() == socketio::engine::ProtocolVersion::V3;
    /// # }
    /// ```
    pub fn protocol(&self) -> ProtocolVersion {
        self.0.protocol
    }

    /// The transport the session is on now (polling until an upgrade completes).
    ///
    /// ```no_run
    /// # fn f(socket: socketio::engine::EngineSocket) {
    /// println!("on {}", socket.transport().as_str());
    /// # }
    /// ```
    pub fn transport(&self) -> TransportKind {
        if self.0.websocket.load(Ordering::Acquire) {
            TransportKind::WebSocket
        } else {
            TransportKind::Polling
        }
    }

    /// The peer address of the handshake request, when the runtime knows it.
    ///
    /// ```no_run
    /// # fn f(socket: socketio::engine::EngineSocket) {
    /// if let Some(addr) = socket.remote_addr() { println!("from {addr}"); }
    /// # }
    /// ```
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.0.remote
    }

    /// The URI of the handshake request (path and query).
    ///
    /// ```no_run
    /// # fn f(socket: socketio::engine::EngineSocket) {
    /// println!("query: {:?}", socket.uri().query());
    /// # }
    /// ```
    pub fn uri(&self) -> &http::Uri {
        &self.0.uri
    }

    /// The headers of the handshake request.
    ///
    /// ```no_run
    /// # fn f(socket: socketio::engine::EngineSocket) {
    /// let agent = socket.headers().get("user-agent");
    /// # }
    /// ```
    pub fn headers(&self) -> &http::HeaderMap {
        &self.0.headers
    }

    /// The next message from the client, in order; `None` once the session is closed and every
    /// message received before the close was taken. Concurrent callers take turns.
    ///
    /// This is the session's backpressure: while more than
    /// [`EngineBuilder::incoming_queue`](super::EngineBuilder::incoming_queue) messages wait to
    /// be taken, the session's reading pauses (the WebSocket reader stops reading, a polling
    /// POST is not answered) until `recv` has taken them down to half of it, so a client
    /// sending faster than the application reads is slowed down, not disconnected, and nothing
    /// is lost. An application that stops calling it stalls its client (whose heartbeat then
    /// goes unread too: the session ends with `ping timeout` after `ping_interval +
    /// ping_timeout`).
    ///
    /// ```no_run
    /// # async fn f(socket: socketio::engine::EngineSocket) {
    /// while let Some(message) = socket.recv().await {
    ///     println!("{message:?}");
    /// }
    /// # }
    /// ```
    pub async fn recv(&self) -> Option<Message> {
        let mut incoming = self.0.incoming.lock().await;
        let message = incoming.next().await;
        if message.is_some() {
            self.0.gate.started();
        }
        message
    }

    /// Queues a message to the client (text stays text, binary stays binary). It never waits:
    /// over WebSocket the frame is queued for the writer (a client that stops reading is cut
    /// off past the limits of [`EngineBuilder::backpressure`](super::EngineBuilder::backpressure)),
    /// over polling it waits for the next GET.
    ///
    /// ```no_run
    /// # fn f(socket: socketio::engine::EngineSocket) {
    /// socket.send("hello").ok();
    /// socket.send(vec![1u8, 2, 3]).ok();
    /// # }
    /// ```
    pub fn send(&self, message: impl Into<Message>) -> Result<(), SendError> {
        let server = self.0.server.upgrade().ok_or(SendError::Closed)?;
        let conn = self.0.conn.upgrade().ok_or(SendError::Closed)?;
        server.send(&conn, Data::from(message.into()))
    }

    /// Closes the session (`forced close`): over WebSocket at once, after the messages already
    /// queued; over polling the close packet goes out with the next GET. Closing a closed
    /// session does nothing.
    ///
    /// ```no_run
    /// # fn f(socket: socketio::engine::EngineSocket) {
    /// socket.close();
    /// # }
    /// ```
    pub fn close(&self) {
        if let (Some(server), Some(conn)) = (self.0.server.upgrade(), self.0.conn.upgrade()) {
            server.close_session(&conn);
        }
    }

    /// Whether the session is still open.
    ///
    /// ```no_run
    /// # fn f(socket: socketio::engine::EngineSocket) {
    /// if socket.is_open() { socket.send("still here").ok(); }
    /// # }
    /// ```
    pub fn is_open(&self) -> bool {
        lock(&self.0.close).reason.is_none()
    }

    /// Why the session closed (`None` while it is open).
    ///
    /// ```no_run
    /// # fn f(socket: socketio::engine::EngineSocket) {
    /// if let Some(reason) = socket.close_reason() { println!("closed: {reason}"); }
    /// # }
    /// ```
    pub fn close_reason(&self) -> Option<CloseReason> {
        lock(&self.0.close).reason
    }

    /// Waits until the session closes and returns why (`ping timeout`, `transport close`,
    /// `transport error`, `parse error`, `forced close`).
    ///
    /// ```no_run
    /// # async fn f(socket: socketio::engine::EngineSocket) {
    /// let reason = socket.closed().await;
    /// println!("{} closed: {reason}", socket.id());
    /// # }
    /// ```
    pub async fn closed(&self) -> CloseReason {
        let waiter = {
            let mut close = lock(&self.0.close);
            if let Some(reason) = close.reason {
                return reason;
            }
            let (tx, rx) = oneshot::channel();
            close.waiters.push(tx);
            rx
        };
        // The driver records every close; should the server itself go away first, the
        // session ends as if forced.
        waiter.await.unwrap_or(CloseReason::ForcedClose)
    }

    /// Records the close (called once by the driver).
    pub(crate) fn set_closed(&self, reason: CloseReason) {
        let mut close = lock(&self.0.close);
        if close.reason.is_some() {
            return;
        }
        close.reason = Some(reason);
        for waiter in close.waiters.drain(..) {
            let _ = waiter.send(reason);
        }
    }

    /// The session's incoming side.
    pub(crate) fn gate(&self) -> &Arc<Gate> {
        &self.0.gate
    }

    /// Records an upgrade to WebSocket.
    pub(crate) fn set_websocket(&self) {
        self.0.websocket.store(true, Ordering::Release);
    }
}
