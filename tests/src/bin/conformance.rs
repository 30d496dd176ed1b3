//! The conformance server: the configuration the official protocol suites expect
//! (PROTOCOL.md, "The conformance configuration"), so any external suite can be pointed at it.
//!
//! ```text
//! cargo run -p socketio-tests --bin conformance -- --level engine|socket [--eio3] [--msgpack] [--port 3000]
//! ```
//! Both levels: pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1000000, CORS `*`.
//! - `engine`: path `/engine.io/`; every message is echoed back as it came (text as text, binary
//!   as binary); `--msgpack` does not apply. (Served by a small driver over the sans-IO engine
//!   core, module `engine`, until `socketio` has an engine-level API.)
//! - `socket`: path `/socket.io/`, connectTimeout 1000 ms; on connect to `/` or `/custom` emit
//!   `auth` with the handshake auth; `message` → `message-back` with the same arguments;
//!   `message-with-ack` → acked with the same arguments; every other namespace is unknown.
//!
//! `RUST_LOG` sets the tracing filter (default `info`).

use std::{net::SocketAddr, process::ExitCode, time::Duration};

use socketio_tokio::{
    AckSender, Cors, CorsOrigin, Endpoint, HttpServer, Server, ServerBuilder, ServerBuilderExt,
    Socket, Value,
};

/// Which protocol layer the suite tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Level {
    Engine,
    Socket,
}

#[derive(Debug)]
struct Options {
    level: Level,
    eio3: bool,
    msgpack: bool,
    port: u16,
}

/// maxPayload of the conformance configuration, in bytes.
const MAX_PAYLOAD: usize = 1_000_000;

const USAGE: &str = "usage: conformance --level engine|socket [--eio3] [--msgpack] [--port 3000]";

fn parse(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut options = Options {
        level: Level::Socket,
        eio3: false,
        msgpack: false,
        port: 3000,
    };
    let mut level = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--level" => {
                level = Some(match args.next().as_deref() {
                    Some("engine") => Level::Engine,
                    Some("socket") => Level::Socket,
                    other => return Err(format!("--level wants engine or socket, got {other:?}")),
                });
            }
            "--eio3" => options.eio3 = true,
            "--msgpack" => options.msgpack = true,
            "--port" => {
                let value = args.next().ok_or("--port wants a number")?;
                options.port = value.parse().map_err(|_| format!("bad port {value:?}"))?;
            }
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    options.level = level.ok_or_else(|| format!("--level is required\n{USAGE}"))?;
    Ok(options)
}

/// The options shared by both levels.
fn base(options: &Options) -> ServerBuilder {
    let builder = Server::builder()
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(200))
        .max_http_buffer_size(MAX_PAYLOAD)
        .cors(Cors::new(CorsOrigin::Any))
        .allow_eio3(options.eio3);
    if options.msgpack {
        builder.msgpack()
    } else {
        builder
    }
}

/// Sends `args` back under `event` as the same argument list.
fn emit_same(socket: &Socket, event: &str, args: Vec<Value>) {
    if let Err(error) = socket.emit_args(event, args) {
        eprintln!("emit {event}: {error}");
    }
}

/// Acks with the same argument list.
fn ack_same(ack: AckSender, args: Vec<Value>) {
    if let Err(error) = ack.send_args(args) {
        eprintln!("ack: {error}");
    }
}

async fn on_connect(socket: Socket) {
    let auth = socket.handshake().auth_value().clone();
    if let Err(error) = socket.emit("auth", &auth) {
        eprintln!("emit auth: {error}");
    }
    socket.on_any(
        |socket: Socket, event: String, args: Vec<Value>, ack: Option<AckSender>| async move {
            match (event.as_str(), ack) {
                ("message", _) => emit_same(&socket, "message-back", args),
                ("message-with-ack", Some(ack)) => ack_same(ack, args),
                _ => {}
            }
        },
    );
}

/// The Socket.IO level server.
fn socket_server(options: &Options) -> Server {
    let io = base(options)
        .path("/socket.io")
        .connect_timeout(Duration::from_millis(1000))
        .build_tokio();
    io.ns("/", on_connect);
    io.ns("/custom", on_connect);
    io
}

/// The Engine.IO level: an echo [`Endpoint`](socketio_tokio::Endpoint) driving the sans-IO
/// engine core of `socketio-protocol` directly.
///
/// Stopgap: `socketio` has no engine-level API yet; once it has one, this module becomes a
/// message handler on it. The driver follows `socketio::Server`'s: one locked state, inputs fed
/// to the core, outputs drained after each (`pump`), one timer task.
mod engine {
    use std::{
        collections::HashMap,
        net::SocketAddr,
        sync::{
            Arc, Mutex, MutexGuard,
            atomic::{AtomicBool, AtomicU64, Ordering},
        },
        time::Duration,
    };

    use bytes::{Bytes, BytesMut};
    use futures_util::{SinkExt, StreamExt};
    use http::{HeaderName, HeaderValue, Response};
    use http_body_util::{BodyExt, Full};
    use socketio_protocol::{
        Instant, Str,
        engine::{
            Frame,
            server::{
                Config, ConnectionId, Event, Method, RequestHead, RequestId,
                Response as CoreResponse, Server as Core, Transmit,
            },
        },
    };
    use socketio_tokio::{BoxError, Endpoint, UpgradedWebSocket, tungstenite::Message};
    use tokio::sync::{Notify, mpsc, oneshot};

    /// What a WebSocket writer is told.
    enum Out {
        Frame(Frame),
        Close,
    }

    struct State {
        core: Core,
        requests: HashMap<RequestId, oneshot::Sender<CoreResponse>>,
        bodies: HashMap<RequestId, Bytes>,
        writers: HashMap<ConnectionId, mpsc::UnboundedSender<Out>>,
        verdicts: HashMap<ConnectionId, Result<Vec<(HeaderName, HeaderValue)>, CoreResponse>>,
    }

    struct Shared {
        start: std::time::Instant,
        state: Mutex<State>,
        next_id: AtomicU64,
        wake: Notify,
        shut_down: AtomicBool,
        prefix: String,
    }

    /// The engine-level echo server: every message goes back to its sender as it came.
    #[derive(Clone)]
    pub struct EchoServer(Arc<Shared>);

    /// An accepted WebSocket: its id and its writer queue.
    pub struct Ticket {
        connection: ConnectionId,
        rx: mpsc::UnboundedReceiver<Out>,
        headers: Vec<(HeaderName, HeaderValue)>,
        server: Option<EchoServer>,
    }

    impl Drop for Ticket {
        // Never served (the upgrade failed): the engine forgets the connection.
        fn drop(&mut self) {
            if let Some(server) = self.server.take() {
                server.input(|state, now| {
                    state.writers.remove(&self.connection);
                    let _ = state.core.handle_websocket_error(now, self.connection);
                });
            }
        }
    }

    /// Session ids: 15 bytes from std's randomly keyed hasher and a counter (a test server).
    fn ids() -> impl FnMut() -> [u8; 15] + Send + 'static {
        use std::hash::{BuildHasher, RandomState};
        let keys = RandomState::new();
        let mut counter = 0u64;
        move || {
            counter += 1;
            let a = keys.hash_one((counter, 1u8)).to_le_bytes();
            let b = keys.hash_one((counter, 2u8)).to_le_bytes();
            let mut id = [0u8; 15];
            id[..8].copy_from_slice(&a);
            id[8..].copy_from_slice(&b[..7]);
            id
        }
    }

    impl EchoServer {
        /// Starts the server (and its timer task) with `config`.
        pub fn start(config: Config) -> Self {
            let prefix = config.path_prefix();
            let shared = Arc::new(Shared {
                start: std::time::Instant::now(),
                state: Mutex::new(State {
                    core: Core::new(config, ids()),
                    requests: HashMap::new(),
                    bodies: HashMap::new(),
                    writers: HashMap::new(),
                    verdicts: HashMap::new(),
                }),
                next_id: AtomicU64::new(1),
                wake: Notify::new(),
                shut_down: AtomicBool::new(false),
                prefix,
            });
            let server = EchoServer(shared);
            tokio::spawn(server.clone().timer());
            server
        }

        fn now(&self) -> Instant {
            Instant::from_duration(self.0.start.elapsed())
        }

        fn lock(&self) -> MutexGuard<'_, State> {
            self.0
                .state
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
        }

        /// Feeds one input under the lock, then drains the outputs.
        fn input<R>(&self, feed: impl FnOnce(&mut State, Instant) -> R) -> R {
            let now = self.now();
            let mut state = self.lock();
            let result = feed(&mut state, now);
            state.pump(now);
            drop(state);
            self.0.wake.notify_one();
            result
        }

        /// Sleeps until the core's next deadline (or an input that may move it), then runs it.
        async fn timer(self) {
            while !self.0.shut_down.load(Ordering::Acquire) {
                let wake = self.0.wake.notified();
                let deadline = self.lock().core.poll_timeout();
                match deadline {
                    Some(at) => {
                        let at = self.0.start + at.since_epoch();
                        tokio::select! {
                            () = tokio::time::sleep_until(at.into()) => {
                                self.input(|state, now| state.core.handle_timeout(now));
                            }
                            () = wake => {}
                        }
                    }
                    None => wake.await,
                }
            }
        }
    }

    impl State {
        /// Drains the core: responses to their requests, frames to their writers, messages
        /// echoed back, until nothing is left.
        fn pump(&mut self, now: Instant) {
            loop {
                let mut busy = false;
                while let Some(transmit) = self.core.poll_transmit() {
                    busy = true;
                    match transmit {
                        Transmit::Response { request, response } => {
                            if let Some(tx) = self.requests.remove(&request) {
                                let _ = tx.send(response);
                            }
                        }
                        Transmit::ReadBody { request, .. } => {
                            let body = self.bodies.remove(&request).unwrap_or_default();
                            let _ = self.core.handle_request_body(now, request, body);
                        }
                        Transmit::Abort { request } => {
                            self.requests.remove(&request);
                        }
                        Transmit::AcceptWebSocket {
                            connection,
                            headers,
                        } => {
                            let headers = headers
                                .into_iter()
                                .filter_map(|(name, value)| {
                                    Some((
                                        HeaderName::from_bytes(name.as_bytes()).ok()?,
                                        HeaderValue::from_str(&value).ok()?,
                                    ))
                                })
                                .collect();
                            self.verdicts.insert(connection, Ok(headers));
                        }
                        Transmit::RefuseWebSocket {
                            connection,
                            response,
                        } => {
                            self.verdicts.insert(connection, Err(response));
                        }
                        Transmit::Frame { connection, frame } => {
                            if let Some(tx) = self.writers.get(&connection) {
                                let _ = tx.send(Out::Frame(frame));
                            }
                        }
                        Transmit::CloseWebSocket { connection } => {
                            if let Some(tx) = self.writers.remove(&connection) {
                                let _ = tx.send(Out::Close);
                            }
                        }
                        _ => {}
                    }
                }
                while let Some(event) = self.core.poll_event() {
                    busy = true;
                    match event {
                        Event::Message { sid, data } => {
                            let _ = self.core.send(&sid, data);
                        }
                        Event::HandshakeRequest { transport, .. } => {
                            let _ = self.core.accept_handshake(now, transport);
                        }
                        _ => {}
                    }
                }
                if !busy {
                    return;
                }
            }
        }
    }

    fn head_from_parts(parts: &http::request::Parts) -> RequestHead {
        let mut head = RequestHead::new(
            Method::parse(parts.method.as_str()),
            parts.uri.path().to_owned(),
            parts.uri.query().unwrap_or("").to_owned(),
        );
        let header = |name| {
            parts
                .headers
                .get(name)
                .and_then(|value: &HeaderValue| value.to_str().ok())
                .map(|value| Str::from(value.to_owned()))
        };
        if let Some(origin) = header(http::header::ORIGIN) {
            head = head.with_origin(origin);
        }
        if let Some(content_type) = header(http::header::CONTENT_TYPE) {
            head = head.with_content_type(content_type);
        }
        if let Some(requested) = header(http::header::ACCESS_CONTROL_REQUEST_HEADERS) {
            head = head.with_access_control_request_headers(requested);
        }
        head
    }

    fn to_http(response: CoreResponse) -> Response<Full<Bytes>> {
        let mut builder = Response::builder().status(response.status);
        for (name, value) in &response.headers {
            builder = builder.header(*name, value.as_str());
        }
        builder
            .body(Full::new(response.body))
            .unwrap_or_else(|_| Response::new(Full::default()))
    }

    /// Reads at most `limit` bytes of `body` (the engine refuses longer bodies with `413`).
    async fn read_body<B>(body: B, limit: usize) -> Option<Bytes>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let mut body = std::pin::pin!(body);
        let mut out = BytesMut::new();
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame.ok()?.into_data() {
                let room = limit.saturating_sub(out.len());
                out.extend_from_slice(&data[..data.len().min(room)]);
                if out.len() >= limit {
                    break;
                }
            }
        }
        Some(out.freeze())
    }

    /// Aborts a request whose HTTP exchange was dropped before its answer.
    struct AbortGuard<'a> {
        server: &'a EchoServer,
        id: RequestId,
    }

    impl Drop for AbortGuard<'_> {
        fn drop(&mut self) {
            self.server.input(|state, now| {
                if state.requests.remove(&self.id).is_some() {
                    let _ = state.core.handle_request_aborted(now, self.id);
                }
            });
        }
    }

    fn plain(status: u16, text: &'static str) -> Response<Full<Bytes>> {
        Response::builder()
            .status(status)
            .header("content-type", "text/plain")
            .body(Full::new(Bytes::from_static(text.as_bytes())))
            .expect("valid response")
    }

    impl Endpoint for EchoServer {
        type Ticket = Ticket;

        fn handles(&self, path: &str) -> bool {
            path.starts_with(self.0.prefix.as_str())
        }

        async fn handle_http<B>(
            &self,
            request: http::Request<B>,
            _remote: Option<SocketAddr>,
        ) -> Response<Full<Bytes>>
        where
            B: http_body::Body<Data = Bytes> + Send + 'static,
            B::Error: Into<BoxError>,
        {
            if self.0.shut_down.load(Ordering::Acquire) {
                return plain(503, "server shutting down");
            }
            let (parts, body) = request.into_parts();
            let head = head_from_parts(&parts);
            let limit = self.lock().core.config().max_payload + 1;
            let body = if head.method == Method::Post {
                match read_body(body, limit).await {
                    Some(body) => body,
                    None => return plain(400, "body read error"),
                }
            } else {
                Bytes::new()
            };
            let id = RequestId(self.0.next_id.fetch_add(1, Ordering::Relaxed));
            let (tx, rx) = oneshot::channel();
            self.input(|state, now| {
                state.requests.insert(id, tx);
                state.bodies.insert(id, body);
                if state.core.handle_request(now, id, head).is_err() {
                    state.requests.remove(&id);
                }
            });
            let guard = AbortGuard { server: self, id };
            let response = rx.await;
            std::mem::forget(guard);
            self.lock().bodies.remove(&id);
            match response {
                Ok(response) => to_http(response),
                Err(_) => plain(400, ""),
            }
        }

        fn accept_websocket(
            &self,
            request: &http::request::Parts,
            _remote: Option<SocketAddr>,
        ) -> Result<Ticket, Response<Full<Bytes>>> {
            if self.0.shut_down.load(Ordering::Acquire) {
                return Err(plain(503, "server shutting down"));
            }
            let connection = ConnectionId(self.0.next_id.fetch_add(1, Ordering::Relaxed));
            let (tx, rx) = mpsc::unbounded_channel();
            let head = head_from_parts(request);
            let verdict = self.input(|state, now| {
                state.writers.insert(connection, tx);
                let _ = state.core.handle_websocket(now, connection, head);
                state.pump(now);
                let verdict = state.verdicts.remove(&connection);
                if !matches!(verdict, Some(Ok(_))) {
                    state.writers.remove(&connection);
                }
                verdict
            });
            match verdict {
                Some(Ok(headers)) => Ok(Ticket {
                    connection,
                    rx,
                    headers,
                    server: Some(self.clone()),
                }),
                Some(Err(response)) => Err(to_http(response)),
                None => Err(plain(400, "Bad request")),
            }
        }

        fn websocket_headers(ticket: &Ticket) -> Vec<(HeaderName, HeaderValue)> {
            ticket.headers.clone()
        }

        async fn serve_websocket(&self, mut ticket: Ticket, socket: UpgradedWebSocket) {
            ticket.server = None;
            let connection = ticket.connection;
            let mut rx = std::mem::replace(&mut ticket.rx, mpsc::unbounded_channel().1);
            let (mut sink, mut stream) = socket.split();
            let reader = async {
                while let Some(message) = stream.next().await {
                    let frame = match message {
                        Ok(Message::Text(text)) => match Str::from_utf8(Bytes::from(text)) {
                            Ok(text) => Frame::Text(text),
                            Err(_) => return false,
                        },
                        Ok(Message::Binary(bytes)) => Frame::Binary(bytes),
                        Ok(Message::Close(_)) => return true,
                        Ok(_) => continue,
                        Err(_) => return false,
                    };
                    self.input(|state, now| {
                        let _ = state.core.handle_frame(now, connection, frame);
                    });
                }
                true
            };
            let writer = async {
                while let Some(out) = rx.recv().await {
                    let message = match out {
                        Out::Frame(Frame::Text(text)) => {
                            match String::from_utf8(text.into_bytes().to_vec()) {
                                Ok(text) => Message::text(text),
                                Err(_) => continue,
                            }
                        }
                        Out::Frame(Frame::Binary(bytes)) => Message::Binary(bytes),
                        Out::Close => {
                            let _ = sink.send(Message::Close(None)).await;
                            return true;
                        }
                    };
                    if sink.feed(message).await.is_err() {
                        return false;
                    }
                    if rx.is_empty() && sink.flush().await.is_err() {
                        return false;
                    }
                }
                true
            };
            let clean = tokio::select! {
                clean = reader => clean,
                clean = writer => clean,
            };
            self.input(|state, now| {
                state.writers.remove(&connection);
                let _ = if clean {
                    state.core.handle_websocket_closed(now, connection)
                } else {
                    state.core.handle_websocket_error(now, connection)
                };
            });
        }

        async fn shutdown(&self) {
            if self.0.shut_down.swap(true, Ordering::AcqRel) {
                return;
            }
            self.input(|state, now| state.core.close_all(now));
            self.0.wake.notify_one();
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The engine-level server: path `/engine.io/`, the shared options, messages echoed.
fn engine_server(options: &Options) -> engine::EchoServer {
    use socketio_tokio::protocol::engine::server::{Config, Cors, CorsOrigin};
    engine::EchoServer::start(Config {
        ping_interval: Duration::from_millis(300),
        ping_timeout: Duration::from_millis(200),
        max_payload: MAX_PAYLOAD,
        allow_eio3: options.eio3,
        cors: Some(Cors::new(CorsOrigin::Any)),
        ..Config::default()
    })
}

/// Serves `endpoint` on `0.0.0.0:<port>` until Ctrl-C.
async fn run<E: Endpoint>(endpoint: E, options: &Options) -> ExitCode {
    let addr = SocketAddr::from(([0, 0, 0, 0], options.port));
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("bind {addr}: {error}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "conformance server ({:?} level{}{}) on http://localhost:{}",
        options.level,
        if options.eio3 { ", EIO 3 allowed" } else { "" },
        if options.msgpack { ", msgpack" } else { "" },
        options.port
    );
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    // WebSocket messages are capped at maxPayload, as the reference server's `ws` does.
    let http = HttpServer::new(endpoint).websocket_config(
        socketio_tokio::default_websocket_config()
            .max_message_size(Some(MAX_PAYLOAD))
            .max_frame_size(Some(MAX_PAYLOAD)),
    );
    match http.serve_with_shutdown(listener, shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("serve: {error}");
            ExitCode::FAILURE
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = match parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    match options.level {
        Level::Socket => run(socket_server(&options), &options).await,
        Level::Engine => run(engine_server(&options), &options).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> impl Iterator<Item = String> {
        line.split_whitespace()
            .map(str::to_owned)
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn parses_the_documented_flags() {
        let options = parse(args("--level engine --eio3 --msgpack --port 4000")).unwrap();
        assert_eq!(options.level, Level::Engine);
        assert!(options.eio3 && options.msgpack);
        assert_eq!(options.port, 4000);
        let options = parse(args("--level socket")).unwrap();
        assert_eq!(
            (options.level, options.port, options.eio3),
            (Level::Socket, 3000, false)
        );
        assert!(parse(args("")).is_err());
        assert!(parse(args("--level http")).is_err());
        assert!(parse(args("--level socket --port x")).is_err());
    }
}

/// The engine level over loopback: echo over polling and WebSocket, upgrade, violations.
#[cfg(test)]
mod engine_tests {
    use std::{
        io::{Read, Write},
        net::{SocketAddr, TcpStream},
        time::Duration,
    };

    use socketio_tokio::{HttpServer, tungstenite};

    use super::{Level, Options, engine_server, socket_server};

    /// Starts the engine-level server on a loopback port, on its own runtime thread.
    fn start() -> SocketAddr {
        start_level(Level::Engine)
    }

    /// Starts the server of `level` on a loopback port, on its own runtime thread.
    fn start_level(level: Level) -> SocketAddr {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let options = Options {
                    level,
                    eio3: false,
                    msgpack: false,
                    port: 0,
                };
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(listener.local_addr().unwrap()).unwrap();
                let _ = match level {
                    Level::Engine => {
                        HttpServer::new(engine_server(&options))
                            .serve(listener)
                            .await
                    }
                    Level::Socket => {
                        HttpServer::new(socket_server(&options))
                            .serve(listener)
                            .await
                    }
                };
            });
        });
        rx.recv().unwrap()
    }

    /// One HTTP/1.1 exchange on a fresh connection: status and body.
    fn http(addr: SocketAddr, method: &str, target: &str, body: &[u8]) -> (u16, Vec<u8>) {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let head = format!(
            "{method} {target} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\
             Content-Type: text/plain;charset=UTF-8\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(body).unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).unwrap();
        let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let status = std::str::from_utf8(&response[9..12])
            .unwrap()
            .parse()
            .unwrap();
        (status, response[split + 4..].to_vec())
    }

    fn text(body: Vec<u8>) -> String {
        String::from_utf8(body).unwrap()
    }

    fn open(addr: SocketAddr) -> String {
        let (status, body) = http(addr, "GET", "/engine.io/?EIO=4&transport=polling", b"");
        assert_eq!(status, 200);
        let body = text(body);
        let json: serde_json::Value = serde_json::from_str(&body[1..]).unwrap();
        assert_eq!(json["pingInterval"], 300);
        assert_eq!(json["maxPayload"], 1_000_000);
        json["sid"].as_str().unwrap().to_owned()
    }

    type Ws = tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<TcpStream>>;

    fn ws(addr: SocketAddr, query: &str) -> Ws {
        ws_at(addr, "/engine.io/", query)
    }

    fn ws_at(addr: SocketAddr, path: &str, query: &str) -> Ws {
        let url = format!("ws://{addr}{path}?EIO=4&transport=websocket{query}");
        let (socket, _) = tungstenite::connect(url).unwrap();
        if let tungstenite::stream::MaybeTlsStream::Plain(stream) = socket.get_ref() {
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
        }
        socket
    }

    /// The next message that is not a ping (pings are answered).
    fn next(socket: &mut Ws) -> tungstenite::Message {
        loop {
            let message = socket.read().unwrap();
            if message.to_text().ok() == Some("2") {
                socket.send(tungstenite::Message::text("3")).unwrap();
                continue;
            }
            return message;
        }
    }

    #[test]
    fn polling_echoes_text_and_binary() {
        let addr = start();
        let sid = open(addr);
        let target = format!("/engine.io/?EIO=4&transport=polling&sid={sid}");
        let (status, body) = http(addr, "POST", &target, b"4hello\x1ebAQIDBA==");
        assert_eq!((status, text(body).as_str()), (200, "ok"));
        let (status, body) = http(addr, "GET", &target, b"");
        assert_eq!(
            (status, text(body).as_str()),
            (200, "4hello\u{1e}bAQIDBA==")
        );
    }

    #[test]
    fn polling_invalid_packet_and_duplicate_poll_close_the_session() {
        let addr = start();
        let sid = open(addr);
        let target = format!("/engine.io/?EIO=4&transport=polling&sid={sid}");
        // The reference answers the POST `ok` and closes the session (`parse error`).
        let (status, _) = http(addr, "POST", &target, b"abc");
        assert!(status == 200 || status == 400, "{status}");
        assert_eq!(http(addr, "GET", &target, b"").0, 400);

        let sid = open(addr);
        let target = format!("/engine.io/?EIO=4&transport=polling&sid={sid}");
        let first = std::thread::spawn({
            let target = target.clone();
            move || http(addr, "GET", &target, b"")
        });
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(http(addr, "GET", &target, b"").0, 400);
        let (status, body) = first.join().unwrap();
        assert_eq!((status, text(body).as_str()), (200, "1"));
        assert_eq!(http(addr, "GET", &target, b"").0, 400);
    }

    #[test]
    fn websocket_echoes_text_and_binary() {
        let addr = start();
        let mut socket = ws(addr, "");
        let open = next(&mut socket);
        assert!(open.to_text().unwrap().starts_with("0{"));
        socket.send(tungstenite::Message::text("4hello")).unwrap();
        assert_eq!(next(&mut socket).to_text().unwrap(), "4hello");
        socket
            .send(tungstenite::Message::binary(vec![1u8, 2, 3, 4]))
            .unwrap();
        assert_eq!(next(&mut socket).into_data().as_ref(), &[1, 2, 3, 4]);
    }

    #[test]
    fn upgrade_then_echo_over_websocket() {
        let addr = start();
        let sid = open(addr);
        let mut socket = ws(addr, &format!("&sid={sid}"));
        socket.send(tungstenite::Message::text("2probe")).unwrap();
        assert_eq!(next(&mut socket).to_text().unwrap(), "3probe");
        let target = format!("/engine.io/?EIO=4&transport=polling&sid={sid}");
        let (status, body) = http(addr, "GET", &target, b"");
        assert_eq!((status, text(body).as_str()), (200, "6"));
        socket.send(tungstenite::Message::text("5")).unwrap();
        socket.send(tungstenite::Message::text("4hello")).unwrap();
        assert_eq!(next(&mut socket).to_text().unwrap(), "4hello");
        assert_eq!(http(addr, "GET", &target, b"").0, 400);
    }

    #[test]
    fn websocket_ping_timeout_closes() {
        let addr = start();
        let mut socket = ws(addr, "");
        // Read without answering pings: the server ends the connection after 300 + 200 ms.
        let ended = (0..10).any(|_| {
            !matches!(
                socket.read(),
                Ok(tungstenite::Message::Text(_) | tungstenite::Message::Binary(_))
            )
        });
        assert!(ended);
    }

    #[test]
    fn socket_level_echoes_arguments_acks_and_attachments() {
        let addr = start_level(Level::Socket);
        let mut socket = ws_at(addr, "/socket.io/", "");
        let _open = next(&mut socket);
        let send = |socket: &mut Ws, text: &str| {
            socket.send(tungstenite::Message::text(text)).unwrap();
        };
        send(&mut socket, r#"40{"token":"123"}"#);
        assert!(next(&mut socket).to_text().unwrap().starts_with("40{"));
        assert_eq!(
            next(&mut socket).to_text().unwrap(),
            r#"42["auth",{"token":"123"}]"#
        );
        send(&mut socket, r#"42["message",1,"2",{"3":[true]}]"#);
        assert_eq!(
            next(&mut socket).to_text().unwrap(),
            r#"42["message-back",1,"2",{"3":[true]}]"#
        );
        send(
            &mut socket,
            r#"42456["message-with-ack",1,"2",{"3":[false]}]"#,
        );
        assert_eq!(
            next(&mut socket).to_text().unwrap(),
            r#"43456[1,"2",{"3":[false]}]"#
        );
        send(&mut socket, r#"42["message",[1,2]]"#);
        assert_eq!(
            next(&mut socket).to_text().unwrap(),
            r#"42["message-back",[1,2]]"#
        );
        send(
            &mut socket,
            r#"452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
        );
        socket
            .send(tungstenite::Message::binary(vec![1u8, 2, 3]))
            .unwrap();
        socket
            .send(tungstenite::Message::binary(vec![4u8, 5, 6]))
            .unwrap();
        assert_eq!(
            next(&mut socket).to_text().unwrap(),
            r#"452-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#
        );
        assert_eq!(next(&mut socket).into_data().as_ref(), &[1, 2, 3]);
        assert_eq!(next(&mut socket).into_data().as_ref(), &[4, 5, 6]);
        send(&mut socket, "40/random,");
        assert_eq!(
            next(&mut socket).to_text().unwrap(),
            r#"44/random,{"message":"Invalid namespace"}"#
        );
    }
}
