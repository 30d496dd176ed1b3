//! The streams flavour (`@socket.io/redis-streams-adapter` 0.3) on the real Redis at
//! 127.0.0.1:6379, connection state recovery on: every row of the cluster table across three
//! of our nodes on each executor and in a mixed cluster with the official streams adapter, and
//! a client recovered across nodes (ours to ours, Node's to ours, ours to Node's): it gets its
//! id back, the event it missed, and its rooms. The same with `streamCount` 3 and
//! `useShardedPubSub` on, over several namespaces (which the official hash spreads over the
//! streams `<key>-0`, `<key>-1`, `<key>-2` and, for a negative hash, `<key>--2`).

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::json;
use socketio_redis::{Flavor, RedisAdapterOptions, StreamsOptions};
use socketio_tests::client_suite::Proxy;
use socketio_tests::cluster_support::*;
use socketio_tests::executor::Executor;
use socketio_tests::interop::RefServer;
use socketio_tokio::Value;

fn streams(key: &str) -> RedisAdapterOptions {
    let mut options = RedisAdapterOptions::with_key(key);
    options.flavor = Flavor::Streams(StreamsOptions {
        session_key_prefix: format!("{key}:session:"),
        ..StreamsOptions::default()
    });
    options
}

/// `streamCount` 3 and `useShardedPubSub`.
fn spread(key: &str) -> RedisAdapterOptions {
    let mut options = RedisAdapterOptions::with_key(key);
    options.flavor = Flavor::Streams(StreamsOptions {
        session_key_prefix: format!("{key}:session:"),
        stream_count: 3,
        use_sharded_pub_sub: true,
        ..StreamsOptions::default()
    });
    options
}

/// Namespaces and the stream the official hash puts each in, with `streamCount` 3 (as
/// `hashCode(nsp) % 3` computes it in node: 47, 46783362, 46457863, -1014064871).
const SPREAD: [(&str, &str); 4] = [
    ("/", "-2"),
    ("/news", "-0"),
    ("/chat", "-1"),
    ("/notifications", "--2"),
];

fn node_node(key: &str, id: &str) -> RefServer {
    require_redis();
    RefServer::start_script(
        "servers/cluster-redis.js",
        &json!({"port": 0, "redisUrl": REDIS_URL, "key": key, "nodeId": id, "adapter": "streams"}),
    )
}

/// The official streams adapter with `streamCount` 3 and `useShardedPubSub`, serving the
/// cluster app on `/` and `namespaces`.
fn spread_node_node(key: &str, id: &str, namespaces: &[&str]) -> RefServer {
    require_redis();
    RefServer::start_script(
        "servers/cluster-redis.js",
        &json!({"port": 0, "redisUrl": REDIS_URL, "key": key, "nodeId": id, "adapter": "streams",
                "streamCount": 3, "useShardedPubSub": true, "namespaces": namespaces}),
    )
}

/// A Redis query's answer.
async fn query<T: socketio_redis::redis::FromRedisValue>(
    cmd: &mut socketio_redis::redis::Cmd,
) -> T {
    let mut conn = redis_client()
        .get_multiplexed_async_connection()
        .await
        .expect("redis");
    cmd.query_async(&mut conn).await.expect("a redis answer")
}

/// How many entries stream `name` holds (0 when it does not exist).
async fn stream_len(name: &str) -> usize {
    query(socketio_redis::redis::cmd("XLEN").arg(name)).await
}

/// The namespaces of the entries of stream `name`.
async fn stream_namespaces(name: &str) -> std::collections::BTreeSet<String> {
    let entries: Vec<(String, Vec<String>)> = query(
        socketio_redis::redis::cmd("XRANGE")
            .arg(name)
            .arg("-")
            .arg("+"),
    )
    .await;
    entries
        .iter()
        .filter_map(|(_, fields)| {
            let at = fields.chunks(2).position(|pair| pair[0] == "nsp")?;
            fields.get(2 * at + 1).cloned()
        })
        .collect()
}

/// `PUBSUB NUMSUB channel` or `PUBSUB SHARDNUMSUB channel`.
async fn subscribers(which: &str, channel: &str) -> usize {
    let counts: Vec<(String, usize)> =
        query(socketio_redis::redis::cmd("PUBSUB").arg(which).arg(channel)).await;
    counts.first().map_or(0, |c| c.1)
}

fn addr_of(url: &str) -> SocketAddr {
    url.trim_start_matches("http://")
        .parse()
        .expect("an address")
}

/// How many sessions are kept under `key`.
async fn sessions(key: &str) -> usize {
    let mut conn = redis_client()
        .get_multiplexed_async_connection()
        .await
        .expect("redis");
    let keys: Vec<String> = socketio_redis::redis::cmd("KEYS")
        .arg(format!("{key}:session:*"))
        .query_async(&mut conn)
        .await
        .expect("KEYS");
    keys.len()
}

/// A client of namespace `nsp` on `from` (through a proxy) in room `r` is cut off; an event
/// to `r` is emitted on `to` meanwhile; it reconnects through the proxy, now pointing at
/// `to`: same id, the missed event, and its room.
async fn recover_across(exec: Executor, key: &str, nsp: &str, from: &str, to: &str) {
    let proxy = Proxy::start(addr_of(from));
    let through = format!("http://{}", proxy.addr);
    let mut moving = Peer::connect_reconnecting_to(exec, &through, nsp).await;
    let mut observer = Peer::connect_to(exec, to, nsp).await;
    assert_eq!(moving.call(exec, "join", vec![s("r")]).await, s("ok"));
    assert_eq!(observer.call(exec, "join", vec![s("r")]).await, s("ok"));
    observer.emit("to-room", vec![s("r"), s("first")]);
    assert_eq!(
        json_args(&moving.next(exec, "room-event").await),
        r#"["first"]"#
    );
    observer.next(exec, "room-event").await;

    let before = sessions(key).await;
    proxy.set_blocked(true);
    proxy.cut();
    let start = std::time::Instant::now();
    while sessions(key).await <= before {
        assert!(start.elapsed() < WAIT, "the session was never kept");
        exec.sleep(Duration::from_millis(20)).await;
    }
    observer.emit("to-room", vec![s("r"), s("missed")]);
    observer.next(exec, "room-event").await; // in the stream now

    proxy.set_target(addr_of(to));
    proxy.set_blocked(false);
    assert_eq!(
        json_args(&moving.next(exec, "room-event").await),
        r#"["missed"]"#
    );
    let start = std::time::Instant::now();
    while !moving.socket.connected() {
        assert!(start.elapsed() < WAIT, "never reconnected");
        exec.sleep(Duration::from_millis(20)).await;
    }
    assert!(moving.socket.recovered(), "recovered");
    assert_eq!(moving.socket.id().as_deref(), Some(moving.id.as_str()));
    // The connection handler runs again for the recovered socket (as in Node): same id.
    let hello = moving.next(exec, "hello").await;
    assert_eq!(hello.get(1), Some(&s(&moving.id)));
    observer.emit("to-room", vec![s("r"), s("after")]);
    assert_eq!(
        json_args(&moving.next(exec, "room-event").await),
        r#"["after"]"#
    );
}

socketio_tests::executor_tests! {
    /// Three of our nodes.
    async fn every_operation_across_three_streams_nodes(exec: Executor) {
        let key = unique_key("streams");
        let nodes = start_nodes_on(exec, REDIS_URL, streams(&key), &["rs-1", "rs-2", "rs-3"]).await;
        wait_server_count(exec, &nodes, 3).await;
        let mut peers = [
            Peer::connect(exec, &nodes[0].url()).await,
            Peer::connect(exec, &nodes[1].url()).await,
            Peer::connect(exec, &nodes[2].url()).await,
        ];
        every_operation(exec, &mut peers, ["rs-1", "rs-2", "rs-3"], None).await;
        stop_nodes(exec, nodes).await;
    }

    /// Three of our nodes with `streamCount` 3 and `useShardedPubSub`: every row of the
    /// table in four namespaces spread over four streams, each namespace's messages in the
    /// stream the official hash names and only there (none in `<key>`), the pub/sub part
    /// sharded only.
    async fn every_operation_across_streams_and_shards(exec: Executor) {
        let key = unique_key("streams-spread");
        let namespaces: Vec<&str> = SPREAD.iter().map(|(nsp, _)| *nsp).skip(1).collect();
        let ids = ["rs-1", "rs-2", "rs-3"];
        let nodes = start_nodes_serving(exec, REDIS_URL, spread(&key), &ids, &namespaces).await;
        for (nsp, stream) in SPREAD {
            wait_server_count_on(exec, &nodes, nsp, 3).await;
            let channel = format!("{key}#{nsp}#");
            assert_eq!(subscribers("SHARDNUMSUB", &channel).await, 3, "{channel}");
            assert_eq!(subscribers("NUMSUB", &channel).await, 0, "{channel}");
            let stream = format!("{key}{stream}");
            let before = stream_len(&stream).await;
            let mut peers = [
                Peer::connect_to(exec, &nodes[0].url(), nsp).await,
                Peer::connect_to(exec, &nodes[1].url(), nsp).await,
                Peer::connect_to(exec, &nodes[2].url(), nsp).await,
            ];
            every_operation(exec, &mut peers, ids, None).await;
            assert!(stream_len(&stream).await > before, "{nsp}: nothing in {stream}");
        }
        for (nsp, stream) in SPREAD {
            let stream = format!("{key}{stream}");
            assert_eq!(stream_namespaces(&stream).await, [nsp.to_owned()].into(), "{stream}");
        }
        assert_eq!(stream_len(&key).await, 0, "the single stream is not used");
        stop_nodes(exec, nodes).await;
    }
}

/// A Node node with the official streams adapter beside ours on tokio and smol.
#[test]
fn mixed_streams_cluster() {
    let exec = Executor::Tokio;
    exec.block_on(async move {
        let key = unique_key("streams-mixed");
        let node = node_node(&key, "node-1");
        let mut nodes =
            start_nodes_on(Executor::Tokio, REDIS_URL, streams(&key), &["rs-tokio"]).await;
        nodes.extend(start_nodes_on(Executor::Smol, REDIS_URL, streams(&key), &["rs-smol"]).await);
        wait_server_count(exec, &nodes, 3).await;
        let mut peers = [
            Peer::connect(exec, &node.url()).await,
            Peer::connect(exec, &nodes[0].url()).await,
            Peer::connect(exec, &nodes[1].url()).await,
        ];
        every_operation(exec, &mut peers, ["node-1", "rs-tokio", "rs-smol"], None).await;
        stop_nodes(exec, nodes).await;
    });
}

/// Recovery across two of our nodes.
#[test]
fn a_client_recovers_across_our_nodes() {
    let exec = Executor::Tokio;
    exec.block_on(async move {
        let key = unique_key("streams-recover");
        let nodes = start_nodes_on(exec, REDIS_URL, streams(&key), &["rs-1", "rs-2"]).await;
        wait_server_count(exec, &nodes, 2).await;
        recover_across(exec, &key, "/", &nodes[0].url(), &nodes[1].url()).await;
        stop_nodes(exec, nodes).await;
    });
}

/// Recovery from a Node node to ours, and from ours to a Node node.
#[test]
fn a_client_recovers_between_node_and_rust_nodes() {
    let exec = Executor::Tokio;
    exec.block_on(async move {
        let key = unique_key("streams-recover-mixed");
        let node = node_node(&key, "node-1");
        let nodes = start_nodes_on(exec, REDIS_URL, streams(&key), &["rs-1"]).await;
        wait_server_count(exec, &nodes, 2).await;
        recover_across(exec, &key, "/", &node.url(), &nodes[0].url()).await;
        recover_across(exec, &key, "/", &nodes[0].url(), &node.url()).await;
        stop_nodes(exec, nodes).await;
    });
}

/// Recovery across two of our nodes with `streamCount` 3 and `useShardedPubSub`, in
/// namespaces on different streams.
#[test]
fn a_client_recovers_across_streams_and_shards() {
    let exec = Executor::Tokio;
    exec.block_on(async move {
        let key = unique_key("streams-spread-recover");
        let namespaces = ["/chat", "/notifications"];
        let nodes = start_nodes_serving(
            exec,
            REDIS_URL,
            spread(&key),
            &["rs-1", "rs-2"],
            &namespaces,
        )
        .await;
        for nsp in ["/", "/chat", "/notifications"] {
            wait_server_count_on(exec, &nodes, nsp, 2).await;
            recover_across(exec, &key, nsp, &nodes[0].url(), &nodes[1].url()).await;
        }
        stop_nodes(exec, nodes).await;
    });
}

/// The official streams adapter with `streamCount` 3 and `useShardedPubSub` beside two of
/// ours: every row of the table in `/` and in `/chat` (the Node node's client first: it
/// asks, ours answer; ours broadcast, it receives; then the same with ours first), and the
/// Node node's broadcasts in `/notifications`, whose negative hash puts it in `<key>--2`,
/// reach our clients.
#[test]
fn mixed_cluster_with_streams_and_shards() {
    let exec = Executor::Tokio;
    exec.block_on(async move {
        let key = unique_key("streams-spread-mixed");
        let namespaces = ["/chat", "/notifications"];
        let node = spread_node_node(&key, "node-1", &namespaces);
        let mut nodes = start_nodes_serving(
            Executor::Tokio,
            REDIS_URL,
            spread(&key),
            &["rs-tokio"],
            &namespaces,
        )
        .await;
        nodes.extend(
            start_nodes_serving(
                Executor::Smol,
                REDIS_URL,
                spread(&key),
                &["rs-smol"],
                &namespaces,
            )
            .await,
        );
        for nsp in ["/", "/chat"] {
            wait_server_count_on(exec, &nodes, nsp, 3).await;
            let mut peers = [
                Peer::connect_to(exec, &node.url(), nsp).await,
                Peer::connect_to(exec, &nodes[0].url(), nsp).await,
                Peer::connect_to(exec, &nodes[1].url(), nsp).await,
            ];
            every_operation(exec, &mut peers, ["node-1", "rs-tokio", "rs-smol"], None).await;
            // Ours first: a client of ours asks, the Node node answers (the first round's
            // client on the tokio node leaves first).
            peers[1].socket.disconnect();
            let mut peers = [
                Peer::connect_to(exec, &nodes[0].url(), nsp).await,
                Peer::connect_to(exec, &node.url(), nsp).await,
                Peer::connect_to(exec, &nodes[1].url(), nsp).await,
            ];
            wait_for_sockets(exec, &peers[0], Value::Null, 3).await;
            every_operation(exec, &mut peers, ["rs-tokio", "node-1", "rs-smol"], None).await;
        }

        wait_server_count_on(exec, &nodes, "/notifications", 3).await;
        let on_node = Peer::connect_to(exec, &node.url(), "/notifications").await;
        let mut on_rust = Peer::connect_to(exec, &nodes[0].url(), "/notifications").await;
        let before = stream_len(&format!("{key}--2")).await;
        on_node.emit("broadcast", vec![s("from node")]);
        assert_eq!(
            json_args(&on_rust.next(exec, "broadcast-event").await),
            r#"["from node"]"#
        );
        assert!(stream_len(&format!("{key}--2")).await > before);
        // Node's entries and ours, each namespace in its own stream.
        for (nsp, stream) in [("/", "-2"), ("/chat", "-1"), ("/notifications", "--2")] {
            let stream = format!("{key}{stream}");
            assert_eq!(
                stream_namespaces(&stream).await,
                [nsp.to_owned()].into(),
                "{stream}"
            );
        }
        stop_nodes(exec, nodes).await;
    });
}

/// Recovery from a Node node to ours and from ours to a Node node, with `streamCount` 3 and
/// `useShardedPubSub`, in `/chat` and in `/` (two streams).
#[test]
fn a_client_recovers_between_node_and_rust_nodes_across_streams() {
    let exec = Executor::Tokio;
    exec.block_on(async move {
        let key = unique_key("streams-spread-recover-mixed");
        let node = spread_node_node(&key, "node-1", &["/chat"]);
        let nodes = start_nodes_serving(exec, REDIS_URL, spread(&key), &["rs-1"], &["/chat"]).await;
        for nsp in ["/chat", "/"] {
            wait_server_count_on(exec, &nodes, nsp, 2).await;
            recover_across(exec, &key, nsp, &node.url(), &nodes[0].url()).await;
            recover_across(exec, &key, nsp, &nodes[0].url(), &node.url()).await;
        }
        stop_nodes(exec, nodes).await;
    });
}
