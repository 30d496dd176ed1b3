//! The heap high-water mark of a session, measured with a counting global allocator
//! (`peak_alloc`: bytes requested, allocator overhead not included).
//!
//! The session: connect to a local server (over TCP, through the `host` adapter), then 100
//! events each way with 256-byte string payloads, every one acknowledged (the client's events
//! acked by the server with the same arguments, the server's acked by the client), then
//! disconnect. The server is a small WebSocket peer on a thread of this process written with
//! stack buffers only, so that every heap byte counted during the session is the client's.
//! The caller buffers (2 KiB in, 512 B out) are on the stack, as on a device.
//!
//! The figure is printed (`cargo test -p socketio-embedded --test heap -- --nocapture`) and
//! reported in the crate README; the test asserts the issue's target: at most 16 KiB of heap
//! beyond the payloads in flight.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use peak_alloc::PeakAlloc;
use socketio_embedded::host::{StdConnection, StdTimer};
use socketio_embedded::{Buffers, Client, Config, Event, Value, handshake};

#[global_allocator]
static HEAP: PeakAlloc = PeakAlloc;

const EVENTS: usize = 100;
const PAYLOAD: usize = 256;

/// Reads one masked client frame into `buf`; returns (opcode, payload length), `None` at the end.
fn read_frame(stream: &mut TcpStream, buf: &mut [u8]) -> Option<(u8, usize)> {
    let mut head = [0u8; 2];
    stream.read_exact(&mut head).ok()?;
    let opcode = head[0] & 0x0F;
    let len = match head[1] & 0x7F {
        126 => {
            let mut ext = [0u8; 2];
            stream.read_exact(&mut ext).ok()?;
            usize::from(u16::from_be_bytes(ext))
        }
        127 => return None,
        n => usize::from(n),
    };
    let mut key = [0u8; 4];
    stream.read_exact(&mut key).ok()?;
    let payload = buf.get_mut(..len)?;
    stream.read_exact(payload).ok()?;
    for (i, b) in payload.iter_mut().enumerate() {
        *b ^= key[i % 4];
    }
    Some((opcode, len))
}

/// Writes one text frame made of `parts`, without allocating.
fn write_text(stream: &mut TcpStream, parts: &[&[u8]]) {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let mut frame = [0u8; 1024];
    frame[0] = 0x81;
    let mut n = if len < 126 {
        frame[1] = len as u8;
        2
    } else {
        frame[1] = 126;
        frame[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        4
    };
    for part in parts {
        frame[n..n + part.len()].copy_from_slice(part);
        n += part.len();
    }
    stream.write_all(&frame[..n]).expect("server write");
}

/// `n` in decimal into `out`.
fn digits(mut n: usize, out: &mut [u8; 20]) -> &[u8] {
    let mut i = out.len();
    loop {
        i -= 1;
        out[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &out[i..];
        }
    }
}

/// The server: acks every client event with its arguments, and after each one sends an event
/// of its own (256-byte payload) asking for an ack. Returns how many acks it received.
fn serve(listener: TcpListener) -> usize {
    let (mut stream, _) = listener.accept().expect("accept");
    let mut buf = [0u8; 4096];
    let mut n = 0;
    while !buf[..n].ends_with(b"\r\n\r\n") {
        n += stream.read(&mut buf[n..]).expect("request");
    }
    let head = core::str::from_utf8(&buf[..n]).expect("ascii");
    let key = head
        .split("\r\n")
        .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
        .expect("key");
    let accept = handshake::accept_key(key);
    stream
        .write_all(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ")
        .unwrap();
    stream.write_all(&accept).unwrap();
    stream.write_all(b"\r\n\r\n").unwrap();
    write_text(
        &mut stream,
        &[br#"0{"sid":"abcdefghijklmnopqrst","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#],
    );
    let payload = [b'p'; PAYLOAD];
    let mut sent = 0;
    let mut acked = 0;
    while let Some((opcode, len)) = read_frame(&mut stream, &mut buf) {
        if opcode == 0x8 {
            break;
        }
        let message = &buf[..len];
        if message.starts_with(b"40") {
            write_text(&mut stream, &[br#"40{"sid":"ABCDEFGHIJKLMNOPQRST"}"#]);
        } else if let Some(rest) = message.strip_prefix(b"42") {
            // 42<id>["message",<args>] → 43<id>[<args>]
            let id_len = rest.iter().take_while(|b| b.is_ascii_digit()).count();
            let (id, body) = rest.split_at(id_len);
            let args = body
                .iter()
                .position(|&b| b == b',')
                .map_or(&b"]"[..], |i| &body[i + 1..]);
            write_text(&mut stream, &[b"43", id, b"[", args]);
            let mut number = [0u8; 20];
            let number = digits(sent, &mut number);
            write_text(
                &mut stream,
                &[b"42", number, br#"["srv",""#, &payload, br#""]"#],
            );
            sent += 1;
        } else if message.starts_with(b"43") {
            acked += 1;
        } else if message == b"41" || message == b"1" {
            break;
        }
    }
    acked
}

#[test]
fn a_session_of_100_events_each_way_with_acks_stays_under_16_kib_of_heap() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().unwrap().to_string();
    let server = std::thread::spawn(move || serve(listener));

    let mut rx = [0u8; 2048];
    let mut tx = [0u8; 512];
    let host = addr.clone();
    let payload = "c".repeat(PAYLOAD);
    let baseline = HEAP.current_usage();
    HEAP.reset_peak_usage();

    let mut config = Config::new(&host);
    config.reconnection = false;
    let mut client = Client::new(
        config,
        StdConnection::new(&host),
        StdTimer::new(),
        Buffers {
            rx: &mut rx,
            tx: &mut tx,
        },
    )
    .expect("client");
    let future_size = futures_executor::block_on(async {
        let future_size = core::mem::size_of_val(&client.next_event());
        loop {
            if let Event::Connect { .. } = client.next_event().await.expect("connect") {
                break;
            }
        }
        let mut received = 0;
        let mut acks = 0;
        for _ in 0..EVENTS {
            let id = client
                .emit_with_ack(
                    "message",
                    vec![Value::String(payload.clone())],
                    Duration::from_secs(10),
                )
                .await
                .expect("emit");
            loop {
                match client.next_event().await.expect("event") {
                    Event::Ack { id: got, data, .. } if got == id => {
                        let value = data.to_value().expect("ack value");
                        assert_eq!(value.as_array().map(|a| a.len()), Some(1));
                        acks += 1;
                        break;
                    }
                    Event::Event { data, ack, .. } => {
                        let value = data.to_value().expect("event value");
                        assert_eq!(
                            value.as_array().unwrap()[1].as_str().map(str::len),
                            Some(PAYLOAD)
                        );
                        received += 1;
                        client
                            .ack(ack.expect("asks for an ack"), vec![Value::from("ok")])
                            .await
                            .expect("ack");
                    }
                    other => panic!("unexpected {other:?}"),
                }
            }
        }
        while received < EVENTS {
            if let Event::Event { ack, .. } = client.next_event().await.expect("event") {
                received += 1;
                client
                    .ack(ack.expect("asks for an ack"), vec![Value::from("ok")])
                    .await
                    .expect("ack");
            }
        }
        assert_eq!(acks, EVENTS);
        client.disconnect().await;
        future_size
    });
    let peak = HEAP.peak_usage().saturating_sub(baseline);
    drop(client);
    assert_eq!(
        server.join().expect("server"),
        EVENTS,
        "the server got every ack"
    );
    eprintln!(
        "heap high-water mark beyond the baseline: {peak} bytes; next_event future: {future_size} bytes; buffers: rx 2048 + tx 512 bytes (stack)"
    );
    // In flight at most: one emitted payload (its String and its encoded packet) and one
    // received (its frame text and its decoded value): 4 × 256 bytes.
    assert!(
        peak <= 16 * 1024 + 4 * PAYLOAD,
        "heap high-water mark {peak} bytes"
    );
}
