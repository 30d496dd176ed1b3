//! The `no_std` client (`socketio-embedded`), run on the host through its std adapter
//! (`host::StdConnection`, `host::StdTimer`) and a plain `block_on`, against the official
//! socket.io 4.8 server (`tests/node/servers/reference.js`) and this project's server
//! (in-process, on tokio), behind the cutting proxy of `socketio_tests::client_suite`: connect
//! with auth, events both ways with binary, acks both ways, a custom namespace and refusals,
//! heartbeats over many short intervals, and a server restart followed by a reconnection.

use std::pin::pin;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::{Either, select};
use socketio_embedded::host::{StdConnection, StdTimer, Url};
use socketio_embedded::{Buffers, Client, Config, Event, Timer, Value};
use socketio_tests::client_suite::{ServerKind, ServerOptions, ServerTransports, TestServer};
use socketio_tests::executor::Executor;

const WAIT: Duration = Duration::from_secs(10);

type Embedded = Client<'static, StdConnection, StdTimer>;

/// A client for `url` (whose path is the namespace), with leaked buffers: 16 KiB in, 1 KiB out.
fn client(url: &str, auth: Option<Value>) -> Embedded {
    client_with_rx(url, auth, 16 * 1024)
}

/// [`client`] with a receive buffer of `rx` bytes.
fn client_with_rx(url: &str, auth: Option<Value>, rx: usize) -> Embedded {
    let url = Url::parse(url).expect("url");
    let rx: &'static mut [u8] = Box::leak(vec![0u8; rx].into_boxed_slice());
    let tx: &'static mut [u8] = Box::leak(vec![0u8; 1024].into_boxed_slice());
    let mut config = Config::new(&url.host);
    config.namespace = &url.namespace;
    config.auth = auth;
    config.reconnection_delay = Duration::from_millis(100);
    config.reconnection_delay_max = Duration::from_millis(300);
    config.seed = 7;
    Client::new(
        config,
        StdConnection::new(&url.host),
        StdTimer::new(),
        Buffers { rx, tx },
    )
    .expect("client")
}

/// The next event within `timeout`, `None` if none came.
fn next(client: &mut Embedded, timeout: Duration) -> Option<Event> {
    smol::block_on(async {
        let mut timer = StdTimer::new();
        let at = timer.now() + timeout;
        match select(pin!(client.next_event()), pin!(timer.sleep_until(at))).await {
            Either::Left((event, _)) => Some(event.expect("next_event")),
            Either::Right(_) => None,
        }
    })
}

/// Events until `pick` returns something, within [`WAIT`]; panics with what was seen.
fn until<T>(client: &mut Embedded, mut pick: impl FnMut(&Event) -> Option<T>) -> (T, Vec<Event>) {
    let mut seen = Vec::new();
    let start = std::time::Instant::now();
    while start.elapsed() < WAIT {
        if let Some(event) = next(client, WAIT) {
            if let Some(found) = pick(&event) {
                return (found, seen);
            }
            seen.push(event);
        }
    }
    panic!("not found within {WAIT:?}; saw {seen:?}");
}

fn connected(client: &mut Embedded) -> String {
    until(client, |e| match e {
        Event::Connect { sid, .. } => Some(sid.as_str().to_string()),
        _ => None,
    })
    .0
}

/// The arguments and ack id of the next event named `name`.
fn named(client: &mut Embedded, name: &str) -> (Vec<Value>, Option<u64>) {
    until(client, |e| match e {
        Event::Event { data, ack, .. } => {
            let Ok(Value::Array(mut items)) = data.to_value() else {
                return None;
            };
            (items.first().and_then(Value::as_str) == Some(name)).then(|| {
                items.remove(0);
                (items, *ack)
            })
        }
        _ => None,
    })
    .0
}

fn emit(client: &mut Embedded, event: &str, args: Vec<Value>) {
    smol::block_on(client.emit(event, args)).expect("emit");
}

fn call(client: &mut Embedded, event: &str, args: Vec<Value>) -> Vec<Value> {
    let id = smol::block_on(client.emit_with_ack(event, args, WAIT)).expect("emit_with_ack");
    until(client, |e| match e {
        Event::Ack { id: got, data, .. } if *got == id => match data.to_value() {
            Ok(Value::Array(args)) => Some(args),
            other => panic!("ack data {other:?}"),
        },
        Event::AckTimeout { id: got, .. } | Event::AckDisconnected { id: got, .. }
            if *got == id =>
        {
            panic!("no ack: {e:?}")
        }
        _ => None,
    })
    .0
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
            let mut client = client(&url, Some(auth.clone()));
            connected(&mut client);
            assert_eq!(named(&mut client, "auth").0, vec![auth]);
            let payload = vec![
                Value::from(1u64),
                bin(&[1, 2, 3]),
                obj(&[("nested", bin(&[0, 255]))]),
            ];
            emit(&mut client, "echo", payload.clone());
            let (args, ack) = named(&mut client, "echo-back");
            assert_eq!(args, payload);
            assert_eq!(ack, None);
            let reply = call(&mut client, "echo-ack", vec![Value::from("x"), bin(&[9])]);
            assert_eq!(reply, vec![Value::from("x"), bin(&[9])]);
            emit(&mut client, "ask", vec![Value::from("q")]);
            let (args, ack) = named(&mut client, "question");
            assert_eq!(args, vec![Value::from("q")]);
            let ack = ack.expect("question asks for an ack");
            smol::block_on(client.ack(ack, vec![Value::from("yes"), bin(&[7, 7])])).expect("ack");
            assert_eq!(
                named(&mut client, "answer").0,
                vec![Value::from("yes"), bin(&[7, 7])]
            );
            smol::block_on(client.disconnect());
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
                let auth = obj(&[("n", Value::from(2u64))]);
                let mut custom = client(&format!("{url}/custom"), Some(auth.clone()));
                let sid = connected(&mut custom);
                assert_eq!(named(&mut custom, "auth").0, vec![auth]);
                let reply = call(&mut custom, "echo-ack", vec![Value::from("on custom")]);
                assert_eq!(reply, vec![Value::from("on custom")]);

                let mut bad = client(&url, Some(obj(&[("token", Value::from("bad"))])));
                let ((message, data, refused), _) = until(&mut bad, |e| match e {
                    Event::ConnectError {
                        message,
                        data,
                        refused,
                        ..
                    } => Some((message.clone(), data.clone(), *refused)),
                    _ => None,
                });
                assert_eq!(message, "unauthorized");
                assert_eq!(data, Some(obj(&[("reason", Value::from("bad token"))])));
                assert!(refused);

                let mut unknown = client(&format!("{url}/nope"), None);
                let (message, _) = until(&mut unknown, |e| match e {
                    Event::ConnectError { message, .. } => Some(message.clone()),
                    _ => None,
                });
                assert_eq!(message, "Invalid namespace");

                smol::block_on(custom.disconnect());
                sid
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
                let mut client = client(&url, None);
                let sid = connected(&mut client);
                let _ = named(&mut client, "auth");
                // Idle for 10 heartbeat intervals: no event at all (a drop would show as a
                // disconnect and a reconnection attempt).
                for _ in 0..10 {
                    assert_eq!(next(&mut client, Duration::from_millis(200)), None);
                }
                assert!(client.is_connected());
                assert_eq!(
                    client.manager().sid(client.socket()).map(|s| s.as_str()),
                    Some(sid.as_str())
                );
                assert_eq!(
                    call(&mut client, "echo-ack", vec![Value::from(1u64)]),
                    vec![Value::from(1u64)]
                );
                smol::block_on(client.disconnect());
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
        let (mut client, first) = exec
            .unblock(move || {
                let mut client = client(&url, Some(obj(&[("token", Value::from("abc"))])));
                let sid = connected(&mut client);
                let _ = named(&mut client, "auth");
                (client, sid)
            })
            .await;
        server.restart().await;
        let client = exec
            .unblock(move || {
                let (sid, seen) = until(&mut client, |e| match e {
                    Event::Connect { sid, .. } => Some(sid.as_str().to_string()),
                    _ => None,
                });
                assert_ne!(sid, first);
                assert!(
                    seen.iter().any(|e| matches!(e, Event::Disconnect { .. })),
                    "{seen:?}"
                );
                assert!(
                    seen.iter().any(|e| matches!(e, Event::ReconnectAttempt(_))),
                    "{seen:?}"
                );
                assert_eq!(
                    named(&mut client, "auth").0,
                    vec![obj(&[("token", Value::from("abc"))])]
                );
                assert_eq!(
                    call(&mut client, "echo-ack", vec![Value::from("after")]),
                    vec![Value::from("after")]
                );
                client
            })
            .await;
        assert_eq!(server.wait_connects(2, WAIT).await.len(), 2);
        exec.unblock(move || {
            let mut client = client;
            smol::block_on(client.disconnect());
        })
        .await;
    });
}

/// A message larger than the receive buffer closes the connection (`payload too large`),
/// never grows a buffer; the client reconnects and goes on.
fn a_message_over_the_buffer_drops_and_reconnects(kind: ServerKind) {
    run(kind, ServerOptions::default(), async |exec, server| {
        let url = server.url();
        exec.unblock(move || {
            let mut client = client_with_rx(&url, None, 1024);
            let first = connected(&mut client);
            let _ = named(&mut client, "auth");
            emit(&mut client, "echo", vec![Value::from("x".repeat(2000))]);
            let (reason, seen) = until(&mut client, |e| match e {
                Event::Disconnect { reason, .. } => Some(*reason),
                _ => None,
            });
            assert_eq!(
                reason,
                socketio_protocol::socket::DisconnectReason::PayloadTooLarge { limit: 1014 },
                "{seen:?}"
            );
            assert!(
                matches!(
                    client.last_error(),
                    Some(socketio_embedded::Error::WebSocket(
                        socketio_embedded::ws::WsError::TooLarge { limit: 1014 }
                    ))
                ),
                "{:?}",
                client.last_error()
            );
            let second = connected(&mut client);
            assert_ne!(first, second);
            assert_eq!(
                call(&mut client, "echo-ack", vec![Value::from("small")]),
                vec![Value::from("small")]
            );
            smol::block_on(client.disconnect());
        })
        .await;
    });
}

#[test]
fn node_a_message_over_the_buffer_drops_and_reconnects() {
    a_message_over_the_buffer_drops_and_reconnects(ServerKind::Node);
}

#[test]
fn rust_a_message_over_the_buffer_drops_and_reconnects() {
    a_message_over_the_buffer_drops_and_reconnects(ServerKind::Rust);
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
