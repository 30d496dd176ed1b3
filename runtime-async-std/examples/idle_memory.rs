//! Memory per idle connection of [`HttpServer`] on smol: starts itself as a server process,
//! opens N idle connections to it, and prints the server's resident memory (`VmRSS`, Linux
//! only) before and after, and the difference per connection.
//!
//! ```text
//! cargo run --release -p socketio-async-std --example idle_memory -- polling 2000
//! cargo run --release -p socketio-async-std --example idle_memory -- websocket 2000
//! ```
//!
//! An idle polling connection is a connected Socket.IO client between two messages: a
//! kept-alive connection with its long-poll `GET` pending. An idle WebSocket is a connected
//! Socket.IO client with nothing to say. The ping interval is set far off, so nothing moves
//! during the measurement. Each connection holds a descriptor on both sides: raise
//! `ulimit -n` past twice N.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    sync::Arc,
    time::Duration,
};

use async_net::TcpStream;
use futures_lite::{AsyncReadExt, AsyncWriteExt, StreamExt};
use socketio_async_std::{AsyncIoRuntime, HttpServer, Server, Socket, tungstenite::Message};

type Error = Box<dyn std::error::Error>;

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--serve") {
        return smol::block_on(serve());
    }
    let websocket = match args.first().map(String::as_str) {
        Some("websocket") => true,
        Some("polling") | None => false,
        Some(other) => return Err(format!("unknown mode {other:?}").into()),
    };
    let count: usize = args.get(1).map_or(Ok(2000), |n| n.parse())?;
    smol::block_on(measure(websocket, count))
}

/// The server process: prints its address, then serves until killed.
async fn serve() -> Result<(), Error> {
    let io = Server::builder()
        .ping_interval(Duration::from_secs(600))
        .build(Arc::new(AsyncIoRuntime::smol()));
    io.ns("/", |_socket: Socket| async move {});
    let listener = async_net::TcpListener::bind("127.0.0.1:0").await?;
    println!("{}", listener.local_addr()?);
    HttpServer::new(io).serve(listener).await?;
    Ok(())
}

async fn measure(websocket: bool, count: usize) -> Result<(), Error> {
    let mut child = Command::new(std::env::current_exe()?)
        .arg("--serve")
        .stdout(Stdio::piped())
        .spawn()?;
    let result = measure_child(&mut child, websocket, count).await;
    // Only the server process this program started.
    let _ = child.kill();
    let _ = child.wait();
    result
}

async fn measure_child(
    child: &mut std::process::Child,
    websocket: bool,
    count: usize,
) -> Result<(), Error> {
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let addr: std::net::SocketAddr = line.trim().parse()?;
    // A first connection warms the server up (allocator arenas, lazy statics).
    let warm = match websocket {
        true => Idle::WebSocket(Box::new(open_websocket(addr).await?)),
        false => Idle::Polling(open_polling(addr).await?),
    };
    async_io::Timer::after(Duration::from_millis(500)).await;
    let before = rss_kib(child.id())?;
    let mut idle = Vec::with_capacity(count);
    for _ in 0..count {
        idle.push(match websocket {
            true => Idle::WebSocket(Box::new(open_websocket(addr).await?)),
            false => Idle::Polling(open_polling(addr).await?),
        });
    }
    async_io::Timer::after(Duration::from_secs(1)).await;
    let after = rss_kib(child.id())?;
    let kind = if websocket { "websocket" } else { "polling" };
    println!(
        "{kind}: {count} idle connections, server RSS {before} KiB -> {after} KiB, \
         {:.1} KiB per connection",
        after.saturating_sub(before) as f64 / count as f64
    );
    drop((warm, idle));
    Ok(())
}

/// An open idle connection, kept until the measurement is done.
enum Idle {
    Polling(#[allow(dead_code)] TcpStream),
    WebSocket(#[allow(dead_code)] Box<async_tungstenite::WebSocketStream<TcpStream>>),
}

/// `VmRSS` of process `pid`, in KiB.
fn rss_kib(pid: u32) -> Result<u64, Error> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .ok_or("no VmRSS")?;
    let kib = line.split_whitespace().nth(1).ok_or("bad VmRSS")?;
    Ok(kib.parse()?)
}

/// A Socket.IO client over polling, connected to `/`, with its next `GET` pending.
async fn open_polling(addr: std::net::SocketAddr) -> Result<TcpStream, Error> {
    let mut stream = TcpStream::connect(addr).await?;
    let open = exchange(
        &mut stream,
        "GET",
        "/socket.io/?EIO=4&transport=polling",
        "",
    )
    .await?;
    let sid = open
        .split("\"sid\":\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .ok_or("no sid")?
        .to_owned();
    let path = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    exchange(&mut stream, "POST", &path, "40").await?;
    let connected = exchange(&mut stream, "GET", &path, "").await?;
    if !connected.starts_with("40") {
        return Err(format!("not connected: {connected}").into());
    }
    let head = format!("GET {path} HTTP/1.1\r\nhost: localhost\r\n\r\n");
    stream.write_all(head.as_bytes()).await?;
    Ok(stream)
}

/// A Socket.IO client over WebSocket, connected to `/`.
async fn open_websocket(
    addr: std::net::SocketAddr,
) -> Result<async_tungstenite::WebSocketStream<TcpStream>, Error> {
    let stream = TcpStream::connect(addr).await?;
    let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
    let (mut socket, _) = async_tungstenite::client_async(url, stream).await?;
    let mut texts = 0;
    while texts < 2 {
        if texts == 1 {
            futures_util::SinkExt::send(&mut socket, Message::text("40")).await?;
        }
        match socket.next().await {
            Some(Ok(Message::Text(_))) => texts += 1,
            Some(Ok(_)) => {}
            other => return Err(format!("unexpected {other:?}").into()),
        }
    }
    Ok(socket)
}

/// One request with a `Content-Length` answer on a kept-alive connection; the answer's body.
async fn exchange(
    stream: &mut TcpStream,
    method: &str,
    path: &str,
    body: &str,
) -> Result<String, Error> {
    let request = format!(
        "{method} {path} HTTP/1.1\r\nhost: localhost\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut buf = Vec::new();
    loop {
        let mut chunk = [0; 4096];
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            return Err("closed".into());
        }
        buf.extend_from_slice(&chunk[..read]);
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .map_or(Ok(0), |value| value.trim().parse())?;
        while buf.len() < end + 4 + length {
            let read = stream.read(&mut chunk).await?;
            if read == 0 {
                return Err("closed".into());
            }
            buf.extend_from_slice(&chunk[..read]);
        }
        return Ok(String::from_utf8_lossy(&buf[end + 4..end + 4 + length]).into_owned());
    }
}
