//! Parse working memory: 20 clients each send one ~1 MB event (`["big",[0,0,…]]`, 499,990
//! numbers) at once to a handler that reads its arguments as dynamic values. An event waits for
//! its handler as the text it came as; its value tree (about 40 bytes per number, ~20 MB here)
//! exists only while its handler runs. Before, every waiting event held its tree, built under
//! the server's lock: on smol the server's heap peaked near 400 MB for 20 MB of messages.
//!
//! The server runs in this test process; the figure is the process's peak RSS (`VmHWM`, reset
//! before the events) over its RSS before them. One test per executor, one after the other.

use std::io::Write;

use socketio_tests::executor::Executor;
use socketio_tests::executor_tests;
use socketio_tests::raw::{frame, read_frame, websocket};
use socketio_tokio::{Server, Socket, Value};

/// A field of `/proc/self/status`, in bytes.
fn status_bytes(field: &str) -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<usize>()
                .ok()
        })
        .map(|kb| kb * 1024)
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

/// Resets the process's peak RSS (`VmHWM`) to its current RSS (Linux: `clear_refs` 5).
fn reset_peak() {
    std::fs::write("/proc/self/clear_refs", "5").expect("reset the peak RSS");
}

/// The tests take turns: they share the process's RSS.
static TURN: ::smol::lock::Mutex<()> = ::smol::lock::Mutex::new(());

const CLIENTS: usize = 20;
const NUMBERS: usize = 499_990;

executor_tests! {
    /// 20 × 1 MB events at once cost the server a small multiple of their 20 MB.
    async fn twenty_megabyte_events_at_once_cost_a_small_multiple_of_their_size(exec: Executor) {
        let _turn = TURN.lock().await;
        let io = exec.server(Server::builder());
        io.ns("/", |socket: Socket| async move {
            socket.on("big", |socket: Socket, numbers: Vec<Value>, _: Option<socketio_tokio::AckSender>| async move {
                socket.emit("done", &numbers.len()).ok();
            });
        });
        let served = exec.serve(io).await;
        let addr = served.addr;
        let mut event = String::from("42[\"big\",[");
        event.push_str(&vec!["0"; NUMBERS].join(","));
        event.push_str("]]");
        let message = frame(0x81, event.as_bytes(), true);
        let payload_bytes = message.len() * CLIENTS;
        let (peak, done) = exec
            .unblock(move || {
                // Connected and joined first, so that only the events are measured.
                let mut sockets: Vec<_> = (0..CLIENTS)
                    .map(|_| {
                        let mut stream = websocket(addr);
                        stream.write_all(&frame(0x81, b"40", true)).unwrap();
                        let (_, connected) = read_frame(&mut stream).unwrap();
                        assert!(connected.starts_with(b"40"));
                        stream
                    })
                    .collect();
                let baseline = status_bytes("VmRSS:");
                reset_peak();
                std::thread::scope(|scope| {
                    for stream in &mut sockets {
                        let message = &message;
                        scope.spawn(move || stream.write_all(message).unwrap());
                    }
                });
                let mut done = 0;
                for stream in &mut sockets {
                    let (_, reply) = read_frame(stream).expect("the handler's answer");
                    if reply == format!("42[\"done\",{NUMBERS}]").as_bytes() {
                        done += 1;
                    }
                }
                (status_bytes("VmHWM:").saturating_sub(baseline), done)
            })
            .await;
        eprintln!(
            "{exec}: {CLIENTS} events of {} KB: peak RSS growth {} MB",
            payload_bytes / CLIENTS / 1000,
            peak / 1_000_000
        );
        assert_eq!(done, CLIENTS, "every handler ran");
        // A few handlers building their ~30 MB trees at once (one per executor thread), the
        // frames being read, and what the allocator keeps: measured 3.4 to 9.2 times the
        // payload (debug build; smol lowest, async-std highest). Every waiting event holding
        // its tree was 21 to 22 times it on async-std and smol.
        assert!(
            peak < 12 * payload_bytes,
            "peak RSS growth {peak} bytes for {payload_bytes} bytes of events"
        );
    }
}
