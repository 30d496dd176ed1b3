//! The streams flavour (`@socket.io/redis-streams-adapter` 0.3) on the real Redis at
//! 127.0.0.1:6379, connection state recovery on: every row of the cluster table across three
//! of our nodes on each executor and in a mixed cluster with the official streams adapter, and
//! a client recovered across nodes (ours to ours, Node's to ours, ours to Node's): it gets its
//! id back, the event it missed, and its rooms.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::json;
use socketio_redis::{Flavor, RedisAdapterOptions, StreamsOptions};
use socketio_tests::client_suite::Proxy;
use socketio_tests::cluster_support::*;
use socketio_tests::executor::Executor;
use socketio_tests::interop::RefServer;

fn streams(key: &str) -> RedisAdapterOptions {
    let mut options = RedisAdapterOptions::with_key(key);
    options.flavor = Flavor::Streams(StreamsOptions {
        session_key_prefix: format!("{key}:session:"),
        ..StreamsOptions::default()
    });
    options
}

fn node_node(key: &str, id: &str) -> RefServer {
    require_redis();
    RefServer::start_script(
        "servers/cluster-redis.js",
        &json!({"port": 0, "redisUrl": REDIS_URL, "key": key, "nodeId": id, "adapter": "streams"}),
    )
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

/// A client on `from` (through a proxy) in room `r` is cut off; an event to `r` is emitted
/// on `to` meanwhile; it reconnects through the proxy, now pointing at `to`: same id, the
/// missed event, and its room.
async fn recover_across(exec: Executor, key: &str, from: &str, to: &str) {
    let proxy = Proxy::start(addr_of(from));
    let mut moving = Peer::connect_reconnecting(exec, &format!("http://{}", proxy.addr)).await;
    let mut observer = Peer::connect(exec, to).await;
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
        recover_across(exec, &key, &nodes[0].url(), &nodes[1].url()).await;
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
        recover_across(exec, &key, &node.url(), &nodes[0].url()).await;
        recover_across(exec, &key, &nodes[0].url(), &node.url()).await;
        stop_nodes(exec, nodes).await;
    });
}
