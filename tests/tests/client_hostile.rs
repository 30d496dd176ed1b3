//! The client against hostile servers, written here on raw TCP (std threads, so the same server
//! serves every executor): an endless polling body, a flood of pings the server never reads
//! back, a CONNECT_ERROR over the WebSocket message cap, events faster than the handlers
//! consume. Each test asserts that the client's memory stays bounded through something
//! observable (what the server could write, what it got back, the reason the client reported),
//! not through timing.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use socketio_tests::executor::Executor;
use socketio_tests::executor_tests;
use socketio_tokio::TransportKind;
use socketio_tokio::client::{Client, ClientSocket, ConnectFailedKind};

const OPEN: &str = r#"0{"sid":"hostile","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":100000}"#;

/// A listener on a free port, and its `http://` URL.
fn listen() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    (listener, url)
}

/// Reads one HTTP request head (up to the blank line); `None` at end of stream.
fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return None,
        }
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}

/// Answers a WebSocket upgrade request `head`.
fn accept_websocket(stream: &mut TcpStream, head: &str) {
    let key = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("sec-websocket-key")
                .then(|| value.trim().to_owned())
        })
        .expect("a websocket key");
    let accept = socketio_tokio::tungstenite::handshake::derive_accept_key(key.as_bytes());
    write!(
        stream,
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\n\r\n"
    )
    .unwrap();
}

/// An unmasked server frame (`opcode` 1 text, 9 ping).
fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0x80 | opcode];
    match payload.len() {
        len @ 0..=125 => out.push(len as u8),
        len @ 126..=65535 => {
            out.push(126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            out.push(127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(payload);
    out
}

/// Reads one (masked, client) frame: its opcode and payload; `None` at end of stream or on a
/// read timeout.
fn read_frame(stream: &mut TcpStream) -> Option<(u8, Vec<u8>)> {
    let mut head = [0u8; 2];
    stream.read_exact(&mut head).ok()?;
    let mut len = u64::from(head[1] & 0x7f);
    if len == 126 {
        let mut ext = [0u8; 2];
        stream.read_exact(&mut ext).ok()?;
        len = u64::from(u16::from_be_bytes(ext));
    } else if len == 127 {
        let mut ext = [0u8; 8];
        stream.read_exact(&mut ext).ok()?;
        len = u64::from_be_bytes(ext);
    }
    let mut mask = [0u8; 4];
    if head[1] & 0x80 != 0 {
        stream.read_exact(&mut mask).ok()?;
    }
    let mut payload = vec![0u8; usize::try_from(len).ok()?];
    stream.read_exact(&mut payload).ok()?;
    for (i, byte) in payload.iter_mut().enumerate() {
        *byte ^= mask[i % 4];
    }
    Some((head[0] & 0x0f, payload))
}

/// Accepts one WebSocket client, sends the open packet and reads the client's CONNECT.
fn open_websocket(listener: &TcpListener) -> TcpStream {
    let (mut stream, _) = listener.accept().unwrap();
    let head = read_head(&mut stream).unwrap();
    accept_websocket(&mut stream, &head);
    let open = OPEN.replace("100000", "1000000");
    stream.write_all(&frame(1, open.as_bytes())).unwrap();
    let (_, connect) = read_frame(&mut stream).unwrap();
    assert_eq!(connect, b"40");
    stream
}

fn websocket_client(url: &str) -> socketio_tokio::client::ClientBuilder {
    Client::builder(url).transports([TransportKind::WebSocket])
}

/// A WebSocket-only client of `url` without reconnection, once its default socket connected
/// (a hostile server floods it first: the connection must survive that).
async fn connected_websocket_client(exec: Executor, url: &str) -> Client {
    let client = websocket_client(url)
        .reconnection(false)
        .connect(exec.runtime(), exec.connector())
        .unwrap();
    let connected = exec
        .timeout(
            Duration::from_secs(60),
            client.default_socket().wait_connected(),
        )
        .await;
    assert!(matches!(connected, Ok(Ok(()))), "{connected:?}");
    client
}

// ----- polling bodies (the tokio connector honours the request's BodyLimit) -----

/// Serves polling: the handshake (maxPayload 100 000) and POSTs normally, every later GET with
/// an endless chunked body of messages. `written` counts the bytes of the longest such body
/// the server managed to write before the client hung up (it stops by itself at 256 MiB, so
/// that an unbounded client fails the test instead of eating the machine).
fn endless_poll_server(listener: TcpListener, endless_handshake: bool, written: Arc<AtomicU64>) {
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let written = written.clone();
            std::thread::spawn(move || {
                while let Some(head) = read_head(&mut stream) {
                    let handshake = !head.contains("sid=");
                    if head.starts_with("POST") {
                        let length = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        let mut body = vec![0u8; length];
                        let _ = stream.read_exact(&mut body);
                        let _ = stream.write_all(
                            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok",
                        );
                    } else if handshake && !endless_handshake {
                        let _ = write!(
                            stream,
                            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{OPEN}",
                            OPEN.len()
                        );
                    } else {
                        let _ = stream.write_all(
                            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n",
                        );
                        let chunk = {
                            let mut data = vec![b'x'; 64 * 1024];
                            data[0] = b'4';
                            let mut chunk = format!("{:x}\r\n", data.len()).into_bytes();
                            chunk.extend_from_slice(&data);
                            chunk.extend_from_slice(b"\r\n");
                            chunk
                        };
                        let mut sent = 0u64;
                        while sent < 256 << 20 {
                            if stream.write_all(&chunk).is_err() {
                                break;
                            }
                            sent += chunk.len() as u64;
                        }
                        let _ = stream.write_all(b"0\r\n\r\n");
                        written.fetch_max(sent, Ordering::AcqRel);
                        return;
                    }
                }
            });
        }
    });
}

/// A GET body that never ends is cut at the cap (the handshake's maxPayload of 100 kB, raised
/// to the 16 MiB floor a burst may need): the client reports `payload too large` with the
/// cap, and the server could write only the cap plus what the sockets buffer.
async fn an_endless_poll_is_cut_at_the_cap(exec: Executor) {
    let (listener, url) = listen();
    let written = Arc::new(AtomicU64::new(0));
    endless_poll_server(listener, false, written.clone());
    let client = Client::builder(&url)
        .transports([TransportKind::Polling])
        .reconnection(false)
        .build(exec.runtime(), exec.connector())
        .unwrap();
    let socket = client.default_socket();
    let (tx, rx) = ::smol::channel::bounded(1);
    socket.on_connect_error(move |_s, error| {
        let _ = tx.try_send(error);
        async {}
    });
    client.connect();
    let error = exec
        .timeout(Duration::from_secs(30), rx.recv())
        .await
        .expect("a connect_error")
        .unwrap();
    assert_eq!(error.kind, ConnectFailedKind::Connection);
    assert_eq!(error.message, "payload too large (limit: 16777216 bytes)");
    assert_eq!(
        error.detail.as_deref(),
        Some("response body over the limit of 16777216 bytes")
    );
    // Wait for the server to notice the hang-up, then check how much it could write.
    let done = exec
        .timeout(Duration::from_secs(30), async {
            while written.load(Ordering::Acquire) == 0 {
                exec.sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
    assert!(done.is_ok(), "the client never hung up");
    let sent = written.load(Ordering::Acquire);
    eprintln!("{exec}: the server wrote {sent} bytes of an endless poll");
    assert!(sent < 48 << 20, "the server wrote {sent} bytes");
    client.disconnect();
}

/// Before the handshake the cap is 1 000 000 bytes.
async fn an_endless_handshake_is_cut_at_one_megabyte(exec: Executor) {
    let (listener, url) = listen();
    let written = Arc::new(AtomicU64::new(0));
    endless_poll_server(listener, true, written.clone());
    let client = Client::builder(&url)
        .transports([TransportKind::Polling])
        .reconnection(false)
        .connect(exec.runtime(), exec.connector())
        .unwrap();
    let result = exec
        .timeout(
            Duration::from_secs(30),
            client.default_socket().wait_connected(),
        )
        .await
        .expect("an answer");
    let error = result.unwrap_err();
    assert_eq!(error.message, "payload too large (limit: 1000000 bytes)");
    client.disconnect();
}

/// The endless bodies on every executor's connector (each reads with `read_body`).
macro_rules! on_every_executor {
    ($($module:ident: $executor:expr;)*) => {$(
        mod $module {
            use super::*;

            #[test]
            fn an_endless_poll_is_cut_at_the_cap() {
                $executor.run(super::an_endless_poll_is_cut_at_the_cap);
            }

            #[test]
            fn an_endless_handshake_is_cut_at_one_megabyte() {
                $executor.run(super::an_endless_handshake_is_cut_at_one_megabyte);
            }
        }
    )*};
}

on_every_executor! {
    endless_tokio: Executor::Tokio;
    endless_async_std: Executor::AsyncStd;
    endless_smol: Executor::Smol;
}

// ----- runtime-neutral: the driver and the shared WebSocket configuration -----

executor_tests! {
    /// Not hostile: a burst the server buffered for a polling client comes in one body larger
    /// than its maxPayload (3 MB here, maxPayload 1 MB); the cap must let it through.
    async fn a_burst_over_polling_is_not_cut(exec: Executor) {
        let io = exec.server(socketio_tokio::Server::builder());
        io.ns("/", |socket: socketio_tokio::Socket| async move {
            for i in 0..3000u32 {
                socket.emit("e", &(i, "x".repeat(1000))).ok();
            }
        });
        let served = exec.serve(io).await;
        let client = Client::builder(served.url())
            .transports([TransportKind::Polling])
            .reconnection(false)
            .build(exec.runtime(), exec.connector())
            .unwrap();
        let received = Arc::new(AtomicUsize::new(0));
        {
            let received = received.clone();
            client.default_socket().on("e", move |_s: ClientSocket, _e: (u32, String), _ack| {
                received.fetch_add(1, Ordering::AcqRel);
                async {}
            });
        }
        client.connect();
        let all = exec
            .timeout(Duration::from_secs(30), async {
                while received.load(Ordering::Acquire) < 3000 {
                    exec.sleep(Duration::from_millis(10)).await;
                }
            })
            .await;
        assert!(all.is_ok(), "{} of 3000 events", received.load(Ordering::Acquire));
        client.disconnect();
    }

    /// Engine.IO pings flooded over the WebSocket while the server reads nothing: the client
    /// queues one pong at a time, so when the server finally reads, it finds a few pongs (what
    /// the sockets held), not one per ping.
    async fn an_engine_ping_flood_queues_one_pong(exec: Executor) {
        let (listener, url) = listen();
        const PINGS: usize = 300_000;
        let server = std::thread::spawn(move || {
            let mut stream = open_websocket(&listener);
            let ping = frame(1, b"2");
            let mut flood = Vec::with_capacity(ping.len() * 10_000);
            for _ in 0..10_000 {
                flood.extend_from_slice(&ping);
            }
            for _ in 0..PINGS / 10_000 {
                stream.write_all(&flood).unwrap();
            }
            // The end of the flood: a message the client answers with nothing.
            stream.write_all(&frame(1, br#"40{"sid":"s"}"#)).unwrap();
            stream.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            let mut pongs = 0usize;
            while let Some((_, payload)) = read_frame(&mut stream) {
                if payload == b"3" {
                    pongs += 1;
                }
            }
            let _ = stream.shutdown(Shutdown::Both);
            pongs
        });
        let client = connected_websocket_client(exec, &url).await;
        let pongs = exec.unblock(move || server.join().unwrap()).await;
        eprintln!("{exec}: {pongs} pongs came back for {PINGS} pings");
        assert!(pongs < PINGS / 10, "{pongs} pongs queued for {PINGS} pings");
        client.disconnect();
    }

    /// WebSocket (protocol-level) pings flooded while the server reads nothing: tungstenite
    /// answers each with a pong, and its write buffer is bounded, so the pongs the server
    /// finds are bounded too (the official client buffered 58 MB; unbounded, ours 1.6 GB).
    async fn a_websocket_ping_flood_is_bounded_by_the_write_buffer(exec: Executor) {
        let (listener, url) = listen();
        const PINGS: usize = 400_000; // 125-byte payloads: 51 MB of pings, 53 MB of pongs
        let server = std::thread::spawn(move || {
            let mut stream = open_websocket(&listener);
            let ping = frame(9, &[b'p'; 125]);
            let mut flood = Vec::with_capacity(ping.len() * 10_000);
            for _ in 0..10_000 {
                flood.extend_from_slice(&ping);
            }
            for _ in 0..PINGS / 10_000 {
                stream.write_all(&flood).unwrap();
            }
            stream.write_all(&frame(1, br#"40{"sid":"s"}"#)).unwrap();
            stream.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            let mut pong_bytes = 0usize;
            while let Some((opcode, payload)) = read_frame(&mut stream) {
                if opcode == 10 {
                    pong_bytes += payload.len() + 6;
                }
            }
            let _ = stream.shutdown(Shutdown::Both);
            pong_bytes
        });
        let client = connected_websocket_client(exec, &url).await;
        let pong_bytes = exec.unblock(move || server.join().unwrap()).await;
        eprintln!("{exec}: {pong_bytes} bytes of pongs came back for {PINGS} pings");
        // The write buffer (16 MiB) plus what the two sockets hold.
        assert!(pong_bytes < 32 << 20, "{pong_bytes} bytes of pongs buffered");
        client.disconnect();
    }

    /// A CONNECT_ERROR larger than the 1 MB WebSocket message cap: reported as a failed
    /// attempt naming the cap, not a silent reconnection loop.
    async fn an_oversized_connect_error_is_reported(exec: Executor) {
        let (listener, url) = listen();
        std::thread::spawn(move || {
            for _ in 0..3 {
                let mut stream = open_websocket(&listener);
                let mut refusal = br#"44{"message":""#.to_vec();
                refusal.extend(std::iter::repeat_n(b'x', 2_000_000));
                refusal.extend_from_slice(br#""}"#);
                let _ = stream.write_all(&frame(1, &refusal));
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                while read_frame(&mut stream).is_some() {}
            }
        });
        let client = websocket_client(&url)
            .reconnection_delay(Duration::from_millis(50))
            .reconnection_attempts(1)
            .connect(exec.runtime(), exec.connector())
            .unwrap();
        let result = exec
            .timeout(Duration::from_secs(30), client.default_socket().wait_connected())
            .await
            .expect("an answer, not a silent loop");
        let error = result.unwrap_err();
        assert_eq!(error.kind, ConnectFailedKind::Connection);
        assert_eq!(error.message, "payload too large (limit: 1000000 bytes)");
        client.disconnect();
    }

    /// Events sent faster than the handlers finish: once the default 256 are pending, the
    /// client stops reading, so the server's writes block; when the handlers finish, every
    /// event arrives, in order.
    async fn events_behind_a_slow_handler_push_back_on_the_server(exec: Executor) {
        let (listener, url) = listen();
        const EVENTS: usize = 20_000;
        let written = Arc::new(AtomicUsize::new(0));
        let server_written = written.clone();
        std::thread::spawn(move || {
            let mut stream = open_websocket(&listener);
            stream.write_all(&frame(1, br#"40{"sid":"s"}"#)).unwrap();
            for i in 0..EVENTS {
                // 1 KiB each, so that the sockets' buffers hold a bounded number.
                let event = format!(r#"42["e",{i},"{}"]"#, "x".repeat(1024));
                if stream.write_all(&frame(1, event.as_bytes())).is_err() {
                    return;
                }
                server_written.store(i + 1, Ordering::Release);
            }
            let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
            while read_frame(&mut stream).is_some() {}
        });
        let client = websocket_client(&url)
            .reconnection(false)
            .build(exec.runtime(), exec.connector())
            .unwrap();
        let socket = client.default_socket();
        let started = Arc::new(AtomicUsize::new(0));
        let in_order = Arc::new(AtomicBool::new(true));
        // Handlers wait until the sender is dropped.
        let (release_tx, release) = ::smol::channel::bounded::<()>(1);
        {
            let started = started.clone();
            let in_order = in_order.clone();
            socket.on("e", move |_s: ClientSocket, (i, _pad): (usize, String), _ack| {
                let n = started.fetch_add(1, Ordering::AcqRel);
                if n != i {
                    in_order.store(false, Ordering::Release);
                }
                let release = release.clone();
                async move {
                    let _ = release.recv().await;
                }
            });
        }
        client.connect();
        let filled = exec
            .timeout(Duration::from_secs(30), async {
                while started.load(Ordering::Acquire) < 256 {
                    exec.sleep(Duration::from_millis(10)).await;
                }
            })
            .await;
        assert!(filled.is_ok(), "{} handlers started", started.load(Ordering::Acquire));
        // Give a client that keeps reading the chance to show it.
        exec.sleep(Duration::from_millis(500)).await;
        let pending = started.load(Ordering::Acquire);
        assert_eq!(pending, 256, "handlers started while 256 were pending");
        let sent = written.load(Ordering::Acquire);
        eprintln!("{exec}: {pending} handlers pending, the server could write {sent} events");
        assert!(sent < EVENTS, "the server wrote all {sent} events: no push back");
        drop(release_tx);
        let all = exec
            .timeout(Duration::from_secs(60), async {
                while started.load(Ordering::Acquire) < EVENTS {
                    exec.sleep(Duration::from_millis(10)).await;
                }
            })
            .await;
        assert!(all.is_ok(), "{} of {EVENTS} arrived", started.load(Ordering::Acquire));
        assert!(in_order.load(Ordering::Acquire));
        client.disconnect();
    }
}
