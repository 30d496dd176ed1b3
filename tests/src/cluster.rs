//! The cluster conformance app (issue 14's handler table), on this project's server with the
//! Redis adapter: what `conformance --level cluster` serves, and what the cluster tests run
//! beside the same app on the official Node server (`tests/node/servers/cluster-redis.js`).
//!
//! On namespace `/`: on connection `socket.data = {node: <node-id>}` and `hello` with
//! `(<node-id>, socket.id)`; then `join`, `leave`, `to-room`, `broadcast`, `except-room`,
//! `local-broadcast`, `fetch-sockets`, `sockets-join`, `sockets-leave`, `disconnect-room`,
//! `server-side-emit`, `ask-room` and `server-count` as the table says. Every node answers the
//! server-side event `who` with its node id. [`install_on`] serves the same table on another
//! namespace (the streams tests use several, as `streamCount` spreads namespaces over streams).

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::{Either, select};
use socketio_redis::RedisNode;
use socketio_tokio::{AckSender, Server, ServerBuilder, Socket, Value};

/// How long `server-side-emit` and `ask-room` wait for answers.
pub const ANSWER_WAIT: Duration = Duration::from_secs(2);

/// The engine and socket options of the conformance levels (pingInterval 300 ms,
/// pingTimeout 200 ms, maxHttpBufferSize 1e6, connectTimeout 1000 ms, CORS any origin),
/// with `node`'s adapter; with `recovery`, connection state recovery on (maxDisconnectionDuration
/// 60 s, skipMiddlewares), as the cluster level has it with the streams adapter.
pub fn builder(node: &RedisNode, msgpack: bool, recovery: bool) -> ServerBuilder {
    let builder = Server::builder()
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(200))
        .max_http_buffer_size(1_000_000)
        .connect_timeout(Duration::from_millis(1000))
        .cors(socketio_tokio::Cors::new(socketio_tokio::CorsOrigin::Any))
        .path("/socket.io")
        .adapter(node.factory());
    let builder = if recovery {
        builder.connection_state_recovery(socketio_tokio::RecoveryConfig {
            max_disconnection_duration: Duration::from_secs(60),
            skip_middlewares: true,
            ..socketio_tokio::RecoveryConfig::default()
        })
    } else {
        builder
    };
    if msgpack { builder.msgpack() } else { builder }
}

/// Installs the handler table on `io`'s namespace `/` (and `who` on `node`).
pub fn install(io: &Server, node: &RedisNode, node_id: &str) {
    install_on(io, node, node_id, "/");
}

/// Installs the handler table on `io`'s namespace `nsp` (and `who` on `node`): every
/// operation targets that namespace.
pub fn install_on(io: &Server, node: &RedisNode, node_id: &str, nsp: &str) {
    let id: Arc<str> = Arc::from(node_id);
    let who = id.clone();
    node.on_server_side_ack(nsp, move |event, _args| {
        let who = who.clone();
        async move {
            if event == "who" {
                Value::String(who.to_string())
            } else {
                Value::Null
            }
        }
    });
    // Make the namespace's adapter now (it is made on first use), so the node subscribes and
    // counts in `PUBSUB NUMSUB` before its first client.
    let namespace = io.of(nsp);
    io.runtime().spawn(Box::pin(async move {
        let _ = namespace.server_count().await;
    }));
    io.ns(nsp, move |socket: Socket| {
        let id = id.clone();
        async move {
            let data = Value::Object(vec![("node".to_owned(), Value::String(id.to_string()))]);
            if let Err(error) = socket.set_data(&data) {
                eprintln!("set data: {error}");
            }
            let _ = socket.emit("hello", &(id.to_string(), socket.id().to_owned()));
            socket.on_any(
                |socket: Socket, event: String, args: Vec<Value>, ack: Option<AckSender>| async move {
                    handle(socket, event, args, ack).await;
                },
            );
        }
    });
}

fn text(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(s)) => s.clone(),
        Some(other) => socketio_tokio::protocol::json::to_string(other),
        None => String::new(),
    }
}

fn reply(ack: Option<AckSender>, value: Value) {
    if let Some(ack) = ack
        && let Err(error) = ack.send(&value)
    {
        eprintln!("ack: {error}");
    }
}

fn ok() -> Value {
    Value::from("ok")
}

fn error(message: impl std::fmt::Display) -> Value {
    Value::String(format!("error: {message}"))
}

/// Values sorted by their JSON text (strings by themselves).
fn sorted(mut values: Vec<Value>) -> Value {
    values.sort_by_key(|v| text(Some(v)));
    Value::Array(values)
}

async fn handle(socket: Socket, event: String, mut args: Vec<Value>, ack: Option<AckSender>) {
    let server = socket.server();
    let io = server.of(socket.ns());
    let room = text(args.first());
    let rest = || args.iter().skip(1).cloned().collect::<Vec<_>>();
    let emitted = match event.as_str() {
        "join" => {
            socket.join(room);
            reply(ack, ok());
            Ok(0)
        }
        "leave" => {
            socket.leave(&room);
            reply(ack, ok());
            Ok(0)
        }
        "to-room" => io.to(room).emit_args("room-event", rest()),
        "broadcast" => io
            .broadcast()
            .emit_args("broadcast-event", std::mem::take(&mut args)),
        "except-room" => io.except(room).emit_args("except-event", rest()),
        "local-broadcast" => io
            .local()
            .emit_args("local-event", std::mem::take(&mut args)),
        "fetch-sockets" => {
            let target = match args.first() {
                Some(Value::String(room)) => io.to(room.clone()),
                _ => io.broadcast(),
            };
            let answer = match target.fetch_sockets().await {
                Ok(sockets) => {
                    let mut list: Vec<(String, Value)> = sockets
                        .iter()
                        .map(|s| {
                            let mut rooms = s.rooms();
                            rooms.sort();
                            let entry = Value::Object(vec![
                                ("id".to_owned(), Value::String(s.id().to_owned())),
                                (
                                    "rooms".to_owned(),
                                    Value::Array(rooms.into_iter().map(Value::String).collect()),
                                ),
                                ("data".to_owned(), s.data::<Value>().unwrap_or(Value::Null)),
                            ]);
                            (s.id().to_owned(), entry)
                        })
                        .collect();
                    list.sort_by(|a, b| a.0.cmp(&b.0));
                    Value::Array(list.into_iter().map(|(_, v)| v).collect())
                }
                Err(e) => error(e),
            };
            reply(ack, answer);
            Ok(0)
        }
        "sockets-join" => {
            io.to(room).sockets_join(text(args.get(1)));
            reply(ack, ok());
            Ok(0)
        }
        "sockets-leave" => {
            io.to(room).sockets_leave(&text(args.get(1)));
            reply(ack, ok());
            Ok(0)
        }
        "disconnect-room" => {
            reply(ack, ok());
            io.to(room).disconnect_sockets(true);
            Ok(0)
        }
        "server-side-emit" => {
            let runtime = server.runtime();
            let ask = Box::pin(io.server_side_emit("who", &()));
            let answer = match select(ask, runtime.sleep(ANSWER_WAIT)).await {
                Either::Left((Ok(replies), _)) => sorted(replies),
                Either::Left((Err(e), _)) => error(e),
                Either::Right(_) => error("timeout"),
            };
            reply(ack, answer);
            Ok(0)
        }
        "ask-room" => {
            let answer = match io
                .to(room)
                .timeout(ANSWER_WAIT)
                .emit_with_ack::<Value, _>("question", &())
                .await
            {
                Ok(answers) => sorted(answers),
                Err(e) => error(e),
            };
            reply(ack, answer);
            Ok(0)
        }
        "server-count" => {
            let answer = match io.server_count().await {
                Ok(n) => Value::from(n as u64),
                Err(e) => error(e),
            };
            reply(ack, answer);
            Ok(0)
        }
        _ => Ok(0),
    };
    if let Err(e) = emitted {
        eprintln!("{event}: {e}");
    }
}
