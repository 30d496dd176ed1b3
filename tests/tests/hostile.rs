//! Hostile peers against our server, on every executor, with raw sockets: what the reference
//! (socket.io 4.8 on Node's HTTP server and `ws` 8) answers in each case, we answer too, and
//! nothing a peer sends can hold a connection or grow memory without a bound.
//!
//! - a POST refused from its head is answered at once, without waiting for its body;
//! - a POST body that stops coming gets `408` after the request timeout, and the session ends;
//! - a second POST while one is being read gets `400` (the session ends: `transport error`);
//! - WebSocket violations get the reference's close codes: a message over the limit 1009,
//!   invalid UTF-8 1007, an unmasked frame, a reserved opcode or bit 1002, a ping flood 1008;
//! - an ack id past `u64` is ignored, the connection stays;
//! - with timers that fire late, a client that answers each ping within `pingTimeout` of
//!   receiving it stays connected.
//!
//! The blocking socket work runs off the executor (`Executor::unblock`). Every read has a
//! generous timeout so that a hang fails the test instead of blocking the suite; no test asserts
//! how long anything took.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use socketio_tests::executor::Executor;
use socketio_tests::executor_tests;
use socketio_tests::raw::{SAFETY, closes, connect, frame, read_frame, read_response, websocket};
use socketio_tokio::{Runtime, Server, Socket};

/// The ping allowance per heartbeat interval (`wsio::MAX_PINGS_PER_HEARTBEAT`).
const MAX_PINGS: usize = 100;

/// A polling handshake; the session id.
fn handshake(addr: SocketAddr) -> String {
    let mut stream = connect(addr);
    stream
        .write_all(b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let (status, _, body) = read_response(&mut stream);
    assert_eq!(status, 200);
    let body = String::from_utf8(body).unwrap();
    body.split("\"sid\":\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned()
}

/// Sends the head of a chunked POST and its first chunk, and no more.
fn start_dripping_post(addr: SocketAddr, query: &str) -> TcpStream {
    let mut stream = connect(addr);
    let head = format!(
        "POST /socket.io/?{query} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n4\r\n"
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream
}

/// The status of a GET on session `sid` (400: the session is gone).
fn poll_status(addr: SocketAddr, sid: &str) -> u16 {
    let mut stream = connect(addr);
    let request =
        format!("GET /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\n\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    read_response(&mut stream).0
}

/// The code of the close frame the server sends, skipping other frames; `None` if the
/// connection ends without one.
fn close_code(stream: &mut TcpStream) -> Option<u16> {
    while let Some((opcode, payload)) = read_frame(stream) {
        if opcode == 8 {
            return payload
                .get(..2)
                .map(|code| u16::from_be_bytes([code[0], code[1]]));
        }
    }
    None
}

/// Sends `bytes` and returns the close code the server answers with.
fn violation(addr: SocketAddr, bytes: Vec<u8>) -> Option<u16> {
    let mut stream = websocket(addr);
    // The server may close before reading everything: a failed write is part of the answer.
    let _ = stream.write_all(&bytes);
    close_code(&mut stream)
}

async fn serve(
    exec: Executor,
    builder: socketio_tokio::ServerBuilder,
) -> socketio_tests::executor::Served {
    let io = exec.server(builder);
    io.ns("/", |_socket: Socket| async move {});
    exec.serve(io).await
}

executor_tests! {
    /// A POST without a session id is refused from its head (`400`), while its body is still
    /// coming; the connection closes (its unread body cannot be taken for a next request).
    async fn a_post_refused_from_its_head_is_answered_before_its_body(exec: Executor) {
        let served = serve(exec, Server::builder()).await;
        let addr = served.addr;
        exec.unblock(move || {
            let mut stream = start_dripping_post(addr, "EIO=4&transport=polling");
            let (status, head, _) = read_response(&mut stream);
            assert_eq!(status, 400);
            assert!(head.contains("connection: close"), "{head}");
            assert!(closes(&mut stream));
        })
        .await;
    }

    /// A POST body that stops coming gets `408` after the request timeout, with
    /// `Connection: close`; the session ends.
    async fn a_post_body_that_stops_coming_gets_408(exec: Executor) {
        let builder = Server::builder().request_timeout(Duration::from_millis(300));
        let served = serve(exec, builder).await;
        let addr = served.addr;
        exec.unblock(move || {
            let sid = handshake(addr);
            let query = format!("EIO=4&transport=polling&sid={sid}");
            let mut stream = start_dripping_post(addr, &query);
            let (status, head, _) = read_response(&mut stream);
            assert_eq!(status, 408);
            assert!(head.contains("connection: close"), "{head}");
            assert!(closes(&mut stream));
            assert_eq!(poll_status(addr, &sid), 400, "the session is gone");
        })
        .await;
    }

    /// A second POST while the first one's body is being read: `400`, and the session ends
    /// (`transport error`), as the reference ("data request overlap from client").
    async fn a_second_concurrent_post_gets_400(exec: Executor) {
        let served = serve(exec, Server::builder()).await;
        let addr = served.addr;
        exec.unblock(move || {
            let sid = handshake(addr);
            let query = format!("EIO=4&transport=polling&sid={sid}");
            let _first = start_dripping_post(addr, &query);
            // The second one must come after the first was classified: a GET on the same
            // session gives the server time to see the first POST's head.
            std::thread::sleep(Duration::from_millis(200));
            let mut second = connect(addr);
            let request = format!(
                "POST /socket.io/?{query} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n\r\n4hello"
            );
            second.write_all(request.as_bytes()).unwrap();
            assert_eq!(read_response(&mut second).0, 400);
            assert_eq!(poll_status(addr, &sid), 400, "the session is gone");
        })
        .await;
    }

    /// WebSocket protocol violations are answered with the reference's close codes.
    async fn websocket_violations_get_the_reference_close_codes(exec: Executor) {
        let served = serve(exec, Server::builder()).await;
        let addr = served.addr;
        exec.unblock(move || {
            let mut too_big = b"4".to_vec();
            too_big.resize(1_000_001, b'a');
            assert_eq!(violation(addr, frame(0x81, &too_big, true)), Some(1009), "too big");
            assert_eq!(violation(addr, frame(0x81, &[b'4', 0xff, 0xfe], true)), Some(1007), "UTF-8");
            assert_eq!(violation(addr, frame(0x81, b"4x", false)), Some(1002), "unmasked");
            assert_eq!(violation(addr, frame(0x83, b"4x", true)), Some(1002), "reserved opcode");
            assert_eq!(violation(addr, frame(0xc1, b"4x", true)), Some(1002), "RSV1");
        })
        .await;
    }

    /// A peer flooding WebSocket pings without reading the pongs is cut off (a close frame with
    /// 1008 when the socket takes it, then the connection ends) instead of piling pongs up: of
    /// 100,000 pings, the server stops taking them long before the end.
    async fn a_websocket_ping_flood_is_cut_off(exec: Executor) {
        let served = serve(exec, Server::builder()).await;
        let addr = served.addr;
        exec.unblock(move || {
            let mut stream = websocket(addr);
            stream.set_write_timeout(Some(SAFETY)).unwrap();
            let ping = frame(0x89, b"flood", true);
            let sent = (0..100_000)
                .take_while(|_| stream.write_all(&ping).is_ok())
                .count();
            assert!(sent > MAX_PINGS, "the allowance is taken ({sent})");
            assert!(sent < 100_000, "the server kept taking pings");
        })
        .await;
    }

    /// An ack id past `u64` is ignored: the socket stays and the next event is handled.
    async fn an_ack_id_past_u64_is_ignored(exec: Executor) {
        let io = exec.server(Server::builder());
        io.ns("/", |socket: Socket| async move {
            socket.on("ping", |socket: Socket, _: serde_json::Value, _: Option<socketio_tokio::AckSender>| async move {
                socket.emit("pong", &()).ok();
            });
        });
        let served = exec.serve(io).await;
        let addr = served.addr;
        exec.unblock(move || {
            let mut stream = websocket(addr);
            stream.write_all(&frame(0x81, b"40", true)).unwrap();
            let (_, connected) = read_frame(&mut stream).unwrap();
            assert!(connected.starts_with(b"40"), "{connected:?}");
            stream.write_all(&frame(0x81, b"4318446744073709551616[]", true)).unwrap();
            stream.write_all(&frame(0x81, br#"42["ping",1]"#, true)).unwrap();
            let (_, pong) = read_frame(&mut stream).unwrap();
            assert!(pong.starts_with(br#"42["pong""#), "{:?}", String::from_utf8_lossy(&pong));
        })
        .await;
    }

    /// With the server's long timers firing late (the ping goes out 300 ms after it was due), a
    /// client answering each ping 150 ms after receiving it (pingTimeout 250 ms) is never
    /// dropped: the deadline counts from when the ping went out.
    async fn late_timers_do_not_drop_a_client_that_answers_in_time(exec: Executor) {
        let runtime = Arc::new(LateTimers(exec.runtime()));
        let io = Server::builder()
            .ping_interval(Duration::from_millis(400))
            .ping_timeout(Duration::from_millis(250))
            .build(runtime);
        io.ns("/", |_socket: Socket| async move {});
        let served = exec.serve(io).await;
        let addr = served.addr;
        exec.unblock(move || {
            let mut stream = websocket(addr);
            for ping in 0..4 {
                let (opcode, payload) = read_frame(&mut stream)
                    .unwrap_or_else(|| panic!("dropped before ping {ping}"));
                assert_eq!((opcode, payload.as_slice()), (1, &b"2"[..]), "ping {ping}");
                std::thread::sleep(Duration::from_millis(150));
                stream.write_all(&frame(0x81, b"3", true)).unwrap();
            }
        })
        .await;
    }
}

/// A runtime whose long sleeps (the ping interval) end 300 ms late, as on a loaded machine;
/// short ones (a pong deadline) are on time.
struct LateTimers(Arc<dyn Runtime>);

impl Runtime for LateTimers {
    fn spawn(&self, task: Pin<Box<dyn std::future::Future<Output = ()> + Send + 'static>>) {
        self.0.spawn(task);
    }

    fn sleep(
        &self,
        duration: Duration,
    ) -> Pin<Box<dyn std::future::Future<Output = ()> + Send + 'static>> {
        if duration >= Duration::from_millis(300) {
            self.0.sleep(duration + Duration::from_millis(300))
        } else {
            self.0.sleep(duration)
        }
    }
}
