//! Ordering of joins, leaves, broadcasts and direct emits, as a user sees it: the official
//! `socket.io-client` 4.8 (`tests/node/clients/ordering.js`) and this project's Rust client
//! against the Rust server in-process, on each executor (`tokio::…`, `async_std::…`,
//! `smol::…`), over WebSocket and over polling.
//!
//! 1. **Join, then broadcast.** A handler that does `socket.join(room)` and at once
//!    `io.to(room).emit(…)` (no await between) reaches the joiner, as the reference server does:
//!    from an event handler (`join-and-broadcast`, fresh rooms, a room joined by every client at
//!    once), from the connect handler's synchronous part (`/`: `join("lobby")`, then
//!    `welcome-lobby` to the lobby: the client's first event after `connect`) and its async
//!    block (`/async-lobby`); and a join acked by one handler, then a broadcast from another
//!    socket's handler, reaches the member.
//! 2. **Per-socket order under fan-out and direct emits.** 50 clients in one room; one handler
//!    interleaves `io.to(room).emit("tick", i)` with `socket.emit("tick", i)` to each member,
//!    `i` from one counter, 2,000 ticks: every client sees 0..2000 in order, no gap, no
//!    duplicate.
//! 3. **Leave, then broadcast.** Once `socket.leave(room)` has returned, a broadcast to the room
//!    (from the same handler, or from another socket's handler after the leave was acked) does
//!    not reach the socket; a member still in the room gets it.
//!
//! The checks rest on per-socket order, not on timing: an ack, a `sentinel` or a `done` event is
//! queued after the packets it is checked against. Every wait has a liveness guard (30 s per
//! wait in the scripts, [`WAIT`] here), never a timing assertion.
//! [`reference_server_passes_the_same_scenarios`] runs the same scripts against the official
//! socket.io 4.8 server with the same app (`refApp` in `ordering.js`), so every expectation
//! here is the reference's behaviour. Never skipped: `npm ci` runs when `tests/node` needs it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ::smol::channel::{Receiver, unbounded};
use serde_json::{Value as Json, json};
use socketio_tests::executor::{Executor, Served};
use socketio_tests::executor_tests;
use socketio_tests::interop::{ScriptRun, run_client_env};
use socketio_tokio::client::{AckSender as ClientAck, Client, ClientSocket};
use socketio_tokio::{AckSender, Server, Socket, TransportKind, Value};

/// The scripts' liveness guard per wait (`LIVENESS_MS`).
const LIVENESS_MS: &str = "30000";
/// The scripts' own overall limit (`SCRIPT_TIMEOUT_MS` of common.js).
const SCRIPT_LIMIT_MS: &str = "150000";
/// When the harness kills a script, above both.
const KILL_AFTER: Duration = Duration::from_secs(180);
/// The Rust client tests' liveness guard per wait.
const WAIT: Duration = Duration::from_secs(30);

/// Sockets per room, in join order, as the app's handlers keep them (for the direct emits of
/// `start-ticks`; `fetch_sockets` is not used).
type Registry = Arc<Mutex<HashMap<String, Vec<Socket>>>>;

fn locked<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(serde::Deserialize)]
struct RoomN {
    room: String,
    n: i64,
}

#[derive(serde::Deserialize)]
struct RoomMsg {
    room: String,
    msg: Value,
}

/// The reply of `join-and-broadcast` / `leave-and-broadcast`: the ack, or a `done` event when
/// the client asked for none (the Rust client test, which records events in arrival order).
fn reply(socket: &Socket, ack: Option<AckSender>, n: i64, reached: usize) {
    let body = json!({"n": n, "reached": reached});
    match ack {
        Some(ack) => ack.send(&body).expect("ack"),
        None => socket.emit("done", &body).expect("emit done"),
    }
}

/// xorshift32: the tick pattern (`ordering.js`'s reference app uses the same).
fn xorshift(mut x: u32) -> u32 {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    x
}

/// The handler of `start-ticks` {room, n}: `n` ticks to the members of `room`, numbered from one
/// counter, in runs of 1 to 8 of one kind: a broadcast `io.to(room).emit("tick", i)`, or
/// `socket.emit("tick", i)` to each member (in join order or reversed). Every 250 ticks it
/// sleeps 1 ms, so the transports flush while ticks are still being produced. Then acks with
/// what the server saw (emits that failed, broadcasts that reached fewer than every member).
async fn run_ticks(socket: Socket, registry: Registry, q: RoomN, ack: Option<AckSender>) {
    let members: Vec<Socket> = locked(&registry).get(&q.room).cloned().unwrap_or_default();
    let io = socket.server();
    let mut failures: Vec<String> = Vec::new();
    let mut broadcasts = 0u32;
    let mut x: u32 = 0x9e37_79b9;
    let mut i: i64 = 0;
    while i < q.n {
        x = xorshift(x);
        let broadcast = x & 1 == 0;
        let forward = x & 2 == 0;
        let run = 1 + (x >> 8) % 8;
        for _ in 0..run {
            if i >= q.n {
                break;
            }
            if broadcast {
                broadcasts += 1;
                match io.to(q.room.clone()).emit("tick", &i) {
                    Ok(reached) if reached == members.len() => {}
                    Ok(reached) => failures.push(format!(
                        "tick {i}: the broadcast reached {reached} of {} members",
                        members.len()
                    )),
                    Err(e) => failures.push(format!("tick {i}: broadcast: {e}")),
                }
            } else {
                let mut emit = |s: &Socket| {
                    if let Err(e) = s.emit("tick", &i) {
                        failures.push(format!("tick {i}: emit to {}: {e}", s.id()));
                    }
                };
                if forward {
                    members.iter().for_each(&mut emit);
                } else {
                    members.iter().rev().for_each(&mut emit);
                }
            }
            i += 1;
            if i % 250 == 0 {
                io.runtime().sleep(Duration::from_millis(1)).await;
            }
        }
    }
    failures.truncate(20);
    if let Some(ack) = ack {
        ack.send(&json!({
            "ticks": q.n,
            "members": members.len(),
            "broadcasts": broadcasts,
            "failures": failures,
        }))
        .expect("ack");
    }
}

/// The event handlers of `/` (the contract of `refApp` in `ordering.js`).
fn on_connect(socket: &Socket, registry: &Registry) {
    socket.on(
        "sync",
        |_: Socket, _: Value, ack: Option<AckSender>| async move {
            if let Some(ack) = ack {
                ack.send(&()).expect("ack");
            }
        },
    );
    let reg = registry.clone();
    socket.on(
        "join",
        move |socket: Socket, room: String, ack: Option<AckSender>| {
            let reg = reg.clone();
            async move {
                socket.join(room.clone());
                let mut reg = locked(&reg);
                let members = reg.entry(room.clone()).or_default();
                if !members.iter().any(|s| s.id() == socket.id()) {
                    members.push(socket.clone());
                }
                drop(reg);
                if let Some(ack) = ack {
                    ack.send(&room).expect("ack");
                }
            }
        },
    );
    let reg = registry.clone();
    socket.on(
        "leave",
        move |socket: Socket, room: String, ack: Option<AckSender>| {
            let reg = reg.clone();
            async move {
                socket.leave(&room);
                if let Some(members) = locked(&reg).get_mut(&room) {
                    members.retain(|s| s.id() != socket.id());
                }
                if let Some(ack) = ack {
                    ack.send(&room).expect("ack");
                }
            }
        },
    );
    socket.on(
        "join-and-broadcast",
        |socket: Socket, q: RoomN, ack: Option<AckSender>| async move {
            socket.join(q.room.clone());
            let reached = socket
                .server()
                .to(q.room)
                .emit("in-room", &q.n)
                .expect("broadcast");
            reply(&socket, ack, q.n, reached);
        },
    );
    socket.on(
        "leave-and-broadcast",
        |socket: Socket, q: RoomN, ack: Option<AckSender>| async move {
            socket.leave(&q.room);
            let reached = socket
                .server()
                .to(q.room)
                .emit("in-room", &q.n)
                .expect("broadcast");
            reply(&socket, ack, q.n, reached);
        },
    );
    socket.on(
        "to-room",
        |socket: Socket, m: RoomMsg, ack: Option<AckSender>| async move {
            let io = socket.server();
            io.to(m.room).emit("room-msg", &m.msg).expect("broadcast");
            io.emit("sentinel", &m.msg).expect("broadcast");
            if let Some(ack) = ack {
                ack.send(&()).expect("ack");
            }
        },
    );
    let reg = registry.clone();
    socket.on(
        "start-ticks",
        move |socket: Socket, q: RoomN, ack: Option<AckSender>| {
            run_ticks(socket, reg.clone(), q, ack)
        },
    );
    let reg = registry.clone();
    socket.on_disconnect(move |socket: Socket, _reason| {
        let reg = reg.clone();
        async move {
            for members in locked(&reg).values_mut() {
                members.retain(|s| s.id() != socket.id());
            }
        }
    });
}

/// The app of these tests on `exec`, served on `127.0.0.1:0`.
async fn start(exec: Executor) -> Served {
    let io = exec.server(Server::builder());
    let registry = Registry::default();
    // The connect handler's synchronous part joins "lobby" and broadcasts to it at once.
    io.ns("/", move |socket: Socket| {
        socket.join("lobby");
        socket
            .server()
            .to("lobby")
            .emit("welcome-lobby", socket.id())
            .expect("broadcast");
        on_connect(&socket, &registry);
        async move {}
    });
    // The same from the connect handler's async block.
    io.ns("/async-lobby", |socket: Socket| async move {
        socket.on(
            "sync",
            |_: Socket, _: Value, ack: Option<AckSender>| async move {
                if let Some(ack) = ack {
                    ack.send(&()).expect("ack");
                }
            },
        );
        socket.join("lobby");
        socket
            .server()
            .of("/async-lobby")
            .to("lobby")
            .emit("welcome-lobby", socket.id())
            .expect("broadcast");
    });
    exec.serve(io).await
}

/// Runs `ordering.js <mode> <target> <transport> <extra…>` off the executor's threads.
async fn script(exec: Executor, mode: &str, target: &str, transport: &str) -> ScriptRun {
    let args = vec![mode.to_owned(), target.to_owned(), transport.to_owned()];
    exec.unblock(move || run_script(&args)).await
}

fn run_script(args: &[String]) -> ScriptRun {
    run_client_env(
        "ordering.js",
        args,
        &[
            ("LIVENESS_MS", LIVENESS_MS),
            ("SCRIPT_TIMEOUT_MS", SCRIPT_LIMIT_MS),
        ],
        KILL_AFTER,
    )
}

/// One scenario of `ordering.js` against the Rust app on `exec`: succeeds, with every step.
async fn scenario(exec: Executor, mode: &str, transport: &str, steps: &[&str]) -> ScriptRun {
    let served = start(exec).await;
    let run = script(exec, mode, &served.url(), transport).await;
    served.stop(Duration::from_secs(5)).await;
    assert!(
        run.succeeded(),
        "[{exec}, {transport}] ordering.js {mode} failed:\n{run}"
    );
    for step in steps {
        run.step(step);
    }
    run
}

async fn ticks(exec: Executor, transport: &str) {
    let run = scenario(exec, "ticks", transport, &["server", "ticks"]).await;
    let server = &run.step("server")["ack"];
    assert_eq!(
        server["failures"],
        json!([]),
        "server-side emit failures:\n{run}"
    );
    assert_eq!(server["members"], json!(50), "{run}");
    let done = run.step("ticks");
    assert_eq!(
        (&done["clients"], &done["ticks"]),
        (&json!(50), &json!(2000)),
        "{run}"
    );
    assert_eq!(done["transport"], json!(transport), "{run}");
}

/// Every event a Rust client socket got, in arrival order (`on_any`; handlers start in order).
struct Events(Receiver<(String, Json)>);

impl Events {
    fn attach(socket: &ClientSocket) -> Events {
        let (tx, rx) = unbounded();
        socket.on_any(
            move |_: ClientSocket, event: String, args: Vec<Value>, _: Option<ClientAck>| {
                let first = args
                    .first()
                    .map(|v| serde_json::to_value(v).expect("JSON"))
                    .unwrap_or(Json::Null);
                let _ = tx.try_send((event, first));
                async {}
            },
        );
        Events(rx)
    }

    /// The events up to and including the first `event` whose first argument satisfies `until`.
    async fn until(
        &self,
        exec: Executor,
        what: &str,
        until: impl Fn(&str, &Json) -> bool,
    ) -> Vec<(String, Json)> {
        let mut seen = Vec::new();
        let found = exec
            .timeout(WAIT, async {
                while let Ok((event, arg)) = self.0.recv().await {
                    let last = until(&event, &arg);
                    seen.push((event, arg));
                    if last {
                        return true;
                    }
                }
                false
            })
            .await;
        assert_eq!(
            found,
            Ok(true),
            "[{exec}] no {what} within {WAIT:?} (liveness guard); got {seen:?}"
        );
        seen
    }
}

/// This project's client: its first event is its own `welcome-lobby`; then, many times over,
/// `join-and-broadcast` (no ack: the server answers with a `done` event) brings `in-room` n
/// before `done` n, and `leave-and-broadcast` brings `done` n with no `in-room` n before it.
async fn rust_client(exec: Executor, transport: TransportKind) {
    const ROUNDS: i64 = 100;
    let served = start(exec).await;
    let client = Client::builder(served.url())
        .transports([transport])
        .reconnection(false)
        .build(exec.runtime(), exec.connector())
        .expect("client options");
    let socket = client.socket("/");
    let events = Events::attach(&socket);
    client.connect();
    exec.timeout(WAIT, socket.wait_connected())
        .await
        .expect("connected within the liveness guard")
        .expect("connected");
    let id = socket.id().expect("an id once connected");

    let first = events
        .until(exec, "welcome-lobby", |e, _| e == "welcome-lobby")
        .await;
    assert_eq!(
        first,
        vec![("welcome-lobby".to_owned(), json!(id))],
        "[{exec}, {transport:?}] the first event after connect is the client's own welcome-lobby"
    );

    for i in 0..ROUNDS {
        let room = format!("rust-{i}");
        socket
            .emit("join-and-broadcast", &json!({"room": room, "n": i}))
            .expect("emit");
        let seen = events
            .until(exec, &format!("done {i}"), |e, a| {
                e == "done" && a["n"] == i
            })
            .await;
        assert_eq!(
            seen,
            vec![
                ("in-room".to_owned(), json!(i)),
                ("done".to_owned(), json!({"n": i, "reached": 1})),
            ],
            "[{exec}, {transport:?}] join {room} then broadcast in the same handler: in-room {i} \
             must come before done {i}"
        );

        let n = 1000 + i;
        socket
            .emit("leave-and-broadcast", &json!({"room": room, "n": n}))
            .expect("emit");
        let seen = events
            .until(exec, &format!("done {n}"), |e, a| {
                e == "done" && a["n"] == n
            })
            .await;
        assert_eq!(
            seen,
            vec![("done".to_owned(), json!({"n": n, "reached": 0}))],
            "[{exec}, {transport:?}] leave {room} then broadcast in the same handler: nothing \
             but done {n}"
        );
    }
    client.disconnect();
    served.stop(Duration::from_secs(5)).await;
}

executor_tests! {
    /// Join then broadcast, from the connect handler's synchronous part (`/`) and async block
    /// (`/async-lobby`): clients connect one after another; each one's first event after
    /// `connect` is its own `welcome-lobby`, and each earlier member gets every later one's,
    /// in order, and nothing else. WebSocket.
    async fn connect_handler_join_then_broadcast_websocket(exec: Executor) {
        scenario(exec, "lobby", "websocket", &["lobby"]).await;
    }

    /// The same over polling.
    async fn connect_handler_join_then_broadcast_polling(exec: Executor) {
        scenario(exec, "lobby", "polling", &["lobby"]).await;
    }

    /// Join then broadcast from one event handler (8 clients at once, 25 fresh rooms each; 25
    /// rooms joined by all 8 at once, each followed by a broadcast that must reach all 8), and
    /// join acked in one handler then broadcast from another socket's handler. WebSocket.
    async fn event_handler_join_then_broadcast_websocket(exec: Executor) {
        scenario(exec, "join", "websocket", &["join-fresh", "join-shared", "join-cross"]).await;
    }

    /// The same over polling.
    async fn event_handler_join_then_broadcast_polling(exec: Executor) {
        scenario(exec, "join", "polling", &["join-fresh", "join-shared", "join-cross"]).await;
    }

    /// Leave then broadcast, in the same handler (with another member left in the room, and
    /// alone) and across sockets: the leaver never gets it, the member does. WebSocket.
    async fn leave_then_broadcast_websocket(exec: Executor) {
        scenario(exec, "leave", "websocket", &["leave-same-handler", "leave-cross"]).await;
    }

    /// The same over polling.
    async fn leave_then_broadcast_polling(exec: Executor) {
        scenario(exec, "leave", "polling", &["leave-same-handler", "leave-cross"]).await;
    }

    /// 50 clients, 2,000 ticks interleaving broadcasts and direct emits: each client sees
    /// 0..2000 in order, no gap, no duplicate. WebSocket.
    async fn per_socket_order_broadcasts_and_direct_emits_websocket(exec: Executor) {
        ticks(exec, "websocket").await;
    }

    /// The same over polling.
    async fn per_socket_order_broadcasts_and_direct_emits_polling(exec: Executor) {
        ticks(exec, "polling").await;
    }

    /// This project's client, join / leave then broadcast in one handler, 100 rounds.
    /// WebSocket.
    async fn rust_client_join_and_leave_then_broadcast_websocket(exec: Executor) {
        rust_client(exec, TransportKind::WebSocket).await;
    }

    /// The same over polling.
    async fn rust_client_join_and_leave_then_broadcast_polling(exec: Executor) {
        rust_client(exec, TransportKind::Polling).await;
    }
}

/// The same scenarios against the official socket.io 4.8 server running the same app
/// (`ordering.js … ref …`): what the tests above expect is the reference's behaviour.
#[test]
fn reference_server_passes_the_same_scenarios() {
    let mut failures = Vec::new();
    for mode in ["lobby", "join", "leave", "ticks"] {
        for transport in ["websocket", "polling"] {
            let args = [mode, "ref", transport].map(str::to_owned);
            let run = run_script(&args);
            if !run.succeeded() {
                failures.push(format!("ordering.js {mode} ref {transport}:\n{run}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "the reference server fails these scenarios (a bug of the test):\n{}",
        failures.join("\n")
    );
}
