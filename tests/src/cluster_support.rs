//! Helpers of the Redis cluster tests (`tests/cluster_redis*.rs`): nodes of the cluster app
//! on a unique key, clients that record what they get, a Redis server of a test's own.
//!
//! Redis must answer on 127.0.0.1:6379 (`scripts/test.sh` starts one when nothing does): a
//! test panics, never skips, when it does not.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use smol::channel::{Receiver, unbounded};
use socketio_redis::{RedisAdapterOptions, RedisNode};
use socketio_tokio::client::ClientSocket;
use socketio_tokio::{Client, Server, Value};

use crate::cluster;
use crate::executor::{Executor, Served};

/// The shared Redis of the tests.
pub const REDIS_URL: &str = "redis://127.0.0.1:6379";

/// How long a test waits for anything (a liveness guard, not a timing assertion).
pub const WAIT: Duration = Duration::from_secs(10);

/// A key prefix no other test (or run) uses.
pub fn unique_key(name: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("sio-test-{name}-{}-{nanos}", std::process::id())
}

/// Panics with what to do when nothing answers on 127.0.0.1:6379.
pub fn require_redis() {
    if TcpStream::connect("127.0.0.1:6379").is_err() {
        panic!(
            "Redis is not running on 127.0.0.1:6379: the cluster tests need it (never skipped). \
             Start one with `redis-server --daemonize yes` (Debian: `apt-get install redis-server`); \
             scripts/test.sh starts it when it is installed."
        );
    }
}

/// A client of the shared Redis.
pub fn redis_client() -> socketio_redis::redis::Client {
    require_redis();
    socketio_redis::redis::Client::open(REDIS_URL).expect("a redis URL")
}

/// A string value.
pub fn s(text: &str) -> Value {
    Value::String(text.to_owned())
}

/// A value as JSON text.
pub fn json(value: &Value) -> String {
    socketio_tokio::protocol::json::to_string(value)
}

/// A list of values as JSON text.
pub fn json_args(values: &[Value]) -> String {
    json(&Value::Array(values.to_vec()))
}

/// One node of the cluster app, served on loopback.
pub struct TestNode {
    /// The server.
    pub io: Server,
    /// Its link to Redis.
    pub node: RedisNode,
    /// Its metrics (not served: read with `encode`).
    pub metrics: socketio_tokio::metrics::Metrics,
    served: Served,
}

impl TestNode {
    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        self.served.url()
    }
}

/// Nodes of the cluster app with node ids `ids`, on the shared Redis under `key`.
pub async fn start_nodes(exec: Executor, key: &str, ids: &[&str]) -> Vec<TestNode> {
    require_redis();
    start_nodes_on(exec, REDIS_URL, RedisAdapterOptions::with_key(key), ids).await
}

/// Nodes of the cluster app on the Redis at `url` with `options`.
pub async fn start_nodes_on(
    exec: Executor,
    url: &str,
    options: RedisAdapterOptions,
    ids: &[&str],
) -> Vec<TestNode> {
    start_nodes_serving(exec, url, options, ids, &[]).await
}

/// Nodes of the cluster app on the Redis at `url` with `options`, serving it on `/` and on
/// each of `namespaces`.
pub async fn start_nodes_serving(
    exec: Executor,
    url: &str,
    options: RedisAdapterOptions,
    ids: &[&str],
    namespaces: &[&str],
) -> Vec<TestNode> {
    start_nodes_with(exec, url, options, ids, namespaces, |builder| builder).await
}

/// [`start_nodes_serving`] with the conformance options changed by `customize` (e.g.
/// production heartbeats for a test with hundreds of clients).
pub async fn start_nodes_with(
    exec: Executor,
    url: &str,
    options: RedisAdapterOptions,
    ids: &[&str],
    namespaces: &[&str],
    customize: impl Fn(socketio_tokio::ServerBuilder) -> socketio_tokio::ServerBuilder,
) -> Vec<TestNode> {
    let mut nodes = Vec::new();
    for id in ids {
        let client = socketio_redis::redis::Client::open(url).expect("a redis URL");
        let node = RedisNode::new(client, exec.runtime(), options.clone());
        let recovery = matches!(options.flavor, socketio_redis::Flavor::Streams(_));
        let metrics = socketio_tokio::metrics::Metrics::new();
        let io = customize(cluster::builder(&node, false, recovery).metrics(&metrics))
            .build(exec.runtime());
        cluster::install(&io, &node, id);
        for nsp in namespaces {
            cluster::install_on(&io, &node, id, nsp);
        }
        let served = exec.serve(io.clone()).await;
        nodes.push(TestNode {
            io,
            node,
            metrics,
            served,
        });
    }
    nodes
}

/// Waits until every node counts `n` servers (their subscriptions are up).
pub async fn wait_server_count(exec: Executor, nodes: &[TestNode], n: usize) {
    wait_server_count_on(exec, nodes, "/", n).await
}

/// Waits until every node counts `n` servers in namespace `nsp`.
pub async fn wait_server_count_on(exec: Executor, nodes: &[TestNode], nsp: &str, n: usize) {
    let start = std::time::Instant::now();
    loop {
        // Each node's adapter of `nsp` is made on first use: ask every node every round.
        let mut counts = Vec::new();
        for node in nodes {
            counts.push(node.io.of(nsp).server_count().await);
        }
        if counts.iter().all(|c| *c == Ok(n)) {
            return;
        }
        assert!(
            start.elapsed() < WAIT,
            "the nodes never counted {n} servers in {nsp}: {counts:?}"
        );
        exec.sleep(Duration::from_millis(20)).await;
    }
}

/// Stops the nodes' HTTP servers.
pub async fn stop_nodes(exec: Executor, nodes: Vec<TestNode>) {
    for node in nodes {
        node.served.stop(Duration::from_secs(1)).await;
    }
    exec.sleep(Duration::from_millis(10)).await;
}

/// `args` without a trailing stream offset (`<ms>-<seq>`, appended by the streams adapter
/// with connection state recovery), as the official client drops it.
pub fn strip_offset(mut args: Vec<Value>) -> Vec<Value> {
    let is_offset = |text: &str| {
        text.split_once('-').is_some_and(|(ms, seq)| {
            !ms.is_empty()
                && !seq.is_empty()
                && ms.bytes().all(|b| b.is_ascii_digit())
                && seq.bytes().all(|b| b.is_ascii_digit())
        })
    };
    if let Some(Value::String(last)) = args.last()
        && is_offset(last)
    {
        args.pop();
    }
    args
}

/// A client (this project's) of a cluster node on namespace `/` (or another): records every
/// event; answers `question` with its socket id.
pub struct Peer {
    /// The client.
    pub client: Client,
    /// Its socket on `/` (or the namespace it connected to).
    pub socket: ClientSocket,
    /// Its socket id.
    pub id: String,
    /// The node id its `hello` named.
    pub hello_node: String,
    /// Events received and not yet taken by [`next`](Self::next).
    pub backlog: Vec<(String, Vec<Value>)>,
    events: Receiver<(String, Vec<Value>)>,
    disconnects: Receiver<String>,
}

impl Peer {
    /// Connects to `url` and waits for `hello`.
    pub async fn connect(exec: Executor, url: &str) -> Peer {
        Peer::connect_with(exec, url, "/", false).await
    }

    /// Connects to namespace `nsp` of `url` and waits for `hello`.
    pub async fn connect_to(exec: Executor, url: &str, nsp: &str) -> Peer {
        Peer::connect_with(exec, url, nsp, false).await
    }

    /// Connects to `url`, reconnecting (quickly) when cut off, and waits for `hello`.
    pub async fn connect_reconnecting(exec: Executor, url: &str) -> Peer {
        Peer::connect_with(exec, url, "/", true).await
    }

    /// Connects to namespace `nsp` of `url`, reconnecting (quickly) when cut off, and waits
    /// for `hello`.
    pub async fn connect_reconnecting_to(exec: Executor, url: &str, nsp: &str) -> Peer {
        Peer::connect_with(exec, url, nsp, true).await
    }

    async fn connect_with(exec: Executor, url: &str, nsp: &str, reconnection: bool) -> Peer {
        // The URL's namespace is the one the client connects (and the only one).
        let url = match nsp {
            "/" => url.to_owned(),
            nsp => format!("{}{nsp}", url.trim_end_matches('/')),
        };
        let client = Client::builder(&url)
            .reconnection(reconnection)
            .reconnection_delay(Duration::from_millis(50))
            .reconnection_delay_max(Duration::from_millis(200))
            .build(exec.runtime(), exec.connector())
            .expect("client options");
        let socket = client.socket(nsp);
        let (tx, events) = unbounded();
        socket.on_any(
            move |socket: ClientSocket,
                  event: String,
                  args: Vec<Value>,
                  ack: Option<socketio_tokio::client::AckSender>| {
                let tx = tx.clone();
                let args = strip_offset(args);
                async move {
                    if event == "question"
                        && let Some(ack) = ack
                    {
                        let _ = ack.send(&socket.id().unwrap_or_default());
                    }
                    let _ = tx.try_send((event, args));
                }
            },
        );
        let (dtx, disconnects) = unbounded();
        socket.on_disconnect(move |_socket, reason| {
            let dtx = dtx.clone();
            async move {
                let _ = dtx.try_send(reason.to_string());
            }
        });
        client.connect();
        exec.timeout(WAIT, socket.wait_connected())
            .await
            .expect("connected in time")
            .expect("connected");
        let id = socket.id().expect("an id");
        let mut peer = Peer {
            client,
            socket,
            id,
            hello_node: String::new(),
            backlog: Vec::new(),
            events,
            disconnects,
        };
        let hello = peer.next(exec, "hello").await;
        assert_eq!(
            hello.get(1),
            Some(&s(&peer.id)),
            "hello names the socket id"
        );
        peer.hello_node = hello
            .first()
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        peer
    }

    /// The arguments of the next `event` (earlier events of other names stay in the
    /// backlog).
    pub async fn next(&mut self, exec: Executor, event: &str) -> Vec<Value> {
        if let Some(at) = self.backlog.iter().position(|(name, _)| name == event) {
            return self.backlog.remove(at).1;
        }
        loop {
            let received = exec
                .timeout(WAIT, self.events.recv())
                .await
                .unwrap_or_else(|_| {
                    panic!("no {event} within {WAIT:?}; backlog {:?}", self.backlog)
                })
                .expect("the client is alive");
            if received.0 == event {
                return received.1;
            }
            self.backlog.push(received);
        }
    }

    /// Whether an `event` arrived and was not taken yet.
    pub fn seen(&mut self, event: &str) -> bool {
        while let Ok(received) = self.events.try_recv() {
            self.backlog.push(received);
        }
        self.backlog.iter().any(|(name, _)| name == event)
    }

    /// Emits `event` with `args`.
    pub fn emit(&self, event: &str, args: Vec<Value>) {
        self.socket.emit_args(event, args).expect("emit");
    }

    /// Emits `event` with `args` and an ack; the ack's first argument.
    pub async fn call(&self, exec: Executor, event: &str, args: Vec<Value>) -> Value {
        let ack = self.socket.emit_with_ack_args(event, args).timeout(WAIT);
        let answer = exec
            .timeout(WAIT + Duration::from_secs(1), ack.into_future())
            .await
            .unwrap_or_else(|_| panic!("no ack to {event}"))
            .unwrap_or_else(|e| panic!("ack to {event}: {e}"));
        answer.into_iter().next().unwrap_or(Value::Null)
    }

    /// Waits for the server to disconnect this client.
    pub async fn disconnected(&self, exec: Executor) {
        exec.timeout(WAIT, self.disconnects.recv())
            .await
            .expect("disconnected in time")
            .expect("a disconnect");
    }
}

/// Every row of the cluster table across three nodes, one client on each (`peers[i]` on the
/// node `ids[i]`): rooms, broadcasts (to, except, local, binary), fetchSockets, socketsJoin
/// and socketsLeave, broadcasts with acks, serverSideEmit with acks, serverCount, and
/// disconnectSockets (which ends with the clients of nodes 0 and 2 disconnected).
///
/// `room_channels`: with the sharded adapter in a dynamic subscription mode, its
/// `channelPrefix`: after a join, the test waits until the nodes holding the room subscribed
/// to its channel (`PUBSUB SHARDNUMSUB`), as subscribing is asynchronous there (in the
/// official adapter as in ours).
pub async fn every_operation(
    exec: Executor,
    peers: &mut [Peer; 3],
    ids: [&str; 3],
    room_channels: Option<&str>,
) {
    let settle = async |room: &str, nodes: usize| {
        if let Some(prefix) = room_channels {
            wait_shard_subscribers(exec, &format!("{prefix}#/#{room}#"), nodes).await;
        }
    };
    let [a, b, c] = peers;
    assert_eq!(a.hello_node, ids[0]);
    assert_eq!(b.hello_node, ids[1]);
    assert_eq!(c.hello_node, ids[2]);

    assert_eq!(a.call(exec, "join", vec![s("r1")]).await, s("ok"));
    assert_eq!(c.call(exec, "join", vec![s("r1")]).await, s("ok"));
    settle("r1", 2).await;

    // A room broadcast from node 2 reaches the room's clients on nodes 1 and 3.
    b.emit("to-room", vec![s("r1"), s("x"), Value::from(1u64)]);
    assert_eq!(json_args(&a.next(exec, "room-event").await), r#"["x",1]"#);
    assert_eq!(json_args(&c.next(exec, "room-event").await), r#"["x",1]"#);

    // A broadcast to all, with binary kept binary across nodes.
    let bin = Value::Binary(bytes::Bytes::from_static(&[1, 2, 3]));
    a.emit("broadcast", vec![s("all"), bin.clone()]);
    for peer in [&mut *a, &mut *b, &mut *c] {
        assert_eq!(
            peer.next(exec, "broadcast-event").await,
            vec![s("all"), bin.clone()]
        );
    }
    // B was not in r1: the room event never reached it (the broadcast came after it).
    assert!(!b.seen("room-event"), "{:?}", b.backlog);

    // except: only B (not in r1) gets it; local: only C's node.
    b.emit("except-room", vec![s("r1"), s("e")]);
    assert_eq!(json_args(&b.next(exec, "except-event").await), r#"["e"]"#);
    c.emit("local-broadcast", vec![s("l")]);
    assert_eq!(json_args(&c.next(exec, "local-event").await), r#"["l"]"#);
    b.emit("broadcast", vec![s("marker")]);
    for peer in [&mut *a, &mut *b, &mut *c] {
        peer.next(exec, "broadcast-event").await;
    }
    assert!(!a.seen("except-event") && !c.seen("except-event"));
    assert!(!a.seen("local-event") && !b.seen("local-event"));

    // fetchSockets across nodes: ids, sorted rooms, data.
    let fetched = b.call(exec, "fetch-sockets", vec![s("r1")]).await;
    let mut expected = [(a.id.clone(), ids[0]), (c.id.clone(), ids[2])];
    expected.sort();
    let expected: Vec<String> = expected
        .iter()
        .map(|(id, node)| {
            let mut rooms = [id.clone(), "r1".to_owned()];
            rooms.sort();
            format!(
                r#"{{"id":"{id}","rooms":["{}","{}"],"data":{{"node":"{node}"}}}}"#,
                rooms[0], rooms[1]
            )
        })
        .collect();
    assert_eq!(json(&fetched), format!("[{}]", expected.join(",")));

    // socketsJoin / socketsLeave across nodes.
    assert_eq!(
        b.call(exec, "sockets-join", vec![s("r1"), s("r2")]).await,
        s("ok")
    );
    settle("r2", 2).await;
    b.emit("to-room", vec![s("r2"), s("two")]);
    assert_eq!(json_args(&a.next(exec, "room-event").await), r#"["two"]"#);
    assert_eq!(json_args(&c.next(exec, "room-event").await), r#"["two"]"#);
    assert_eq!(
        b.call(exec, "sockets-leave", vec![s("r2"), s("r2")]).await,
        s("ok")
    );
    // Polled: with the streams adapter (official or ours) the leave travels in the stream and
    // the fetch over pub/sub, two connections with no order between them.
    wait_for_room(exec, b, "r2", 0).await;

    // Broadcast with acks across nodes: every client in r1 answers with its id.
    let answers = b.call(exec, "ask-room", vec![s("r1")]).await;
    let mut asked = [a.id.clone(), c.id.clone()];
    asked.sort();
    assert_eq!(
        json(&answers),
        format!(r#"["{}","{}"]"#, asked[0], asked[1])
    );

    // serverSideEmit with acks: the other nodes answer; serverCount.
    let mut others = [ids[1], ids[2]];
    others.sort();
    assert_eq!(
        json(&a.call(exec, "server-side-emit", vec![]).await),
        format!(r#"["{}","{}"]"#, others[0], others[1])
    );
    assert_eq!(
        a.call(exec, "server-count", vec![]).await,
        Value::from(3u64)
    );

    // disconnectSockets across nodes: A and C go, B stays.
    assert_eq!(
        b.call(exec, "disconnect-room", vec![s("r1")]).await,
        s("ok")
    );
    a.disconnected(exec).await;
    c.disconnected(exec).await;
    let left = b.call(exec, "fetch-sockets", vec![Value::Null]).await;
    assert_eq!(
        json(&left),
        format!(
            r#"[{{"id":"{}","rooms":["{}"],"data":{{"node":"{}"}}}}]"#,
            b.id, b.id, ids[1]
        )
    );
}

/// Waits until `n` connections subscribed to the shard channel `channel`.
pub async fn wait_shard_subscribers(exec: Executor, channel: &str, n: usize) {
    let mut conn = redis_client()
        .get_multiplexed_async_connection()
        .await
        .expect("redis");
    let start = std::time::Instant::now();
    loop {
        let counts: Vec<(String, usize)> = socketio_redis::redis::cmd("PUBSUB")
            .arg("SHARDNUMSUB")
            .arg(channel)
            .query_async(&mut conn)
            .await
            .expect("PUBSUB SHARDNUMSUB");
        if counts.first().map(|c| c.1) == Some(n) {
            return;
        }
        assert!(
            start.elapsed() < WAIT,
            "{channel} never had {n} subscribers: {counts:?}"
        );
        exec.sleep(Duration::from_millis(10)).await;
    }
}

/// Asks `peer`'s node, until it answers so, that `room` holds `n` sockets across the cluster.
pub async fn wait_for_room(exec: Executor, peer: &Peer, room: &str, n: usize) {
    wait_for_sockets(exec, peer, s(room), n).await
}

/// Asks `peer`'s node, until it answers so, that `room` (a name, or `null` for every socket)
/// holds `n` sockets across the cluster.
pub async fn wait_for_sockets(exec: Executor, peer: &Peer, room: Value, n: usize) {
    let start = std::time::Instant::now();
    loop {
        let fetched = peer.call(exec, "fetch-sockets", vec![room.clone()]).await;
        if fetched.as_array().map(<[Value]>::len) == Some(n) {
            return;
        }
        assert!(
            start.elapsed() < WAIT,
            "room {room:?} never held {n} sockets: {fetched:?}"
        );
        exec.sleep(Duration::from_millis(20)).await;
    }
}

/// A `redis-server` of a test's own, on a free port, without persistence.
pub struct OwnRedis {
    port: u16,
    password: Option<String>,
    child: Option<Child>,
}

impl OwnRedis {
    /// Starts one.
    pub fn start() -> OwnRedis {
        OwnRedis::start_with(None)
    }

    /// Starts one that wants `password` (`requirepass`).
    pub fn start_with(password: Option<&str>) -> OwnRedis {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut redis = OwnRedis {
            port,
            password: password.map(str::to_owned),
            child: None,
        };
        redis.restart();
        redis
    }

    /// `redis://127.0.0.1:<port>` (with the password, if any).
    pub fn url(&self) -> String {
        match &self.password {
            Some(password) => format!("redis://:{password}@127.0.0.1:{}", self.port),
            None => format!("redis://127.0.0.1:{}", self.port),
        }
    }

    /// Kills it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and waits until it answers.
    pub fn restart(&mut self) {
        self.stop();
        let mut command = Command::new("redis-server");
        command
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"]);
        if let Some(password) = &self.password {
            command.args(["--requirepass", password]);
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("`redis-server` must be installed (Debian: apt-get install redis-server)");
        self.child = Some(child);
        let start = std::time::Instant::now();
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(start.elapsed() < WAIT, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}
