//! The Rust client (`socketio::client`) against the official socket.io 4.8 server
//! (`tests/node/servers/reference.js`) and against this project's server (in-process): one
//! suite, parameterised by [`ServerKind`], over each transport, with the default parser and with
//! msgpack. The servers run behind the cutting proxy of `socketio_tests::client_suite`. Every
//! test runs on each executor (`tokio::…`, `async_std::…`, `smol::…`): the client, and the
//! in-process server, on that executor's runtime crate and connector.

use std::sync::Arc;
use std::time::Duration;

use ::smol::channel::{Receiver, unbounded};
use bytes::Bytes;
use serde_json::{Value as Json, json};
use socketio_tests::client_suite::{ServerKind, ServerOptions, TestServer, TlsFiles};
use socketio_tests::executor::Executor;
use socketio_tests::executor_tests;
use socketio_tokio::client::{AckSender, Client, ClientBuilder, ClientSocket};
use socketio_tokio::{TransportKind, Value};

const WAIT: Duration = Duration::from_secs(8);

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Polling,
    WebSocket,
    Both,
}

fn builder(url: &str, mode: Mode, msgpack: bool) -> ClientBuilder {
    let mut b = Client::builder(url)
        .reconnection_delay(Duration::from_millis(100))
        .reconnection_delay_max(Duration::from_millis(300))
        .randomization_factor(0.0)
        .timeout(Duration::from_secs(5));
    b = match mode {
        Mode::Polling => b.transports([TransportKind::Polling]),
        Mode::WebSocket => b.transports([TransportKind::WebSocket]),
        Mode::Both => b.transports([TransportKind::Polling, TransportKind::WebSocket]),
    };
    if msgpack { b.msgpack() } else { b }
}

fn build(exec: Executor, b: ClientBuilder) -> Client {
    b.build(exec.runtime(), exec.connector())
        .expect("client options")
}

/// Every event a socket received, in order.
struct Events {
    exec: Executor,
    rx: Receiver<(String, Vec<Value>)>,
}

impl Events {
    fn attach(exec: Executor, socket: &ClientSocket) -> Events {
        let (tx, rx) = unbounded();
        socket.on_any(
            move |_s, event: String, args: Vec<Value>, _ack: Option<AckSender>| {
                let _ = tx.try_send((event, args));
                async {}
            },
        );
        Events { exec, rx }
    }

    /// The arguments of the next `event` (others are skipped), as JSON (binary as `$bin`).
    async fn next(&mut self, event: &str) -> Vec<Value> {
        let found = self
            .exec
            .timeout(WAIT, async {
                while let Ok((name, args)) = self.rx.recv().await {
                    if name == event {
                        return Some(args);
                    }
                }
                None
            })
            .await;
        match found {
            Ok(Some(args)) => args,
            _ => panic!("no {event:?} event within {WAIT:?}"),
        }
    }
}

fn to_json(v: &Value) -> Json {
    serde_json::to_value(v).expect("value as JSON")
}

fn server_options(msgpack: bool) -> ServerOptions {
    ServerOptions {
        msgpack,
        ..ServerOptions::default()
    }
}

async fn connected(exec: Executor, socket: &ClientSocket) {
    exec.timeout(WAIT, socket.wait_connected())
        .await
        .expect("connected in time")
        .expect("connected");
}

/// Every API point once: auth, typed and raw events, binary, acks both ways, refusal with data,
/// unknown namespace, server-side and client-side disconnects, the transport in use.
async fn api(exec: Executor, kind: ServerKind, mode: Mode, msgpack: bool) {
    let server = TestServer::start(exec, kind, server_options(msgpack)).await;
    let client = build(
        exec,
        builder(&server.url(), mode, msgpack).auth(&json!({"token": "t1"})),
    );
    let socket = client.socket("/");
    let mut events = Events::attach(exec, &socket);
    // The server asks (emit with ack): the client answers through its handler.
    socket.on(
        "question",
        |_s: ClientSocket, v: Value, ack: Option<AckSender>| async move {
            if let Some(ack) = ack {
                ack.send(&("answer-to", v)).expect("ack");
            }
        },
    );
    let (disc_tx, disc_rx) = unbounded();
    socket.on_disconnect(move |_s, reason| {
        let _ = disc_tx.try_send(reason.to_string());
        async {}
    });
    client.connect();
    connected(exec, &socket).await;
    let id = socket.id().expect("an id once connected");
    assert!(!socket.recovered());
    let auth = events.next("auth").await;
    assert_eq!(to_json(&auth[0]), json!({"token": "t1"}));
    let connects = server.wait_connects(1, WAIT).await;
    assert_eq!(connects[0]["id"], json!(id), "{connects:?}");

    // Transport in use.
    let transport = client.transport();
    match mode {
        Mode::Polling => assert_eq!(transport, Some("polling")),
        Mode::WebSocket => assert_eq!(transport, Some("websocket")),
        Mode::Both => assert!(transport.is_some()),
    }

    // Events with several arguments, binary included.
    let bin = Bytes::from_static(&[1, 2, 3, 255]);
    socket
        .emit("echo", &(1, "two", json!({"three": [3]}), bin.clone()))
        .expect("emit");
    let back = events.next("echo-back").await;
    assert_eq!(back.len(), 4, "{back:?}");
    assert_eq!(to_json(&back[0]), json!(1));
    assert_eq!(to_json(&back[1]), json!("two"));
    assert_eq!(to_json(&back[2]), json!({"three": [3]}));
    assert_eq!(back[3], Value::Binary(bin.clone()));

    // An ack with typed arguments.
    let (a, b): (i64, String) = socket
        .emit_with_ack("echo-ack", &(7, "x"))
        .timeout(WAIT)
        .await
        .expect("ack");
    assert_eq!((a, b.as_str()), (7, "x"));
    let raw: Bytes = socket
        .emit_with_ack("echo-ack", &(bin.clone(),))
        .timeout(WAIT)
        .await
        .expect("binary ack");
    assert_eq!(raw, bin);

    // The server's emit with ack, answered by the client's handler.
    socket.emit("ask", &"q1").expect("emit");
    let answer = events.next("answer").await;
    assert_eq!(
        answer.iter().map(to_json).collect::<Vec<_>>(),
        vec![json!("answer-to"), json!("q1")]
    );

    // A second namespace on the same connection, refused with data.
    let refused = build(
        exec,
        builder(&server.url(), mode, msgpack).auth(&json!({"token": "bad"})),
    );
    let r = refused.socket("/custom");
    // The waiter first: `wait_connected` reports only a refusal that comes after it is called.
    let wait = r.wait_connected();
    r.connect();
    let error = exec
        .timeout(WAIT, wait)
        .await
        .expect("refusal in time")
        .expect_err("refused");
    assert_eq!(error.message, "unauthorized");
    assert_eq!(
        error.data.as_ref().map(to_json),
        Some(json!({"reason": "bad token"}))
    );
    refused.disconnect();

    // An unknown namespace.
    let unknown = client.socket("/nope");
    let wait = unknown.wait_connected();
    unknown.connect();
    let error = exec
        .timeout(WAIT, wait)
        .await
        .expect("refusal in time")
        .expect_err("unknown namespace");
    assert_eq!(error.message, "Invalid namespace");

    // /custom on the same client.
    let custom = client.socket("/custom");
    let mut custom_events = Events::attach(exec, &custom);
    custom.connect();
    connected(exec, &custom).await;
    assert_eq!(
        to_json(&custom_events.next("auth").await[0]),
        json!({"token": "t1"})
    );

    // Server-side disconnect of `/`: no reconnection.
    socket.emit("kick", &()).expect("emit");
    let reason = exec
        .timeout(WAIT, disc_rx.recv())
        .await
        .expect("disconnect")
        .ok();
    assert_eq!(reason.as_deref(), Some("io server disconnect"));
    assert_eq!(
        server.disconnect_reason(&id, WAIT).await.as_deref(),
        Some("server namespace disconnect")
    );
    assert!(!socket.connected());

    // Client-side disconnect of /custom.
    let custom_id = custom.id().expect("id");
    custom.disconnect();
    assert_eq!(
        server.disconnect_reason(&custom_id, WAIT).await.as_deref(),
        Some("client namespace disconnect")
    );
    client.disconnect();
}

/// The server restarts (all sessions lost): the client reconnects by itself with a new id and
/// emits work again.
async fn restart(exec: Executor, kind: ServerKind, mode: Mode, msgpack: bool) {
    let mut server = TestServer::start(exec, kind, server_options(msgpack)).await;
    let client = build(exec, builder(&server.url(), mode, msgpack));
    let socket = client.socket("/");
    let mut events = Events::attach(exec, &socket);
    let (tx, reconnects) = unbounded();
    client.on_reconnect(move |n| {
        let _ = tx.try_send(n);
        async {}
    });
    client.connect();
    connected(exec, &socket).await;
    events.next("auth").await;
    let first = socket.id().expect("id");
    server.restart().await;
    let attempts = exec
        .timeout(Duration::from_secs(15), reconnects.recv())
        .await
        .expect("reconnected in time")
        .expect("reconnect");
    assert!(attempts >= 1);
    events.next("auth").await;
    let second = socket.id().expect("id");
    assert_ne!(first, second);
    let echoed: String = socket
        .emit_with_ack("echo-ack", &("after restart",))
        .timeout(WAIT)
        .await
        .expect("ack after restart");
    assert_eq!(echoed, "after restart");
    client.disconnect();
}

/// `retries`: every emit is acked and re-sent after drops; all of them reach the server.
async fn retries(exec: Executor, kind: ServerKind, mode: Mode, msgpack: bool) {
    let server = TestServer::start(exec, kind, server_options(msgpack)).await;
    let client = build(
        exec,
        builder(&server.url(), mode, msgpack)
            .retries(10)
            .ack_timeout(Duration::from_millis(700)),
    );
    let socket = client.socket("/");
    client.connect();
    connected(exec, &socket).await;
    for i in 0..6 {
        socket.emit("store", &format!("m{i}")).expect("emit");
        if i % 2 == 1 {
            server.cut(false);
        }
        exec.sleep(Duration::from_millis(50)).await;
    }
    // The last one with an ack: it is sent after every earlier one (one at a time).
    let last: String = socket
        .emit_with_ack("store", &"m-last")
        .timeout(Duration::from_secs(15))
        .await
        .expect("the last store is acked");
    assert_eq!(last, "m-last");
    let stored: Vec<String> = socket
        .emit_with_ack("stored", &())
        .timeout(WAIT)
        .await
        .expect("stored");
    for i in 0..6 {
        assert!(stored.contains(&format!("m{i}")), "m{i} lost: {stored:?}");
    }
    client.disconnect();
}

/// Connection state recovery after a network cut: the events the server emitted meanwhile
/// arrive on reconnection, the same id, `recovered` true.
async fn recovery(exec: Executor, kind: ServerKind, mode: Mode, msgpack: bool) {
    let server = TestServer::start(
        exec,
        kind,
        ServerOptions {
            msgpack,
            recovery: true,
            // A short heartbeat: a polling session whose GET was not in flight at the cut is
            // noticed by the ping timeout.
            heartbeat: Some((400, 400)),
            ..ServerOptions::default()
        },
    )
    .await;
    let client = build(exec, builder(&server.url(), mode, msgpack));
    let socket = client.socket("/");
    let mut events = Events::attach(exec, &socket);
    client.connect();
    connected(exec, &socket).await;
    events.next("auth").await;
    // One event with an offset first.
    socket.emit("ticks", &1).expect("emit");
    assert_eq!(to_json(&events.next("tick").await[0]), json!(0));
    let id = socket.id().expect("id");

    server.cut(true);
    let reason = server.disconnect_reason(&id, WAIT).await;
    assert!(
        matches!(
            reason.as_deref(),
            Some("transport close" | "transport error" | "ping timeout")
        ),
        "{reason:?}"
    );
    // Another client (not through the proxy) makes the namespace emit ticks 0..3.
    let helper = build(
        exec,
        builder(&server.direct_url(), Mode::WebSocket, msgpack),
    );
    let hs = helper.default_socket();
    helper.connect();
    connected(exec, &hs).await;
    hs.emit("ticks", &3).expect("emit");
    exec.sleep(Duration::from_millis(200)).await;
    server.unblock();

    for expected in 0..3 {
        let tick = events.next("tick").await;
        assert_eq!(to_json(&tick[0]), json!(expected));
    }
    assert!(socket.connected());
    assert!(socket.recovered(), "recovered");
    assert_eq!(socket.id().as_deref(), Some(id.as_str()));
    helper.disconnect();
    client.disconnect();
}

/// The life cycle: `auth_fn` recomputed per connection, `on_connect`, a volatile emit, leaving
/// and re-joining a namespace, `reconnection_attempts` ending in `reconnect_failed` while the
/// server is down, and a manual `connect` once it is back.
async fn lifecycle(exec: Executor, kind: ServerKind, mode: Mode, msgpack: bool) {
    let mut server = TestServer::start(exec, kind, server_options(msgpack)).await;
    let counter = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let auth_counter = Arc::clone(&counter);
    let client = build(
        exec,
        builder(&server.url(), mode, msgpack)
            .auth_fn(move || {
                let n = auth_counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                json!({ "n": n })
            })
            .reconnection_attempts(3),
    );
    let socket = client.default_socket();
    assert_eq!(socket.ns(), "/");
    let mut events = Events::attach(exec, &socket);
    let (connect_tx, connects) = unbounded();
    socket.on_connect(move |s: ClientSocket| {
        let _ = connect_tx.try_send(s.id());
        async {}
    });
    let (attempt_tx, attempts) = unbounded();
    client.on_reconnect_attempt(move |n| {
        let _ = attempt_tx.try_send(n);
        async {}
    });
    let (failed_tx, failed) = unbounded();
    client.on_reconnect_failed(move || {
        let _ = failed_tx.try_send(());
        async {}
    });
    client.connect();
    let first = exec
        .timeout(WAIT, connects.recv())
        .await
        .expect("on_connect")
        .ok()
        .flatten()
        .expect("an id");
    assert!(client.is_open());
    let n1 = to_json(&events.next("auth").await[0])["n"]
        .as_u64()
        .unwrap();

    // A volatile emit may be dropped while the transport is busy (an upgrade, a POST in
    // flight): a normal emit after it tells when to stop looking.
    socket
        .volatile()
        .emit("echo", &"volatile")
        .expect("volatile emit");
    socket.emit("echo", &"sentinel").expect("emit");
    let mut echoed = Vec::new();
    loop {
        let v = to_json(&events.next("echo-back").await[0]);
        if v == json!("sentinel") {
            break;
        }
        echoed.push(v);
    }
    assert!(
        echoed.is_empty() || echoed == [json!("volatile")],
        "{echoed:?}"
    );

    // Leave and join again: a new socket id, a fresh auth.
    socket.disconnect();
    assert_eq!(
        server.disconnect_reason(&first, WAIT).await.as_deref(),
        Some("client namespace disconnect")
    );
    socket.connect();
    let second = exec
        .timeout(WAIT, connects.recv())
        .await
        .expect("on_connect again")
        .ok()
        .flatten()
        .expect("an id");
    assert_ne!(first, second);
    let n2 = to_json(&events.next("auth").await[0])["n"]
        .as_u64()
        .unwrap();
    assert!(n2 > n1, "auth_fn runs again: {n1} then {n2}");

    // The server goes away: 3 attempts, then reconnect_failed.
    server.stop().await;
    exec.timeout(Duration::from_secs(10), failed.recv())
        .await
        .expect("reconnect_failed in time")
        .expect("reconnect_failed");
    let mut seen = Vec::new();
    while let Ok(n) = attempts.try_recv() {
        seen.push(n);
    }
    assert_eq!(seen, vec![1, 2, 3]);
    assert!(!socket.connected());

    // Back: a manual connect works.
    server.resume().await;
    client.connect();
    exec.timeout(WAIT, connects.recv())
        .await
        .expect("on_connect after resume")
        .expect("on_connect");
    let n3 = to_json(&events.next("auth").await[0])["n"]
        .as_u64()
        .unwrap();
    assert!(n3 > n2);
    client.disconnect();
}

/// The official server closes the transport under the socket (`socket.conn.close()`) and
/// emits while the client is away: the client sees `transport close`, reconnects by itself and
/// recovers the missed events. (This project's server has no API to drop a transport; the
/// proxy cut covers it in [`recovery`].)
async fn server_drop(exec: Executor, mode: Mode, msgpack: bool) {
    let server = TestServer::start(
        exec,
        ServerKind::Node,
        ServerOptions {
            msgpack,
            recovery: true,
            ..ServerOptions::default()
        },
    )
    .await;
    let client = build(
        exec,
        builder(&server.url(), mode, msgpack).reconnection_delay(Duration::from_millis(400)),
    );
    let socket = client.socket("/");
    let mut events = Events::attach(exec, &socket);
    let (disc_tx, disc_rx) = unbounded();
    socket.on_disconnect(move |_s, reason| {
        let _ = disc_tx.try_send(reason.to_string());
        async {}
    });
    client.connect();
    connected(exec, &socket).await;
    events.next("auth").await;
    let id = socket.id().expect("id");
    socket.emit("ticks", &1).expect("emit");
    events.next("tick").await;
    socket
        .emit("drop-and-tick", &json!({"n": 2, "delay": 50}))
        .expect("emit");
    let reason = exec
        .timeout(WAIT, disc_rx.recv())
        .await
        .expect("disconnect")
        .ok();
    assert_eq!(reason.as_deref(), Some("transport close"));
    assert_eq!(
        server.disconnect_reason(&id, WAIT).await.as_deref(),
        Some("forced close")
    );
    for expected in 0..2 {
        assert_eq!(to_json(&events.next("tick").await[0]), json!(expected));
    }
    let later: Vec<String> = std::iter::from_fn(|| disc_rx.try_recv().ok()).collect();
    assert!(
        socket.recovered(),
        "not recovered; later client disconnects {later:?}; server log {:?}",
        server.lines()
    );
    assert_eq!(socket.id().as_deref(), Some(id.as_str()));
    client.disconnect();
}

/// HTTPS against the official server with a certificate made now, trusted as an extra root.
async fn tls(exec: Executor, mode: Mode, msgpack: bool) {
    let (files, der) = test_certificate();
    let server = TestServer::start(
        exec,
        ServerKind::Node,
        ServerOptions {
            msgpack,
            tls: Some(files),
            ..ServerOptions::default()
        },
    )
    .await;
    let client = builder(&server.url(), mode, msgpack)
        .auth(&json!({"tls": true}))
        .build(exec.runtime(), exec.connector_trusting(der))
        .expect("client options");
    let socket = client.socket("/");
    let mut events = Events::attach(exec, &socket);
    client.connect();
    connected(exec, &socket).await;
    assert_eq!(to_json(&events.next("auth").await[0]), json!({"tls": true}));
    let bin = Bytes::from_static(&[0, 1, 2]);
    let back: (String, Bytes) = socket
        .emit_with_ack("echo-ack", &("secure", bin.clone()))
        .timeout(WAIT)
        .await
        .expect("ack over TLS");
    assert_eq!(back, ("secure".to_owned(), bin));
    client.disconnect();

    // The default roots do not trust it.
    let untrusted = build(
        exec,
        builder(&server.url(), mode, msgpack).reconnection(false),
    );
    let socket = untrusted.default_socket();
    let wait = socket.wait_connected();
    untrusted.connect();
    let refused = exec.timeout(WAIT, wait).await.expect("an answer in time");
    assert!(refused.is_err(), "connected with an untrusted certificate");
    untrusted.disconnect();
}

/// A self-signed certificate for `localhost` in a fresh temporary directory; returns the
/// server's files and the certificate's DER.
fn test_certificate() -> (TlsFiles, Vec<u8>) {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("test certificate");
    let dir = std::env::temp_dir().join(format!(
        "socketio-tls-client-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.key_pair.serialize_pem()).unwrap();
    (TlsFiles { cert, key }, certified.cert.der().to_vec())
}

/// One test per line and executor: `name: scenario(arguments…)` runs
/// `scenario(exec, arguments…)`.
macro_rules! suite {
    ($($name:ident: $scenario:ident($($arg:expr),*);)*) => {
        executor_tests! {$(
            async fn $name(exec: Executor) {
                $scenario(exec, $($arg),*).await;
            }
        )*}
    };
}

use Mode::{Both, Polling, WebSocket};
use ServerKind::{Node, Rust};

suite! {
    node_server_drop_websocket: server_drop(WebSocket, false);
    node_server_drop_polling_msgpack: server_drop(Polling, true);
    node_tls_polling_json: tls(Polling, false);
    node_tls_upgrade_msgpack: tls(Both, true);

    node_api_polling_json: api(Node, Polling, false);
    node_api_websocket_json: api(Node, WebSocket, false);
    node_api_upgrade_json: api(Node, Both, false);
    node_api_polling_msgpack: api(Node, Polling, true);
    node_api_websocket_msgpack: api(Node, WebSocket, true);
    node_api_upgrade_msgpack: api(Node, Both, true);
    rust_api_polling_json: api(Rust, Polling, false);
    rust_api_websocket_json: api(Rust, WebSocket, false);
    rust_api_upgrade_json: api(Rust, Both, false);
    rust_api_polling_msgpack: api(Rust, Polling, true);
    rust_api_websocket_msgpack: api(Rust, WebSocket, true);
    rust_api_upgrade_msgpack: api(Rust, Both, true);

    node_lifecycle_websocket: lifecycle(Node, WebSocket, false);
    node_lifecycle_polling_msgpack: lifecycle(Node, Polling, true);
    rust_lifecycle_websocket: lifecycle(Rust, WebSocket, false);
    rust_lifecycle_upgrade_msgpack: lifecycle(Rust, Both, true);

    node_restart_websocket: restart(Node, WebSocket, false);
    node_restart_polling_msgpack: restart(Node, Polling, true);
    rust_restart_websocket: restart(Rust, WebSocket, false);
    rust_restart_polling_msgpack: restart(Rust, Polling, true);

    node_retries_websocket: retries(Node, WebSocket, false);
    node_retries_polling_msgpack: retries(Node, Polling, true);
    rust_retries_websocket: retries(Rust, WebSocket, false);
    rust_retries_polling_msgpack: retries(Rust, Polling, true);

    node_recovery_websocket: recovery(Node, WebSocket, false);
    node_recovery_polling_msgpack: recovery(Node, Polling, true);
    rust_recovery_websocket: recovery(Rust, WebSocket, false);
    rust_recovery_polling_msgpack: recovery(Rust, Polling, true);
}
