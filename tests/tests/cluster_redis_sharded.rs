//! The sharded flavour (`createShardedAdapter` of `@socket.io/redis-adapter` 8.3: SPUBLISH /
//! SSUBSCRIBE, the ClusterAdapter messages) on the real Redis 7 at 127.0.0.1:6379: every row
//! of the cluster table across three of our nodes on each executor, and mixed clusters with
//! the official sharded adapter in each subscription mode.

use serde_json::json;
use socketio_redis::{Flavor, RedisAdapterOptions, SubscriptionMode};
use socketio_tests::cluster_support::*;
use socketio_tests::executor::Executor;
use socketio_tests::interop::RefServer;
use socketio_tokio::Value;

fn sharded(key: &str, mode: SubscriptionMode) -> RedisAdapterOptions {
    let mut options = RedisAdapterOptions::with_key(key);
    options.flavor = Flavor::Sharded(mode);
    options
}

fn mode_name(mode: SubscriptionMode) -> &'static str {
    match mode {
        SubscriptionMode::Static => "static",
        SubscriptionMode::Dynamic => "dynamic",
        SubscriptionMode::DynamicPrivate => "dynamic-private",
    }
}

/// A Node node with the official sharded adapter in `mode`, then ours on tokio and on smol:
/// every row of the table, the Node node's client first (it asks, ours answer).
fn mixed(mode: SubscriptionMode) {
    let exec = Executor::Tokio;
    exec.block_on(async move {
        let key = unique_key(&format!("sharded-mixed-{}", mode_name(mode)));
        require_redis();
        let node = RefServer::start_script(
            "servers/cluster-redis.js",
            &json!({"port": 0, "redisUrl": REDIS_URL, "key": key, "nodeId": "node-1",
                    "adapter": "sharded", "subscriptionMode": mode_name(mode)}),
        );
        let mut nodes = start_nodes_on(
            Executor::Tokio,
            REDIS_URL,
            sharded(&key, mode),
            &["rs-tokio"],
        )
        .await;
        nodes.extend(
            start_nodes_on(Executor::Smol, REDIS_URL, sharded(&key, mode), &["rs-smol"]).await,
        );
        wait_server_count(exec, &nodes, 3).await;
        let mut peers = [
            Peer::connect(exec, &node.url()).await,
            Peer::connect(exec, &nodes[0].url()).await,
            Peer::connect(exec, &nodes[1].url()).await,
        ];
        let settle = (mode != SubscriptionMode::Static).then_some(key.as_str());
        every_operation(exec, &mut peers, ["node-1", "rs-tokio", "rs-smol"], settle).await;
        // And ours first: a client of ours asks, the Node node answers (the first round's
        // client on the tokio node leaves first).
        peers[1].socket.disconnect();
        let mut peers = [
            Peer::connect(exec, &nodes[0].url()).await,
            Peer::connect(exec, &node.url()).await,
            Peer::connect(exec, &nodes[1].url()).await,
        ];
        wait_for_sockets(exec, &peers[0], Value::Null, 3).await;
        every_operation(exec, &mut peers, ["rs-tokio", "node-1", "rs-smol"], settle).await;
        stop_nodes(exec, nodes).await;
    });
}

socketio_tests::executor_tests! {
    /// Three of our nodes in the default (dynamic) mode.
    async fn every_operation_across_three_sharded_nodes(exec: Executor) {
        let key = unique_key("sharded");
        let options = sharded(&key, SubscriptionMode::Dynamic);
        let nodes = start_nodes_on(exec, REDIS_URL, options, &["rs-1", "rs-2", "rs-3"]).await;
        wait_server_count(exec, &nodes, 3).await;
        let mut peers = [
            Peer::connect(exec, &nodes[0].url()).await,
            Peer::connect(exec, &nodes[1].url()).await,
            Peer::connect(exec, &nodes[2].url()).await,
        ];
        every_operation(exec, &mut peers, ["rs-1", "rs-2", "rs-3"], Some(&key)).await;
        stop_nodes(exec, nodes).await;
    }
}

#[test]
fn mixed_sharded_cluster_dynamic() {
    mixed(SubscriptionMode::Dynamic);
}

#[test]
fn mixed_sharded_cluster_static() {
    mixed(SubscriptionMode::Static);
}

#[test]
fn mixed_sharded_cluster_dynamic_private() {
    mixed(SubscriptionMode::DynamicPrivate);
}
