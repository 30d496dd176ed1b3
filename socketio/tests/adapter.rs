//! The adapter seam, as an adapter crate would use it: a custom adapter that wraps the
//! in-memory one (as a cluster adapter does for its local part), records what the server asks
//! of it, and calls back into the server from inside its methods.
mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use socketio::adapter::{
    Adapter, AdapterError, BoxFuture, BroadcastAcks, BroadcastMessage, BroadcastOptions,
    InMemoryAdapter, LocalNamespace, RemoteSocket,
};
use socketio::protocol::Str;
use socketio::{AckSender, Server, Socket, Value};

/// Wraps the in-memory adapter; logs every call; pretends to be one node of three.
struct Recording {
    inner: Arc<InMemoryAdapter>,
    log: Arc<Mutex<Vec<String>>>,
}

impl Recording {
    fn note(&self, what: impl Into<String>) {
        self.log.lock().unwrap().push(what.into());
    }
}

impl Adapter for Recording {
    fn add_all(&self, sid: &Str, rooms: &[Str]) {
        self.note(format!("add_all {}", rooms.len()));
        self.inner.add_all(sid, rooms);
        // An adapter may read the server back from inside its methods.
        let _ = self.inner.local().sockets(std::slice::from_ref(sid));
    }
    fn del(&self, sid: &Str, room: &Str) {
        self.note(format!("del {room}"));
        self.inner.del(sid, room);
    }
    fn del_all(&self, sid: &Str) -> Vec<Str> {
        self.note("del_all");
        self.inner.del_all(sid)
    }
    fn socket_rooms(&self, sid: &Str) -> Vec<Str> {
        self.inner.socket_rooms(sid)
    }
    fn local_sockets(&self, opts: &BroadcastOptions) -> Vec<Str> {
        self.inner.local_sockets(opts)
    }
    fn broadcast(&self, message: BroadcastMessage) -> usize {
        self.note("broadcast");
        self.inner.broadcast(message)
    }
    fn broadcast_with_ack(
        &self,
        message: BroadcastMessage,
        timeout: Duration,
    ) -> BoxFuture<BroadcastAcks> {
        self.note("broadcast_with_ack");
        // A cluster adapter would add the other nodes' counts and answers here.
        let sids = self.inner.local_sockets(&message.opts);
        let (count, answers) = self
            .inner
            .local()
            .deliver_with_ack(&message, &sids, timeout);
        self.note(format!("local clients {count}"));
        answers
    }
    fn fetch_sockets(
        &self,
        opts: BroadcastOptions,
    ) -> BoxFuture<Result<Vec<RemoteSocket>, AdapterError>> {
        self.note("fetch_sockets");
        self.inner.fetch_sockets(opts)
    }
    fn add_sockets(&self, opts: BroadcastOptions, rooms: Vec<Str>) {
        self.note("add_sockets");
        self.inner.add_sockets(opts, rooms)
    }
    fn del_sockets(&self, opts: BroadcastOptions, rooms: Vec<Str>) {
        self.note("del_sockets");
        self.inner.del_sockets(opts, rooms)
    }
    fn disconnect_sockets(&self, opts: BroadcastOptions, close: bool) {
        self.note("disconnect_sockets");
        self.inner.disconnect_sockets(opts, close)
    }
    fn server_side_emit(&self, data: Value) -> BoxFuture<Result<Vec<Value>, AdapterError>> {
        self.note("server_side_emit");
        // Loop it back as if another node had sent it.
        self.inner.local().server_side_event(data);
        Box::pin(async { Ok(vec![Value::from("ack from node 2")]) })
    }
    fn server_count(&self) -> BoxFuture<Result<usize, AdapterError>> {
        Box::pin(async { Ok(3) })
    }
}

fn recording_server() -> (Server, Arc<PoolRuntime>, Arc<Mutex<Vec<String>>>) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let made = log.clone();
    let (io, rt) = build(Server::builder().adapter(move |local: LocalNamespace| {
        made.lock().unwrap().push(format!("made {}", local.name()));
        Arc::new(Recording {
            inner: InMemoryAdapter::new(local),
            log: made.clone(),
        }) as Arc<dyn Adapter>
    }));
    (io, rt, log)
}

#[test]
fn rooms_broadcasts_and_requests_go_through_the_adapter() {
    let (io, rt, log) = recording_server();
    io.ns("/", |socket: Socket| {
        socket.join("lobby");
        async move {
            socket.on(
                "poll",
                |socket: Socket, _: (), ack: Option<AckSender>| async move {
                    let answers = socket
                        .server()
                        .to("lobby")
                        .timeout(Duration::from_secs(2))
                        .emit_with_ack::<String, _>("question", &())
                        .await;
                    if let Some(ack) = ack {
                        ack.send(&answers.unwrap_or_default()).ok();
                    }
                },
            );
        }
    });
    block_on(async {
        let (mut a, _) = connect(&io, &rt, "/", "").await;
        let (mut b, _) = connect(&io, &rt, "/", "").await;
        // A broadcast with acks through the adapter: both clients answer.
        a.send(r#"421["poll"]"#);
        for client in [&mut a, &mut b] {
            let question = client.expect_prefix("42").await;
            let id: String = question[2..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            client.send(&format!(r#"43{id}["yes"]"#));
        }
        assert_eq!(a.expect_prefix("43").await, r#"431[["yes","yes"]]"#);

        // fetch_sockets, sockets_join and a plain broadcast, through the adapter.
        let sockets = io.to("lobby").fetch_sockets().await.unwrap();
        assert_eq!(sockets.len(), 2);
        assert!(sockets.iter().all(|s| s.as_local().is_some()));
        io.to("lobby").sockets_join("vip");
        assert_eq!(io.to("vip").emit("news", &1).unwrap(), 2);
        assert_eq!(a.text().await, r#"42["news",1]"#);
        assert_eq!(b.text().await, r#"42["news",1]"#);
        // Remote-socket handles act through the adapter too.
        for socket in &sockets {
            socket.emit("direct", &2).unwrap();
        }
        assert_eq!(a.text().await, r#"42["direct",2]"#);
        assert_eq!(b.text().await, r#"42["direct",2]"#);

        // Server-side emits and the server count are the adapter's.
        let (tx, rx) = futures_channel::oneshot::channel();
        let tx = Mutex::new(Some(tx));
        io.on_server_side_emit(move |event: String, args: Vec<Value>| {
            if let Some(tx) = tx.lock().unwrap().take() {
                let _ = tx.send((event, args));
            }
            async {}
        });
        let acks = io.server_side_emit("hello", &"nodes").await.unwrap();
        assert_eq!(acks, vec![Value::from("ack from node 2")]);
        let (event, args) = rx.await.unwrap();
        assert_eq!(event, "hello");
        assert_eq!(args, vec![Value::from("nodes")]);
        assert_eq!(io.server_count().await.unwrap(), 3);

        // A disconnect leaves every room in the adapter.
        io.to("vip").disconnect_sockets(false);
        sleep(100).await;
        assert!(io.fetch_sockets().await.unwrap().is_empty());
    });
    let log = log.lock().unwrap().clone();
    for expected in [
        "made /",
        "add_all 1",
        "broadcast_with_ack",
        "local clients 2",
        "fetch_sockets",
        "add_sockets",
        "broadcast",
        "server_side_emit",
        "disconnect_sockets",
        "del_all",
    ] {
        assert!(
            log.iter().any(|l| l == expected),
            "{expected} missing: {log:?}"
        );
    }
    // The connect handler's join went through the adapter (its own room first).
    assert!(
        log.iter().filter(|l| *l == "add_all 1").count() >= 4,
        "{log:?}"
    );
}

#[test]
fn join_then_broadcast_in_the_same_handler_reaches_the_joiner() {
    let (io, rt, _log) = recording_server();
    io.ns("/", |socket: Socket| async move {
        socket.on(
            "enter",
            |socket: Socket, room: String, _: Option<AckSender>| async move {
                socket.join(room.clone());
                socket.server().to(room).emit("entered", &1).unwrap();
            },
        );
    });
    block_on(async {
        let (mut a, _) = connect(&io, &rt, "/", "").await;
        a.send(r#"42["enter","r1"]"#);
        assert_eq!(a.text().await, r#"42["entered",1]"#);
        // And a leave that returned is seen by the next broadcast.
        let socket = io.fetch_sockets().await.unwrap().remove(0);
        let socket = socket.as_local().unwrap().clone();
        socket.leave("r1");
        assert_eq!(io.to("r1").emit("entered", &2).unwrap(), 0);
        assert_eq!(socket.rooms(), vec![socket.id().to_owned()]);
    });
}
