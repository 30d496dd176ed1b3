//! A client that stops reading must not cost the server unbounded memory.
//!
//! A raw client (plain TCP, the Engine.IO v4 WebSocket handshake by hand with tungstenite:
//! `GET /socket.io/?EIO=4&transport=websocket`, the open packet `0{…}`, `40`, the reply
//! `40{"sid":…}`) connects to `/` and then never reads again, while the server, in this process,
//! broadcasts 100 MiB to the namespace (100 events of 1 MiB each). Then:
//! - the growth of this process's resident memory (sampled from `/proc/self/status` during the
//!   broadcasts and until the client is dropped) stays below [`RSS_GROWTH_LIMIT`];
//! - the server drops the never-reading client: its disconnect handler sees `transport error`,
//!   within [`LIVENESS`] (a liveness guard, not a timing assertion);
//! - the server still serves: a second, normal client connects, gets an echo of its event and a
//!   broadcast.
//!
//! The heartbeat is pushed far out (10 min), so that a ping timeout cannot be what ends the
//! never-reading client: it must be the write side that gives up on it.
//!
//! This file holds a single test, so its binary runs nothing else that would move the RSS.

use std::fs;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use socketio_tokio::tungstenite::{self, Message};
use socketio_tokio::{AckSender, Server, ServerBuilderExt, ServerExt, Socket, Value};
use tokio::net::TcpListener;

/// How many events the server broadcasts while the client does not read.
const BROADCASTS: usize = 100;
/// The size of each (a string argument of 1 MiB): 100 MiB in total.
const BROADCAST_SIZE: usize = 1 << 20;
/// The bound on this process's RSS growth while 100 MiB go to the never-reading client.
///
/// What it may legitimately cost: the bounded outgoing queue of one connection, one broadcast
/// being encoded (~1 MiB, plus serde_json's doubling buffer), tungstenite's write buffer holding
/// the frame being written (~1 MiB), allocator slack, and the client's few KiB. The kernel's
/// socket buffers (a few MiB on loopback) are not in RSS. 64 MiB is well above that and well
/// below the 100 MiB an unbounded (or frame-counted: 128 frames × 1 MiB) queue would keep.
const RSS_GROWTH_LIMIT: u64 = 64 << 20;
/// How long the server may take to drop the never-reading client (liveness guard).
const LIVENESS: Duration = Duration::from_secs(120);
/// How long any step of the normal client may take.
const WAIT: Duration = Duration::from_secs(30);

/// The server-side disconnects: (socket id, reason).
type Disconnects = Arc<Mutex<Vec<(String, String)>>>;

fn server() -> (Server, Disconnects) {
    let io = Server::builder()
        .ping_interval(Duration::from_secs(600))
        .ping_timeout(Duration::from_secs(600))
        .build_tokio();
    let disconnects = Disconnects::default();
    let log = disconnects.clone();
    io.ns("/", move |socket: Socket| {
        let log = log.clone();
        async move {
            socket.on_disconnect(move |socket: Socket, reason| {
                let log = log.clone();
                async move {
                    log.lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((socket.id().to_owned(), reason.to_string()));
                }
            });
            socket.on(
                "hello",
                |socket: Socket, value: Value, _: Option<AckSender>| async move {
                    socket.emit("hello-back", &value).unwrap();
                },
            );
        }
    });
    (io, disconnects)
}

/// A field of `/proc/self/status` in bytes (`VmRSS`, `VmHWM`).
fn proc_status(field: &str) -> u64 {
    let status = fs::read_to_string("/proc/self/status").expect("/proc/self/status (Linux only)");
    let line = status
        .lines()
        .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"));
    let kib: u64 = line[field.len() + 1..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("{line:?}: {e}"));
    kib * 1024
}

/// Samples `VmRSS` every 2 ms on a thread of its own until stopped, keeping the highest value.
/// Also resets the kernel's peak (`VmHWM`, by writing 5 to `/proc/self/clear_refs`) when it
/// can, and takes it into account: it catches a peak between two samples.
struct RssPeak {
    stop: Arc<AtomicBool>,
    sampler: thread::JoinHandle<u64>,
    hwm_reset: bool,
}

impl RssPeak {
    fn start() -> RssPeak {
        let hwm_reset = fs::write("/proc/self/clear_refs", "5").is_ok();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let sampler = thread::spawn(move || {
            let mut peak = proc_status("VmRSS");
            while !flag.load(Ordering::Relaxed) {
                peak = peak.max(proc_status("VmRSS"));
                thread::sleep(Duration::from_millis(2));
            }
            peak.max(proc_status("VmRSS"))
        });
        RssPeak {
            stop,
            sampler,
            hwm_reset,
        }
    }

    /// The highest RSS seen since [`start`](Self::start).
    fn finish(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        let sampled = self.sampler.join().expect("the RSS sampler");
        if self.hwm_reset {
            sampled.max(proc_status("VmHWM"))
        } else {
            sampled
        }
    }
}

/// Reads the next text frame (a plain, blocking WebSocket).
fn read_text(ws: &mut tungstenite::WebSocket<TcpStream>) -> String {
    loop {
        match ws.read().expect("read a frame") {
            Message::Text(text) => return text.as_str().to_owned(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

/// The `sid` of a CONNECT reply `40{"sid":…}`.
fn connect_sid(reply: &str) -> String {
    let json = reply
        .strip_prefix("40")
        .unwrap_or_else(|| panic!("expected a CONNECT reply `40{{…}}`, got {reply:?}"));
    let value: serde_json::Value = serde_json::from_str(json).expect("CONNECT reply JSON");
    value["sid"].as_str().expect("a sid").to_owned()
}

/// The never-reading client: connects to `/` over a raw WebSocket, then is only kept open.
/// Returns it (to hold) and its socket id.
fn raw_connect(addr: SocketAddr) -> (tungstenite::WebSocket<TcpStream>, String) {
    let stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
    let (mut ws, _response) = tungstenite::client(url, stream).expect("WebSocket handshake");
    let open = read_text(&mut ws);
    assert!(
        open.starts_with("0{"),
        "expected an open packet, got {open:?}"
    );
    ws.send(Message::text("40")).expect("send CONNECT");
    let sid = connect_sid(&read_text(&mut ws));
    (ws, sid)
}

type ClientWs =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next text frame of a normal client, answering the server's pings (`2`) on the way.
async fn next_text(ws: &mut ClientWs) -> Result<String, String> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) if text.as_str() == "2" => {
                ws.send(Message::text("3")).await.ok();
            }
            Some(Ok(Message::Text(text))) => return Ok(text.as_str().to_owned()),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(format!("read: {e}")),
            None => return Err("the server closed the connection".to_owned()),
        }
    }
}

/// A normal client: connects to `/`, sends `hello` and gets `hello-back`, then gets the
/// broadcast `after` that `broadcast` sends once it is connected.
async fn normal_client(addr: SocketAddr, broadcast: impl FnOnce()) -> Result<(), String> {
    let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .map_err(|e| format!("WebSocket handshake: {e}"))?;
    let open = next_text(&mut ws).await?;
    if !open.starts_with("0{") {
        return Err(format!("expected an open packet, got {open:?}"));
    }
    ws.send(Message::text("40"))
        .await
        .map_err(|e| format!("send CONNECT: {e}"))?;
    ws.send(Message::text(r#"42["hello","still serving"]"#))
        .await
        .map_err(|e| format!("send hello: {e}"))?;
    let mut seen = Vec::new();
    let mut broadcast = Some(broadcast);
    loop {
        let frame = next_text(&mut ws)
            .await
            .map_err(|e| format!("{e} (seen {seen:?})"))?;
        if frame == r#"42["hello-back","still serving"]"# {
            // Connected to `/` for sure: now a broadcast reaches it too.
            if let Some(broadcast) = broadcast.take() {
                broadcast();
            }
        }
        if frame == r#"42["after","still serving"]"# {
            return Ok(());
        }
        seen.push(frame);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_reading_client_is_bounded_and_dropped() {
    let (io, disconnects) = server();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(io.http().serve(listener));

    let (stuck, stuck_id) = tokio::task::spawn_blocking(move || raw_connect(addr))
        .await
        .unwrap();
    let payload = "x".repeat(BROADCAST_SIZE);
    // Warm up the broadcast path with a small event, then take the baseline.
    io.emit("warm-up", "small").expect("broadcast");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = proc_status("VmRSS");
    let peak = RssPeak::start();

    for i in 0..BROADCASTS {
        io.emit("big", &(i, payload.as_str())).expect("broadcast");
        tokio::task::yield_now().await;
    }

    // Wait for the server to drop the never-reading client.
    let start = Instant::now();
    let reason = loop {
        let found = disconnects
            .lock()
            .unwrap()
            .iter()
            .find(|(id, _)| *id == stuck_id)
            .map(|(_, reason)| reason.clone());
        if found.is_some() || start.elapsed() >= LIVENESS {
            break found;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let peak = peak.finish();
    let growth = peak.saturating_sub(before);
    println!(
        "RSS before {:.1} MiB, peak {:.1} MiB: growth {:.1} MiB (limit {} MiB) while {BROADCASTS} \
         × {} KiB went to a client that never reads; its server-side disconnect: {reason:?}",
        before as f64 / 1048576.0,
        peak as f64 / 1048576.0,
        growth as f64 / 1048576.0,
        RSS_GROWTH_LIMIT >> 20,
        BROADCAST_SIZE >> 10,
    );

    let io2 = io.clone();
    let serving = tokio::time::timeout(
        WAIT,
        normal_client(addr, move || {
            io2.emit("after", "still serving").expect("broadcast");
        }),
    )
    .await
    .unwrap_or_else(|_| Err(format!("no answer within {WAIT:?}")));
    drop(stuck);

    let mut problems = Vec::new();
    if growth >= RSS_GROWTH_LIMIT {
        problems.push(format!(
            "RSS grew by {:.1} MiB (limit {} MiB)",
            growth as f64 / 1048576.0,
            RSS_GROWTH_LIMIT >> 20
        ));
    }
    if reason.as_deref() != Some("transport error") {
        problems.push(match reason {
            Some(reason) => format!(
                "the never-reading client {stuck_id} left with {reason:?}, expected \"transport error\""
            ),
            None => format!(
                "the never-reading client {stuck_id} was not disconnected within {LIVENESS:?}"
            ),
        });
    }
    if let Err(e) = serving {
        problems.push(format!("a normal client was not served afterwards: {e}"));
    }
    let seen = disconnects.lock().unwrap().clone();
    assert!(
        problems.is_empty(),
        "{}\nserver-side disconnects: {seen:?}",
        problems.join("\n"),
    );
}
