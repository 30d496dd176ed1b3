//! Servers for the Rust *client* tests (`tests/tests/client_node_*.rs`, `tests/tests/cli_*.rs`):
//! the same test app on the official socket.io 4.8 server (`tests/node/servers/reference.js`)
//! or on this project's server (in-process, on the test's [`Executor`]: socketio-tokio or
//! socketio-async-std), behind a small TCP [`Proxy`] that can cut every connection (a network
//! drop) and refuse new ones for a while. The client always talks to the proxy, so a restart of
//! the server (a new process or a new in-process server on a new port) is invisible to it except
//! as a drop. The proxy runs on plain threads, so it works under every executor.
//!
//! The test app's contract is written at the top of `tests/node/servers/reference.js`; the Rust
//! copy is [`start_rust_app`]. Both log `{"connect":nsp,"id","recovered","auth"}` and
//! `{"disconnect":reason,"nsp","id"}` lines, read with [`TestServer::lines`].

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};
use socketio_tokio::{
    AckSender, ConnectError, Handshake, RecoveryConfig, Server, Socket, TransportKind, Value,
};

use crate::executor::{Executor, Served};
use crate::node::{ensure_installed, node_dir, repo_root};

/// Which server runs the test app.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerKind {
    /// The official socket.io 4.8 server (Node.js).
    Node,
    /// This project's server, in-process, on the test's executor.
    Rust,
}

/// Which transports the server allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ServerTransports {
    /// Polling and WebSocket (the default).
    #[default]
    Both,
    /// Polling only.
    Polling,
    /// WebSocket only.
    WebSocket,
}

/// A certificate and key in PEM files, for an HTTPS server.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    /// The certificate chain (PEM).
    pub cert: PathBuf,
    /// The private key (PEM).
    pub key: PathBuf,
}

/// Options of the test app.
#[derive(Clone, Debug, Default)]
pub struct ServerOptions {
    /// The msgpack parser.
    pub msgpack: bool,
    /// Connection state recovery (120 s window, middlewares skipped).
    pub recovery: bool,
    /// Allowed transports.
    pub transports: ServerTransports,
    /// HTTPS (official server only).
    pub tls: Option<TlsFiles>,
    /// `pingInterval` / `pingTimeout` in ms.
    pub heartbeat: Option<(u64, u64)>,
}

enum Backend {
    Node(NodeProcess),
    Rust(RustApp),
}

impl Backend {
    async fn start(
        exec: Executor,
        kind: ServerKind,
        options: &ServerOptions,
        log: &Log,
    ) -> Backend {
        match kind {
            ServerKind::Node => {
                let options = options.clone();
                let log = log.clone();
                Backend::Node(
                    exec.unblock(move || NodeProcess::start(&options, log))
                        .await,
                )
            }
            ServerKind::Rust => Backend::Rust(start_rust_app(exec, options, log.clone()).await),
        }
    }

    fn addr(&self) -> SocketAddr {
        match self {
            Backend::Node(n) => SocketAddr::from(([127, 0, 0, 1], n.port)),
            Backend::Rust(r) => r.addr,
        }
    }

    async fn stop(self) {
        match self {
            Backend::Node(n) => drop(n),
            Backend::Rust(r) => r.stop().await,
        }
    }
}

/// Every line the server logged (`connect` / `disconnect`), across restarts.
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<Vec<Json>>>);

impl Log {
    fn push(&self, line: Json) {
        self.0.lock().unwrap().push(line);
    }

    /// Everything so far.
    pub fn all(&self) -> Vec<Json> {
        self.0.lock().unwrap().clone()
    }
}

/// The test app on one server kind, behind a [`Proxy`]; stopped on drop.
pub struct TestServer {
    /// Which server.
    pub kind: ServerKind,
    /// The executor of the test (and of the in-process server).
    pub exec: Executor,
    options: ServerOptions,
    backend: Option<Backend>,
    proxy: Proxy,
    log: Log,
}

impl TestServer {
    /// Starts the app (on `exec` if in-process) and its proxy.
    pub async fn start(exec: Executor, kind: ServerKind, options: ServerOptions) -> TestServer {
        assert!(
            !(kind == ServerKind::Rust && options.tls.is_some()),
            "TLS is only set up for the official server"
        );
        let log = Log::default();
        let backend = Backend::start(exec, kind, &options, &log).await;
        let proxy = Proxy::start(backend.addr());
        TestServer {
            kind,
            exec,
            options,
            backend: Some(backend),
            proxy,
            log,
        }
    }

    /// The URL the client uses: `http(s)://127.0.0.1:<proxy port>` (`localhost` with TLS, the
    /// name in the test certificate).
    pub fn url(&self) -> String {
        if self.options.tls.is_some() {
            format!("https://localhost:{}", self.proxy.addr.port())
        } else {
            format!("http://127.0.0.1:{}", self.proxy.addr.port())
        }
    }

    /// The server's own address (bypassing the proxy), for helper clients that must not be cut.
    pub fn direct_url(&self) -> String {
        let addr = self.backend.as_ref().expect("running").addr();
        if self.options.tls.is_some() {
            format!("https://localhost:{}", addr.port())
        } else {
            format!("http://{addr}")
        }
    }

    /// Stops the server (every client connection drops; new ones are refused) and starts a new
    /// one with the same options behind the same proxy. Sessions and stored values are lost.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.exec.sleep(Duration::from_millis(300)).await;
        self.resume().await;
    }

    /// Stops the server: connections drop, new ones are refused until [`resume`](Self::resume).
    pub async fn stop(&mut self) {
        self.proxy.set_blocked(true);
        self.proxy.cut();
        if let Some(backend) = self.backend.take() {
            backend.stop().await;
        }
    }

    /// Starts a new server after [`stop`](Self::stop).
    pub async fn resume(&mut self) {
        let backend = Backend::start(self.exec, self.kind, &self.options, &self.log).await;
        self.proxy.set_target(backend.addr());
        self.backend = Some(backend);
        self.proxy.set_blocked(false);
    }

    /// A network cut: closes every connection through the proxy; with `block`, new ones are
    /// refused until [`unblock`](Self::unblock).
    pub fn cut(&self, block: bool) {
        self.proxy.set_blocked(block);
        self.proxy.cut();
    }

    /// Lets connections through again after [`cut`](Self::cut)`(true)`.
    pub fn unblock(&self) {
        self.proxy.set_blocked(false);
    }

    /// Every `connect` / `disconnect` line so far.
    pub fn lines(&self) -> Vec<Json> {
        self.log.all()
    }

    /// The `connect` lines (`{"connect":nsp,"id","recovered","auth"}`).
    pub fn connects(&self) -> Vec<Json> {
        self.lines()
            .into_iter()
            .filter(|l| l.get("connect").is_some())
            .collect()
    }

    /// Waits (up to `wait`) for the server-side disconnect of socket `id`; returns the reason.
    pub async fn disconnect_reason(&self, id: &str, wait: Duration) -> Option<String> {
        let start = Instant::now();
        loop {
            let found = self.lines().into_iter().find_map(|l| {
                (l["id"] == id)
                    .then(|| l["disconnect"].as_str().map(str::to_owned))
                    .flatten()
            });
            if found.is_some() || start.elapsed() >= wait {
                return found;
            }
            self.exec.sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits (up to `wait`) until `n` connect lines were logged.
    pub async fn wait_connects(&self, n: usize, wait: Duration) -> Vec<Json> {
        let start = Instant::now();
        loop {
            let connects = self.connects();
            if connects.len() >= n || start.elapsed() >= wait {
                return connects;
            }
            self.exec.sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.proxy.shutdown();
        // An in-process server's accept loop is aborted, a node process killed, by their Drop.
    }
}

// ---------------------------------------------------------------------------------------------
// The proxy

/// A TCP proxy on `127.0.0.1:0` forwarding to a target that can change; it can cut every open
/// connection and refuse new ones (accept, then close at once). Plain blocking sockets on
/// threads (one accept thread, two copy threads per connection), so it needs no executor.
pub struct Proxy {
    /// Where it listens.
    pub addr: SocketAddr,
    shared: Arc<ProxyShared>,
}

struct ProxyShared {
    target: Mutex<SocketAddr>,
    blocked: AtomicBool,
    closed: AtomicBool,
    conns: Mutex<Conns>,
}

/// The open connections (both sockets of each), and how many cuts happened.
#[derive(Default)]
struct Conns {
    cuts: u64,
    next: u64,
    open: HashMap<u64, (TcpStream, TcpStream)>,
}

impl Proxy {
    /// Starts forwarding to `target`.
    pub fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let shared = Arc::new(ProxyShared {
            target: Mutex::new(target),
            blocked: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            conns: Mutex::default(),
        });
        let accepting = Arc::clone(&shared);
        thread::spawn(move || {
            for inbound in listener.incoming() {
                if accepting.closed.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(inbound) = inbound else {
                    thread::sleep(Duration::from_millis(10));
                    continue;
                };
                if accepting.blocked.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let to = *accepting.target.lock().unwrap();
                let cuts = accepting.conns.lock().unwrap().cuts;
                let shared = Arc::clone(&accepting);
                thread::spawn(move || forward(&shared, inbound, to, cuts));
            }
        });
        Proxy { addr, shared }
    }

    /// Closes every open connection.
    pub fn cut(&self) {
        let mut conns = self.shared.conns.lock().unwrap();
        conns.cuts += 1;
        for (a, b) in conns.open.values() {
            let _ = a.shutdown(Shutdown::Both);
            let _ = b.shutdown(Shutdown::Both);
        }
        conns.open.clear();
    }

    /// Refuse (`true`) or accept (`false`) new connections.
    pub fn set_blocked(&self, blocked: bool) {
        self.shared.blocked.store(blocked, Ordering::SeqCst);
    }

    /// Forwards new connections to `target`.
    pub fn set_target(&self, target: SocketAddr) {
        *self.shared.target.lock().unwrap() = target;
    }

    fn shutdown(&self) {
        self.shared.closed.store(true, Ordering::SeqCst);
        self.cut();
        // Wake the accept thread so it sees `closed`.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

/// One proxied connection: connects to `to`, then copies both ways until either side closes or
/// a cut (one after the `cuts` seen at accept time) shuts both sockets down.
fn forward(shared: &ProxyShared, inbound: TcpStream, to: SocketAddr, cuts: u64) {
    let Ok(outbound) = TcpStream::connect_timeout(&to, Duration::from_secs(5)) else {
        return;
    };
    let _ = inbound.set_nodelay(true);
    let _ = outbound.set_nodelay(true);
    let (Ok(inbound2), Ok(outbound2)) = (inbound.try_clone(), outbound.try_clone()) else {
        return;
    };
    let id = {
        let mut conns = shared.conns.lock().unwrap();
        if conns.cuts != cuts {
            return; // cut while connecting: both sockets close on return
        }
        let (Ok(a), Ok(b)) = (inbound.try_clone(), outbound.try_clone()) else {
            return;
        };
        conns.next += 1;
        let id = conns.next;
        conns.open.insert(id, (a, b));
        id
    };
    let upstream = thread::spawn(move || copy_then_close(inbound2, outbound2));
    copy_then_close(outbound, inbound);
    let _ = upstream.join();
    shared.conns.lock().unwrap().open.remove(&id);
}

/// Copies `from` into `to` until `from` ends, then closes both (so the other direction ends too).
fn copy_then_close(mut from: TcpStream, mut to: TcpStream) {
    let _ = std::io::copy(&mut from, &mut to);
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
}

// ---------------------------------------------------------------------------------------------
// The official server

struct NodeProcess {
    child: Child,
    _stdin: ChildStdin,
    port: u16,
}

impl NodeProcess {
    fn start(options: &ServerOptions, log: Log) -> NodeProcess {
        ensure_installed();
        let transports = match options.transports {
            ServerTransports::Both => json!(["polling", "websocket"]),
            ServerTransports::Polling => json!(["polling"]),
            ServerTransports::WebSocket => json!(["websocket"]),
        };
        let mut config = json!({
            "port": 0,
            "transports": transports,
            "msgpack": options.msgpack,
            "recovery": options.recovery,
        });
        if let Some(tls) = &options.tls {
            config["tls"] = json!({"cert": tls.cert, "key": tls.key});
        }
        if let Some((interval, timeout)) = options.heartbeat {
            config["pingInterval"] = json!(interval);
            config["pingTimeout"] = json!(timeout);
        }
        let path = node_dir().join("servers").join("reference.js");
        let mut child = Command::new("node")
            .arg(&path)
            .arg(config.to_string())
            .current_dir(repo_root())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run `node {}`: {e}", path.display()));
        let stdin = child.stdin.take().expect("stdin is piped");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let Ok(value) = serde_json::from_str::<Json>(&line) else {
                    continue;
                };
                if let Some(port) = value.get("listening").and_then(Json::as_u64) {
                    let _ = port_tx.send(port);
                } else {
                    log.push(value);
                }
            }
        });
        let port = match port_rx.recv_timeout(Duration::from_secs(15)) {
            Ok(port) => u16::try_from(port).expect("a port"),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the official server (servers/reference.js) did not start");
            }
        };
        NodeProcess {
            child,
            _stdin: stdin,
            port,
        }
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// This project's server

/// The test app on this project's server, on one executor.
pub struct RustApp {
    /// Where it listens.
    pub addr: SocketAddr,
    served: Served,
}

impl RustApp {
    async fn stop(self) {
        self.served.stop(Duration::from_secs(5)).await;
    }
}

/// Starts the test app (contract in `tests/node/servers/reference.js`) on `exec` (its runtime
/// crate's server), on `127.0.0.1:0`, logging into `log`.
pub async fn start_rust_app(exec: Executor, options: &ServerOptions, log: Log) -> RustApp {
    let mut builder = Server::builder();
    if options.recovery {
        builder = builder.connection_state_recovery(RecoveryConfig::default());
    }
    if options.msgpack {
        builder = builder.msgpack();
    }
    builder = match options.transports {
        ServerTransports::Both => builder,
        ServerTransports::Polling => builder.transports([TransportKind::Polling]),
        ServerTransports::WebSocket => builder.transports([TransportKind::WebSocket]),
    };
    if let Some((interval, timeout)) = options.heartbeat {
        builder = builder
            .ping_interval(Duration::from_millis(interval))
            .ping_timeout(Duration::from_millis(timeout));
    }
    let io = exec.server(builder);
    let stored: Arc<Mutex<Vec<Value>>> = Arc::default();
    for nsp in ["/", "/custom"] {
        let log = log.clone();
        let stored = Arc::clone(&stored);
        io.ns(nsp, move |socket: Socket| {
            let log = log.clone();
            let stored = Arc::clone(&stored);
            async move { on_connect(socket, log, stored) }
        })
        .with(refuse_bad_token);
    }
    let served = exec.serve(io).await;
    RustApp {
        addr: served.addr,
        served,
    }
}

async fn refuse_bad_token(handshake: Handshake) -> Result<(), ConnectError> {
    match handshake.auth_field::<String>("token").as_deref() {
        Some("bad") => {
            Err(ConnectError::new("unauthorized").with_data(&json!({"reason": "bad token"})))
        }
        _ => Ok(()),
    }
}

/// `args` spread as separate arguments (at most 4).
fn emit_args(socket: &Socket, event: &str, args: Vec<Value>) {
    let mut it = args.into_iter();
    let result = match (it.next(), it.next(), it.next(), it.next(), it.next()) {
        (None, ..) => socket.emit(event, &()),
        (Some(a), None, ..) => socket.emit(event, &(a,)),
        (Some(a), Some(b), None, ..) => socket.emit(event, &(a, b)),
        (Some(a), Some(b), Some(c), None, _) => socket.emit(event, &(a, b, c)),
        (Some(a), Some(b), Some(c), Some(d), None) => socket.emit(event, &(a, b, c, d)),
        _ => panic!("the test app spreads at most 4 arguments"),
    };
    result.expect("emit");
}

/// An ack with `args` spread as separate arguments (at most 4).
fn ack_args(ack: AckSender, args: Vec<Value>) {
    let mut it = args.into_iter();
    let result = match (it.next(), it.next(), it.next(), it.next(), it.next()) {
        (None, ..) => ack.send(&()),
        (Some(a), None, ..) => ack.send(&(a,)),
        (Some(a), Some(b), None, ..) => ack.send(&(a, b)),
        (Some(a), Some(b), Some(c), None, _) => ack.send(&(a, b, c)),
        (Some(a), Some(b), Some(c), Some(d), None) => ack.send(&(a, b, c, d)),
        _ => panic!("the test app spreads at most 4 arguments"),
    };
    let _ = result;
}

fn ticks(socket: &Socket, n: u64) {
    let nsp = socket.server().of(socket.ns());
    for i in 0..n {
        nsp.emit("tick", &i).expect("emit tick");
    }
}

fn on_connect(socket: Socket, log: Log, stored: Arc<Mutex<Vec<Value>>>) {
    log.push(json!({
        "connect": socket.ns(),
        "id": socket.id(),
        "recovered": socket.recovered(),
        "auth": serde_json::to_value(socket.handshake().auth_value()).unwrap_or(Json::Null),
    }));
    let disconnect_log = log.clone();
    socket.on_disconnect(move |socket: Socket, reason| {
        let log = disconnect_log.clone();
        async move {
            log.push(json!({
                "disconnect": reason.to_string(),
                "nsp": socket.ns(),
                "id": socket.id(),
            }));
        }
    });
    socket.on_any(
        move |socket: Socket, event: String, args: Vec<Value>, ack: Option<AckSender>| {
            let stored = Arc::clone(&stored);
            async move {
                match event.as_str() {
                    "echo" => emit_args(&socket, "echo-back", args),
                    "echo-ack" => {
                        if let Some(ack) = ack {
                            ack_args(ack, args);
                        }
                    }
                    "store" => {
                        let v = args.into_iter().next().unwrap_or_default();
                        stored.lock().unwrap().push(v.clone());
                        if let Some(ack) = ack {
                            let _ = ack.send(&(v,));
                        }
                    }
                    "stored" => {
                        if let Some(ack) = ack {
                            let all = stored.lock().unwrap().clone();
                            let _ = ack.send(&(all,));
                        }
                    }
                    "ticks" => {
                        let n = args.first().and_then(value_u64).unwrap_or(0);
                        ticks(&socket, n);
                    }
                    "kick" => socket.disconnect(false),
                    "ask" => {
                        let v = args.into_iter().next().unwrap_or_default();
                        let answer: Result<Vec<Value>, _> = socket
                            .emit_with_ack("question", &(v,))
                            .timeout(Duration::from_secs(5))
                            .await;
                        emit_args(
                            &socket,
                            "answer",
                            answer.unwrap_or_else(|_| vec![Value::from("error")]),
                        );
                    }
                    "join" => {
                        let room = args
                            .first()
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned();
                        socket.join(room.clone());
                        if let Some(ack) = ack {
                            let _ = ack.send(&(room,));
                        }
                    }
                    // `drop` / `drop-and-tick` need a way to close the engine transport under a
                    // socket, which `socketio::Socket` lacks: tests cut the connection with the
                    // proxy instead (`TestServer::cut`).
                    _ => {}
                }
            }
        },
    );
    if !socket.recovered() {
        let auth = socket.handshake().auth_value().clone();
        socket.emit("auth", &(auth,)).expect("emit auth");
    }
}

fn value_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
}
