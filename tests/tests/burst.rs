//! A burst from the official client: socket.io-client 4.8 (`tests/node/clients/burst.js`) emits
//! 10,000 `message` events back to back, in one synchronous loop, each with its index and a
//! payload, and the server echoes each as `message-back` with the same arguments (the
//! conformance app, in-process on the test's executor). Every echo must come back, in order.
//!
//! The official socket.io 4.8 server delivers all 10,000 in every case of the matrix: transport
//! polling only, WebSocket only, or polling then upgrade; the JSON parser or
//! socket.io-msgpack-parser; a short string or a 1 KiB payload — except msgpack with 1 KiB over
//! polling only, which the official server fails too (see [`cases`]). One test per transport mode
//! and executor, each running its parser × payload cases one after the other (so the suite stays
//! reasonable on two cores), then failing with every failed case.
//!
//! The client's time limit (120 s) is a liveness guard, not a timing assertion. Never skipped:
//! the harness runs `npm ci` in `tests/node` when its packages are missing, and the tests panic
//! when `node` or `npm` is not there.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value as Json;
use socketio_tests::executor::Executor;
use socketio_tests::executor_tests;
use socketio_tests::interop::{ScriptRun, run_client_env};
use socketio_tokio::{AckSender, Server, Socket, Value};

/// How many events the client emits.
const COUNT: usize = 10_000;
/// The client's own liveness limit: all echoes must arrive within it (it then fails and says
/// how many arrived).
const LIVENESS_MS: &str = "120000";
/// The client script's overall limit (common.js kills it), above the liveness limit.
const SCRIPT_LIMIT_MS: &str = "140000";
/// When the harness kills the Node process, above both.
const KILL_AFTER: Duration = Duration::from_secs(160);

/// The server-side disconnects: (socket id, reason).
type Disconnects = Arc<Mutex<Vec<(String, String)>>>;

/// The conformance app on `/`: `message` comes back as `message-back` with the same arguments.
fn echo_server(exec: Executor, msgpack: bool) -> (Server, Disconnects) {
    let mut builder = Server::builder();
    if msgpack {
        builder = builder.msgpack();
    }
    let io = exec.server(builder);
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
            socket.on_any(
                |socket: Socket, event: String, args: Vec<Value>, _: Option<AckSender>| async move {
                    if event == "message" {
                        // An emit fails only on a closed socket; the client reports that.
                        let _ = socket.emit_args("message-back", args);
                    }
                },
            );
        }
    });
    (io, disconnects)
}

/// One case: a fresh server, one client run. `Err` describes the failure.
async fn case(exec: Executor, mode: &str, parser: &str, size: &str) -> Result<(), String> {
    let (io, disconnects) = echo_server(exec, parser == "msgpack");
    let served = exec.serve(io).await;
    let args = vec![
        served.url(),
        mode.to_owned(),
        parser.to_owned(),
        size.to_owned(),
        COUNT.to_string(),
    ];
    let run: ScriptRun = exec
        .unblock(move || {
            run_client_env(
                "burst.js",
                &args,
                &[
                    ("BURST_TIMEOUT_MS", LIVENESS_MS),
                    ("SCRIPT_TIMEOUT_MS", SCRIPT_LIMIT_MS),
                ],
                KILL_AFTER,
            )
        })
        .await;
    let outcome = check(&run, mode);
    if outcome.is_err() {
        // Give a server-side disconnect a moment to reach the log, for the message.
        exec.sleep(Duration::from_millis(500)).await;
    }
    served.stop(Duration::from_secs(5)).await;
    outcome.map_err(|why| {
        format!(
            "[{exec}, {mode}, {parser}, {size}] {why}\nserver-side disconnects: {:?}\n{run}",
            disconnects.lock().unwrap()
        )
    })
}

/// Whether the script succeeded, received `COUNT` echoes and stayed on the expected transport.
fn check(run: &ScriptRun, mode: &str) -> Result<(), String> {
    if !run.succeeded() {
        let error = run
            .lines
            .iter()
            .find_map(|l| l.get("error").and_then(Json::as_str))
            .map(|e| e.lines().next().unwrap_or_default().to_owned())
            .unwrap_or_else(|| format!("the client failed ({:?})", run.status));
        return Err(error);
    }
    let Some(received) = run.steps("received").next() else {
        return Err("no `received` step".into());
    };
    if received["count"].as_u64() != Some(COUNT as u64) {
        return Err(format!("received {} of {COUNT}", received["count"]));
    }
    let transport = received["transport"].as_str().unwrap_or_default();
    match mode {
        "polling" | "websocket" if transport != mode => {
            Err(format!("ended on transport {transport}, expected {mode}"))
        }
        _ => Ok(()),
    }
}

/// The (parser, payload) cases of transport mode `mode`.
///
/// Left out: msgpack with 1 KiB payloads over polling only. The official client sizes its POST
/// bodies under the server's `maxPayload` (1 MB) with an estimate of base64 that is too low for
/// binary packets (`ceil(n × 1.33)` for `4 × ceil(n / 3)` bytes), so a body of ~700 such packets
/// comes out ~0.3 % over and the official server answers 413 (client: `transport error`) after
/// the first echo; a server cannot do better without breaking `maxHttpBufferSize`. In upgrade
/// mode the burst goes over the WebSocket (the official server delivers all 10,000, 20 of 20
/// runs), so the case stays there.
fn cases(mode: &str) -> Vec<(&'static str, &'static str)> {
    let mut cases = vec![("json", "small"), ("json", "1k"), ("msgpack", "small")];
    if mode != "polling" {
        cases.push(("msgpack", "1k"));
    }
    cases
}

/// Runs the parser × payload cases of `mode`, then fails with every failed one.
async fn burst(exec: Executor, mode: &str) {
    let cases = cases(mode);
    let mut failures = Vec::new();
    for &(parser, size) in &cases {
        if let Err(failure) = case(exec, mode, parser, size).await {
            failures.push(failure);
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} burst cases failed on {exec} with transport mode {mode}:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

executor_tests! {
    /// Polling only: 10,000 echoes, in order, with both parsers and both payloads (but msgpack
    /// with 1 KiB, see [`cases`]).
    async fn burst_polling(exec: Executor) {
        burst(exec, "polling").await;
    }

    /// WebSocket only: 10,000 echoes, in order, with both parsers and both payloads.
    async fn burst_websocket(exec: Executor) {
        burst(exec, "websocket").await;
    }

    /// Polling then upgrade (the client's default; the burst starts on polling and the upgrade
    /// happens during it): 10,000 echoes, in order, with both parsers and both payloads.
    async fn burst_upgrade(exec: Executor) {
        burst(exec, "upgrade").await;
    }
}
