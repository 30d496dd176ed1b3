//! Contender `floor` of `bench/CONTENDERS.md`: a raw WebSocket server on tokio-tungstenite
//! doing the writes of the benchmark application with no Socket.IO logic.
//!
//! ```text
//! socketio-bench-floor [--port P] [--workers N]
//! ```
//!
//! `--workers N`: N tokio worker threads (default: tokio's, one per core).
//!
//! On a WebSocket at any path it sends the Engine.IO open packet, answers `40` with
//! `40{"sid":…}`, answers `42<id>["echo",X]` with `43<id>[X]` by slicing the text, and for
//! `42["broadcast",X]` builds one `42["tick",X]` frame and queues it, shared (reference
//! counted, never copied), on every connection. No pings, no parser, no rooms.
//!
//! Same WebSocket buffers as this project's server (4 KiB read buffer and write target, frames
//! up to 1 000 000 bytes) and the same bound per connection (128 queued frames; a connection
//! that would exceed it is dropped), so the only difference is the Socket.IO work.
//!
//! Prints `LISTENING <port>` once it accepts connections; exits when stdin reaches end of file
//! (or on a signal).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

/// Frames queued per connection before it counts as a slow consumer (as our servers did before their queues were bounded in bytes).
const QUEUE: usize = 128;

/// Every open connection's outgoing queue, by connection number.
#[derive(Default)]
struct Registry {
    connections: Mutex<HashMap<u64, mpsc::Sender<Message>>>,
    next_id: AtomicU64,
}

impl Registry {
    /// Queues `frame` on every connection; drops those whose queue is full.
    fn broadcast(&self, frame: &Utf8Bytes) {
        let mut connections = self
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        connections.retain(|_, tx| tx.try_send(Message::Text(frame.clone())).is_ok());
    }

    fn remove(&self, id: u64) {
        self.connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id);
    }
}

/// The WebSocket configuration of this project's server (`default_websocket_config`).
fn websocket_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(4 * 1024)
        .max_message_size(Some(1_000_000))
        .max_frame_size(Some(1_000_000))
}

/// What a client frame asks for.
enum Reply {
    /// Write this frame back to the sender.
    Direct(String),
    /// Write this frame to every connection.
    Broadcast(String),
    /// Nothing to do.
    None,
}

/// Reads one client text frame by slicing: no JSON parsing.
fn answer(text: &str, sid: &str) -> Reply {
    if text == "40" || text.starts_with("40{") {
        return Reply::Direct(format!("40{{\"sid\":\"{sid}\"}}"));
    }
    let Some(rest) = text.strip_prefix("42") else {
        return Reply::None;
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let (ack_id, body) = rest.split_at(digits);
    if let Some(arg) = body
        .strip_prefix("[\"echo\",")
        .and_then(|a| a.strip_suffix(']'))
    {
        if !ack_id.is_empty() {
            return Reply::Direct(format!("43{ack_id}[{arg}]"));
        }
    } else if let Some(arg) = body
        .strip_prefix("[\"broadcast\",")
        .and_then(|a| a.strip_suffix(']'))
    {
        return Reply::Broadcast(format!("42[\"tick\",{arg}]"));
    }
    Reply::None
}

/// The next frame of the outgoing queue; never ready while there is no queue.
async fn next_queued(queue: &mut Option<mpsc::Receiver<Message>>) -> Option<Message> {
    match queue.as_mut() {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Serves one connection: the handshake, then its incoming frames and, once it has sent `40`
/// (joined the room), its outgoing queue.
async fn connection(stream: TcpStream, registry: Arc<Registry>) {
    stream.set_nodelay(true).ok();
    let Ok(mut ws) =
        tokio_tungstenite::accept_async_with_config(stream, Some(websocket_config())).await
    else {
        return;
    };
    let id = registry.next_id.fetch_add(1, Ordering::Relaxed);
    let sid = format!("{id:020}");
    // The registry holds the only sender: a connection it drops (queue full) ends here.
    let mut queue: Option<mpsc::Receiver<Message>> = None;
    let open = format!(
        "0{{\"sid\":\"{sid}\",\"upgrades\":[],\"pingInterval\":25000,\"pingTimeout\":20000,\"maxPayload\":1000000}}"
    );
    if ws.send(Message::text(open)).await.is_ok() {
        loop {
            tokio::select! {
                incoming = ws.next() => {
                    let text = match incoming {
                        Some(Ok(Message::Text(text))) => text,
                        Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                        Some(Ok(_)) => continue,
                    };
                    match answer(&text, &sid) {
                        Reply::Direct(frame) => {
                            if queue.is_none() && frame.starts_with("40") {
                                let (tx, rx) = mpsc::channel(QUEUE);
                                queue = Some(rx);
                                registry
                                    .connections
                                    .lock()
                                    .unwrap_or_else(PoisonError::into_inner)
                                    .insert(id, tx);
                            }
                            if ws.send(Message::text(frame)).await.is_err() {
                                break;
                            }
                        }
                        Reply::Broadcast(frame) => registry.broadcast(&Utf8Bytes::from(frame)),
                        Reply::None => {}
                    }
                }
                queued = next_queued(&mut queue) => {
                    let Some(frame) = queued else { break };
                    // Batch what is already queued into one flush.
                    if ws.feed(frame).await.is_err() {
                        break;
                    }
                    let mut failed = false;
                    while let Some(frame) = queue.as_mut().and_then(|rx| rx.try_recv().ok()) {
                        if ws.feed(frame).await.is_err() {
                            failed = true;
                            break;
                        }
                    }
                    if failed || ws.flush().await.is_err() {
                        break;
                    }
                }
            }
        }
    }
    registry.remove(id);
}

/// Reads `--port` and `--workers` (tokio worker threads; default one per core) from the
/// command line.
fn parse_args() -> Result<(u16, Option<usize>), String> {
    let mut port = 0;
    let mut workers = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => {
                port = args
                    .next()
                    .and_then(|p| p.parse().ok())
                    .ok_or("--port needs a port number")?;
            }
            "--workers" => {
                workers = Some(
                    args.next()
                        .and_then(|n| n.parse::<usize>().ok())
                        .filter(|&n| n > 0)
                        .ok_or("--workers needs a number of threads > 0")?,
                );
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok((port, workers))
}

/// Exits the process once stdin reaches end of file (the harness closes it to stop us).
fn exit_on_stdin_eof() {
    std::thread::spawn(|| {
        let mut sink = [0u8; 256];
        let mut stdin = std::io::stdin().lock();
        while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
        std::process::exit(0);
    });
}

fn main() {
    let (port, workers) = match parse_args() {
        Ok(parsed) => parsed,
        Err(message) => {
            eprintln!("socketio-bench-floor: {message}");
            std::process::exit(2);
        }
    };
    exit_on_stdin_eof();
    let served: std::io::Result<()> = (|| {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        if let Some(workers) = workers {
            builder.worker_threads(workers);
        }
        let rt = builder.enable_all().build()?;
        rt.block_on(async {
            let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
            let mut out = std::io::stdout().lock();
            writeln!(out, "LISTENING {}", listener.local_addr()?.port())?;
            out.flush()?;
            drop(out);
            let registry = Arc::new(Registry::default());
            loop {
                match listener.accept().await {
                    Ok((stream, _)) => {
                        tokio::spawn(connection(stream, registry.clone()));
                    }
                    // Out of descriptors and the like: keep accepting.
                    Err(_) => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
                }
            }
        })
    })();
    if let Err(error) = served {
        eprintln!("socketio-bench-floor: {error}");
        std::process::exit(1);
    }
}
