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
        // Each carries its handshake in the reference's fetchSockets shape.
        for socket in &sockets {
            let handshake = socket.handshake();
            assert!(
                handshake.url.starts_with("/socket.io/?EIO=4"),
                "{handshake:?}"
            );
            assert_eq!(handshake.query["EIO"], socketio::Value::String("4".into()));
            assert!(handshake.issued > 0 && handshake.time.contains("GMT+0000"));
        }
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

/// A two-node "cluster" inside one process: every node's adapter publishes broadcasts on a
/// shared bus (each node delivers to its own sockets) and keeps recovery data in a shared
/// store, as a Redis streams adapter does. Shows that the seam carries a cluster adapter,
/// including connection state recovery across nodes.
struct Bus {
    nodes: Mutex<Vec<Arc<InMemoryAdapter>>>,
    store: Mutex<socketio::protocol::recovery::RecoveryStore>,
}

struct ClusterNode {
    local: Arc<InMemoryAdapter>,
    bus: Arc<Bus>,
}

impl Adapter for ClusterNode {
    fn add_all(&self, sid: &Str, rooms: &[Str]) {
        self.local.add_all(sid, rooms)
    }
    fn del(&self, sid: &Str, room: &Str) {
        self.local.del(sid, room)
    }
    fn del_all(&self, sid: &Str) -> Vec<Str> {
        self.local.del_all(sid)
    }
    fn socket_rooms(&self, sid: &Str) -> Vec<Str> {
        self.local.socket_rooms(sid)
    }
    fn local_sockets(&self, opts: &BroadcastOptions) -> Vec<Str> {
        self.local.local_sockets(opts)
    }
    fn broadcast(&self, message: BroadcastMessage) -> usize {
        // Stored once for the cluster, with its offset; then every node delivers locally.
        let mut packet = socketio::protocol::socket::Packet::event(
            self.local.local().name().to_owned(),
            socketio::protocol::socket::Payload::Value(message.data.clone()),
        );
        let now = self.local.local().now();
        self.bus.store.lock().unwrap().store_broadcast(
            now,
            &mut packet,
            message.volatile,
            &message.opts,
        );
        let mut message = message;
        message.data = packet.data.unwrap().to_value().unwrap();
        let nodes = self.bus.nodes.lock().unwrap().clone();
        let mut here = 0;
        for node in nodes {
            let sids = node.local_sockets(&message.opts);
            let n = node.local().deliver(&message, &sids);
            if Arc::ptr_eq(&node, &self.local) {
                here = n;
            }
        }
        here
    }
    fn broadcast_with_ack(
        &self,
        message: BroadcastMessage,
        timeout: Duration,
    ) -> BoxFuture<BroadcastAcks> {
        self.local.broadcast_with_ack(message, timeout)
    }
    fn fetch_sockets(
        &self,
        opts: BroadcastOptions,
    ) -> BoxFuture<Result<Vec<RemoteSocket>, AdapterError>> {
        self.local.fetch_sockets(opts)
    }
    fn add_sockets(&self, opts: BroadcastOptions, rooms: Vec<Str>) {
        self.local.add_sockets(opts, rooms)
    }
    fn del_sockets(&self, opts: BroadcastOptions, rooms: Vec<Str>) {
        self.local.del_sockets(opts, rooms)
    }
    fn disconnect_sockets(&self, opts: BroadcastOptions, close: bool) {
        self.local.disconnect_sockets(opts, close)
    }
    fn server_side_emit(&self, _data: Value) -> BoxFuture<Result<Vec<Value>, AdapterError>> {
        Box::pin(async { Ok(Vec::new()) })
    }
    fn server_count(&self) -> BoxFuture<Result<usize, AdapterError>> {
        let count = self.bus.nodes.lock().unwrap().len();
        Box::pin(async move { Ok(count) })
    }
    fn persist_session(
        &self,
        session: socketio::adapter::SessionRecord,
        reason: socketio::adapter::DisconnectReason,
    ) {
        let now = self.local.local().now();
        self.bus
            .store
            .lock()
            .unwrap()
            .save_session(now, reason, session);
    }
    fn restore_session(
        &self,
        pid: Str,
        offset: Str,
    ) -> BoxFuture<Option<socketio::adapter::Restored>> {
        let now = self.local.local().now();
        let restored = self
            .bus
            .store
            .lock()
            .unwrap()
            .restore(now, &pid, &offset)
            .ok();
        Box::pin(async move { restored })
    }
}

fn cluster_node(bus: &Arc<Bus>) -> (Server, Arc<PoolRuntime>) {
    let bus = bus.clone();
    let (io, rt) = build(
        Server::builder()
            .connection_state_recovery(socketio::RecoveryConfig::default())
            .adapter(move |local: LocalNamespace| {
                let local = InMemoryAdapter::new(local);
                bus.nodes.lock().unwrap().push(local.clone());
                Arc::new(ClusterNode {
                    local,
                    bus: bus.clone(),
                }) as Arc<dyn Adapter>
            }),
    );
    io.ns("/", |socket: Socket| {
        socket.join("news");
        async {}
    });
    (io, rt)
}

fn field(text: &str, name: &str) -> String {
    let at = text.find(&format!(r#""{name}":""#)).expect(name) + name.len() + 4;
    text[at..].split('"').next().unwrap().to_owned()
}

#[test]
fn a_cluster_adapter_broadcasts_to_every_node_and_recovers_a_session_on_another_node() {
    let bus = Arc::new(Bus {
        nodes: Mutex::new(Vec::new()),
        store: Mutex::new(socketio::protocol::recovery::RecoveryStore::new(
            socketio::RecoveryConfig::default(),
            || {
                let mut id = [0u8; 15];
                for (i, b) in id.iter_mut().enumerate() {
                    *b = i as u8 * 7 + 1;
                }
                id
            },
        )),
    });
    let (node_a, rt_a) = cluster_node(&bus);
    let (node_b, rt_b) = cluster_node(&bus);
    block_on(async {
        let (mut on_a, reply) = connect(&node_a, &rt_a, "/", "").await;
        let (mut on_b, _) = connect(&node_b, &rt_b, "/", "").await;
        let sid = field(&reply, "sid");
        let pid = field(&reply, "pid");
        assert_eq!(node_a.server_count().await.unwrap(), 2);

        // A broadcast on node A reaches the client on node B, with its offset.
        node_a.to("news").emit("headline", &1).unwrap();
        let first = on_a.text().await;
        assert!(first.starts_with(r#"42["headline",1,""#), "{first}");
        assert_eq!(on_b.text().await, first);
        let offset = first[first.rfind(",\"").unwrap() + 2..first.len() - 2].to_owned();

        // The client drops from node A; a broadcast made on node B meanwhile is stored.
        drop(on_a);
        sleep(100).await;
        node_b.to("news").emit("headline", &2).unwrap();
        assert!(on_b.text().await.starts_with(r#"42["headline",2,""#));

        // It reconnects to node B with its pid and offset: same id, the missed event first.
        let mut again = open_ws(&node_b, &rt_b, "", false);
        assert!(again.text().await.starts_with("0{"));
        again.send(&format!(r#"40{{"pid":"{pid}","offset":"{offset}"}}"#));
        let missed = again.text().await;
        assert!(missed.starts_with(r#"42["headline",2,""#), "{missed}");
        let reply = again.expect_prefix("40").await;
        assert_eq!(field(&reply, "sid"), sid);
        // Its rooms came back too, on node B.
        assert_eq!(node_b.to("news").emit("headline", &3).unwrap(), 2);
        assert!(again.text().await.starts_with(r#"42["headline",3,""#));
    });
}
