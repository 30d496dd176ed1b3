//! The `sio` binary itself (stdout/stderr, exit codes) against an in-process socketio-tokio
//! server. The full matrix against the official server is in `tests/tests/cli_node.rs`.

use std::process::{Command, Output};
use std::time::Duration;

use socketio_tokio::{AckSender, Server, ServerBuilderExt, ServerExt, Socket};

async fn sio(args: &[&str]) -> Output {
    let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    tokio::time::timeout(
        Duration::from_secs(20),
        tokio::task::spawn_blocking(move || {
            Command::new(env!("CARGO_BIN_EXE_sio"))
                .args(&args)
                .output()
                .expect("run sio")
        }),
    )
    .await
    .expect("sio finishes")
    .expect("join")
}

type Notes = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

async fn server() -> String {
    server_with_notes().await.0
}

async fn server_with_notes() -> (String, Notes) {
    let notes = Notes::default();
    let io = Server::builder().build_tokio();
    let seen = notes.clone();
    io.ns("/", move |socket: Socket| {
        let seen = seen.clone();
        async move {
            socket.on(
                "note",
                move |_s: Socket, text: String, _: Option<AckSender>| {
                    seen.lock().unwrap().push(text);
                    async {}
                },
            );
            socket.on(
                "add",
                |_s: Socket, (a, b): (i64, i64), ack: Option<AckSender>| async move {
                    if let Some(ack) = ack {
                        ack.send(&(a + b, "sum")).ok();
                    }
                },
            );
            let auth = socket.handshake().auth_value().clone();
            socket
                .emit("hello", &(auth, bytes::Bytes::from_static(&[1, 2, 3])))
                .ok();
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(io.serve(listener));
    (url, notes)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listen_and_emit() {
    let url = server().await;
    let out = sio(&["listen", &url, "--auth", r#"{"t":1}"#, "--count", "1"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "{\"nsp\":\"/\",\"event\":\"hello\",\"args\":[{\"t\":1},{\"$bin\":\"AQID\"}]}\n"
    );
    let out = sio(&["emit", &url, "add", "2", "-5", "--ack"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "[-3,\"sum\"]\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_and_help() {
    let out = sio(&["emit"]).await;
    assert_eq!(out.status.code(), Some(2));
    let out = sio(&["emit", "http://127.0.0.1:1", "x", "{bad"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("not valid JSON"),
        "{}",
        text(&out.stderr)
    );
    let out = sio(&["--help"]).await;
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("{\"$bin\":\"<base64>\"}"));
}

/// An emit without an ack reaches the server before the process exits, over each transport.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emit_without_ack_is_delivered() {
    let (url, notes) = server_with_notes().await;
    for transport in ["polling", "websocket", "both"] {
        let out = sio(&[
            "emit",
            &url,
            "note",
            &format!("\"{transport}\""),
            "--transport",
            transport,
        ])
        .await;
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "");
    }
    // The server handles what arrived on its own tasks: wait (bounded) for all three.
    let mut seen = Vec::new();
    for _ in 0..60 {
        seen = notes.lock().unwrap().clone();
        if seen.len() == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    seen.sort();
    assert_eq!(seen, ["both", "polling", "websocket"]);
}

/// Ctrl-C (SIGINT) ends `sio listen` normally, with the events printed so far.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listen_ends_on_ctrl_c() {
    use std::io::{BufRead, BufReader};
    let url = server().await;
    let out = tokio::task::spawn_blocking(move || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sio"))
            .args(["listen", &url, "--wait", "15000"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run sio");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        stdout.read_line(&mut first).expect("a line");
        let status = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .expect("kill -INT");
        assert!(status.success());
        (first, child.wait_with_output().expect("wait"))
    })
    .await
    .expect("join");
    let (first, output) = out;
    assert!(first.contains("\"event\":\"hello\""), "{first}");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
}

/// `sio listen` answers the server's ack requests with `--ack-reply` (and marks those events
/// `"ack":true`), takes the namespace from the URL's path, and sends `--header` and
/// `--query` with its requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listen_answers_acks_with_namespace_header_and_query_from_the_command_line() {
    let notes = Notes::default();
    let io = Server::builder().build_tokio();
    let seen = notes.clone();
    io.ns("/custom", move |socket: Socket| {
        let seen = seen.clone();
        async move {
            let handshake = socket.handshake();
            let header = handshake
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            let room = handshake.query_param("room").unwrap_or_default();
            seen.lock().unwrap().push(format!("{header}|{room}"));
            let reply: Result<Vec<String>, _> = socket
                .emit_with_ack("question", &"ready?")
                .timeout(Duration::from_secs(5))
                .await;
            seen.lock().unwrap().push(format!("{reply:?}"));
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/custom", listener.local_addr().unwrap());
    tokio::spawn(io.serve(listener));
    let out = sio(&[
        "listen",
        &url,
        "-H",
        "Authorization: Bearer abc",
        "--query",
        "room=lobby",
        "--ack-reply",
        r#"["yes","sir"]"#,
        "--count",
        "1",
    ])
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "{\"nsp\":\"/custom\",\"event\":\"question\",\"args\":[\"ready?\"],\"ack\":true}\n"
    );
    for _ in 0..100 {
        if notes.lock().unwrap().len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        *notes.lock().unwrap(),
        ["Bearer abc|lobby", r#"Ok(["yes", "sir"])"#]
    );
}
