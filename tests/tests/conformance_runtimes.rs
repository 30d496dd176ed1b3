//! The conformance binary on every executor: `conformance --runtime tokio|async-std|smol` at
//! both levels (and Engine.IO v3 at engine level), spawned on an ephemeral port and checked
//! over loopback with plain blocking HTTP and WebSocket clients: the polling handshake with the
//! conformance values (pingInterval 300, pingTimeout 200, maxPayload 1000000, CORS `*`), the
//! WebSocket upgrade, the engine echo (text as text, binary as binary), and at socket level
//! `auth` on connect to `/` and `/custom`, `message` → `message-back`, the ack of
//! `message-with-ack`, and an unknown namespace refused; the official suite's polling
//! "forcefully closes the session" (a GET and the client's close POST at once, v3 and v4,
//! repeated); and the official `engine.io-client` (Node, from `tests/node`) against the engine
//! level. Each test names its executor.
#![allow(missing_docs)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use socketio_tokio::tungstenite::{self, Message};

/// A running conformance binary; killed when dropped.
struct Conformance {
    child: Child,
    addr: SocketAddr,
    stderr: PathBuf,
    runtime: &'static str,
}

impl Drop for Conformance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.stderr);
    }
}

impl Conformance {
    /// Starts `conformance --runtime <runtime> --port 0 <args>` and waits for its
    /// `listening on <addr>` line; fails with the binary's stderr if it does not come.
    fn start(runtime: &'static str, args: &[&str]) -> Conformance {
        let stderr = std::env::temp_dir().join(format!(
            "conformance-{runtime}-{}-{}.stderr",
            std::process::id(),
            args.join("").replace(['-', '/'], "")
        ));
        let log = std::fs::File::create(&stderr).expect("stderr file");
        let mut child = Command::new(env!("CARGO_BIN_EXE_conformance"))
            .args(["--runtime", runtime, "--port", "0"])
            .args(args)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("spawn the conformance binary");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_default();
        let port = line
            .trim()
            .strip_prefix("listening on ")
            .and_then(|addr| addr.parse::<SocketAddr>().ok())
            .map(|addr| addr.port());
        let Some(port) = port else {
            let _ = child.kill();
            let status = child.wait();
            let log = std::fs::read_to_string(&stderr).unwrap_or_default();
            let _ = std::fs::remove_file(&stderr);
            panic!(
                "conformance --runtime {runtime} {args:?} did not start (stdout {line:?}, \
                 {status:?})\n--- stderr ---\n{log}"
            );
        };
        Conformance {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            stderr,
            runtime,
        }
    }

    /// Panics with context (runtime, the binary's stderr) unless `ok`.
    fn check(&self, ok: bool, what: impl std::fmt::Display) {
        if !ok {
            let log = std::fs::read_to_string(&self.stderr).unwrap_or_default();
            panic!(
                "[{}] {what}\n--- conformance stderr ---\n{log}",
                self.runtime
            );
        }
    }
}

/// One HTTP/1.1 exchange on a fresh connection.
struct HttpResponse {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl HttpResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn http(server: &Conformance, method: &str, target: &str, body: &[u8]) -> HttpResponse {
    let mut stream = TcpStream::connect(server.addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let head = format!(
        "{method} {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         Origin: http://example.test\r\nContent-Type: text/plain;charset=UTF-8\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut response = Vec::new();
    if let Err(error) = stream.read_to_end(&mut response) {
        server.check(false, format!("{method} {target}: {error}"));
    }
    let split = response.windows(4).position(|w| w == b"\r\n\r\n");
    server.check(
        split.is_some() && response.len() >= 12,
        format!("{method} {target}: not an HTTP response: {response:?}"),
    );
    let split = split.unwrap_or_default();
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let status = head
        .get(9..12)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let mut body = response[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    HttpResponse { status, head, body }
}

/// Decodes a chunked body.
fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = data.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&data[..end])
            .ok()
            .and_then(|s| usize::from_str_radix(s.trim(), 16).ok())
            .unwrap_or(0);
        if size == 0 || data.len() < end + 2 + size {
            break;
        }
        out.extend_from_slice(&data[end + 2..end + 2 + size]);
        data = &data[(end + 4 + size).min(data.len())..];
    }
    out
}

/// Polls v4 session `target` until `count` packets other than pings came (at most 10 GETs);
/// pings are answered, so a slow test does not hit the 500 ms heartbeat.
fn poll_packets(server: &Conformance, target: &str, count: usize) -> Vec<String> {
    let mut packets = Vec::new();
    for _ in 0..10 {
        let poll = http(server, "GET", target, b"");
        server.check(
            poll.status == 200,
            format!("GET {target}: {} {}", poll.status, poll.text()),
        );
        for packet in poll.text().split('\u{1e}') {
            if packet == "2" {
                let pong = http(server, "POST", target, b"3");
                server.check(pong.status == 200, format!("pong: {}", pong.text()));
            } else {
                packets.push(packet.to_owned());
            }
        }
        if packets.len() >= count {
            break;
        }
    }
    packets
}

/// The polling handshake at `path` with `eio`: checks the conformance values and CORS, returns
/// the session id.
fn polling_handshake(server: &Conformance, path: &str, eio: u8) -> String {
    let response = http(
        server,
        "GET",
        &format!("{path}?EIO={eio}&transport=polling"),
        b"",
    );
    let body = response.text();
    server.check(response.status == 200, format!("handshake: {body}"));
    server.check(
        response.header("access-control-allow-origin") == Some("*"),
        format!("handshake CORS header: {}", response.head),
    );
    // v4: `0{…}`; v3: `<length>:0{…}`.
    let json = match eio {
        3 => body.split_once(':').map(|(_, packet)| packet).unwrap_or(""),
        _ => body.as_str(),
    };
    server.check(json.starts_with("0{"), format!("open packet: {body}"));
    let open: serde_json::Value = serde_json::from_str(&json[1..]).unwrap_or_default();
    server.check(
        open["pingInterval"] == 300 && open["pingTimeout"] == 200,
        format!("heartbeat values: {body}"),
    );
    server.check(
        open["maxPayload"] == 1_000_000,
        format!("maxPayload: {body}"),
    );
    server.check(
        open["upgrades"] == serde_json::json!(["websocket"]),
        format!("upgrades: {body}"),
    );
    let sid = open["sid"].as_str().unwrap_or_default().to_owned();
    server.check(sid.len() == 20, format!("sid: {body}"));
    sid
}

type Ws = tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<TcpStream>>;

fn websocket(server: &Conformance, path: &str, query: &str) -> Ws {
    let url = format!("ws://{}{path}?transport=websocket&{query}", server.addr);
    let socket = match tungstenite::connect(url.as_str()) {
        Ok((socket, _)) => socket,
        Err(error) => {
            server.check(false, format!("websocket {url}: {error}"));
            unreachable!()
        }
    };
    if let tungstenite::stream::MaybeTlsStream::Plain(stream) = socket.get_ref() {
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
    }
    socket
}

/// The next message that is not an Engine.IO v4 ping (pings are answered).
fn next(server: &Conformance, socket: &mut Ws) -> Message {
    loop {
        match socket.read() {
            Ok(message) if message.to_text().ok() == Some("2") => {
                let _ = socket.send(Message::text("3"));
            }
            Ok(message) => return message,
            Err(error) => {
                server.check(false, format!("websocket read: {error}"));
                unreachable!()
            }
        }
    }
}

fn expect_text(server: &Conformance, socket: &mut Ws, expected: &str) {
    let message = next(server, socket);
    server.check(
        message.to_text().ok() == Some(expected),
        format!("expected {expected:?}, got {message:?}"),
    );
}

fn expect_prefix(server: &Conformance, socket: &mut Ws, prefix: &str) -> String {
    let message = next(server, socket);
    let text = message.to_text().unwrap_or_default().to_owned();
    server.check(
        text.starts_with(prefix),
        format!("expected {prefix:?}…, got {message:?}"),
    );
    text
}

fn expect_binary(server: &Conformance, socket: &mut Ws, expected: &[u8]) {
    let message = next(server, socket);
    server.check(
        matches!(&message, Message::Binary(bytes) if bytes.as_ref() == expected),
        format!("expected binary {expected:?}, got {message:?}"),
    );
}

fn send(socket: &mut Ws, text: &str) {
    socket.send(Message::text(text)).expect("websocket send");
}

fn send_binary(socket: &mut Ws, bytes: &[u8]) {
    socket
        .send(Message::binary(bytes.to_vec()))
        .expect("websocket send");
}

/// Upgrades polling session `sid` at `path` to a WebSocket: probe, the pending GET answered
/// `6`, upgrade packet.
fn upgrade(server: &Conformance, path: &str, sid: &str) -> Ws {
    let mut socket = websocket(server, path, &format!("EIO=4&sid={sid}"));
    send(&mut socket, "2probe");
    expect_text(server, &mut socket, "3probe");
    let packets = poll_packets(
        server,
        &format!("{path}?EIO=4&transport=polling&sid={sid}"),
        1,
    );
    server.check(
        packets == ["6"],
        format!("GET during the upgrade: {packets:?}"),
    );
    send(&mut socket, "5");
    socket
}

/// Engine level, Engine.IO v4: handshake, polling echo, upgrade, WebSocket echo.
fn engine_level(runtime: &'static str) {
    let server = Conformance::start(runtime, &["--level", "engine"]);
    let path = "/engine.io/";
    let sid = polling_handshake(&server, path, 4);
    let target = format!("{path}?EIO=4&transport=polling&sid={sid}");
    let post = http(&server, "POST", &target, b"4hello\x1ebAQIDBA==");
    server.check(
        post.status == 200 && post.text() == "ok",
        format!("POST: {} {}", post.status, post.text()),
    );
    let packets = poll_packets(&server, &target, 2);
    server.check(
        packets == ["4hello", "bAQIDBA=="],
        format!("polling echo: {packets:?}"),
    );

    let mut socket = upgrade(&server, path, &sid);
    send(&mut socket, "4after the upgrade");
    expect_text(&server, &mut socket, "4after the upgrade");
    send_binary(&mut socket, &[1, 2, 3]);
    expect_binary(&server, &mut socket, &[1, 2, 3]);
    let poll = http(&server, "GET", &target, b"");
    server.check(poll.status == 400, "GET after the upgrade is refused");

    let mut socket = websocket(&server, path, "EIO=4");
    let open = expect_prefix(&server, &mut socket, "0{");
    server.check(
        open.contains("\"upgrades\":[]") && open.contains("\"pingInterval\":300"),
        format!("WebSocket open packet: {open}"),
    );
    send(&mut socket, "4héllo");
    expect_text(&server, &mut socket, "4héllo");
    send_binary(&mut socket, &[0, 255, 7]);
    expect_binary(&server, &mut socket, &[0, 255, 7]);
}

/// Engine level with `--eio3`: a v3 client (it pings, binary frames carry the type byte) and
/// a v4 one on the same server.
fn engine_level_eio3(runtime: &'static str) {
    let server = Conformance::start(runtime, &["--level", "engine", "--eio3"]);
    let path = "/engine.io/";
    let sid = polling_handshake(&server, path, 3);
    let target = format!("{path}?EIO=3&transport=polling&b64=1&sid={sid}");
    let post = http(&server, "POST", &target, b"6:4hello");
    server.check(post.status == 200, format!("v3 POST: {}", post.text()));
    let poll = http(&server, "GET", &target, b"");
    server.check(
        poll.text() == "6:4hello",
        format!("v3 polling echo: {:?}", poll.text()),
    );

    let mut socket = websocket(&server, path, "EIO=3");
    expect_prefix(&server, &mut socket, "0{");
    send(&mut socket, "2");
    expect_text(&server, &mut socket, "3");
    send(&mut socket, "4hello v3");
    expect_text(&server, &mut socket, "4hello v3");
    send_binary(&mut socket, &[4, 1, 2, 3]);
    expect_binary(&server, &mut socket, &[4, 1, 2, 3]);

    polling_handshake(&server, path, 4);
}

/// The official suite's "forcefully closes the session" over polling, `rounds` times per
/// protocol revision: a GET and a POST carrying the client's close packet go out at the same
/// time on two connections; the GET is answered `200` with a noop (`1:6` in v3, `6` in v4)
/// whichever of the two the server takes first, the POST `ok`, and the next GET `400`. Then
/// the two orderings forced: the GET held before the POST, and the POST answered before the
/// GET is sent.
fn polling_client_close(runtime: &'static str, rounds: usize) {
    let server = Conformance::start(runtime, &["--level", "engine", "--eio3"]);
    let path = "/engine.io/";
    for (eio, close, noop) in [(3, "1:1", "1:6"), (4, "1", "6")] {
        let check_close = |round: &str, poll: &HttpResponse, post: &HttpResponse, target: &str| {
            server.check(
                poll.status == 200 && poll.text() == noop,
                format!(
                    "EIO={eio} {round}: the GET crossing the close: {} {:?}",
                    poll.status,
                    poll.text()
                ),
            );
            server.check(
                post.status == 200 && post.text() == "ok",
                format!(
                    "EIO={eio} {round}: the POST of the close: {} {:?}",
                    post.status,
                    post.text()
                ),
            );
            let after = http(&server, "GET", target, b"");
            server.check(
                after.status == 400,
                format!(
                    "EIO={eio} {round}: the GET after the close: {} {:?}",
                    after.status,
                    after.text()
                ),
            );
        };
        for round in 0..rounds {
            let sid = polling_handshake(&server, path, eio);
            let target = format!("{path}?EIO={eio}&transport=polling&sid={sid}");
            let (poll, post) = std::thread::scope(|scope| {
                let poll = scope.spawn(|| http(&server, "GET", &target, b""));
                let post = scope.spawn(|| http(&server, "POST", &target, close.as_bytes()));
                (poll.join(), post.join())
            });
            let (Ok(poll), Ok(post)) = (poll, post) else {
                server.check(false, format!("EIO={eio} round {round}: a request failed"));
                unreachable!()
            };
            check_close(&format!("round {round}"), &poll, &post, &target);
        }
        // The GET held first: answered when the close arrives.
        let sid = polling_handshake(&server, path, eio);
        let target = format!("{path}?EIO={eio}&transport=polling&sid={sid}");
        let (poll, post) = std::thread::scope(|scope| {
            let poll = scope.spawn(|| http(&server, "GET", &target, b""));
            std::thread::sleep(Duration::from_millis(100));
            let post = http(&server, "POST", &target, close.as_bytes());
            (poll.join(), post)
        });
        let Ok(poll) = poll else {
            server.check(false, format!("EIO={eio} GET held first: the GET failed"));
            unreachable!()
        };
        check_close("GET held first", &poll, &post, &target);
        // The POST answered first: the GET sent with it, arriving late, gets the noop.
        let sid = polling_handshake(&server, path, eio);
        let target = format!("{path}?EIO={eio}&transport=polling&sid={sid}");
        let post = http(&server, "POST", &target, close.as_bytes());
        let poll = http(&server, "GET", &target, b"");
        check_close("POST answered first", &poll, &post, &target);
    }
}

/// Socket level: handshake, upgrade, `auth` on `/` and `/custom`, `message-back`, ack, unknown
/// namespace.
fn socket_level(runtime: &'static str) {
    let server = Conformance::start(runtime, &["--level", "socket"]);
    let path = "/socket.io/";
    let sid = polling_handshake(&server, path, 4);
    let target = format!("{path}?EIO=4&transport=polling&sid={sid}");
    let post = http(&server, "POST", &target, br#"40{"token":"123"}"#);
    server.check(post.status == 200, format!("POST CONNECT: {}", post.text()));
    // The CONNECT reply and the `auth` event, in one or two polls.
    let packets = poll_packets(&server, &target, 2);
    server.check(
        packets.len() == 2
            && packets[0].starts_with("40{\"sid\":\"")
            && packets[1] == r#"42["auth",{"token":"123"}]"#,
        format!("polling connect: {packets:?}"),
    );

    let mut socket = upgrade(&server, path, &sid);
    send(&mut socket, r#"42["message",1,"2",{"3":[true]}]"#);
    expect_text(
        &server,
        &mut socket,
        r#"42["message-back",1,"2",{"3":[true]}]"#,
    );
    send(
        &mut socket,
        r#"42456["message-with-ack",1,"2",{"3":[false]}]"#,
    );
    expect_text(&server, &mut socket, r#"43456[1,"2",{"3":[false]}]"#);
    send(&mut socket, r#"40/custom,{"token":"abc"}"#);
    expect_prefix(&server, &mut socket, "40/custom,{\"sid\":\"");
    expect_text(
        &server,
        &mut socket,
        r#"42/custom,["auth",{"token":"abc"}]"#,
    );
    send(&mut socket, r#"42/custom,["message","in custom"]"#);
    expect_text(
        &server,
        &mut socket,
        r#"42/custom,["message-back","in custom"]"#,
    );
    send(&mut socket, "40/random,");
    expect_text(
        &server,
        &mut socket,
        r#"44/random,{"message":"Invalid namespace"}"#,
    );
    // The connection survives the refusal.
    send(&mut socket, r#"421["message-with-ack","still here"]"#);
    expect_text(&server, &mut socket, r#"431["still here"]"#);

    // Straight to WebSocket, connect without auth: `auth` is an empty object.
    let mut socket = websocket(&server, path, "EIO=4");
    expect_prefix(&server, &mut socket, "0{");
    send(&mut socket, "40");
    expect_prefix(&server, &mut socket, "40{\"sid\":\"");
    expect_text(&server, &mut socket, r#"42["auth",{}]"#);
}

/// The official `engine.io-client` (6.6, from `tests/node`): connects (polling then upgrade, or
/// WebSocket only), sends text and binary before and after the upgrade and prints what came
/// back as one JSON line.
const ENGINE_CLIENT: &str = r#"
const { Socket } = require('engine.io-client');
const [port, mode] = process.argv.slice(1);
const transports = mode === 'websocket' ? ['websocket'] : ['polling', 'websocket'];
const socket = new Socket(`http://127.0.0.1:${port}`, { transports });
const seen = [];
let done = false;
const finish = (ok, why) => {
  if (done) return;
  done = true;
  console.log(JSON.stringify({ ok, why, transport: socket.transport && socket.transport.name, seen }));
  socket.close();
  process.exit(ok ? 0 : 1);
};
setTimeout(() => finish(false, 'timeout'), 10000);
const messages = () => seen.filter((s) => !s.startsWith('upgrade'));
socket.on('open', () => {
  socket.send('hello');
  socket.send(Uint8Array.from([1, 2, 3]));
});
socket.on('upgrade', () => seen.push('upgrade'));
socket.on('message', (data) => {
  seen.push(typeof data === 'string' ? data : 'binary:' + Array.from(new Uint8Array(data)).join(','));
  if (messages().length === 2) {
    const after = () => { socket.send('after ' + socket.transport.name); socket.send(Uint8Array.from([9])); };
    if (socket.transport.name === 'websocket') after(); else socket.once('upgrade', after);
  }
  if (messages().length === 4) finish(true);
});
socket.on('close', (reason) => finish(false, 'close: ' + reason));
"#;

/// The Node client tests run one at a time: the conformance heartbeat (a pong within 200 ms)
/// leaves little room, and several Node processes starting at once on a small machine starve
/// each other into ping timeouts (seen with 8 in parallel on 2 cores).
static ONE_NODE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Engine level with the official client, polling + upgrade and WebSocket only.
fn engine_level_official_client(runtime: &'static str) {
    socketio_tests::node::ensure_installed();
    let _one = ONE_NODE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let server = Conformance::start(runtime, &["--level", "engine"]);
    let port = server.addr.port().to_string();
    for mode in ["polling", "websocket"] {
        let output = Command::new("node")
            .args(["-e", ENGINE_CLIENT, port.as_str(), mode])
            .current_dir(socketio_tests::node::node_dir())
            .stdin(Stdio::null())
            .output()
            .expect("run node (install Node.js >= 18)");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let report: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap_or_default();
        let expected = serde_json::json!(["hello", "binary:1,2,3", "after websocket", "binary:9"]);
        let seen: Vec<serde_json::Value> = report["seen"]
            .as_array()
            .map(|seen| {
                seen.iter()
                    .filter(|s| s.as_str() != Some("upgrade"))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        server.check(
            output.status.success()
                && report["ok"] == true
                && report["transport"] == "websocket"
                && serde_json::Value::Array(seen) == expected,
            format!(
                "engine.io-client ({mode}): {stdout}\n--- node stderr ---\n{}",
                String::from_utf8_lossy(&output.stderr)
            ),
        );
        if mode == "polling" {
            server.check(
                report["seen"]
                    .as_array()
                    .is_some_and(|seen| seen.iter().any(|s| s == "upgrade")),
                format!("engine.io-client did not upgrade: {stdout}"),
            );
        }
    }
}

/// The official `engine.io-client` bursts 10,000 messages back to back to the engine level's
/// echo: every one must come back, in order, without the session closing (the server pauses
/// its reading rather than disconnecting). Prints one JSON line.
const ENGINE_BURST: &str = r#"
const { Socket } = require('engine.io-client');
const [port, mode] = process.argv.slice(1);
const COUNT = 10000;
const socket = new Socket(`http://127.0.0.1:${port}`, { transports: [mode] });
let next = 0;
let done = false;
const finish = (ok, why) => {
  if (done) return;
  done = true;
  console.log(JSON.stringify({ ok, why, received: next }));
  socket.close();
  process.exit(ok ? 0 : 1);
};
setTimeout(() => finish(false, 'liveness guard (60 s)'), 60000);
socket.on('open', () => {
  for (let i = 0; i < COUNT; i++) socket.send('m' + i);
});
socket.on('message', (data) => {
  if (data !== 'm' + next) return finish(false, `expected m${next}, got ${data}`);
  next += 1;
  if (next === COUNT) finish(true);
});
socket.on('close', (reason) => finish(false, 'close: ' + reason));
"#;

/// Engine level: the official client's burst over polling and over WebSocket.
fn engine_level_official_burst(runtime: &'static str) {
    socketio_tests::node::ensure_installed();
    let _one = ONE_NODE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let server = Conformance::start(runtime, &["--level", "engine"]);
    let port = server.addr.port().to_string();
    for mode in ["polling", "websocket"] {
        let output = Command::new("node")
            .args(["-e", ENGINE_BURST, port.as_str(), mode])
            .current_dir(socketio_tests::node::node_dir())
            .stdin(Stdio::null())
            .output()
            .expect("run node (install Node.js >= 18)");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let report: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap_or_default();
        server.check(
            output.status.success() && report["ok"] == true && report["received"] == 10000,
            format!(
                "engine.io-client burst ({mode}): {stdout}\n--- node stderr ---\n{}",
                String::from_utf8_lossy(&output.stderr)
            ),
        );
    }
}

#[test]
fn conformance_tokio_engine_level_official_burst() {
    engine_level_official_burst("tokio");
}

#[test]
fn conformance_async_std_engine_level_official_burst() {
    engine_level_official_burst("async-std");
}

#[test]
fn conformance_smol_engine_level_official_burst() {
    engine_level_official_burst("smol");
}

#[test]
fn conformance_tokio_engine_level_official_client() {
    engine_level_official_client("tokio");
}

#[test]
fn conformance_async_std_engine_level_official_client() {
    engine_level_official_client("async-std");
}

#[test]
fn conformance_smol_engine_level_official_client() {
    engine_level_official_client("smol");
}

#[test]
fn conformance_tokio_engine_level() {
    engine_level("tokio");
}

#[test]
fn conformance_tokio_engine_level_eio3() {
    engine_level_eio3("tokio");
}

#[test]
fn conformance_tokio_socket_level() {
    socket_level("tokio");
}

#[test]
fn conformance_async_std_engine_level() {
    engine_level("async-std");
}

#[test]
fn conformance_async_std_engine_level_eio3() {
    engine_level_eio3("async-std");
}

#[test]
fn conformance_async_std_socket_level() {
    socket_level("async-std");
}

#[test]
fn conformance_smol_engine_level() {
    engine_level("smol");
}

#[test]
fn conformance_smol_engine_level_eio3() {
    engine_level_eio3("smol");
}

#[test]
fn conformance_smol_socket_level() {
    socket_level("smol");
}

#[test]
fn conformance_tokio_polling_client_close() {
    polling_client_close("tokio", 20);
}

#[test]
fn conformance_async_std_polling_client_close() {
    polling_client_close("async-std", 20);
}

#[test]
fn conformance_smol_polling_client_close() {
    polling_client_close("smol", 20);
}

#[test]
fn an_unknown_runtime_is_refused() {
    let output = Command::new(env!("CARGO_BIN_EXE_conformance"))
        .args(["--level", "engine", "--runtime", "glommio"])
        .output()
        .expect("run the conformance binary");
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--runtime"));
}

/// `--metrics /metrics`: the endpoint on the same listener, at the engine and socket levels
/// (the cluster level builds the same way, with Redis): after a polling session echoes two
/// messages, the scrape counts its handshake and its packets.
fn metrics_endpoint(runtime: &'static str, level: &'static str) {
    let server = Conformance::start(runtime, &["--level", level, "--metrics", "/metrics"]);
    let path = if level == "engine" {
        "/engine.io/"
    } else {
        "/socket.io/"
    };
    let sid = polling_handshake(&server, path, 4);
    let target = format!("{path}?EIO=4&transport=polling&sid={sid}");
    let body: &[u8] = if level == "engine" {
        b"4hello\x1e4again"
    } else {
        b"40"
    };
    let post = http(&server, "POST", &target, body);
    server.check(post.status == 200, format!("POST: {}", post.status));
    let scrape = http(&server, "GET", "/metrics", b"");
    let text = scrape.text();
    server.check(
        scrape.status == 200
            && scrape
                .header("content-type")
                .is_some_and(|t| t.starts_with("text/plain; version=0.0.4")),
        format!("scrape: {} {text}", scrape.status),
    );
    server.check(
        text.contains("socketio_handshakes_accepted_total{transport=\"polling\"} 1"),
        format!("one polling handshake: {text}"),
    );
    let packets = if level == "engine" {
        // `4hello` and `4again` read as messages whose Socket.IO type is not a digit.
        "socketio_packets_total{direction=\"in\",transport=\"polling\",type=\"other\"} 2"
    } else {
        "socketio_packets_total{direction=\"in\",transport=\"polling\",type=\"connect\"} 1"
    };
    server.check(text.contains(packets), format!("{packets}: {text}"));
}

#[test]
fn conformance_metrics_endpoint_every_level_and_runtime() {
    for runtime in ["tokio", "async-std", "smol"] {
        for level in ["engine", "socket"] {
            metrics_endpoint(runtime, level);
        }
    }
}
