//! `socketio::engine`: the Engine.IO-only server driven in memory — polling requests through
//! `handle_http`, WebSockets as in-memory `Stream + Sink`s — on a thread-pool runtime.
#![allow(missing_docs)]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_channel::mpsc;
use futures_util::StreamExt;
use futures_util::future::{Either, select};
use http_body_util::{BodyExt, Full};
use socketio::engine::{
    CloseReason, EngineBuilder, EngineServer, EngineSocket, Message, ProtocolVersion, SendError,
};
use socketio::{Endpoint, TransportKind};
use tungstenite::Message as WsMessage;

struct PoolRuntime(futures_executor::ThreadPool);

impl socketio::Runtime for PoolRuntime {
    fn spawn(&self, task: Pin<Box<dyn Future<Output = ()> + Send + 'static>>) {
        self.0.spawn_ok(task);
    }
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        Box::pin(futures_timer::Delay::new(duration))
    }
}

/// A server built from `builder` whose connection handler hands every socket to the test.
struct Harness {
    engine: EngineServer,
    pool: futures_executor::ThreadPool,
    sockets: mpsc::UnboundedReceiver<EngineSocket>,
}

fn pool() -> futures_executor::ThreadPool {
    futures_executor::ThreadPool::builder()
        .pool_size(2)
        .create()
        .unwrap()
}

/// A server built from `builder` whose connection handler hands every socket to the test,
/// then echoes each message (`recv`, then `send`) until the session ends; the sends that
/// failed are counted in the second value.
fn start_echo(builder: EngineBuilder) -> (Harness, Arc<AtomicUsize>) {
    let pool = pool();
    let engine = builder.build(Arc::new(PoolRuntime(pool.clone())));
    let (tx, sockets) = mpsc::unbounded();
    let failed = Arc::new(AtomicUsize::new(0));
    let failures = failed.clone();
    engine.on_connection(move |socket: EngineSocket| {
        let tx = tx.clone();
        let failures = failures.clone();
        async move {
            let _ = tx.unbounded_send(socket.clone());
            while let Some(message) = socket.recv().await {
                if socket.send(message).is_err() {
                    failures.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
    });
    let harness = Harness {
        engine,
        pool,
        sockets,
    };
    (harness, failed)
}

fn start(builder: EngineBuilder) -> Harness {
    let pool = pool();
    let engine = builder.build(Arc::new(PoolRuntime(pool.clone())));
    let (tx, sockets) = mpsc::unbounded();
    engine.on_connection(move |socket: EngineSocket| {
        let tx = tx.clone();
        async move {
            let _ = tx.unbounded_send(socket);
        }
    });
    Harness {
        engine,
        pool,
        sockets,
    }
}

/// Fails after 5 s instead of hanging.
async fn within<F: Future>(what: &str, future: F) -> F::Output {
    let future = std::pin::pin!(future);
    match select(future, futures_timer::Delay::new(Duration::from_secs(5))).await {
        Either::Left((output, _)) => output,
        Either::Right(_) => panic!("timed out waiting for {what}"),
    }
}

impl Harness {
    async fn next_socket(&mut self) -> EngineSocket {
        within("a connection", self.sockets.next())
            .await
            .expect("handler channel open")
    }

    async fn http(&self, method: &str, target: &str, body: &str) -> (u16, String) {
        let request = http::Request::builder()
            .method(method)
            .uri(target)
            .header("content-type", "text/plain;charset=UTF-8")
            .body(Full::new(Bytes::from(body.to_owned())))
            .unwrap();
        let response = within("an HTTP response", self.engine.handle_http(request, None)).await;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    /// A polling handshake: the session id.
    async fn open_polling(&self, query: &str) -> String {
        let (status, body) = self
            .http(
                "GET",
                &format!("/engine.io/?EIO=4&transport=polling{query}"),
                "",
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert!(body.starts_with("0{\"sid\":\""), "{body}");
        body[9..29].to_owned()
    }

    /// Opens a WebSocket (query `extra` appended) and serves it on the pool.
    fn open_ws(&self, extra: &str) -> WsClient {
        let target = format!("/engine.io/?EIO=4&transport=websocket{extra}");
        let parts = http::Request::get(target).body(()).unwrap().into_parts().0;
        let ticket = self
            .engine
            .accept_websocket(&parts, None)
            .expect("accepted");
        let (client_tx, server_rx) = mpsc::unbounded();
        let (server_tx, client_rx) = mpsc::unbounded();
        let read = Arc::new(AtomicUsize::new(0));
        let ws = MemWs {
            rx: server_rx,
            tx: server_tx,
            read: read.clone(),
        };
        let engine = self.engine.clone();
        self.pool
            .spawn_ok(async move { engine.serve_websocket(ticket, ws).await });
        WsClient {
            tx: Some(client_tx),
            rx: client_rx,
            read,
        }
    }
}

/// The server's end of an in-memory WebSocket.
struct MemWs {
    rx: mpsc::UnboundedReceiver<WsMessage>,
    tx: mpsc::UnboundedSender<WsMessage>,
    /// How many of the client's messages the server has read.
    read: Arc<AtomicUsize>,
}

impl futures_core::Stream for MemWs {
    type Item = Result<WsMessage, tungstenite::Error>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let next = self.rx.poll_next_unpin(cx);
        if let Poll::Ready(Some(_)) = next {
            self.read.fetch_add(1, Ordering::SeqCst);
        }
        next.map(|m| m.map(Ok))
    }
}

impl futures_sink::Sink<WsMessage> for MemWs {
    type Error = tungstenite::Error;
    fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }
    fn start_send(self: Pin<&mut Self>, item: WsMessage) -> Result<(), Self::Error> {
        let _ = self.tx.unbounded_send(item);
        Ok(())
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }
    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }
}

/// The client's end.
struct WsClient {
    tx: Option<mpsc::UnboundedSender<WsMessage>>,
    rx: mpsc::UnboundedReceiver<WsMessage>,
    /// How many of the messages sent the server has read (the rest wait in the "socket").
    read: Arc<AtomicUsize>,
}

impl WsClient {
    fn send(&self, text: &str) {
        if let Some(tx) = &self.tx {
            tx.unbounded_send(WsMessage::text(text)).unwrap();
        }
    }

    fn send_binary(&self, data: &[u8]) {
        if let Some(tx) = &self.tx {
            tx.unbounded_send(WsMessage::binary(Bytes::copy_from_slice(data)))
                .unwrap();
        }
    }

    /// Ends the stream without a close frame (the TCP connection went away).
    fn hang_up(&mut self) {
        self.tx = None;
    }

    /// The next message that is not a ping (`None` once the server ended the stream).
    async fn next(&mut self) -> Option<WsMessage> {
        loop {
            match within("a websocket message", self.rx.next()).await {
                Some(WsMessage::Text(text)) if text.as_str() == "2" => continue,
                other => return other,
            }
        }
    }

    async fn text(&mut self) -> String {
        match self.next().await {
            Some(WsMessage::Text(text)) => text.to_string(),
            other => panic!("expected text, got {other:?}"),
        }
    }

    /// How many of the messages sent the server has read.
    fn read(&self) -> usize {
        self.read.load(Ordering::SeqCst)
    }

    /// Waits until the server has read `count` messages, then checks it reads no more for a
    /// while (its reader paused).
    async fn read_settles_at(&self, count: usize) {
        within("the reader to read up to its pause", async {
            while self.read() < count {
                futures_timer::Delay::new(Duration::from_millis(5)).await;
            }
        })
        .await;
        futures_timer::Delay::new(Duration::from_millis(200)).await;
        assert_eq!(self.read(), count, "the reader went on reading");
    }
}

async fn recv(socket: &EngineSocket) -> Option<Message> {
    within("a message", socket.recv()).await
}

#[test]
fn websocket_session_messages_both_ways() {
    let mut h = start(EngineServer::builder());
    futures_executor::block_on(async {
        let mut client = h.open_ws("");
        let open = client.text().await;
        assert!(open.starts_with("0{\"sid\":\""), "{open}");
        assert!(open.contains("\"upgrades\":[]"), "{open}");
        let socket = h.next_socket().await;
        assert_eq!(&open[9..29], socket.id());
        assert_eq!(socket.transport(), TransportKind::WebSocket);
        assert_eq!(socket.protocol(), ProtocolVersion::V4);
        assert!(socket.is_open());
        assert_eq!(h.engine.client_count(), 1);
        assert_eq!(h.engine.socket(socket.id()).unwrap().id(), socket.id());

        client.send("4hello");
        client.send_binary(&[1, 2, 3]);
        client.send("4");
        assert_eq!(recv(&socket).await, Some(Message::from("hello")));
        assert_eq!(recv(&socket).await, Some(Message::from(vec![1u8, 2, 3])));
        assert_eq!(recv(&socket).await, Some(Message::from("")));

        socket.send("héllo").unwrap();
        socket.send(vec![4u8, 5]).unwrap();
        assert_eq!(client.text().await, "4héllo");
        match client.next().await {
            Some(WsMessage::Binary(bytes)) => assert_eq!(bytes.as_ref(), &[4, 5]),
            other => panic!("expected binary, got {other:?}"),
        }
    });
}

#[test]
fn polling_session_messages_both_ways() {
    let mut h = start(EngineServer::builder());
    futures_executor::block_on(async {
        let sid = h.open_polling("").await;
        let socket = h.next_socket().await;
        assert_eq!(socket.id(), sid);
        assert_eq!(socket.transport(), TransportKind::Polling);
        assert_eq!(socket.uri().query(), Some("EIO=4&transport=polling"));
        let target = format!("/engine.io/?EIO=4&transport=polling&sid={sid}");
        assert_eq!(
            h.http("POST", &target, "4hello\u{1e}bAQID").await,
            (200, "ok".to_owned())
        );
        assert_eq!(recv(&socket).await, Some(Message::from("hello")));
        assert_eq!(recv(&socket).await, Some(Message::from(vec![1u8, 2, 3])));

        socket.send("hi").unwrap();
        socket.send(vec![1u8, 2, 3, 4]).unwrap();
        assert_eq!(
            h.http("GET", &target, "").await,
            (200, "4hi\u{1e}bAQIDBA==".to_owned())
        );
    });
}

#[test]
fn upgrade_moves_the_session_to_websocket() {
    let mut h = start(EngineServer::builder());
    futures_executor::block_on(async {
        let sid = h.open_polling("").await;
        let socket = h.next_socket().await;
        let mut client = h.open_ws(&format!("&sid={sid}"));
        client.send("2probe");
        assert_eq!(client.text().await, "3probe");
        let target = format!("/engine.io/?EIO=4&transport=polling&sid={sid}");
        assert_eq!(h.http("GET", &target, "").await, (200, "6".to_owned()));
        client.send("5");
        client.send("4over websocket");
        assert_eq!(recv(&socket).await, Some(Message::from("over websocket")));
        assert_eq!(socket.transport(), TransportKind::WebSocket);
        socket.send("back").unwrap();
        assert_eq!(client.text().await, "4back");
        // The polling transport is gone.
        assert_eq!(h.http("GET", &target, "").await.0, 400);
    });
}

#[test]
fn close_reasons_reach_the_socket() {
    let mut h = start(EngineServer::builder());
    futures_executor::block_on(async {
        // The server closes: over WebSocket the connection closes (no close packet, as the
        // reference), the socket sees `forced close`.
        let mut client = h.open_ws("");
        let _open = client.text().await;
        let socket = h.next_socket().await;
        client.send("4last");
        assert_eq!(recv(&socket).await, Some(Message::from("last")));
        socket.close();
        assert!(matches!(client.next().await, Some(WsMessage::Close(_))));
        assert_eq!(
            within("close", socket.closed()).await,
            CloseReason::ForcedClose
        );
        assert_eq!(socket.close_reason(), Some(CloseReason::ForcedClose));
        assert!(!socket.is_open());
        assert_eq!(recv(&socket).await, None);
        assert_eq!(socket.send("late"), Err(SendError::Closed));

        // The client sends a close packet: `transport close`.
        let mut client = h.open_ws("");
        let _open = client.text().await;
        let socket = h.next_socket().await;
        client.send("1");
        assert_eq!(
            within("close", socket.closed()).await,
            CloseReason::TransportClose
        );

        // The connection drops without a close frame: `transport close` too.
        let mut client = h.open_ws("");
        let _open = client.text().await;
        let socket = h.next_socket().await;
        client.send("4queued");
        client.hang_up();
        assert_eq!(
            within("close", socket.closed()).await,
            CloseReason::TransportClose
        );
        // Messages received before the close are still delivered, then the end.
        assert_eq!(recv(&socket).await, Some(Message::from("queued")));
        assert_eq!(recv(&socket).await, None);

        // Garbage: `parse error`.
        let mut client = h.open_ws("");
        let _open = client.text().await;
        let socket = h.next_socket().await;
        client.send("9nonsense");
        assert_eq!(
            within("close", socket.closed()).await,
            CloseReason::ParseError
        );
        assert_eq!(h.engine.client_count(), 0);
    });
}

#[test]
fn unanswered_pings_close_with_ping_timeout() {
    let mut h = start(
        EngineServer::builder()
            .ping_interval(Duration::from_millis(50))
            .ping_timeout(Duration::from_millis(50)),
    );
    futures_executor::block_on(async {
        let sid = h.open_polling("").await;
        let socket = h.next_socket().await;
        // The client never polls: the ping waits, no pong comes.
        assert_eq!(
            within("close", socket.closed()).await,
            CloseReason::PingTimeout
        );
        let target = format!("/engine.io/?EIO=4&transport=polling&sid={sid}");
        assert_eq!(h.http("GET", &target, "").await.0, 400);
    });
}

#[test]
fn bounded_queues() {
    let mut h = start(EngineServer::builder().max_buffered_packets(2));
    futures_executor::block_on(async {
        // Polling: the third message waiting for a GET is refused.
        let sid = h.open_polling("").await;
        let socket = h.next_socket().await;
        socket.send("a").unwrap();
        socket.send("b").unwrap();
        assert_eq!(socket.send("c"), Err(SendError::QueueFull));
        let target = format!("/engine.io/?EIO=4&transport=polling&sid={sid}");
        assert_eq!(
            h.http("GET", &target, "").await,
            (200, "4a\u{1e}4b".to_owned())
        );
        socket.send("c").unwrap();
    });
}

/// How many messages the burst tests send.
const BURST: usize = 10_000;

#[test]
fn a_websocket_burst_is_echoed_in_order_without_a_disconnection() {
    // The default mark (256), then a small one: the reader pauses and resumes many times.
    for builder in [
        EngineServer::builder(),
        EngineServer::builder().incoming_queue(8),
    ] {
        let (mut h, failed) = start_echo(builder);
        futures_executor::block_on(async {
            let mut client = h.open_ws("");
            let _open = client.text().await;
            let socket = h.next_socket().await;
            for i in 0..BURST {
                client.send(&format!("4{i}"));
            }
            for i in 0..BURST {
                assert_eq!(client.text().await, format!("4{i}"));
            }
            assert_eq!(failed.load(Ordering::SeqCst), 0, "failed sends");
            assert!(socket.is_open(), "closed: {:?}", socket.close_reason());
            assert_eq!(h.engine.client_count(), 1);
            assert_eq!(client.read(), BURST);
        });
    }
}

#[test]
fn a_polling_burst_is_echoed_in_order_without_a_disconnection() {
    let (mut h, failed) = start_echo(EngineServer::builder());
    futures_executor::block_on(async {
        let sid = h.open_polling("").await;
        let socket = h.next_socket().await;
        let target = format!("/engine.io/?EIO=4&transport=polling&sid={sid}");
        // As the official client sends a burst: one POST at a time, each with everything
        // queued meanwhile (the first message alone, then the rest); here a middle size too.
        let posts = async {
            let mut sent = 0;
            for size in [1, 999, BURST - 1000] {
                let body: Vec<String> = (sent..sent + size).map(|i| format!("4{i}")).collect();
                sent += size;
                let answer = h.http("POST", &target, &body.join("\u{1e}")).await;
                assert_eq!(answer, (200, "ok".to_owned()));
            }
        };
        // And a GET always pending, the next one sent as soon as one is answered.
        let gets = async {
            let mut next = 0;
            while next < BURST {
                let (status, body) = h.http("GET", &target, "").await;
                assert_eq!(status, 200, "{body}");
                for packet in body.split('\u{1e}') {
                    assert_eq!(packet, format!("4{next}"));
                    next += 1;
                }
            }
        };
        futures_util::future::join(posts, gets).await;
        assert_eq!(failed.load(Ordering::SeqCst), 0, "failed sends");
        assert!(socket.is_open(), "closed: {:?}", socket.close_reason());
        assert_eq!(h.engine.client_count(), 1);
    });
}

#[test]
fn websocket_reading_pauses_while_the_application_does_not_recv() {
    // The mark set apart from the backpressure limits holds whatever the order of the calls.
    let mut h = start(
        EngineServer::builder()
            .incoming_queue(8)
            .backpressure(socketio::Backpressure::default()),
    );
    futures_executor::block_on(async {
        let mut client = h.open_ws("");
        let _open = client.text().await;
        let socket = h.next_socket().await;
        for i in 0..100 {
            client.send(&format!("4{i}"));
        }
        // Nine read (one past the mark), the rest wait on the client's side; the session
        // stays open and still sends.
        client.read_settles_at(9).await;
        assert!(socket.is_open());
        socket.send("still here").unwrap();
        assert_eq!(client.text().await, "4still here");
        // Taken down to half the mark (4), the reader reads again, up to the next pause.
        for i in 0..4 {
            assert_eq!(recv(&socket).await, Some(Message::from(i.to_string())));
        }
        futures_timer::Delay::new(Duration::from_millis(50)).await;
        assert_eq!(client.read(), 9, "resumed above half the mark");
        assert_eq!(recv(&socket).await, Some(Message::from("4")));
        client.read_settles_at(9 + 5).await;
        // Everything arrives, in order.
        for i in 5..100 {
            assert_eq!(recv(&socket).await, Some(Message::from(i.to_string())));
        }
        assert_eq!(client.read(), 100);
        assert!(socket.is_open(), "closed: {:?}", socket.close_reason());
        assert_eq!(h.engine.client_count(), 1);
    });
}

/// Whether `future` is still pending after 200 ms.
async fn still_pending<F: Future + Unpin>(future: &mut F) -> bool {
    let delay = futures_timer::Delay::new(Duration::from_millis(200));
    matches!(select(future, delay).await, Either::Right(_))
}

#[test]
fn a_polling_post_waits_while_the_application_does_not_recv() {
    let mut h = start(EngineServer::builder().incoming_queue(8));
    futures_executor::block_on(async {
        let sid = h.open_polling("").await;
        let socket = h.next_socket().await;
        let target = format!("/engine.io/?EIO=4&transport=polling&sid={sid}");
        let body: Vec<String> = (0..20).map(|i| format!("4{i}")).collect();
        let body = body.join("\u{1e}");
        let mut post = Box::pin(h.http("POST", &target, &body));
        // Twenty waiting: the POST is not answered (the client's next one waits for it).
        assert!(still_pending(&mut post).await, "answered above the mark");
        // The session lives on: a GET takes what it sends.
        socket.send("meanwhile").unwrap();
        assert_eq!(
            h.http("GET", &target, "").await,
            (200, "4meanwhile".to_owned())
        );
        for i in 0..15 {
            assert_eq!(recv(&socket).await, Some(Message::from(i.to_string())));
        }
        assert!(
            still_pending(&mut post).await,
            "answered above half the mark"
        );
        assert_eq!(recv(&socket).await, Some(Message::from("15")));
        assert_eq!(post.await, (200, "ok".to_owned()));
        for i in 16..20 {
            assert_eq!(recv(&socket).await, Some(Message::from(i.to_string())));
        }
        assert!(socket.is_open());

        // A POST paused when its session closes is answered (over polling the session
        // closes once a GET took the close packet).
        let sid = h.open_polling("").await;
        let socket = h.next_socket().await;
        let target = format!("/engine.io/?EIO=4&transport=polling&sid={sid}");
        let mut post = Box::pin(h.http("POST", &target, &body));
        assert!(still_pending(&mut post).await, "answered above the mark");
        socket.close();
        let (status, body) = h.http("GET", &target, "").await;
        assert_eq!(status, 200);
        assert!(body.ends_with('1'), "{body}");
        assert_eq!(post.await, (200, "ok".to_owned()));
        assert_eq!(socket.close_reason(), Some(CloseReason::ForcedClose));
    });
}

#[test]
fn a_polling_post_waits_for_a_get_above_the_high_water_mark() {
    let limits = socketio::Backpressure {
        high_water: 100,
        ..Default::default()
    };
    let mut h = start(EngineServer::builder().backpressure(limits));
    futures_executor::block_on(async {
        let sid = h.open_polling("").await;
        let socket = h.next_socket().await;
        let target = format!("/engine.io/?EIO=4&transport=polling&sid={sid}");
        let big = "x".repeat(150);
        socket.send(big.as_str()).unwrap();
        // 150 bytes wait for a GET: a POST is answered only once a GET took them.
        let mut post = Box::pin(h.http("POST", &target, "4hello"));
        assert!(
            still_pending(&mut post).await,
            "answered above the high water mark"
        );
        assert_eq!(recv(&socket).await, Some(Message::from("hello")));
        assert!(
            still_pending(&mut post).await,
            "answered above the high water mark"
        );
        assert_eq!(h.http("GET", &target, "").await, (200, format!("4{big}")));
        assert_eq!(post.await, (200, "ok".to_owned()));
    });
}

#[test]
fn allow_request_and_eio3() {
    let mut h = start(
        EngineServer::builder()
            .allow_eio3(true)
            .allow_request(|parts, _| {
                if parts.uri.query().unwrap_or("").contains("token=ok") {
                    Ok(())
                } else {
                    Err("no token".into())
                }
            }),
    );
    futures_executor::block_on(async {
        assert_eq!(
            h.http("GET", "/engine.io/?EIO=4&transport=polling", "")
                .await,
            (403, r#"{"code":4,"message":"no token"}"#.to_owned())
        );
        let parts = http::Request::get("/engine.io/?EIO=4&transport=websocket")
            .body(())
            .unwrap()
            .into_parts()
            .0;
        assert!(h.engine.accept_websocket(&parts, None).is_err());

        // Engine.IO v3 over WebSocket: binary frames carry the type byte, the client pings.
        let mut client = h.open_ws("&token=ok&EIO=3");
        let open = client.text().await;
        assert!(open.starts_with("0{\"sid\":\""), "{open}");
        let socket = h.next_socket().await;
        assert_eq!(socket.protocol(), ProtocolVersion::V3);
        assert_eq!(socket.headers().len(), 0);
        client.send("2");
        assert_eq!(client.text().await, "3");
        client.send_binary(&[4, 9, 8]);
        assert_eq!(recv(&socket).await, Some(Message::from(vec![9u8, 8])));
        socket.send(vec![7u8]).unwrap();
        match client.next().await {
            Some(WsMessage::Binary(bytes)) => assert_eq!(bytes.as_ref(), &[4, 7]),
            other => panic!("expected binary, got {other:?}"),
        }
    });
}

#[test]
fn shutdown_closes_every_session_and_refuses_new_ones() {
    let mut h = start(EngineServer::builder().shutdown_timeout(Duration::from_secs(2)));
    futures_executor::block_on(async {
        let mut client = h.open_ws("");
        let _open = client.text().await;
        let socket = h.next_socket().await;
        let sid = h.open_polling("").await;
        let polling = h.next_socket().await;
        // A GET held while shutting down is answered with the close packet.
        let target = format!("/engine.io/?EIO=4&transport=polling&sid={sid}");
        let held = h.http("GET", &target, "");
        let shutdown = h.engine.shutdown();
        let (held, ()) = futures_util::future::join(held, within("shutdown", shutdown)).await;
        assert_eq!(held, (200, "1".to_owned()));
        assert!(matches!(client.next().await, Some(WsMessage::Close(_))));
        assert_eq!(socket.close_reason(), Some(CloseReason::ForcedClose));
        assert_eq!(polling.close_reason(), Some(CloseReason::ForcedClose));
        assert_eq!(h.engine.client_count(), 0);
        assert_eq!(
            h.http("GET", "/engine.io/?EIO=4&transport=polling", "")
                .await
                .0,
            503
        );
        // Through the trait, as the HTTP glue calls it: a second shutdown returns at once.
        Endpoint::shutdown(&h.engine).await;
        assert!(h.engine.handles("/engine.io/"));
        assert!(!h.engine.handles("/socket.io/"));
    });
}

#[test]
fn a_connection_handler_sees_every_message_in_order() {
    let pool = futures_executor::ThreadPool::builder()
        .pool_size(2)
        .create()
        .unwrap();
    let engine = EngineServer::builder().build(Arc::new(PoolRuntime(pool.clone())));
    let (tx, mut echoed) = mpsc::unbounded();
    engine.on_connection(move |socket: EngineSocket| {
        let tx = tx.clone();
        async move {
            while let Some(message) = socket.recv().await {
                socket.send(message).unwrap();
            }
            let _ = tx.unbounded_send(socket.closed().await);
        }
    });
    let h = Harness {
        engine,
        pool,
        sockets: mpsc::unbounded().1,
    };
    futures_executor::block_on(async {
        let mut client = h.open_ws("");
        let _open = client.text().await;
        for i in 0..100 {
            client.send(&format!("4{i}"));
        }
        for i in 0..100 {
            assert_eq!(client.text().await, format!("4{i}"));
        }
        client.send("1");
        assert_eq!(
            within("the handler's end", echoed.next()).await,
            Some(CloseReason::TransportClose)
        );
    });
}

#[test]
fn initial_packet_and_cookie() {
    let mut h = start(
        EngineServer::builder()
            .initial_packet("welcome")
            .cookie(socketio::engine::SessionCookie::default()),
    );
    futures_executor::block_on(async {
        let request = http::Request::get("/engine.io/?EIO=4&transport=polling")
            .body(Full::new(Bytes::new()))
            .unwrap();
        let response = within("handshake", h.engine.handle_http(request, None)).await;
        let cookie = response
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let body = String::from_utf8_lossy(&body).into_owned();
        let sid = &body[9..29];
        assert_eq!(cookie, format!("io={sid}; Path=/; HttpOnly; SameSite=Lax"));
        assert!(body.ends_with("\u{1e}4welcome"), "{body}");
        let socket = h.next_socket().await;
        assert_eq!(socket.id(), sid);
    });
}
