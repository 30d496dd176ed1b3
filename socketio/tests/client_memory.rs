//! The async client against this crate's own server, in process: an in-memory connector
//! (polling → `Server::handle_http`, WebSocket → a channel pair into `serve_websocket`), on a
//! futures thread pool with futures-timer timers (no tokio).
#![allow(missing_docs)]

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_channel::mpsc;
use futures_util::StreamExt;
use http_body_util::{BodyExt, Full};
use serde_json::json;
use socketio::client::{
    AckSender, BoxFuture, BoxWebSocket, Client, ClientBuilder, ClientSocket, ConnectFailedKind,
    Connector, ConnectorError,
};
use socketio::{
    AckError, ConnectError, DisconnectReason, Handshake, RecoveryConfig, Runtime, Server,
    ServerBuilder, Socket, TransportKind, Value,
};
use tungstenite::Message;

struct PoolRuntime(futures_executor::ThreadPool);

impl Runtime for PoolRuntime {
    fn spawn(&self, task: Pin<Box<dyn Future<Output = ()> + Send + 'static>>) {
        self.0.spawn_ok(task);
    }
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        Box::pin(futures_timer::Delay::new(duration))
    }
}

fn runtime() -> Arc<PoolRuntime> {
    Arc::new(PoolRuntime(
        futures_executor::ThreadPool::builder()
            .pool_size(2)
            .create()
            .unwrap(),
    ))
}

/// One end of an in-memory WebSocket.
struct MemWs {
    rx: mpsc::UnboundedReceiver<Message>,
    tx: mpsc::UnboundedSender<Message>,
}

impl futures_core::Stream for MemWs {
    type Item = Result<Message, tungstenite::Error>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_next_unpin(cx).map(|m| m.map(Ok))
    }
}

impl futures_sink::Sink<Message> for MemWs {
    type Error = tungstenite::Error;
    fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }
    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), Self::Error> {
        self.tx
            .unbounded_send(item)
            .map_err(|_| tungstenite::Error::ConnectionClosed)
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }
    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.tx.close_channel();
        Poll::Ready(Ok(()))
    }
}

/// Joins clients to `server` in memory; can cut every open WebSocket (a dropped transport).
struct MemConnector {
    server: Server,
    runtime: Arc<PoolRuntime>,
    open: Mutex<
        Vec<(
            mpsc::UnboundedSender<Message>,
            mpsc::UnboundedSender<Message>,
        )>,
    >,
    offline: std::sync::atomic::AtomicBool,
}

impl MemConnector {
    fn new(server: &Server, runtime: &Arc<PoolRuntime>) -> Arc<Self> {
        Arc::new(MemConnector {
            server: server.clone(),
            runtime: runtime.clone(),
            open: Mutex::new(Vec::new()),
            offline: Default::default(),
        })
    }

    /// Drops every open WebSocket without a close frame.
    fn cut(&self) {
        for (a, b) in self.open.lock().unwrap().drain(..) {
            a.close_channel();
            b.close_channel();
        }
    }
}

impl Connector for MemConnector {
    fn http(
        &self,
        request: http::Request<Bytes>,
    ) -> BoxFuture<Result<http::Response<Bytes>, ConnectorError>> {
        let server = self.server.clone();
        let offline = self.offline.load(Ordering::Acquire);
        Box::pin(async move {
            if offline {
                return Err(ConnectorError::new("offline"));
            }
            let response = server.handle_http(request.map(Full::new), None).await;
            let (parts, body) = response.into_parts();
            let body = body
                .collect()
                .await
                .map_err(ConnectorError::new)?
                .to_bytes();
            Ok(http::Response::from_parts(parts, body))
        })
    }

    fn websocket(
        &self,
        request: http::Request<()>,
    ) -> BoxFuture<Result<BoxWebSocket, ConnectorError>> {
        if self.offline.load(Ordering::Acquire) {
            return Box::pin(async { Err(ConnectorError::new("offline")) });
        }
        let (parts, ()) = request.into_parts();
        let result = match self.server.accept_websocket(&parts, None) {
            Ok(ticket) => {
                let (c2s_tx, c2s_rx) = mpsc::unbounded();
                let (s2c_tx, s2c_rx) = mpsc::unbounded();
                self.open
                    .lock()
                    .unwrap()
                    .push((c2s_tx.clone(), s2c_tx.clone()));
                let server_end = MemWs {
                    rx: c2s_rx,
                    tx: s2c_tx,
                };
                let server = self.server.clone();
                self.runtime.spawn(Box::pin(async move {
                    server.serve_websocket(ticket, server_end).await
                }));
                Ok(Box::new(MemWs {
                    rx: s2c_rx,
                    tx: c2s_tx,
                }) as BoxWebSocket)
            }
            Err(response) => Err(ConnectorError::new(format!(
                "websocket refused: {}",
                response.status()
            ))),
        };
        Box::pin(async move { result })
    }
}

struct Setup {
    io: Server,
    rt: Arc<PoolRuntime>,
    connector: Arc<MemConnector>,
}

fn setup(builder: ServerBuilder) -> Setup {
    let rt = runtime();
    let io = builder.build(rt.clone());
    let connector = MemConnector::new(&io, &rt);
    Setup { io, rt, connector }
}

impl Setup {
    fn client(&self, builder: ClientBuilder) -> Client {
        builder
            .build(self.rt.clone(), self.connector.clone())
            .unwrap()
    }
}

fn block_on<F: Future>(f: F) -> F::Output {
    futures_executor::block_on(async move {
        let f = std::pin::pin!(f);
        match futures_util::future::select(f, futures_timer::Delay::new(Duration::from_secs(20)))
            .await
        {
            futures_util::future::Either::Left((out, _)) => out,
            futures_util::future::Either::Right(_) => panic!("test timed out"),
        }
    })
}

async fn sleep(ms: u64) {
    futures_timer::Delay::new(Duration::from_millis(ms)).await
}

/// A channel to collect what handlers saw.
fn channel<T>() -> (mpsc::UnboundedSender<T>, mpsc::UnboundedReceiver<T>) {
    mpsc::unbounded()
}

fn echo_server(builder: ServerBuilder) -> Setup {
    let s = setup(builder);
    s.io.ns("/", |socket: Socket| async move {
        let token: Option<String> = socket.handshake().auth_field("token");
        socket.emit("auth", &token).ok();
        socket.on(
            "echo",
            |socket: Socket, value: Value, _: Option<socketio::AckSender>| async move {
                socket.emit("echo-back", &value).ok();
            },
        );
        socket.on(
            "add",
            |_s: Socket, (a, b): (i64, i64), ack: Option<socketio::AckSender>| async move {
                if let Some(ack) = ack {
                    ack.send(&(a + b)).ok();
                }
            },
        );
        socket.on(
            "bytes",
            |_s: Socket, data: Bytes, ack: Option<socketio::AckSender>| async move {
                if let Some(ack) = ack {
                    ack.send(&data).ok();
                }
            },
        );
        socket.on(
            "silent",
            |_s: Socket, _: Value, _: Option<socketio::AckSender>| async {},
        );
        socket.on(
            "ask-me",
            |socket: Socket, _: (), _: Option<socketio::AckSender>| async move {
                let answer: Result<String, AckError> = socket
                    .emit_with_ack("question", &"meaning?")
                    .timeout(Duration::from_secs(5))
                    .await;
                socket.emit("answer", &answer.unwrap()).ok();
            },
        );
        socket.on(
            "kick",
            |socket: Socket, _: (), _: Option<socketio::AckSender>| async move {
                socket.disconnect(false);
            },
        );
    });
    s
}

fn url() -> ClientBuilder {
    Client::builder("http://memory")
}

#[test]
fn connects_with_auth_and_exchanges_events_and_acks_over_websocket() {
    let s = echo_server(Server::builder());
    let client = s.client(
        url()
            .transports([TransportKind::WebSocket])
            .auth(&json!({"token": "t0k"})),
    );
    let socket = client.default_socket();
    let (tx, mut rx) = channel::<String>();
    let t = tx.clone();
    socket.on("auth", move |_s: ClientSocket, token: Option<String>, _| {
        let t = t.clone();
        async move {
            t.unbounded_send(format!("auth:{}", token.unwrap_or_default()))
                .unwrap();
        }
    });
    let t = tx.clone();
    socket.on("echo-back", move |_s: ClientSocket, v: Value, _| {
        let t = t.clone();
        async move {
            t.unbounded_send(format!("echo:{v:?}")).unwrap();
        }
    });
    let t = tx.clone();
    socket.on("answer", move |_s: ClientSocket, v: String, _| {
        let t = t.clone();
        async move {
            t.unbounded_send(format!("answer:{v}")).unwrap();
        }
    });
    socket.on(
        "question",
        |_s: ClientSocket, q: String, ack: Option<AckSender>| async move {
            assert_eq!(q, "meaning?");
            ack.unwrap().send(&"42").unwrap();
        },
    );
    client.connect();
    block_on(async {
        socket.wait_connected().await.unwrap();
        assert!(socket.connected());
        assert!(socket.id().is_some());
        assert_eq!(client.transport(), Some("websocket"));
        assert_eq!(rx.next().await.unwrap(), "auth:t0k");
        socket.emit("echo", "hello").unwrap();
        assert_eq!(
            rx.next().await.unwrap(),
            format!("echo:{:?}", Value::String("hello".into()))
        );
        let sum: i64 = socket.emit_with_ack("add", &(2, 3)).await.unwrap();
        assert_eq!(sum, 5);
        socket.emit("ask-me", &()).unwrap();
        assert_eq!(rx.next().await.unwrap(), "answer:42");
        client.disconnect();
    });
}

#[test]
fn polling_only_and_upgrade_to_websocket() {
    let s = echo_server(Server::builder());
    let polling = s.client(url().transports([TransportKind::Polling]));
    let upgrading = s.client(url());
    polling.connect();
    upgrading.connect();
    block_on(async {
        polling.default_socket().wait_connected().await.unwrap();
        upgrading.default_socket().wait_connected().await.unwrap();
        assert_eq!(polling.transport(), Some("polling"));
        let sum: i64 = polling
            .default_socket()
            .emit_with_ack("add", &(1, 1))
            .await
            .unwrap();
        assert_eq!(sum, 2);
        for _ in 0..100 {
            if upgrading.transport() == Some("websocket") {
                break;
            }
            sleep(20).await;
        }
        assert_eq!(upgrading.transport(), Some("websocket"));
        let sum: i64 = upgrading
            .default_socket()
            .emit_with_ack("add", &(2, 2))
            .await
            .unwrap();
        assert_eq!(sum, 4);
        polling.disconnect();
        upgrading.disconnect();
    });
}

#[test]
fn several_namespaces_share_one_connection() {
    let s = echo_server(Server::builder());
    s.io.ns("/admin", |socket: Socket| async move {
        socket.on(
            "whoami",
            |socket: Socket, _: (), ack: Option<socketio::AckSender>| async move {
                ack.unwrap().send(&socket.ns().to_owned()).ok();
            },
        );
    });
    let client = s.client(url().namespace("/admin"));
    client.connect();
    block_on(async {
        let main = client.default_socket();
        let admin = client.socket("/admin");
        main.wait_connected().await.unwrap();
        admin.wait_connected().await.unwrap();
        assert_ne!(main.id(), admin.id());
        let nsp: String = admin.emit_with_ack("whoami", &()).await.unwrap();
        assert_eq!(nsp, "/admin");
        let sum: i64 = main.emit_with_ack("add", &(3, 4)).await.unwrap();
        assert_eq!(sum, 7);
        // An unknown namespace is refused; the others stay connected.
        let unknown = client.socket("/nope");
        unknown.connect();
        let error = unknown.wait_connected().await.unwrap_err();
        assert_eq!(error.message, "Invalid namespace");
        assert!(main.connected() && admin.connected());
        admin.disconnect();
        sleep(50).await;
        assert!(!admin.connected());
        assert!(main.connected());
        client.disconnect();
    });
}

#[test]
fn connect_error_carries_message_and_data() {
    let s = setup(Server::builder());
    s.io.ns("/", |_socket: Socket| async move {})
        .with(|handshake: Handshake| async move {
            match handshake.auth_field::<String>("token") {
                Some(token) if token == "good" => Ok(()),
                _ => Err(ConnectError::new("not authorized").with_data(&json!({"code": 7}))),
            }
        });
    let client = s.client(url().transports([TransportKind::WebSocket]));
    let socket = client.default_socket();
    let (tx, mut rx) = channel::<(String, Option<Value>)>();
    socket.on_connect_error(move |_s, error| {
        let tx = tx.clone();
        async move {
            assert_eq!(error.kind, ConnectFailedKind::Refused);
            tx.unbounded_send((error.message, error.data)).unwrap();
        }
    });
    client.connect();
    block_on(async {
        let error = socket.wait_connected().await.unwrap_err();
        assert_eq!(error.kind, ConnectFailedKind::Refused);
        assert_eq!(error.message, "not authorized");
        let data: serde_json::Value = socketio::from_value(error.data.unwrap()).unwrap();
        assert_eq!(data, json!({"code": 7}));
        let (message, _) = rx.next().await.unwrap();
        assert_eq!(message, "not authorized");
        assert!(!socket.connected());
    });
}

#[test]
fn wait_connected_after_the_refusal_still_sees_it() {
    let s = setup(Server::builder());
    s.io.ns("/", |_socket: Socket| async move {})
        .with(|_handshake: Handshake| async move {
            Err(ConnectError::new("not authorized").with_data(&json!({"code": 7})))
        });
    let client = s.client(url().transports([TransportKind::WebSocket]));
    let socket = client.default_socket();
    let (tx, mut rx) = channel::<String>();
    socket.on_connect_error(move |_s, error| {
        let tx = tx.clone();
        async move {
            tx.unbounded_send(error.message).unwrap();
        }
    });
    client.connect();
    block_on(async {
        // The refusal has arrived before anyone waits for the connection.
        assert_eq!(rx.next().await.unwrap(), "not authorized");
        let error = socket.wait_connected().await.unwrap_err();
        assert_eq!(error.message, "not authorized");
    });
}

#[test]
fn argument_lists_go_out_and_come_back_exactly() {
    let s = setup(Server::builder());
    s.io.ns("/", |socket: Socket| async move {
        // Acks with the received arguments, each wrapped in an array: `[a]`, `[b]`, ...
        socket.on_any(
            |_s: Socket, _event: String, args: Vec<Value>, ack: Option<socketio::AckSender>| async move {
                if let Some(ack) = ack {
                    let wrapped = args.into_iter().map(|a| Value::Array(vec![a])).collect();
                    ack.send_args(wrapped).ok();
                }
            },
        );
    });
    let client = s.client(url().transports([TransportKind::WebSocket]));
    let socket = client.default_socket();
    client.connect();
    block_on(async {
        socket.wait_connected().await.unwrap();
        for args in [
            vec![],
            vec![Value::from(1i64)],
            vec![Value::Array(vec![1i64.into(), 2i64.into()])],
            vec![Value::Null, "x".into(), Value::from(2.5)],
        ] {
            let reply = socket.emit_with_ack_args("e", args.clone()).await.unwrap();
            let expected: Vec<Value> = args.into_iter().map(|a| Value::Array(vec![a])).collect();
            assert_eq!(reply, expected);
        }
        client.disconnect();
    });
}

#[test]
fn ack_timeout_and_default_ack_timeout() {
    let s = echo_server(Server::builder());
    let client = s.client(
        url()
            .transports([TransportKind::WebSocket])
            .ack_timeout(Duration::from_millis(150)),
    );
    client.connect();
    block_on(async {
        let socket = client.default_socket();
        socket.wait_connected().await.unwrap();
        let reply = socket
            .emit_with_ack::<Value, _>("silent", &1)
            .timeout(Duration::from_millis(100))
            .await;
        assert_eq!(reply, Err(AckError::Timeout));
        let reply = socket.emit_with_ack::<Value, _>("silent", &1).await;
        assert_eq!(reply, Err(AckError::Timeout));
        // A reply of the wrong type is a decode error.
        let reply = socket.emit_with_ack::<String, _>("add", &(1, 2)).await;
        assert!(matches!(reply, Err(AckError::Decode(_))));
        client.disconnect();
    });
}

#[test]
fn disconnect_reasons_server_and_client() {
    let s = echo_server(Server::builder());
    let client = s.client(url().transports([TransportKind::WebSocket]));
    let socket = client.default_socket();
    let (tx, mut rx) = channel::<DisconnectReason>();
    socket.on_disconnect(move |_s, reason| {
        let tx = tx.clone();
        async move {
            tx.unbounded_send(reason).unwrap();
        }
    });
    client.connect();
    block_on(async {
        socket.wait_connected().await.unwrap();
        socket.emit("kick", &()).unwrap();
        assert_eq!(
            rx.next().await.unwrap(),
            DisconnectReason::IoServerDisconnect
        );
        assert!(!socket.connected());
        // Not reconnected after a server disconnect; connect() joins again.
        sleep(100).await;
        assert!(!socket.connected());
        socket.connect();
        socket.wait_connected().await.unwrap();
        socket.disconnect();
        assert_eq!(
            rx.next().await.unwrap(),
            DisconnectReason::IoClientDisconnect
        );
        // A disconnected socket buffers (as the reference does): the ack times out.
        let reply = socket
            .emit_with_ack::<i64, _>("add", &(1, 1))
            .timeout(Duration::from_millis(100))
            .await;
        assert_eq!(reply, Err(AckError::Timeout));
    });
}

#[test]
fn reconnects_after_the_transport_drops_with_fresh_auth() {
    let s = setup(Server::builder());
    let (seen_tx, mut seen) = channel::<i64>();
    s.io.ns("/", move |socket: Socket| {
        let seen_tx = seen_tx.clone();
        async move {
            seen_tx
                .unbounded_send(socket.handshake().auth_field("n").unwrap_or(-1))
                .unwrap();
        }
    });
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let client = s.client(
        url()
            .transports([TransportKind::WebSocket])
            .reconnection_delay(Duration::from_millis(50))
            .randomization_factor(0.0)
            .auth_fn(move || json!({ "n": c.fetch_add(1, Ordering::SeqCst) + 1 })),
    );
    let socket = client.default_socket();
    let (tx, mut events) = channel::<String>();
    let t = tx.clone();
    socket.on_disconnect(move |_s, reason| {
        let t = t.clone();
        async move { t.unbounded_send(format!("disconnect:{reason}")).unwrap() }
    });
    let t = tx.clone();
    client.on_reconnect_attempt(move |n| {
        let t = t.clone();
        async move { t.unbounded_send(format!("attempt:{n}")).unwrap() }
    });
    let t = tx.clone();
    client.on_reconnect(move |n| {
        let t = t.clone();
        async move { t.unbounded_send(format!("reconnect:{n}")).unwrap() }
    });
    client.connect();
    block_on(async {
        socket.wait_connected().await.unwrap();
        assert_eq!(seen.next().await.unwrap(), 1);
        let first = socket.id();
        s.connector.cut();
        assert_eq!(events.next().await.unwrap(), "disconnect:transport close");
        assert_eq!(events.next().await.unwrap(), "attempt:1");
        assert_eq!(events.next().await.unwrap(), "reconnect:1");
        assert_eq!(seen.next().await.unwrap(), 2);
        socket.wait_connected().await.unwrap();
        for _ in 0..50 {
            if socket.connected() {
                break;
            }
            sleep(20).await;
        }
        assert!(socket.connected());
        assert_ne!(socket.id(), first);
        assert!(!socket.recovered());
        client.disconnect();
    });
}

#[test]
fn reconnect_failed_after_the_attempts() {
    let s = setup(Server::builder());
    s.connector.offline.store(true, Ordering::Release);
    let client = s.client(
        url()
            .reconnection_attempts(2)
            .reconnection_delay(Duration::from_millis(10))
            .reconnection_delay_max(Duration::from_millis(20)),
    );
    let (tx, mut rx) = channel::<&'static str>();
    let t = tx.clone();
    client.on_reconnect_failed(move || {
        let t = t.clone();
        async move { t.unbounded_send("failed").unwrap() }
    });
    client.connect();
    block_on(async {
        let error = client.default_socket().wait_connected().await.unwrap_err();
        assert!(error.data.is_none());
        assert_eq!(rx.next().await.unwrap(), "failed");
    });
}

#[test]
fn connection_state_recovery_marks_the_socket_recovered() {
    let s = echo_server(Server::builder().connection_state_recovery(RecoveryConfig::default()));
    let client = s.client(
        url()
            .transports([TransportKind::WebSocket])
            .reconnection_delay(Duration::from_millis(300))
            .randomization_factor(0.0),
    );
    let socket = client.default_socket();
    let (tx, mut rx) = channel::<String>();
    socket.on("news", move |_s: ClientSocket, text: String, _| {
        let tx = tx.clone();
        async move { tx.unbounded_send(text).unwrap() }
    });
    client.connect();
    block_on(async {
        socket.wait_connected().await.unwrap();
        let id = socket.id();
        s.io.emit("news", "before").unwrap();
        assert_eq!(rx.next().await.unwrap(), "before");
        s.connector.cut();
        sleep(100).await;
        assert!(!socket.connected());
        s.io.emit("news", "missed").unwrap();
        assert_eq!(rx.next().await.unwrap(), "missed");
        socket.wait_connected().await.unwrap();
        assert!(socket.recovered());
        assert_eq!(socket.id(), id);
        client.disconnect();
    });
}

#[test]
fn retries_resend_until_acknowledged() {
    let s = setup(Server::builder());
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    s.io.ns("/", move |socket: Socket| {
        let c = c.clone();
        async move {
            socket.on(
                "flaky",
                move |_s: Socket, n: i64, ack: Option<socketio::AckSender>| {
                    let c = c.clone();
                    async move {
                        // Ignore the first try.
                        if c.fetch_add(1, Ordering::SeqCst) >= 1 {
                            ack.unwrap().send(&(n * 10)).ok();
                        }
                    }
                },
            );
        }
    });
    let client = s.client(
        url()
            .transports([TransportKind::WebSocket])
            .retries(3)
            .ack_timeout(Duration::from_millis(100)),
    );
    client.connect();
    block_on(async {
        let socket = client.default_socket();
        socket.wait_connected().await.unwrap();
        let reply: i64 = socket.emit_with_ack("flaky", &4).await.unwrap();
        assert_eq!(reply, 40);
        assert_eq!(count.load(Ordering::SeqCst), 2);
        client.disconnect();
    });
}

#[test]
fn binary_round_trips_with_both_parsers() {
    for msgpack in [false, true] {
        let mut builder = Server::builder();
        if msgpack {
            builder = builder.msgpack();
        }
        let s = echo_server(builder);
        let mut client = url();
        if msgpack {
            client = client.msgpack();
        }
        let client = s.client(client);
        client.connect();
        block_on(async {
            let socket = client.default_socket();
            socket.wait_connected().await.unwrap();
            let data = Bytes::from_static(&[0, 1, 2, 255]);
            let back: Bytes = socket.emit_with_ack("bytes", &data).await.unwrap();
            assert_eq!(back, data);
            let sum: i64 = socket.emit_with_ack("add", &(20, 22)).await.unwrap();
            assert_eq!(sum, 42);
            client.disconnect();
        });
    }
}

#[test]
fn buffered_emits_flush_on_connect_and_volatile_ones_are_dropped() {
    let s = setup(Server::builder());
    let (tx, mut rx) = channel::<String>();
    s.io.ns("/", move |socket: Socket| {
        let tx = tx.clone();
        async move {
            socket.on_any(move |_s: Socket, event: String, _args: Vec<Value>, _| {
                let tx = tx.clone();
                async move { tx.unbounded_send(event).unwrap() }
            });
        }
    });
    let client = s.client(url().transports([TransportKind::WebSocket]));
    let socket = client.default_socket();
    client.connect();
    socket.volatile().emit("dropped", &()).unwrap();
    socket.emit("buffered", &()).unwrap();
    block_on(async {
        socket.wait_connected().await.unwrap();
        // As in the reference client, a volatile emit is dropped only when the engine is not
        // writable yet; if the engine opened before it (the namespace still connecting), it
        // is buffered like any other. Either way nothing is reordered or lost.
        let first = rx.next().await.unwrap();
        if first == "dropped" {
            assert_eq!(rx.next().await.unwrap(), "buffered");
        } else {
            assert_eq!(first, "buffered");
        }
        socket.volatile().emit("live", &()).unwrap();
        assert_eq!(rx.next().await.unwrap(), "live");
        client.disconnect();
    });
}

/// Wraps [`MemConnector`] with slow writes: every POST is answered 100 ms late and every
/// WebSocket takes 100 ms to close, and both are recorded, so a test can tell whether
/// [`Client::close`] waited for them.
struct SlowWrites {
    inner: Arc<MemConnector>,
    posts_started: AtomicUsize,
    posts_answered: Arc<AtomicUsize>,
    websockets_closed: Arc<AtomicUsize>,
}

/// A WebSocket whose close takes 100 ms and is counted once done.
struct SlowClose {
    inner: BoxWebSocket,
    delay: Option<futures_timer::Delay>,
    closed: Arc<AtomicUsize>,
    counted: bool,
}

impl futures_core::Stream for SlowClose {
    type Item = Result<Message, tungstenite::Error>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.inner).poll_next(cx)
    }
}

impl futures_sink::Sink<Message> for SlowClose {
    type Error = tungstenite::Error;
    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.inner).poll_ready(cx)
    }
    fn start_send(mut self: Pin<&mut Self>, item: Message) -> Result<(), Self::Error> {
        Pin::new(&mut self.inner).start_send(item)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let delay = self
            .delay
            .get_or_insert_with(|| futures_timer::Delay::new(Duration::from_millis(100)));
        if Pin::new(delay).poll(cx).is_pending() {
            return Poll::Pending;
        }
        let result = Pin::new(&mut self.inner).poll_close(cx);
        if result.is_ready() && !self.counted {
            self.counted = true;
            self.closed.fetch_add(1, Ordering::SeqCst);
        }
        result
    }
}

impl Connector for SlowWrites {
    fn http(
        &self,
        request: http::Request<Bytes>,
    ) -> BoxFuture<Result<http::Response<Bytes>, ConnectorError>> {
        let post = request.method() == http::Method::POST;
        if post {
            self.posts_started.fetch_add(1, Ordering::SeqCst);
        }
        let answered = self.posts_answered.clone();
        let response = self.inner.http(request);
        Box::pin(async move {
            let response = response.await;
            if post {
                sleep(100).await;
                answered.fetch_add(1, Ordering::SeqCst);
            }
            response
        })
    }

    fn websocket(
        &self,
        request: http::Request<()>,
    ) -> BoxFuture<Result<BoxWebSocket, ConnectorError>> {
        let closed = self.websockets_closed.clone();
        let dial = self.inner.websocket(request);
        Box::pin(async move {
            let inner = dial.await?;
            Ok(Box::new(SlowClose {
                inner,
                delay: None,
                closed,
                counted: false,
            }) as BoxWebSocket)
        })
    }
}

/// `close` returns only once every emit before it reached the server: the last POST
/// answered (polling), the WebSocket closed after its frames (WebSocket).
fn close_waits_for_the_writes(transport: TransportKind) {
    let s = setup(Server::builder());
    let (tx, mut rx) = channel::<i64>();
    s.io.ns("/", move |socket: Socket| {
        let tx = tx.clone();
        async move {
            socket.on(
                "n",
                move |_s: Socket, n: i64, _: Option<socketio::AckSender>| {
                    let tx = tx.clone();
                    async move {
                        tx.unbounded_send(n).unwrap();
                    }
                },
            );
        }
    });
    let slow = Arc::new(SlowWrites {
        inner: s.connector.clone(),
        posts_started: AtomicUsize::new(0),
        posts_answered: Arc::new(AtomicUsize::new(0)),
        websockets_closed: Arc::new(AtomicUsize::new(0)),
    });
    let client = url()
        .transports([transport])
        .build(s.rt.clone(), slow.clone())
        .unwrap();
    let socket = client.default_socket();
    client.connect();
    block_on(async {
        socket.wait_connected().await.unwrap();
        for n in 0..50 {
            socket.emit("n", &n).unwrap();
        }
        client.close(Duration::from_secs(10)).await.unwrap();
        match transport {
            TransportKind::Polling => {
                let started = slow.posts_started.load(Ordering::SeqCst);
                assert!(started >= 1);
                assert_eq!(slow.posts_answered.load(Ordering::SeqCst), started);
            }
            _ => assert_eq!(slow.websockets_closed.load(Ordering::SeqCst), 1),
        }
        assert!(!client.is_open());
        let mut seen = Vec::new();
        while seen.len() < 50 {
            seen.push(rx.next().await.unwrap());
        }
        assert_eq!(seen, (0..50).collect::<Vec<_>>());
    });
}

#[test]
fn close_waits_for_the_writes_over_polling() {
    close_waits_for_the_writes(TransportKind::Polling);
}

#[test]
fn close_waits_for_the_writes_over_websocket() {
    close_waits_for_the_writes(TransportKind::WebSocket);
}

/// Answers no POST once `hang` is set (a server that stopped answering).
struct HangingPosts {
    inner: Arc<MemConnector>,
    hang: std::sync::atomic::AtomicBool,
}

impl Connector for HangingPosts {
    fn http(
        &self,
        request: http::Request<Bytes>,
    ) -> BoxFuture<Result<http::Response<Bytes>, ConnectorError>> {
        if request.method() == http::Method::POST && self.hang.load(Ordering::Acquire) {
            return Box::pin(futures_util::future::pending());
        }
        self.inner.http(request)
    }

    fn websocket(
        &self,
        request: http::Request<()>,
    ) -> BoxFuture<Result<BoxWebSocket, ConnectorError>> {
        self.inner.websocket(request)
    }
}

#[test]
fn close_gives_up_after_its_limit() {
    let s = setup(Server::builder());
    s.io.ns("/", |_socket: Socket| async move {});
    let connector = Arc::new(HangingPosts {
        inner: s.connector.clone(),
        hang: Default::default(),
    });
    let client = url()
        .transports([TransportKind::Polling])
        .build(s.rt.clone(), connector.clone())
        .unwrap();
    let socket = client.default_socket();
    client.connect();
    block_on(async {
        socket.wait_connected().await.unwrap();
        connector.hang.store(true, Ordering::Release);
        socket.emit("x", &1).unwrap();
        let error = client.close(Duration::from_millis(200)).await.unwrap_err();
        assert_eq!(error.0, Duration::from_millis(200));
        assert!(!client.is_open());
    });
}

/// A failed connection attempt is reported as such, not as a refusal.
#[test]
fn an_unreachable_server_is_a_connection_failure() {
    let s = setup(Server::builder());
    s.connector.offline.store(true, Ordering::Release);
    let client = s.client(
        url()
            .transports([TransportKind::Polling])
            .reconnection(false),
    );
    let socket = client.default_socket();
    client.connect();
    block_on(async {
        let error = socket.wait_connected().await.unwrap_err();
        assert_eq!(error.kind, ConnectFailedKind::Connection, "{error:?}");
        assert_eq!(error.detail.as_deref(), Some("offline"), "{error:?}");
    });
}

/// Emits made while offline wait in the send buffer; past its limit they are refused with
/// `BufferFull`, not reported as a disconnection.
#[test]
fn a_full_send_buffer_is_reported_as_such() {
    let s = setup(Server::builder());
    s.connector.offline.store(true, Ordering::Release);
    let client = s.client(url().max_send_buffer(2));
    let socket = client.default_socket();
    client.connect();
    socket.emit("a", &1).unwrap();
    socket.emit("b", &2).unwrap();
    assert_eq!(socket.emit("c", &3), Err(socketio::EmitError::BufferFull));
}

#[test]
fn forty_namespaces_share_one_connection() {
    // Past the 16 namespaces a connection keeps in a plain sorted list (then a B-tree): every
    // one still routes its events, and leaving half of them keeps the rest.
    let s = echo_server(Server::builder());
    let names: Vec<String> = (0..40).map(|i| format!("/n{i:02}")).collect();
    for name in &names {
        s.io.ns(name.as_str(), |socket: Socket| async move {
            socket.on(
                "whoami",
                |socket: Socket, _: (), ack: Option<socketio::AckSender>| async move {
                    ack.unwrap().send(&socket.ns().to_owned()).ok();
                },
            );
        });
    }
    let client = s.client(url());
    client.connect();
    block_on(async {
        let sockets: Vec<_> = names.iter().map(|name| client.socket(name)).collect();
        for socket in &sockets {
            socket.connect();
        }
        for socket in &sockets {
            socket.wait_connected().await.unwrap();
        }
        for (name, socket) in names.iter().zip(&sockets) {
            let nsp: String = socket.emit_with_ack("whoami", &()).await.unwrap();
            assert_eq!(&nsp, name);
        }
        for socket in sockets.iter().step_by(2) {
            socket.disconnect();
        }
        sleep(100).await;
        for (i, (name, socket)) in names.iter().zip(&sockets).enumerate() {
            if i % 2 == 0 {
                assert!(!socket.connected(), "{name} left");
            } else {
                let nsp: String = socket.emit_with_ack("whoami", &()).await.unwrap();
                assert_eq!(&nsp, name);
            }
        }
        client.disconnect();
    });
}

/// `wait_connected` on a namespace that is not being joined fails at once with
/// `NotConnecting` (before `connect`, and after `disconnect`), instead of waiting forever.
#[test]
fn wait_connected_fails_for_a_namespace_not_being_joined() {
    let s = echo_server(Server::builder());
    let client = s.client(url().transports([TransportKind::WebSocket]));
    let never = client.socket("/never");
    block_on(async {
        let error = never.wait_connected().await.unwrap_err();
        assert_eq!(
            error.kind,
            socketio::client::ConnectFailedKind::NotConnecting
        );
        let socket = client.default_socket();
        socket.connect();
        socket.wait_connected().await.unwrap();
        socket.disconnect();
        let error = socket.wait_connected().await.unwrap_err();
        assert_eq!(
            error.kind,
            socketio::client::ConnectFailedKind::NotConnecting
        );
    });
}
