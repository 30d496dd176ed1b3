//! The driver: the manager under one lock, transmits turned into tasks, the timer task, the
//! handler runner.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

use bytes::Bytes;
use futures_channel::{mpsc, oneshot};
use futures_util::{SinkExt, StreamExt};
use socketio_protocol::engine::Frame;
use socketio_protocol::engine::client::{Method, RequestId, Transmit};
use socketio_protocol::socket::DisconnectReason;
use socketio_protocol::socket::client::{AckId, ClientManager, Event, SocketId};
use socketio_protocol::{Instant, Str, Value};

use super::flow::Inflow;
use super::{BodyLimit, ConnectFailed, ConnectFailedKind, Connector};
use crate::namespace::lock;
use crate::{AckError, BoxTask, Runtime};

/// The auth function, erased.
pub(crate) type AuthFn = Arc<dyn Fn() -> Option<Value> + Send + Sync>;

/// Where the auth payload comes from.
#[derive(Clone)]
pub(crate) enum AuthSource {
    None,
    Value(Value),
    Fn(AuthFn),
}

impl AuthSource {
    pub(crate) fn get(&self) -> Option<Value> {
        match self {
            AuthSource::None => None,
            AuthSource::Value(value) => Some(value.clone()),
            AuthSource::Fn(f) => f(),
        }
    }
}

/// Scheme, host and headers of every request.
pub(crate) struct Origin {
    pub(crate) secure: bool,
    pub(crate) authority: String,
    pub(crate) headers: Vec<(http::HeaderName, http::HeaderValue)>,
}

// The handlers, erased. They get the socket as a `SocketRef` and an ack request as its id:
// the wrappers `socket.rs` registers make the public `ClientSocket` and `AckSender` of them,
// so the driver does not depend on the handles.
pub(crate) type EventHandler =
    Arc<dyn Fn(SocketRef, Vec<Value>, Option<u64>) -> BoxTask + Send + Sync>;
pub(crate) type AnyHandler =
    Arc<dyn Fn(SocketRef, String, Vec<Value>, Option<u64>) -> BoxTask + Send + Sync>;
pub(crate) type SocketHandler = Arc<dyn Fn(SocketRef) -> BoxTask + Send + Sync>;
pub(crate) type ErrorHandler = Arc<dyn Fn(SocketRef, ConnectFailed) -> BoxTask + Send + Sync>;
pub(crate) type DisconnectHandler =
    Arc<dyn Fn(SocketRef, DisconnectReason) -> BoxTask + Send + Sync>;
pub(crate) type CountHandler = Arc<dyn Fn(u32) -> BoxTask + Send + Sync>;
pub(crate) type UnitHandler = Arc<dyn Fn() -> BoxTask + Send + Sync>;

/// The handlers of one namespace.
#[derive(Default)]
pub(crate) struct SocketHandlers {
    pub(crate) events: HashMap<String, EventHandler>,
    pub(crate) any: Option<AnyHandler>,
    pub(crate) connect: Vec<SocketHandler>,
    pub(crate) connect_error: Vec<ErrorHandler>,
    pub(crate) disconnect: Vec<DisconnectHandler>,
}

/// The manager-level handlers.
#[derive(Default)]
pub(crate) struct ManagerHandlers {
    pub(crate) reconnect_attempt: Vec<CountHandler>,
    pub(crate) reconnect: Vec<CountHandler>,
    pub(crate) reconnect_error: Vec<UnitHandler>,
    pub(crate) reconnect_failed: Vec<UnitHandler>,
}

/// One namespace of the client.
pub(crate) struct SocketShared {
    pub(crate) nsp: String,
    pub(crate) handlers: Mutex<SocketHandlers>,
}

/// A namespace's socket as the driver hands it to a handler (the public handle,
/// `ClientSocket`, is made of it in `socket.rs`).
#[derive(Clone)]
pub(crate) struct SocketRef {
    pub(crate) client: Arc<Shared>,
    pub(crate) socket: Arc<SocketShared>,
}

/// Per-namespace state under the client's lock.
pub(crate) struct SocketEntry {
    pub(crate) shared: Arc<SocketShared>,
    pub(crate) id: Option<SocketId>,
    pub(crate) waiters: Vec<oneshot::Sender<Result<(), ConnectFailed>>>,
    /// The refusal of the latest connection attempt, kept so that a `wait_connected` that
    /// starts after the refusal arrived still sees it (cleared by the next attempt).
    pub(crate) last_failure: Option<ConnectFailed>,
}

/// What goes to a WebSocket's writer.
enum WsOut {
    Frame(Frame),
    Close,
}

/// The queue to one WebSocket's writer. A pong (`3`) is only queued while no other pong waits
/// in it: a server's ping flood, read faster than the writer writes (or never read back by the
/// server), costs one queued pong, not one per ping.
struct WsWriter {
    tx: mpsc::UnboundedSender<WsOut>,
    pong_queued: Arc<AtomicBool>,
}

impl WsWriter {
    fn send(&self, frame: Frame) {
        let pong = is_pong(&frame);
        if pong && self.pong_queued.swap(true, Ordering::AcqRel) {
            return;
        }
        let _ = self.tx.unbounded_send(WsOut::Frame(frame));
    }
}

/// The Engine.IO v4 pong the client answers every ping with.
fn is_pong(frame: &Frame) -> bool {
    matches!(frame, Frame::Text(text) if text.as_bytes()[..] == b"3"[..])
}

/// Everything behind the client's lock.
pub(crate) struct State {
    pub(crate) manager: ClientManager,
    pub(crate) sockets: Vec<SocketEntry>,
    pub(crate) acks: HashMap<AckId, oneshot::Sender<Result<Vec<Value>, AckError>>>,
    ws: HashMap<RequestId, WsWriter>,
    armed: Option<Instant>,
    spawns: Vec<BoxTask>,
    /// Transport tasks that write: POST requests and WebSocket connections. A polling GET
    /// only reads, so it is not counted.
    writers: usize,
    /// [`Client::close`] calls waiting until no engine is alive and no writer is left.
    flushed_waiters: Vec<oneshot::Sender<()>>,
    /// What the connector said about the latest failed request or dial, for the next
    /// connection failure's [`ConnectFailed::detail`].
    last_transport_error: Option<String>,
    /// Namespaces whose auth function must be called again (a reconnection attempt) before
    /// the next connection is dialled: outside the lock, since the function is user code.
    refresh_auth: Vec<String>,
    /// The latest `now` fed to the manager.
    last_now: Instant,
}

impl State {
    pub(crate) fn entry_by_id(&self, id: SocketId) -> Option<&SocketEntry> {
        self.sockets.iter().find(|e| e.id == Some(id))
    }

    /// Nothing left to write: no engine alive and no writing transport task.
    pub(crate) fn is_flushed(&self) -> bool {
        self.writers == 0 && !self.manager.has_live_engines()
    }

    /// A receiver completed once [`is_flushed`](Self::is_flushed) holds (at once if it does).
    pub(crate) fn wait_flushed(&mut self) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        if self.is_flushed() {
            let _ = tx.send(());
        } else {
            self.flushed_waiters.push(tx);
        }
        rx
    }

    /// The manager's id of the socket of namespace `nsp`, once it was opened.
    pub(crate) fn socket_id(&self, nsp: &str) -> Option<SocketId> {
        self.sockets
            .iter()
            .find(|e| e.shared.nsp == nsp)
            .and_then(|e| e.id)
    }

    pub(crate) fn entry_by_nsp(&mut self, nsp: &str) -> Option<&mut SocketEntry> {
        self.sockets.iter_mut().find(|e| e.shared.nsp == nsp)
    }
}

/// The client's shared core.
pub(crate) struct Shared {
    pub(crate) runtime: Arc<dyn Runtime>,
    connector: Arc<dyn Connector>,
    epoch: std::time::Instant,
    origin: Origin,
    pub(crate) auth: AuthSource,
    pub(crate) namespaces: Vec<String>,
    pub(crate) state: Mutex<State>,
    timer_wake: mpsc::UnboundedSender<()>,
    runner: mpsc::UnboundedSender<BoxTask>,
    pub(crate) manager_handlers: Mutex<ManagerHandlers>,
    /// Events handed to handlers and not finished; the readers wait while it is full.
    pub(crate) inflow: Arc<Inflow>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.inflow.close();
    }
}

impl Shared {
    pub(crate) fn start(
        runtime: Arc<dyn Runtime>,
        connector: Arc<dyn Connector>,
        manager: ClientManager,
        origin: Origin,
        auth: AuthSource,
        namespaces: Vec<String>,
        max_pending_events: usize,
    ) -> Arc<Shared> {
        let (timer_wake, wake_rx) = mpsc::unbounded();
        let (runner, runner_rx) = mpsc::unbounded();
        let shared = Arc::new(Shared {
            epoch: runtime.now(),
            runtime,
            connector,
            origin,
            auth,
            namespaces,
            state: Mutex::new(State {
                manager,
                sockets: Vec::new(),
                acks: HashMap::new(),
                ws: HashMap::new(),
                armed: None,
                spawns: Vec::new(),
                writers: 0,
                flushed_waiters: Vec::new(),
                last_transport_error: None,
                refresh_auth: Vec::new(),
                last_now: Instant::from_millis(0),
            }),
            timer_wake,
            runner,
            manager_handlers: Mutex::new(ManagerHandlers::default()),
            inflow: Arc::new(Inflow::new(max_pending_events)),
        });
        shared
            .runtime
            .spawn(Box::pin(timer_loop(Arc::downgrade(&shared), wake_rx)));
        let rt = shared.runtime.clone();
        shared.runtime.spawn(Box::pin(run_handlers(rt, runner_rx)));
        shared
    }

    fn now(&self) -> Instant {
        Instant::from_duration(self.runtime.now().saturating_duration_since(self.epoch))
    }

    /// Locks, runs `f`, drains the manager (transmits, events, timer), unlocks, spawns.
    pub(crate) fn with_state<R>(self: &Arc<Self>, f: impl FnOnce(&mut State, Instant) -> R) -> R {
        // Read before locking (a user's `Runtime::now` is user code); the manager never sees
        // time go back.
        let clock = self.now();
        let (result, spawns) = {
            let mut st = lock(&self.state);
            let now = clock.max(st.last_now);
            st.last_now = now;
            let result = f(&mut st, now);
            self.pump(&mut st, now);
            if !st.flushed_waiters.is_empty() && st.is_flushed() {
                for waiter in st.flushed_waiters.drain(..) {
                    let _ = waiter.send(());
                }
            }
            (result, std::mem::take(&mut st.spawns))
        };
        for task in spawns {
            self.runtime.spawn(task);
        }
        result
    }

    fn pump(self: &Arc<Self>, st: &mut State, now: Instant) {
        loop {
            let mut progressed = false;
            while let Some(transmit) = st.manager.poll_transmit() {
                progressed = true;
                self.transmit(st, now, transmit);
            }
            while let Some(event) = st.manager.poll_event() {
                progressed = true;
                self.event(st, event);
            }
            if !progressed {
                break;
            }
        }
        let deadline = st.manager.poll_timeout();
        if deadline.is_some() && (st.armed.is_none() || deadline < st.armed) {
            st.armed = deadline;
            let _ = self.timer_wake.unbounded_send(());
        }
    }

    fn uri(&self, websocket: bool, path_and_query: &str) -> String {
        let scheme = match (websocket, self.origin.secure) {
            (false, false) => "http",
            (false, true) => "https",
            (true, false) => "ws",
            (true, true) => "wss",
        };
        format!("{scheme}://{}{path_and_query}", self.origin.authority)
    }

    fn transmit(self: &Arc<Self>, st: &mut State, now: Instant, transmit: Transmit) {
        match transmit {
            Transmit::Http {
                id,
                method,
                path_and_query,
                body,
                content_type,
            } => {
                let mut request = http::Request::new(body);
                *request.method_mut() = match method {
                    Method::Post => http::Method::POST,
                    _ => http::Method::GET,
                };
                match self.uri(false, &path_and_query).parse() {
                    Ok(uri) => *request.uri_mut() = uri,
                    Err(_) => {
                        st.manager.handle_http_error(now, id);
                        return;
                    }
                }
                let headers = request.headers_mut();
                for (name, value) in &self.origin.headers {
                    headers.append(name.clone(), value.clone());
                }
                if let Some(content_type) = content_type {
                    headers.insert(
                        http::header::CONTENT_TYPE,
                        http::HeaderValue::from_static(content_type),
                    );
                }
                request
                    .extensions_mut()
                    .insert(BodyLimit(st.manager.max_response_len()));
                let shared = self.clone();
                let writes = method == Method::Post;
                if writes {
                    st.writers += 1;
                }
                st.spawns.push(Box::pin(async move {
                    if !writes {
                        // Backpressure: no poll while the handlers are behind.
                        shared.inflow.room().await;
                    }
                    shared.refresh_auth();
                    let result = shared.connector.http(request).await;
                    shared.with_state(|st, now| {
                        if writes {
                            st.writers -= 1;
                        }
                        match result {
                            Ok(response) => {
                                let status = response.status().as_u16();
                                st.manager.handle_http_response(
                                    now,
                                    id,
                                    status,
                                    response.into_body(),
                                );
                            }
                            Err(error) => {
                                tracing::debug!(%error, "polling request failed");
                                st.last_transport_error = Some(error.to_string());
                                match error.body_too_large() {
                                    Some(too_large) => {
                                        st.manager.handle_too_large(now, id, too_large.limit)
                                    }
                                    None => st.manager.handle_http_error(now, id),
                                }
                            }
                        }
                    });
                }));
            }
            Transmit::OpenWebSocket { id, path_and_query } => {
                let mut request = http::Request::new(());
                match self.uri(true, &path_and_query).parse() {
                    Ok(uri) => *request.uri_mut() = uri,
                    Err(_) => {
                        st.manager.handle_ws_closed(now, id);
                        return;
                    }
                }
                let headers = request.headers_mut();
                for (name, value) in &self.origin.headers {
                    headers.append(name.clone(), value.clone());
                }
                let shared = self.clone();
                st.writers += 1;
                st.spawns.push(Box::pin(async move {
                    shared.refresh_auth();
                    let dial = shared.connector.websocket(request);
                    shared.run_websocket(id, dial).await
                }));
            }
            Transmit::WsFrame { id, frame } => {
                if let Some(writer) = st.ws.get(&id) {
                    writer.send(frame);
                }
            }
            Transmit::CloseWebSocket { id } => {
                if let Some(writer) = st.ws.remove(&id) {
                    let _ = writer.tx.unbounded_send(WsOut::Close);
                }
            }
            _ => {}
        }
    }

    /// Calls the auth function for each namespace a reconnection attempt marked (without
    /// holding the lock: it is user code) and hands the payloads to the manager, for the
    /// CONNECTs of the connection about to be dialled. Runs in the dialling task, which starts
    /// after the pump that handled the attempt (its event comes after the dial's transmit).
    fn refresh_auth(self: &Arc<Self>) {
        let nsps = std::mem::take(&mut lock(&self.state).refresh_auth);
        if nsps.is_empty() {
            return;
        }
        let payloads: Vec<(String, Value)> = nsps
            .into_iter()
            .filter_map(|nsp| Some((nsp, self.auth.get()?)))
            .collect();
        self.with_state(|st, now| {
            for (nsp, auth) in payloads {
                let _ = st.manager.open_socket(now, &nsp, Some(auth));
            }
        });
    }

    async fn run_websocket(
        self: Arc<Self>,
        id: RequestId,
        dial: super::BoxFuture<Result<super::BoxWebSocket, super::ConnectorError>>,
    ) {
        let ws = match dial.await {
            Ok(ws) => ws,
            Err(error) => {
                tracing::debug!(%error, "websocket dial failed");
                self.with_state(|st, now| {
                    st.writers -= 1;
                    st.last_transport_error = Some(error.to_string());
                    st.manager.handle_ws_closed(now, id);
                });
                return;
            }
        };
        let (tx, mut rx) = mpsc::unbounded();
        let pong_queued = Arc::new(AtomicBool::new(false));
        let writer = WsWriter {
            tx,
            pong_queued: pong_queued.clone(),
        };
        self.with_state(|st, now| {
            st.ws.insert(id, writer);
            st.manager.handle_ws_opened(now, id);
        });
        let (mut sink, mut stream) = ws.split();
        let reader = async {
            loop {
                // Backpressure: no frame is read while the handlers are behind.
                self.inflow.room().await;
                let Some(message) = stream.next().await else {
                    return;
                };
                let frame = match message {
                    Ok(tungstenite::Message::Text(text)) => {
                        match Str::from_utf8(Bytes::from(text)) {
                            Ok(text) => Frame::Text(text),
                            Err(_) => return,
                        }
                    }
                    Ok(tungstenite::Message::Binary(bytes)) => Frame::Binary(bytes),
                    Err(tungstenite::Error::Capacity(
                        tungstenite::error::CapacityError::MessageTooLong { max_size, .. },
                    )) => {
                        let limit = max_size as u64;
                        tracing::debug!(limit, "websocket message over the limit");
                        self.with_state(|st, now| {
                            st.last_transport_error =
                                Some(super::BodyTooLarge { limit }.to_string());
                            st.manager.handle_too_large(now, id, limit);
                        });
                        return;
                    }
                    Ok(tungstenite::Message::Close(_)) | Err(_) => return,
                    Ok(_) => continue,
                };
                self.with_state(|st, now| st.manager.handle_ws_frame(now, id, frame));
            }
        };
        let writer = async {
            while let Some(first) = rx.next().await {
                let mut next = Some(first);
                while let Some(out) = next.take() {
                    match out {
                        WsOut::Frame(frame) => {
                            let pong = is_pong(&frame);
                            if let Some(message) = to_message(frame)
                                && sink.feed(message).await.is_err()
                            {
                                return;
                            }
                            if pong {
                                // Handed to the socket: the next ping may queue a pong again.
                                pong_queued.store(false, Ordering::Release);
                            }
                        }
                        WsOut::Close => {
                            let _ = sink.send(tungstenite::Message::Close(None)).await;
                            let _ = sink.close().await;
                            return;
                        }
                    }
                    // Batch: flush once the queue is empty.
                    next = rx.try_recv().ok();
                }
                if sink.flush().await.is_err() {
                    return;
                }
            }
        };
        let reader = std::pin::pin!(reader);
        let writer = std::pin::pin!(writer);
        futures_util::future::select(reader, writer).await;
        self.with_state(|st, now| {
            st.writers -= 1;
            st.ws.remove(&id);
            st.manager.handle_ws_closed(now, id);
        });
    }

    fn queue(&self, task: BoxTask) {
        let _ = self.runner.unbounded_send(task);
    }

    fn socket_handle(self: &Arc<Self>, shared: &Arc<SocketShared>) -> SocketRef {
        SocketRef {
            client: self.clone(),
            socket: shared.clone(),
        }
    }

    fn event(self: &Arc<Self>, st: &mut State, event: Event) {
        match event {
            Event::Connect { socket, .. } => {
                let Some(entry) = st.sockets.iter_mut().find(|e| e.id == Some(socket)) else {
                    return;
                };
                entry.last_failure = None;
                st.last_transport_error = None;
                for waiter in entry.waiters.drain(..) {
                    let _ = waiter.send(Ok(()));
                }
                let handle = self.socket_handle(&entry.shared);
                let handlers = lock(&entry.shared.handlers).connect.clone();
                self.queue(Box::pin(async move {
                    for handler in handlers {
                        handler(handle.clone()).await;
                    }
                }));
            }
            Event::ConnectError {
                socket,
                message,
                data,
                refused,
                ..
            } => {
                let detail = if refused {
                    None
                } else {
                    st.last_transport_error.clone()
                };
                let Some(entry) = st.sockets.iter_mut().find(|e| e.id == Some(socket)) else {
                    return;
                };
                let failure = ConnectFailed {
                    message,
                    data,
                    kind: if refused {
                        ConnectFailedKind::Refused
                    } else {
                        ConnectFailedKind::Connection
                    },
                    detail,
                };
                for waiter in entry.waiters.drain(..) {
                    let _ = waiter.send(Err(failure.clone()));
                }
                entry.last_failure = Some(failure.clone());
                let handle = self.socket_handle(&entry.shared);
                let handlers = lock(&entry.shared.handlers).connect_error.clone();
                self.queue(Box::pin(async move {
                    for handler in handlers {
                        handler(handle.clone(), failure.clone()).await;
                    }
                }));
            }
            Event::Event {
                socket, data, ack, ..
            } => {
                let Some(entry) = st.entry_by_id(socket) else {
                    return;
                };
                let Some((name, args)) = data.event_parts() else {
                    return;
                };
                let handle = self.socket_handle(&entry.shared);
                let handlers = lock(&entry.shared.handlers);
                // Counted until the handler finishes: the readers wait while too many are
                // pending (`Inflow`).
                if let Some(handler) = handlers.events.get(&name).cloned() {
                    let pending = self.inflow.admit();
                    self.queue(Box::pin(async move {
                        handler(handle, args, ack).await;
                        drop(pending);
                    }));
                } else if let Some(handler) = handlers.any.clone() {
                    let pending = self.inflow.admit();
                    self.queue(Box::pin(async move {
                        handler(handle, name, args, ack).await;
                        drop(pending);
                    }));
                } else {
                    tracing::debug!(event = %name, "no handler for event");
                }
            }
            Event::Ack { id, data, .. } => {
                if let Some(tx) = st.acks.remove(&id) {
                    let args = data
                        .ack_args()
                        .map_err(|error| AckError::Decode(error.to_string()));
                    let _ = tx.send(args);
                }
            }
            Event::AckTimeout { id, .. } => {
                if let Some(tx) = st.acks.remove(&id) {
                    let _ = tx.send(Err(AckError::Timeout));
                }
            }
            Event::AckDisconnected { id, .. } => {
                if let Some(tx) = st.acks.remove(&id) {
                    let _ = tx.send(Err(AckError::Disconnected));
                }
            }
            Event::Disconnect { socket, reason, .. } => {
                let Some(entry) = st.sockets.iter_mut().find(|e| e.id == Some(socket)) else {
                    return;
                };
                let handle = self.socket_handle(&entry.shared);
                let handlers = lock(&entry.shared.handlers).disconnect.clone();
                self.queue(Box::pin(async move {
                    for handler in handlers {
                        handler(handle.clone(), reason).await;
                    }
                }));
            }
            Event::ReconnectAttempt(n) => {
                if matches!(self.auth, AuthSource::Fn(_)) {
                    // Called by the dialling task before it dials (see `refresh_auth`).
                    st.refresh_auth = st
                        .sockets
                        .iter()
                        .filter_map(|e| Some((e.id?, e.shared.nsp.clone())))
                        .filter(|(id, _)| st.manager.is_active(*id))
                        .map(|(_, nsp)| nsp)
                        .collect();
                }
                let handlers = lock(&self.manager_handlers).reconnect_attempt.clone();
                self.queue(Box::pin(async move {
                    for handler in handlers {
                        handler(n).await;
                    }
                }));
            }
            Event::Reconnect(n) => {
                let handlers = lock(&self.manager_handlers).reconnect.clone();
                self.queue(Box::pin(async move {
                    for handler in handlers {
                        handler(n).await;
                    }
                }));
            }
            Event::ReconnectError => {
                let handlers = lock(&self.manager_handlers).reconnect_error.clone();
                self.queue(Box::pin(async move {
                    for handler in handlers {
                        handler().await;
                    }
                }));
            }
            Event::ReconnectFailed => {
                let handlers = lock(&self.manager_handlers).reconnect_failed.clone();
                self.queue(Box::pin(async move {
                    for handler in handlers {
                        handler().await;
                    }
                }));
            }
            _ => {}
        }
    }
}

fn to_message(frame: Frame) -> Option<tungstenite::Message> {
    match frame {
        Frame::Text(text) => tungstenite::Utf8Bytes::try_from(text.into_bytes())
            .ok()
            .map(tungstenite::Message::Text),
        Frame::Binary(bytes) => Some(tungstenite::Message::Binary(bytes)),
    }
}

/// Sleeps until the manager's next deadline, then feeds `handle_timeout`; woken when an
/// earlier deadline appears. Ends when the client is gone.
async fn timer_loop(shared: Weak<Shared>, mut wake: mpsc::UnboundedReceiver<()>) {
    loop {
        let Some(strong) = shared.upgrade() else {
            return;
        };
        let now = strong.now();
        let deadline = {
            let mut st = lock(&strong.state);
            let deadline = st.manager.poll_timeout();
            st.armed = deadline;
            deadline
        };
        match deadline {
            Some(deadline) if deadline <= now => {
                strong.with_state(|st, now| st.manager.handle_timeout(now));
            }
            Some(deadline) => {
                let sleep = strong.runtime.sleep(deadline - now);
                drop(strong);
                let woken = futures_util::future::select(sleep, wake.next()).await;
                if let futures_util::future::Either::Right((None, _)) = woken {
                    return;
                }
            }
            None => {
                drop(strong);
                if wake.next().await.is_none() {
                    return;
                }
            }
        }
    }
}

/// Starts every handler task in order, polling each once; one that awaits continues in a
/// task of its own.
async fn run_handlers(runtime: Arc<dyn Runtime>, mut queue: mpsc::UnboundedReceiver<BoxTask>) {
    while let Some(mut task) = queue.next().await {
        if futures_util::poll!(task.as_mut()).is_pending() {
            runtime.spawn(task);
        }
    }
}
