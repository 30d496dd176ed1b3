//! `sio` against hostile servers written here on raw TCP: a message over the 1 MB cap, and
//! events sent faster than `sio`'s stdout is read.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Reads one HTTP request head; `None` at end of stream.
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

/// An unmasked text frame.
fn text_frame(payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0x81];
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

/// Accepts a WebSocket, sends the open packet, skips the client's CONNECT and accepts it.
fn accept(listener: &TcpListener) -> TcpStream {
    let (mut stream, _) = listener.accept().unwrap();
    let head = read_head(&mut stream).unwrap();
    let key = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("sec-websocket-key")
                .then(|| value.trim().to_owned())
        })
        .unwrap();
    let accept = socketio_tokio::tungstenite::handshake::derive_accept_key(key.as_bytes());
    write!(
        stream,
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\n\r\n"
    )
    .unwrap();
    let open = r#"0{"sid":"h","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;
    stream.write_all(&text_frame(open.as_bytes())).unwrap();
    // The client's CONNECT: a short masked frame (2 + 4 + 2 bytes).
    let mut connect = [0u8; 8];
    stream.read_exact(&mut connect).unwrap();
    stream.write_all(&text_frame(br#"40{"sid":"s"}"#)).unwrap();
    stream
}

fn listen() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    (listener, url)
}

/// `--no-reconnect`: the disconnect is final and says why (the 1 MB cap), with no
/// "(reconnecting)".
#[test]
fn an_oversized_message_is_the_reported_reason() {
    let (listener, url) = listen();
    std::thread::spawn(move || {
        let mut stream = accept(&listener);
        let mut event = br#"42["big",""#.to_vec();
        event.extend(std::iter::repeat_n(b'x', 2_000_000));
        event.extend_from_slice(br#""]"#);
        let _ = stream.write_all(&text_frame(&event));
        let mut sink = Vec::new();
        let _ = stream.read_to_end(&mut sink);
    });
    let out = Command::new(env!("CARGO_BIN_EXE_sio"))
        .args([
            "listen",
            &url,
            "--transport",
            "websocket",
            "--no-reconnect",
            "--timeout",
            "10000",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("disconnected: payload too large (limit: 1000000 bytes)"),
        "{err}"
    );
    assert!(!err.contains("(reconnecting)"), "{err}");
}

/// A stdout nobody reads: `sio` stops reading from the server once its queues are full, so
/// the server's writes block after a bounded number of events (before: `sio` read them all
/// into memory, 1.34 GB at 100 kB/s of stdout).
#[test]
fn a_slow_stdout_pushes_back_on_the_server() {
    const EVENTS: usize = 50_000;
    let (listener, url) = listen();
    let written = Arc::new(AtomicUsize::new(0));
    let server = {
        let written = written.clone();
        std::thread::spawn(move || {
            let mut stream = accept(&listener);
            stream
                .set_write_timeout(Some(Duration::from_secs(3)))
                .unwrap();
            for i in 0..EVENTS {
                let event = format!(r#"42["e",{i},"{}"]"#, "x".repeat(1024));
                if stream.write_all(&text_frame(event.as_bytes())).is_err() {
                    break;
                }
                written.store(i + 1, Ordering::Release);
            }
        })
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_sio"))
        .args(["listen", &url, "--transport", "websocket"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The server stops when a write blocks for 3 s, or after every event.
    server.join().unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let sent = written.load(Ordering::Acquire);
    eprintln!("the server wrote {sent} of {EVENTS} 1 KiB events to a sio nobody reads");
    assert!(sent < EVENTS / 2, "the server wrote {sent} events");
}
