//! The blocking client (`socketio-blocking`) against the official socket.io 4.8 server
//! (`tests/node/servers/reference.js`) and this project's server (in-process, on tokio), both
//! behind the cutting proxy of `socketio_tests::client_suite`: connect with auth, events both
//! ways with binary, acks both ways, a custom namespace and refusals, heartbeats over many
//! short intervals, and a server restart followed by a reconnection.
//!
//! The client runs on plain threads (`Executor::unblock`), as a thread-per-connection
//! program would; the test body only starts, restarts and inspects the server.

use std::time::{Duration, Instant};

use bytes::Bytes;
use socketio_blocking::{Client, ClientBuilder, ClientEvent, Error, Value};
use socketio_tests::client_suite::{
    ServerKind, ServerOptions, ServerTransports, TestServer, TlsFiles,
};
use socketio_tests::executor::Executor;

const WAIT: Duration = Duration::from_secs(10);

fn builder(url: &str) -> ClientBuilder {
    Client::builder(url)
        .reconnection_delay(Duration::from_millis(100), Duration::from_millis(300))
        .connect_timeout(Duration::from_secs(5))
}

fn obj(pairs: &[(&str, Value)]) -> Value {
    Value::Object(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    )
}

fn bin(bytes: &[u8]) -> Value {
    Value::Binary(Bytes::copy_from_slice(bytes))
}

/// The next `Event` named `name` (other events are skipped), within [`WAIT`].
fn next_named(
    client: &mut Client,
    name: &str,
) -> (Vec<Value>, Option<socketio_blocking::AckRequest>) {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match client.recv(Some(left)).expect("recv") {
            Some(ClientEvent::Event { name: n, args, ack }) if n == name => return (args, ack),
            Some(_) => {}
            None => panic!("no {name:?} event within {WAIT:?}"),
        }
    }
}

fn run(kind: ServerKind, options: ServerOptions, test: impl AsyncFnOnce(Executor, TestServer)) {
    Executor::Tokio.run(|exec| async move {
        let server = TestServer::start(exec, kind, options).await;
        test(exec, server).await;
    });
}

fn events_binary_and_acks_both_ways(kind: ServerKind) {
    run(kind, ServerOptions::default(), async |exec, server| {
        let url = server.url();
        exec.unblock(move || {
            let auth = obj(&[("token", Value::from("abc"))]);
            let mut client = builder(&url).auth(auth.clone()).connect().expect("connect");
            assert!(client.is_connected());
            // Connect with auth: the app emits the handshake auth back.
            let (args, _) = next_named(&mut client, "auth");
            assert_eq!(args, vec![auth]);
            // Events both ways, with binary at the top level and nested.
            let payload = vec![
                Value::from(1u64),
                bin(&[1, 2, 3]),
                obj(&[("nested", bin(&[0, 255]))]),
            ];
            client.emit("echo", payload.clone()).expect("emit");
            let (args, ack) = next_named(&mut client, "echo-back");
            assert_eq!(args, payload);
            assert!(ack.is_none());
            // Client → server ack, with binary.
            let reply = client
                .emit_with_ack("echo-ack", vec![Value::from("x"), bin(&[9])], WAIT)
                .expect("ack");
            assert_eq!(reply, vec![Value::from("x"), bin(&[9])]);
            // Server → client ack: `ask` makes the server emit `question` with an ack, and
            // report what we acked in `answer`.
            client.emit("ask", vec![Value::from("q")]).expect("emit");
            let (args, ack) = next_named(&mut client, "question");
            assert_eq!(args, vec![Value::from("q")]);
            client
                .ack(
                    ack.expect("question asks for an ack"),
                    vec![Value::from("yes"), bin(&[7, 7])],
                )
                .expect("ack");
            let (args, _) = next_named(&mut client, "answer");
            assert_eq!(args, vec![Value::from("yes"), bin(&[7, 7])]);
            // `echo` is never acked by the app: the ack times out, the connection stays.
            match client.emit_with_ack("echo", vec![Value::from(0u64)], Duration::from_millis(300))
            {
                Err(Error::AckTimeout) => {}
                other => panic!("expected an ack timeout, got {other:?}"),
            }
            let _ = next_named(&mut client, "echo-back");
            assert!(client.is_connected());
            client.disconnect();
        })
        .await;
        let connects = server.wait_connects(1, WAIT).await;
        assert_eq!(connects[0]["auth"]["token"], "abc");
    });
}

fn custom_namespace_and_refusals(kind: ServerKind) {
    run(kind, ServerOptions::default(), async |exec, server| {
        let url = server.url();
        let id = exec
            .unblock(move || {
                let mut client = builder(&format!("{url}/custom"))
                    .auth(obj(&[("n", Value::from(2u64))]))
                    .connect()
                    .expect("connect /custom");
                let (args, _) = next_named(&mut client, "auth");
                assert_eq!(args, vec![obj(&[("n", Value::from(2u64))])]);
                let reply = client
                    .emit_with_ack("echo-ack", vec![Value::from("on custom")], WAIT)
                    .expect("ack");
                assert_eq!(reply, vec![Value::from("on custom")]);
                let id = client.sid().expect("sid").to_string();
                // The middleware refuses a bad token, with its data.
                match builder(&url)
                    .auth(obj(&[("token", Value::from("bad"))]))
                    .connect()
                {
                    Err(Error::ConnectError { message, data }) => {
                        assert_eq!(message, "unauthorized");
                        assert_eq!(data, Some(obj(&[("reason", Value::from("bad token"))])));
                    }
                    other => panic!("expected a refusal, got {other:?}"),
                }
                // An unknown namespace is refused.
                match builder(&format!("{url}/nope")).connect() {
                    Err(Error::ConnectError { message, .. }) => {
                        assert_eq!(message, "Invalid namespace")
                    }
                    other => panic!("expected a refusal, got {other:?}"),
                }
                client.disconnect();
                id
            })
            .await;
        let connects = server.wait_connects(1, WAIT).await;
        assert_eq!(connects[0]["connect"], "/custom");
        assert_eq!(connects[0]["id"], id.as_str());
        assert_eq!(
            server.disconnect_reason(&id, WAIT).await.as_deref(),
            Some("client namespace disconnect")
        );
    });
}

fn heartbeats_keep_an_idle_connection(kind: ServerKind) {
    let options = ServerOptions {
        heartbeat: Some((200, 400)),
        transports: ServerTransports::WebSocket,
        ..ServerOptions::default()
    };
    run(kind, options, async |exec, server| {
        let url = server.url();
        let id = exec
            .unblock(move || {
                let mut client = builder(&url).connect().expect("connect");
                let sid = client.sid().expect("sid").to_string();
                let _ = next_named(&mut client, "auth");
                // Idle for 10 heartbeat intervals: every ping must be answered in time, and
                // the client must see every ping in time, or one side drops the connection.
                for _ in 0..10 {
                    assert_eq!(
                        client.recv(Some(Duration::from_millis(200))).expect("recv"),
                        None
                    );
                }
                assert!(client.is_connected());
                assert_eq!(client.sid(), Some(sid.as_str()));
                let reply = client
                    .emit_with_ack("echo-ack", vec![Value::from(1u64)], WAIT)
                    .expect("still answered");
                assert_eq!(reply, vec![Value::from(1u64)]);
                client.disconnect();
                sid
            })
            .await;
        assert_eq!(
            server.disconnect_reason(&id, WAIT).await.as_deref(),
            Some("client namespace disconnect"),
            "the only disconnect is ours: no ping timeout"
        );
        assert_eq!(server.connects().len(), 1, "never reconnected");
    });
}

fn server_restart_then_reconnect(kind: ServerKind) {
    run(kind, ServerOptions::default(), async |exec, mut server| {
        let url = server.url();
        let mut client = exec
            .unblock(move || {
                let mut client = builder(&url)
                    .auth(obj(&[("token", Value::from("abc"))]))
                    .connect()
                    .expect("connect");
                let _ = next_named(&mut client, "auth");
                client
            })
            .await;
        let first = client.sid().expect("sid").to_string();
        server.restart().await;
        let client = exec
            .unblock(move || {
                let deadline = Instant::now() + WAIT;
                let mut seen = Vec::new();
                loop {
                    let left = deadline.saturating_duration_since(Instant::now());
                    match client.recv(Some(left)).expect("recv") {
                        Some(ClientEvent::Connected { sid }) => {
                            assert_ne!(sid, first);
                            break;
                        }
                        Some(event) => seen.push(event),
                        None => panic!("no reconnection within {WAIT:?}; saw {seen:?}"),
                    }
                }
                assert!(
                    seen.iter()
                        .any(|e| matches!(e, ClientEvent::Disconnected { .. })),
                    "{seen:?}"
                );
                assert!(
                    seen.iter()
                        .any(|e| matches!(e, ClientEvent::Reconnecting { .. })),
                    "{seen:?}"
                );
                // The auth is sent again, and the new session works both ways.
                let (args, _) = next_named(&mut client, "auth");
                assert_eq!(args, vec![obj(&[("token", Value::from("abc"))])]);
                let reply = client
                    .emit_with_ack("echo-ack", vec![Value::from("after")], WAIT)
                    .expect("ack after the restart");
                assert_eq!(reply, vec![Value::from("after")]);
                client
            })
            .await;
        assert_eq!(server.wait_connects(2, WAIT).await.len(), 2);
        exec.unblock(move || client.disconnect()).await;
    });
}

/// A self-signed certificate for `localhost` in a fresh temporary directory; returns the
/// server's files and the certificate's DER.
fn test_certificate() -> (TlsFiles, Vec<u8>) {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("test certificate");
    let dir = std::env::temp_dir().join(format!(
        "socketio-tls-blocking-{}-{}",
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

/// `https://` against the official server, with its certificate as the only root; the default
/// roots refuse it.
#[test]
fn node_tls() {
    let (files, der) = test_certificate();
    let options = ServerOptions {
        tls: Some(files),
        ..ServerOptions::default()
    };
    run(ServerKind::Node, options, async |exec, server| {
        let url = server.url();
        assert!(url.starts_with("https://localhost:"), "{url}");
        exec.unblock(move || {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(der.into()).expect("root");
            let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("versions")
                .with_root_certificates(roots)
                .with_no_client_auth();
            let mut client = builder(&url)
                .tls_config(std::sync::Arc::new(config))
                .auth(obj(&[("tls", Value::from(true))]))
                .connect()
                .expect("connect over TLS");
            let (args, _) = next_named(&mut client, "auth");
            assert_eq!(args, vec![obj(&[("tls", Value::from(true))])]);
            let reply = client
                .emit_with_ack(
                    "echo-ack",
                    vec![Value::from("secure"), bin(&[0, 1, 2])],
                    WAIT,
                )
                .expect("ack over TLS");
            assert_eq!(reply, vec![Value::from("secure"), bin(&[0, 1, 2])]);
            client.disconnect();
            let untrusted = builder(&url).reconnection(false).connect();
            assert!(
                untrusted.is_err(),
                "connected with an untrusted certificate"
            );
        })
        .await;
    });
}

#[test]
fn nothing_listening_is_a_connect_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    drop(listener);
    match builder(&url).reconnection(false).connect() {
        Err(Error::ConnectError { .. }) | Err(Error::ConnectTimeout(_)) => {}
        other => panic!("expected a connect failure, got {other:?}"),
    }
}

#[test]
fn node_events_binary_and_acks_both_ways() {
    events_binary_and_acks_both_ways(ServerKind::Node);
}

#[test]
fn rust_events_binary_and_acks_both_ways() {
    events_binary_and_acks_both_ways(ServerKind::Rust);
}

#[test]
fn node_custom_namespace_and_refusals() {
    custom_namespace_and_refusals(ServerKind::Node);
}

#[test]
fn rust_custom_namespace_and_refusals() {
    custom_namespace_and_refusals(ServerKind::Rust);
}

#[test]
fn node_heartbeats_keep_an_idle_connection() {
    heartbeats_keep_an_idle_connection(ServerKind::Node);
}

#[test]
fn rust_heartbeats_keep_an_idle_connection() {
    heartbeats_keep_an_idle_connection(ServerKind::Rust);
}

#[test]
fn node_server_restart_then_reconnect() {
    server_restart_then_reconnect(ServerKind::Node);
}

#[test]
fn rust_server_restart_then_reconnect() {
    server_restart_then_reconnect(ServerKind::Rust);
}
