//! The test app of the interop tests, on the Rust server (on the test's [`Executor`]: its
//! runtime crate's server), and helpers shared by the `interop_*.rs` test files. The same
//! contract runs on the official server in `tests/node/clients/ref-server.js`:
//!
//! - namespaces `/`, `/custom` and the dynamic family `/dyn-<digits>`; every other namespace is
//!   unknown. A middleware refuses `auth.token == "bad"` with message `unauthorized` and data
//!   `{"reason":"bad token"}`.
//! - on connect: emit `welcome` `{nsp, id, auth}`;
//! - `echo` (args…) → emit `echo-back` (args…); `echo-ack` (args…, ack) → ack(args…);
//!   `no-ack` → nothing; `ask` (v) → emit `question` v with an ack, then emit `answer` with the
//!   acked arguments; `ask-silent` (v) → emit `silent` v with a 300 ms ack timeout (the client
//!   never answers), then emit `answer-timeout` `{timedOut}`;
//! - `join` / `leave` (room, ack) → ack(room); `to-room` {room, msg} → the namespace emits
//!   `room-msg` msg to the room, then `sentinel` msg to everyone, then acks; `except-room`
//!   {room, msg} → `except-msg` to everyone but the room; `poll-room` {room, ms} (ack) → the
//!   namespace asks the room `poll` with acks and a timeout of `ms`, then acks
//!   `{complete, answers}`; `broadcast` msg → `broadcast-msg` to all but the sender;
//!   `volatile` msg → volatile `volatile-msg` to all (each followed by `sentinel`);
//! - `direct-later` {ms, msgs} (ack) → acks, then after `ms` emits each of `msgs` as `room-msg`
//!   through the socket's own handle (`socket.emit`, as a timer would, even while it is away);
//! - `shutdown-server` → shut the whole server down (`io.close()`);
//! - `kick-me` → server-side namespace disconnect; `drop-me` → close the transport under the
//!   socket (`socket.conn.close()`);
//! - every connect and disconnect (with its reason) goes to the [`Log`].

#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use socketio_tests::executor::{Executor, Served};
use socketio_tests::interop::{SCRIPT_TIMEOUT, ScriptRun, run_client};
use socketio_tokio::{AckSender, ConnectError, Handshake, RecoveryConfig, Server, Socket, Value};

/// Server options of one test.
#[derive(Clone, Debug, Default)]
pub struct AppOptions {
    /// `connectionStateRecovery` on.
    pub recovery: bool,
    /// The msgpack parser instead of the default one.
    pub msgpack: bool,
    /// `allowEIO3` (socket.io-client 2.x).
    pub eio3: bool,
    /// `connectTimeout` (default 45 s).
    pub connect_timeout: Option<Duration>,
    /// `pingInterval` and `pingTimeout` (default 25 s and 20 s).
    pub heartbeat: Option<(Duration, Duration)>,
}

/// One connect or disconnect seen by the handlers.
#[derive(Clone, Debug)]
pub enum Seen {
    /// A socket connected to `nsp`.
    Connect {
        nsp: String,
        id: String,
        recovered: bool,
    },
    /// A socket left, with the reason.
    Disconnect {
        nsp: String,
        id: String,
        reason: String,
    },
}

/// What the handlers saw.
#[derive(Clone)]
pub struct Log {
    seen: Arc<Mutex<Vec<Seen>>>,
    exec: Executor,
}

impl Log {
    fn new(exec: Executor) -> Log {
        Log {
            seen: Arc::default(),
            exec,
        }
    }

    fn push(&self, seen: Seen) {
        self.seen.lock().unwrap().push(seen);
    }

    /// Everything so far.
    pub fn all(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Whether some socket connected to `nsp`.
    pub fn connected_to(&self, nsp: &str) -> bool {
        self.all()
            .iter()
            .any(|s| matches!(s, Seen::Connect { nsp: n, .. } if n == nsp))
    }

    /// The disconnect reason of socket `id`, waiting up to 3 s for it.
    pub async fn disconnect_reason(&self, id: &str) -> Option<String> {
        let start = Instant::now();
        loop {
            let found = self.all().into_iter().find_map(|s| match s {
                Seen::Disconnect { id: i, reason, .. } if i == id => Some(reason),
                _ => None,
            });
            if found.is_some() || start.elapsed() > Duration::from_secs(3) {
                return found;
            }
            self.exec.sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A running test app.
pub struct App {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// What its handlers saw.
    pub log: Log,
    /// The Socket.IO server.
    pub io: Server,
    /// The executor it runs on.
    pub exec: Executor,
    /// The HTTP server (its accept loop is aborted on drop).
    served: Served,
}

/// Starts the test app on `127.0.0.1:0`, on `exec`.
pub async fn start(exec: Executor, options: AppOptions) -> App {
    let mut builder = Server::builder();
    if options.recovery {
        builder = builder.connection_state_recovery(RecoveryConfig::default());
    }
    if options.msgpack {
        builder = builder.msgpack();
    }
    if options.eio3 {
        builder = builder.allow_eio3(true);
    }
    if let Some(timeout) = options.connect_timeout {
        builder = builder.connect_timeout(timeout);
    }
    if let Some((interval, timeout)) = options.heartbeat {
        builder = builder.ping_interval(interval).ping_timeout(timeout);
    }
    let io = exec.server(builder);
    let log = Log::new(exec);
    install(&io, &log);
    let served = exec.serve(io.clone()).await;
    App {
        url: served.url(),
        log,
        io,
        exec,
        served,
    }
}

/// Runs `tests/node/clients/<script>` with `args` (time-limited) on a thread of its own, off
/// the executor's threads.
pub fn client(
    exec: Executor,
    script: &str,
    args: &[&str],
) -> impl Future<Output = ScriptRun> + 'static {
    let script = script.to_owned();
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    exec.unblock(move || run_client(&script, &args, SCRIPT_TIMEOUT))
}

async fn refuse_bad_token(handshake: Handshake) -> Result<(), ConnectError> {
    match handshake.auth_field::<String>("token").as_deref() {
        Some("bad") => {
            Err(ConnectError::new("unauthorized").with_data(&json!({"reason": "bad token"})))
        }
        _ => Ok(()),
    }
}

fn install(io: &Server, log: &Log) {
    let handler = {
        let log = log.clone();
        move |socket: Socket| {
            let log = log.clone();
            async move { on_connect(socket, log) }
        }
    };
    io.ns("/", handler.clone()).with(refuse_bad_token);
    io.ns("/custom", handler.clone()).with(refuse_bad_token);
    io.dynamic_ns(
        |name: &str| {
            name.strip_prefix("/dyn-")
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        },
        handler,
    )
    .with(refuse_bad_token);
}

/// Emits `event` with `args` spread as separate arguments.
fn emit_args(socket: &Socket, event: &str, args: Vec<Value>) {
    socket.emit_args(event, args).expect("emit");
}

/// Acks with `args` spread as separate arguments.
fn ack_args(ack: AckSender, args: Vec<Value>) {
    ack.send_args(args).expect("ack");
}

#[derive(serde::Deserialize)]
struct RoomMsg {
    room: String,
    msg: Value,
}

fn on_connect(socket: Socket, log: Log) {
    log.push(Seen::Connect {
        nsp: socket.ns().to_owned(),
        id: socket.id().to_owned(),
        recovered: socket.recovered(),
    });
    let disconnect_log = log.clone();
    socket.on_disconnect(move |socket: Socket, reason| {
        let log = disconnect_log.clone();
        async move {
            log.push(Seen::Disconnect {
                nsp: socket.ns().to_owned(),
                id: socket.id().to_owned(),
                reason: reason.to_string(),
            });
        }
    });

    // Raw argument lists (any count, any type): echo and echo-ack.
    socket.on_any(
        |socket: Socket, event: String, args: Vec<Value>, ack: Option<AckSender>| async move {
            match (event.as_str(), ack) {
                ("echo", _) => emit_args(&socket, "echo-back", args),
                ("echo-ack", Some(ack)) => ack_args(ack, args),
                _ => {}
            }
        },
    );
    socket.on(
        "ask",
        |socket: Socket, v: Value, _: Option<AckSender>| async move {
            let answer: Result<Vec<Value>, _> = socket
                .emit_with_ack("question", &v)
                .timeout(Duration::from_secs(5))
                .await;
            emit_args(
                &socket,
                "answer",
                answer.unwrap_or_else(|_| vec![Value::from("error")]),
            );
        },
    );
    socket.on(
        "poll-room",
        |socket: Socket, q: serde_json::Value, ack: Option<AckSender>| async move {
            let room = q["room"].as_str().unwrap_or_default().to_owned();
            let ms = q["ms"].as_u64().unwrap_or(1000);
            let result = socket
                .server()
                .of(socket.ns())
                .to(room)
                .timeout(Duration::from_millis(ms))
                .emit_with_ack::<Value, _>("poll", &())
                .await;
            let (complete, answers) = match result {
                Ok(all) => (true, all),
                Err(socketio_tokio::BroadcastAckError::Timeout { partial }) => (false, partial),
                Err(e) => panic!("broadcast with acks: {e}"),
            };
            if let Some(ack) = ack {
                ack.send(&json!({"complete": complete, "answers": answers}))
                    .ok();
            }
        },
    );
    socket.on(
        "ask-silent",
        |socket: Socket, v: Value, _: Option<AckSender>| async move {
            let answer: Result<Value, _> = socket
                .emit_with_ack("silent", &v)
                .timeout(Duration::from_millis(300))
                .await;
            let timed_out = matches!(answer, Err(socketio_tokio::AckError::Timeout));
            socket
                .emit("answer-timeout", &json!({"timedOut": timed_out}))
                .expect("emit");
        },
    );
    socket.on(
        "join",
        |socket: Socket, room: String, ack: Option<AckSender>| async move {
            socket.join(room.clone());
            if let Some(ack) = ack {
                ack.send(&room).ok();
            }
        },
    );
    socket.on(
        "leave",
        |socket: Socket, room: String, ack: Option<AckSender>| async move {
            socket.leave(&room);
            if let Some(ack) = ack {
                ack.send(&room).ok();
            }
        },
    );
    socket.on(
        "direct-later",
        |socket: Socket, q: serde_json::Value, ack: Option<AckSender>| async move {
            // A timer emitting to this socket's handle: it may fire while the client is away.
            if let Some(ack) = ack {
                ack.send(&()).ok();
            }
            let ms = q["ms"].as_u64().unwrap_or(100);
            socket
                .server()
                .runtime()
                .sleep(Duration::from_millis(ms))
                .await;
            for msg in q["msgs"].as_array().cloned().unwrap_or_default() {
                socket.emit("room-msg", &msg).expect("emit while away");
            }
        },
    );
    socket.on(
        "to-room",
        |socket: Socket, m: RoomMsg, ack: Option<AckSender>| async move {
            let nsp = socket.server().of(socket.ns());
            nsp.to(m.room).emit("room-msg", &m.msg).expect("emit");
            nsp.emit("sentinel", &m.msg).expect("emit");
            if let Some(ack) = ack {
                ack.send(&()).ok();
            }
        },
    );
    socket.on(
        "except-room",
        |socket: Socket, m: RoomMsg, _: Option<AckSender>| async move {
            let nsp = socket.server().of(socket.ns());
            nsp.except(m.room).emit("except-msg", &m.msg).expect("emit");
            nsp.emit("sentinel", &m.msg).expect("emit");
        },
    );
    socket.on(
        "broadcast",
        |socket: Socket, msg: Value, _: Option<AckSender>| async move {
            socket
                .broadcast()
                .emit("broadcast-msg", &msg)
                .expect("emit");
            socket
                .server()
                .of(socket.ns())
                .emit("sentinel", &msg)
                .expect("emit");
        },
    );
    socket.on(
        "volatile",
        |socket: Socket, msg: Value, _: Option<AckSender>| async move {
            let nsp = socket.server().of(socket.ns());
            nsp.volatile().emit("volatile-msg", &msg).expect("emit");
            nsp.emit("sentinel", &msg).expect("emit");
        },
    );
    socket.on(
        "shutdown-server",
        |socket: Socket, _: (), _: Option<AckSender>| async move {
            let io = socket.server();
            io.runtime()
                .spawn(Box::pin(async move { io.shutdown().await }));
        },
    );
    socket.on(
        "kick-me",
        |socket: Socket, _: (), _: Option<AckSender>| async move {
            socket.disconnect(false);
        },
    );
    socket.on(
        "drop-me",
        |socket: Socket, _: (), _: Option<AckSender>| async move {
            drop_transport(&socket);
        },
    );

    // A struct, not `json!`: serde_json's map would sort the keys, and key order is checked.
    #[derive(serde::Serialize)]
    struct Welcome<'a> {
        nsp: &'a str,
        id: &'a str,
        auth: &'a Value,
    }
    let welcome = Welcome {
        nsp: socket.ns(),
        id: socket.id(),
        auth: socket.handshake().auth_value(),
    };
    socket.emit("welcome", &welcome).expect("emit welcome");
}

/// Closes the transport under `socket` without a Socket.IO DISCONNECT, as the official
/// `socket.conn.close()` does (server reason `forced close`, client `transport close`, and the
/// client reconnects).
fn drop_transport(socket: &Socket) {
    socket.close_transport();
}
