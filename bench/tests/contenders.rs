//! Every contender of `bench/CONTENDERS.md` honours the contract, checked over raw WebSocket:
//! the `LISTENING` line (and nothing else on stdout), the Engine.IO open packet, `40`, `echo`
//! with an ack, `broadcast` reaching every client with the same argument, `join` / `leave` with
//! an ack (ours and node, for the soak), and exit when stdin closes.
//!
//! The `node` contender needs `node` on PATH and `npm ci --prefix tests/node` done.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Generous bound for one step (a debug build under a loaded machine); only a hang fails it.
const STEP: Duration = Duration::from_secs(30);

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("bench/ has a parent")
        .to_path_buf()
}

/// A started contender: the child, its port, and the stdout lines after `LISTENING`.
struct Running {
    name: &'static str,
    child: Child,
    port: u16,
    stdout: mpsc::Receiver<String>,
}

impl Drop for Running {
    fn drop(&mut self) {
        // Only reached on failure paths: the normal path waits for the exit itself.
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// Starts `command`, reads its `LISTENING <port>` line.
fn start(name: &'static str, mut command: Command) -> Running {
    let mut child = command
        .arg("--port")
        .arg("0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("{name}: cannot start {command:?}: {e}"));
    let stdout = child.stdout.take().expect("stdout is piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let first = rx
        .recv_timeout(STEP)
        .unwrap_or_else(|e| panic!("{name}: no LISTENING line on stdout ({e})"));
    let port = first
        .strip_prefix("LISTENING ")
        .and_then(|p| p.parse::<u16>().ok())
        .filter(|&p| p != 0)
        .unwrap_or_else(|| {
            panic!("{name}: first stdout line is {first:?}, not `LISTENING <port>`")
        });
    Running {
        name,
        child,
        port,
        stdout: rx,
    }
}

/// The next text frame, answering Engine.IO pings on the way.
async fn next_text(name: &str, ws: &mut Ws) -> String {
    loop {
        let message = tokio::time::timeout(STEP, ws.next())
            .await
            .unwrap_or_else(|_| panic!("{name}: no frame from the server"))
            .unwrap_or_else(|| panic!("{name}: the server closed the WebSocket"))
            .unwrap_or_else(|e| panic!("{name}: WebSocket error {e}"));
        match message {
            Message::Text(text) if text.as_str() == "2" => {
                ws.send(Message::text("3")).await.expect("pong");
            }
            Message::Text(text) => return text.as_str().to_owned(),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("{name}: unexpected frame {other:?}"),
        }
    }
}

/// Connects a WebSocket client to `/` and completes the Engine.IO and Socket.IO handshakes.
async fn connect(name: &str, port: u16) -> Ws {
    let url = format!("ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket");
    let (mut ws, _) = tokio::time::timeout(STEP, tokio_tungstenite::connect_async(url))
        .await
        .unwrap_or_else(|_| panic!("{name}: WebSocket handshake hangs"))
        .unwrap_or_else(|e| panic!("{name}: WebSocket handshake failed: {e}"));
    let open = next_text(name, &mut ws).await;
    let open_json: serde_json::Value = open
        .strip_prefix('0')
        .and_then(|j| serde_json::from_str(j).ok())
        .unwrap_or_else(|| panic!("{name}: not an open packet: {open:?}"));
    assert!(
        open_json["sid"].is_string(),
        "{name}: open packet without sid: {open}"
    );
    assert_eq!(open_json["pingInterval"], 25000, "{name}: {open}");
    assert_eq!(open_json["pingTimeout"], 20000, "{name}: {open}");
    assert_eq!(open_json["maxPayload"], 1_000_000, "{name}: {open}");
    ws.send(Message::text("40")).await.expect("send 40");
    let connected = next_text(name, &mut ws).await;
    let connect_json: serde_json::Value = connected
        .strip_prefix("40")
        .and_then(|j| serde_json::from_str(j).ok())
        .unwrap_or_else(|| panic!("{name}: not a CONNECT answer: {connected:?}"));
    assert!(
        connect_json["sid"].is_string(),
        "{name}: CONNECT answer without sid: {connected}"
    );
    ws
}

/// Splits `42["tick",X]` into X.
fn tick_argument(name: &str, frame: &str) -> serde_json::Value {
    let list: serde_json::Value = frame
        .strip_prefix("42")
        .and_then(|j| serde_json::from_str(j).ok())
        .unwrap_or_else(|| panic!("{name}: not an EVENT: {frame:?}"));
    assert_eq!(list[0], "tick", "{name}: {frame}");
    assert_eq!(
        list.as_array().map(Vec::len),
        Some(2),
        "{name}: tick has one argument: {frame}"
    );
    list[1].clone()
}

/// The contract of `bench/CONTENDERS.md`, over raw WebSocket.
fn check_contract(name: &'static str, command: Command) {
    check_contract_with(name, command, false);
}

/// The contract, plus `join` / `leave` with an ack (the soak's events: ours and node only).
fn check_contract_with(name: &'static str, command: Command, soak_events: bool) {
    let mut running = start(name, command);
    let port = running.port;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async {
        let mut a = connect(name, port).await;
        let mut b = connect(name, port).await;

        a.send(Message::text(r#"421["echo",{"a":1}]"#))
            .await
            .expect("send echo");
        assert_eq!(next_text(name, &mut a).await, r#"431[{"a":1}]"#, "{name}");

        let argument = serde_json::json!({"seq": 7, "pad": "0123456789abcdef"});
        a.send(Message::text(format!(r#"42["broadcast",{argument}]"#)))
            .await
            .expect("send broadcast");
        let to_a = next_text(name, &mut a).await;
        let to_b = next_text(name, &mut b).await;
        assert_eq!(to_a, to_b, "{name}: one frame for every recipient");
        assert_eq!(tick_argument(name, &to_a), argument, "{name}");

        // A second echo on the other client: acks keep working after a broadcast.
        b.send(Message::text(r#"425["echo","x"]"#))
            .await
            .expect("send echo");
        assert_eq!(next_text(name, &mut b).await, r#"435["x"]"#, "{name}");

        if soak_events {
            a.send(Message::text(r#"426["join","r-1"]"#))
                .await
                .expect("send join");
            assert_eq!(next_text(name, &mut a).await, r#"436["r-1"]"#, "{name}");
            a.send(Message::text(r#"427["leave","r-1"]"#))
                .await
                .expect("send leave");
            assert_eq!(next_text(name, &mut a).await, r#"437["r-1"]"#, "{name}");
        }

        for mut ws in [a, b] {
            ws.send(Message::text("41")).await.ok();
            ws.close(None).await.ok();
        }
    });

    // Closing stdin stops the contender.
    drop(running.child.stdin.take());
    let mut exited = None;
    for _ in 0..(STEP.as_millis() / 50) {
        if let Some(status) = running.child.try_wait().expect("try_wait") {
            exited = Some(status);
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        exited.is_some(),
        "{}: still running after its stdin closed",
        running.name
    );
    // The reader thread ends with the process; whatever it read after LISTENING is a breach.
    let extra: Vec<String> = running.stdout.iter().collect();
    assert!(
        extra.is_empty(),
        "{name}: wrote more than the LISTENING line on stdout: {extra:?}"
    );
}

#[test]
fn ours_tokio_honours_the_contract() {
    let mut command = Command::new(env!("CARGO_BIN_EXE_socketio-bench-ours"));
    command.args(["--runtime", "tokio"]);
    check_contract_with("ours-tokio", command, true);
}

#[test]
fn ours_smol_honours_the_contract() {
    let mut command = Command::new(env!("CARGO_BIN_EXE_socketio-bench-ours"));
    command.args(["--runtime", "smol"]);
    check_contract_with("ours-smol", command, true);
}

#[test]
fn socketioxide_honours_the_contract() {
    check_contract(
        "socketioxide",
        Command::new(env!("CARGO_BIN_EXE_socketio-bench-socketioxide")),
    );
}

#[test]
fn floor_honours_the_contract() {
    check_contract(
        "floor",
        Command::new(env!("CARGO_BIN_EXE_socketio-bench-floor")),
    );
}

#[test]
fn node_honours_the_contract() {
    let root = workspace_root();
    let node_ok = Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        node_ok,
        "the node contender needs `node` on PATH (Debian: apt-get install nodejs)"
    );
    let installed = root.join("tests/node/node_modules/socket.io/package.json");
    assert!(
        installed.is_file(),
        "the node contender needs socket.io installed: run `npm ci --prefix tests/node` \
         ({} is missing)",
        installed.display()
    );
    let mut command = Command::new("node");
    command.arg(root.join("bench/node/server.js"));
    check_contract_with("node", command, true);
}

/// The Rust contenders with `--workers N` (the `scaling` scenario of the harness): they honour
/// the contract with a single worker, and run exactly N worker (executor) threads.
#[test]
fn workers_option_sets_the_worker_threads() {
    let contenders: [(&'static str, &str, &[&str]); 4] = [
        (
            "ours-tokio",
            env!("CARGO_BIN_EXE_socketio-bench-ours"),
            &["--runtime", "tokio"],
        ),
        (
            "ours-smol",
            env!("CARGO_BIN_EXE_socketio-bench-ours"),
            &["--runtime", "smol"],
        ),
        (
            "socketioxide",
            env!("CARGO_BIN_EXE_socketio-bench-socketioxide"),
            &[],
        ),
        ("floor", env!("CARGO_BIN_EXE_socketio-bench-floor"), &[]),
    ];
    for (name, program, args) in contenders {
        let command = |workers: usize| {
            let mut command = Command::new(program);
            command.args(args).args(["--workers", &workers.to_string()]);
            command
        };
        check_contract(name, command(1));
        for workers in [1, 2, 3] {
            let running = start(name, command(workers));
            // A new thread names itself once it runs: wait for the last names to appear.
            let mut threads = worker_threads(running.child.id());
            for _ in 0..100 {
                if threads >= workers {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
                threads = worker_threads(running.child.id());
            }
            assert_eq!(
                threads, workers,
                "{name} --workers {workers}: {threads} worker threads"
            );
        }
    }
}

/// Worker threads of process `pid`, by name: tokio's workers, or our smol executor threads
/// (`smol-<i>`, plus the main thread that runs the executor too). Read right after
/// `LISTENING`, before any connection, so no blocking-pool thread (named like tokio's
/// workers) exists.
fn worker_threads(pid: u32) -> usize {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("/proc/<pid>/task");
    let names: Vec<String> = tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .map(|n| n.trim().to_owned())
        .collect();
    let tokio = names
        .iter()
        .filter(|n| *n == "tokio-rt-worker" || n.starts_with("tokio-runtime-w"))
        .count();
    let smol = names.iter().filter(|n| n.starts_with("smol-")).count();
    match (tokio, smol) {
        (0, 0) => 1,
        (tokio, 0) => tokio,
        (0, smol) => smol + 1,
        _ => panic!("both tokio and smol threads: {names:?}"),
    }
}
