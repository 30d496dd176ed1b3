//! `sio listen` and `sio emit` (the `socketio-cli` crate, run in-process through
//! `socketio_cli::main_with` with captured stdout and stderr) against the official socket.io 4.8
//! server (`tests/node/servers/reference.js`), over each transport, JSON and msgpack.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use socketio_cli::Output;
use socketio_tests::client_suite::{ServerKind, ServerOptions, TestServer, TlsFiles};
use socketio_tests::executor::Executor;

/// A shared, growable buffer standing for stdout or stderr.
#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buf {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// What one `sio` run did.
struct Run {
    code: u8,
    out: String,
    err: String,
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.out, self.err
        )
    }
}

/// Runs `sio <args>` in-process (a hard limit of 20 s).
async fn sio(args: &[&str]) -> Run {
    sio_into(args, Buf::default(), Buf::default()).await
}

/// [`sio`] writing into buffers the caller can watch while it runs.
async fn sio_into(args: &[&str], out: Buf, err: Buf) -> Run {
    let argv: Vec<String> = std::iter::once("sio")
        .chain(args.iter().copied())
        .map(str::to_owned)
        .collect();
    let code = tokio::time::timeout(
        Duration::from_secs(20),
        socketio_cli::main_with(argv, Output::new(out.clone(), err.clone())),
    )
    .await
    .unwrap_or_else(|_| {
        panic!(
            "sio {args:?} did not finish\n--- stdout\n{}--- stderr\n{}",
            out.text(),
            err.text()
        )
    });
    Run {
        code,
        out: out.text(),
        err: err.text(),
    }
}

async fn node(msgpack: bool) -> TestServer {
    TestServer::start(
        Executor::Tokio,
        ServerKind::Node,
        ServerOptions {
            msgpack,
            ..ServerOptions::default()
        },
    )
    .await
}

fn common<'a>(url: &'a str, transport: &'a str, msgpack: bool) -> Vec<&'a str> {
    let mut args = vec![url, "--transport", transport, "--timeout", "5000"];
    if msgpack {
        args.push("--msgpack");
    }
    args
}

/// `listen` prints the connect-time `auth` event and the namespace's ticks, one JSON line each,
/// and stops after `--count`; `emit --ack` prints the ack's arguments, binary as `$bin`.
async fn listen_and_emit(transport: &str, msgpack: bool) {
    let server = node(msgpack).await;
    let url = server.url();

    let mut listen = vec!["listen"];
    listen.extend(common(&url, transport, msgpack));
    listen.extend(["--auth", r#"{"t":1}"#, "--count", "4"]);
    let listener = {
        let listen: Vec<String> = listen.iter().map(|s| (*s).to_owned()).collect();
        tokio::spawn(async move {
            let args: Vec<&str> = listen.iter().map(String::as_str).collect();
            sio(&args).await
        })
    };
    server.wait_connects(1, Duration::from_secs(10)).await;

    let mut emit = vec!["emit"];
    emit.extend(common(&url, transport, msgpack));
    emit.extend(["ticks", "3"]);
    let run = sio(&emit).await;
    assert_eq!(run.code, 0, "{run}");
    assert_eq!(run.out, "", "{run}");

    let run = listener.await.expect("listen task");
    assert_eq!(run.code, 0, "{run}");
    assert_eq!(
        run.out,
        concat!(
            r#"{"nsp":"/","event":"auth","args":[{"t":1}]}"#,
            "\n",
            r#"{"nsp":"/","event":"tick","args":[0]}"#,
            "\n",
            r#"{"nsp":"/","event":"tick","args":[1]}"#,
            "\n",
            r#"{"nsp":"/","event":"tick","args":[2]}"#,
            "\n",
        ),
        "{run}"
    );
    assert!(run.err.contains("sio: connected to / as "), "{run}");

    // emit --ack: several arguments, nested objects, binary both ways.
    let mut emit = vec!["emit"];
    emit.extend(common(&url, transport, msgpack));
    emit.extend([
        "echo-ack",
        "1",
        r#""x""#,
        r#"{"y":[1]}"#,
        r#"{"$bin":"AQID/w=="}"#,
        "--ack",
    ]);
    let run = sio(&emit).await;
    assert_eq!(run.code, 0, "{run}");
    assert_eq!(
        run.out, "[1,\"x\",{\"y\":[1]},{\"$bin\":\"AQID/w==\"}]\n",
        "{run}"
    );

    // One array argument stays one argument; no argument is an empty list.
    for (arg, expected) in [(Some("[1,2]"), "[[1,2]]\n"), (None, "[]\n")] {
        let mut emit = vec!["emit"];
        emit.extend(common(&url, transport, msgpack));
        emit.push("echo-ack");
        emit.extend(arg);
        emit.push("--ack");
        let run = sio(&emit).await;
        assert_eq!(run.code, 0, "{run}");
        assert_eq!(run.out, expected, "{run}");
    }

    // A namespace, and binary printed by listen.
    let mut listen = vec!["listen"];
    listen.extend(common(&url, transport, msgpack));
    listen.extend(["--namespace", "/custom", "--count", "1"]);
    let run = sio(&listen).await;
    assert_eq!(run.code, 0, "{run}");
    assert_eq!(
        run.out, "{\"nsp\":\"/custom\",\"event\":\"auth\",\"args\":[{}]}\n",
        "{run}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_json() {
    listen_and_emit("polling", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_json() {
    listen_and_emit("websocket", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrade_json() {
    listen_and_emit("both", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_msgpack() {
    listen_and_emit("polling", true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_msgpack() {
    listen_and_emit("websocket", true).await;
}

/// A refusal by a middleware: exit 3, the message and data on stderr.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_exit_3() {
    let server = node(false).await;
    let url = server.url();
    for command in ["listen", "emit"] {
        let mut args = vec![command, url.as_str(), "--auth", r#"{"token":"bad"}"#];
        if command == "emit" {
            args.extend(["echo-ack", "1", "--ack"]);
        }
        let run = sio(&args).await;
        assert_eq!(run.code, 3, "{run}");
        assert!(
            run.err
                .contains("sio: connection to namespace / refused: unauthorized"),
            "{run}"
        );
        assert!(
            run.err.contains(r#"sio: data: {"reason":"bad token"}"#),
            "{run}"
        );
        assert_eq!(run.out, "", "{run}");
    }
    // An unknown namespace is refused too.
    let run = sio(&["emit", &url, "--namespace", "/nope", "x"]).await;
    assert_eq!(run.code, 3, "{run}");
    assert!(run.err.contains("Invalid namespace"), "{run}");
}

/// Nothing listening: exit 3 with the last error; no ack in time: exit 4; bad input: exit 2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_exit_codes() {
    // A port with nothing behind it.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dead = format!("http://127.0.0.1:{port}");
    let run = sio(&["emit", &dead, "x", "--timeout", "1500"]).await;
    assert_eq!(run.code, 3, "{run}");
    assert!(run.err.contains("cannot connect to /"), "{run}");
    // The connector's reason reaches the message.
    assert!(run.err.contains("refused"), "{run}");

    let server = node(false).await;
    let url = server.url();
    // `store` acks, `no-such-event` never does.
    let run = sio(&["emit", &url, "no-such-event", "--ack", "--timeout", "700"]).await;
    assert_eq!(run.code, 4, "{run}");
    assert!(run.err.contains("timed out: no ack"), "{run}");
    // `--wait` on listen.
    let run = sio(&["listen", &url, "--count", "5", "--wait", "700"]).await;
    assert_eq!(run.code, 4, "{run}");
    assert_eq!(run.out.lines().count(), 1, "{run}");

    for bad in [
        vec!["emit", url.as_str(), "x", "not-json"],
        vec!["emit", url.as_str(), "x", r#"{"$bin":"!!"}"#],
        vec!["listen", url.as_str(), "--auth", "[1]"],
        vec!["listen", url.as_str(), "--transport", "carrier-pigeon"],
        vec!["emit", url.as_str()],
    ] {
        let run = sio(&bad).await;
        assert_eq!(run.code, 2, "{bad:?}: {run}");
    }
    let run = sio(&["--help"]).await;
    assert_eq!(run.code, 0, "{run}");
    assert!(run.out.contains("$bin"), "{run}");
}

/// The server restarts under `listen`: reconnection progress on stderr, events resume.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listen_reconnects_after_a_restart() {
    let mut server = node(false).await;
    let url = server.url();
    let out = Buf::default();
    let listener = {
        let out = out.clone();
        tokio::spawn(async move {
            let args = [
                "listen",
                &url,
                "--transport",
                "websocket",
                "--count",
                "2",
                "--wait",
                "15000",
            ];
            sio_into(&args, out, Buf::default()).await
        })
    };
    // Restart only once the first server's `auth` event is through: the server logs its
    // connection before it emits, so a restart at that point can cut the event off.
    let printed = tokio::time::timeout(Duration::from_secs(10), async {
        while out.text().is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(printed.is_ok(), "no event from the first server");
    server.restart().await;
    let run = listener.await.expect("listen task");
    assert_eq!(run.code, 0, "{run} server log: {:?}", server.lines());
    assert_eq!(run.out.lines().count(), 2, "{run}");
    assert!(run.err.contains("sio: disconnected: "), "{run}");
    assert!(run.err.contains("(reconnecting)"), "{run}");
    assert!(run.err.contains("sio: reconnecting (attempt 1)"), "{run}");
    assert!(run.err.contains("sio: reconnected after "), "{run}");
}

/// TLS: the official server on HTTPS with a test certificate made now; `sio --ca` trusts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_a_test_certificate() {
    let (tls, ca) = test_certificate("cli");
    let server = TestServer::start(
        Executor::Tokio,
        ServerKind::Node,
        ServerOptions {
            tls: Some(tls),
            ..ServerOptions::default()
        },
    )
    .await;
    let url = server.url();
    assert!(url.starts_with("https://localhost:"));
    let ca = ca.to_str().unwrap();
    for transport in ["polling", "websocket"] {
        let run = sio(&[
            "emit",
            &url,
            "echo-ack",
            r#""over tls""#,
            "--ack",
            "--ca",
            ca,
            "--transport",
            transport,
        ])
        .await;
        assert_eq!(run.code, 0, "{run}");
        assert_eq!(run.out, "[\"over tls\"]\n", "{run}");
    }
    // Without the certificate: not trusted, a connection failure.
    let run = sio(&["emit", &url, "x", "--timeout", "1500"]).await;
    assert_eq!(run.code, 3, "{run}");
}

/// A self-signed certificate for `localhost` in a fresh temporary directory: the server's
/// files and the CA file (the certificate itself) for the client.
pub fn test_certificate(tag: &str) -> (TlsFiles, std::path::PathBuf) {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .expect("test certificate");
    let dir = std::env::temp_dir().join(format!(
        "socketio-tls-{tag}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.key_pair.serialize_pem()).unwrap();
    (
        TlsFiles {
            cert: cert.clone(),
            key,
        },
        cert,
    )
}
