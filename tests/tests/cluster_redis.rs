//! Clusters of this project's servers on the Redis adapter (`socketio-redis`), against the
//! real Redis on 127.0.0.1:6379 (a test fails, never skips, when it is missing). Each test
//! uses its own key prefix, so tests run in parallel; nothing is flushed.
//!
//! - every operation of the adapter seam across three nodes, on tokio, async-std and smol;
//! - our emitter driving the nodes;
//! - Redis stopped and restarted under two nodes (a `redis-server` of the test's own).
//!
//! The mixed Node/Rust clusters are in `cluster_redis_node.rs`.

use std::time::Duration;

use socketio_redis::{Emitter, Flavor, RedisAdapterOptions, SubscriptionMode};
use socketio_tests::cluster_support::*;
use socketio_tests::executor::Executor;
use socketio_tokio::Value;

socketio_tests::executor_tests! {
    /// Three nodes, one client on each: every row of the cluster table across nodes.
    async fn every_operation_across_three_nodes(exec: Executor) {
        let key = unique_key("ops");
        let nodes = start_nodes(exec, &key, &["rs-1", "rs-2", "rs-3"]).await;
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

/// 500 room events from one client arrive in order on every node.
#[test]
fn room_events_keep_their_order_across_nodes() {
    let exec = Executor::Tokio;
    exec.block_on(async move {
        let key = unique_key("order");
        let nodes = start_nodes(exec, &key, &["rs-1", "rs-2"]).await;
        wait_server_count(exec, &nodes, 2).await;
        let mut a = Peer::connect(exec, &nodes[0].url()).await;
        let mut b = Peer::connect(exec, &nodes[1].url()).await;
        assert_eq!(a.call(exec, "join", vec![s("r")]).await, s("ok"));
        assert_eq!(b.call(exec, "join", vec![s("r")]).await, s("ok"));
        for i in 0..500u64 {
            a.emit("to-room", vec![s("r"), Value::from(i)]);
        }
        for peer in [&mut a, &mut b] {
            for i in 0..500u64 {
                assert_eq!(peer.next(exec, "room-event").await, vec![Value::from(i)]);
            }
        }
        stop_nodes(exec, nodes).await;
    });
}

/// Our emitter (uid "emitter", the official emitter's format) drives the nodes: room emits,
/// except, namespaces, socketsJoin/Leave, disconnectSockets, serverSideEmit.
#[test]
fn our_emitter_drives_the_nodes() {
    let exec = Executor::Tokio;
    exec.block_on(async move {
        let key = unique_key("emitter");
        let nodes = start_nodes(exec, &key, &["rs-1", "rs-2"]).await;
        wait_server_count(exec, &nodes, 2).await;
        let (tx, rx) = ::smol::channel::unbounded();
        nodes[1]
            .io
            .on_server_side_emit(move |event: String, args: Vec<Value>| {
                let tx = tx.clone();
                async move {
                    let _ = tx.try_send((event, args));
                }
            });
        let mut a = Peer::connect(exec, &nodes[0].url()).await;
        let mut b = Peer::connect(exec, &nodes[1].url()).await;
        assert_eq!(a.call(exec, "join", vec![s("news")]).await, s("ok"));
        let conn = redis_client()
            .get_multiplexed_async_connection()
            .await
            .expect("redis");
        let emitter = Emitter::with_key(conn, key.clone());

        emitter
            .to("news")
            .emit("room-event", &("n", 1))
            .await
            .unwrap();
        assert_eq!(json_args(&a.next(exec, "room-event").await), r#"["n",1]"#);
        emitter
            .except("news")
            .emit("except-event", &"e")
            .await
            .unwrap();
        assert_eq!(json_args(&b.next(exec, "except-event").await), r#"["e"]"#);
        emitter.of("/").emit("broadcast-event", &2u8).await.unwrap();
        for peer in [&mut a, &mut b] {
            assert_eq!(json_args(&peer.next(exec, "broadcast-event").await), "[2]");
        }
        assert!(!a.seen("except-event") && !b.seen("room-event"));

        emitter.sockets_join(&["all"]).await.unwrap();
        // The join is a request: once a node has applied it, an emit to the room reaches it.
        wait_for_room(exec, &b, "all", 2).await;
        emitter
            .to("all")
            .emit("room-event", &"joined")
            .await
            .unwrap();
        for peer in [&mut a, &mut b] {
            assert_eq!(
                json_args(&peer.next(exec, "room-event").await),
                r#"["joined"]"#
            );
        }
        emitter.to("news").sockets_leave(&["all"]).await.unwrap();
        wait_for_room(exec, &b, "all", 1).await;

        emitter
            .server_side_emit("ping", &("from", "emitter"))
            .await
            .unwrap();
        let (event, args) = exec
            .timeout(WAIT, rx.recv())
            .await
            .expect("server-side event")
            .unwrap();
        assert_eq!(
            (event.as_str(), args),
            ("ping", vec![s("from"), s("emitter")])
        );

        emitter.to("news").disconnect_sockets(true).await.unwrap();
        a.disconnected(exec).await;
        assert_eq!(
            b.call(exec, "server-count", vec![]).await,
            Value::from(2u64)
        );
        stop_nodes(exec, nodes).await;
    });
}

/// Redis (a server of the test's own) stops under two nodes and comes back: each node keeps
/// serving its clients, cluster requests fail with a typed error, nothing panics, and
/// broadcasts cross nodes again once Redis is back.
#[test]
fn redis_restarts_under_the_nodes() {
    redis_restarts(Flavor::Classic);
}

/// The same with the sharded flavour (its own subscriber reconnects and subscribes again).
#[test]
fn redis_restarts_under_sharded_nodes() {
    redis_restarts(Flavor::Sharded(SubscriptionMode::Dynamic));
}

/// The same with the streams flavour: what is broadcast during the outage still reaches this
/// node's clients (without an offset), and the stream is read again once Redis is back.
#[test]
fn redis_restarts_under_streams_nodes() {
    redis_restarts(Flavor::Streams(socketio_redis::StreamsOptions::default()));
}

fn redis_restarts(flavor: Flavor) {
    let exec = Executor::Tokio;
    // The flavour's connections that read from Redis, as the metrics name them.
    let readers: &[&str] = match flavor {
        Flavor::Classic => &["subscriber"],
        Flavor::Sharded(_) => &["sharded_subscriber"],
        _ => &["subscriber", "stream_reader"],
    };
    let mut redis = OwnRedis::start();
    let url = redis.url();
    exec.block_on(async move {
        let key = unique_key("restart");
        let mut options = RedisAdapterOptions::with_key(key.clone());
        options.requests_timeout = Duration::from_secs(1);
        options.reconnect.max = Duration::from_millis(300);
        options.flavor = flavor;
        let nodes = start_nodes_on(exec, &url, options, &["rs-1", "rs-2"]).await;
        wait_server_count(exec, &nodes, 2).await;
        let mut a = Peer::connect(exec, &nodes[0].url()).await;
        let mut b = Peer::connect(exec, &nodes[1].url()).await;
        a.emit("broadcast", vec![s("before")]);
        assert_eq!(
            json_args(&b.next(exec, "broadcast-event").await),
            r#"["before"]"#
        );
        a.next(exec, "broadcast-event").await;

        redis.stop();
        // Local service goes on; cluster requests fail with the adapter's error.
        a.emit("broadcast", vec![s("during")]);
        assert_eq!(
            json_args(&a.next(exec, "broadcast-event").await),
            r#"["during"]"#
        );
        let count = a.call(exec, "server-count", vec![]).await;
        assert!(json(&count).starts_with("\"error: "), "{count:?}");
        let fetched = a.call(exec, "fetch-sockets", vec![Value::Null]).await;
        assert!(json(&fetched).starts_with("\"error: "), "{fetched:?}");

        redis.restart();
        wait_server_count(exec, &nodes, 2).await;
        a.emit("broadcast", vec![s("after")]);
        // What was published during the outage is lost: B's next broadcast is "after".
        assert_eq!(
            json_args(&b.next(exec, "broadcast-event").await),
            r#"["after"]"#
        );
        // The reconnections are in the nodes' metrics: the publisher's (every flavour) and
        // those of the flavour's readers.
        for node in &nodes {
            let text = node.metrics.encode();
            let count = |link: &str| {
                let series = format!("socketio_adapter_reconnects_total{{link=\"{link}\"}} ");
                text.lines()
                    .find_map(|line| line.strip_prefix(series.as_str()))
                    .and_then(|value| value.parse::<f64>().ok())
                    .unwrap_or(0.0)
            };
            assert!(count("publisher") >= 1.0, "{text}");
            for link in readers {
                assert!(count(link) >= 1.0, "{link}: {text}");
            }
        }
        stop_nodes(exec, nodes).await;
    });
}

/// A node that is subscribed but never answers (a subscription of the test's own, counted by
/// `PUBSUB NUMSUB`): requests end after `requestsTimeout` with the typed timeout error, and a
/// broadcast with acks resolves with the answers that came (this node's), marked incomplete.
#[test]
fn a_silent_node_makes_requests_time_out() {
    let exec = Executor::Tokio;
    exec.block_on(async move {
        let key = unique_key("silent");
        let mut options = RedisAdapterOptions::with_key(key.clone());
        options.requests_timeout = Duration::from_millis(300);
        let nodes = start_nodes_on(exec, REDIS_URL, options, &["rs-1"]).await;
        let mut silent = redis_client().get_async_pubsub().await.expect("redis");
        silent
            .subscribe(format!("{key}-request#/#"))
            .await
            .expect("subscribe");
        wait_server_count(exec, &nodes, 2).await;
        let a = Peer::connect(exec, &nodes[0].url()).await;
        assert_eq!(a.call(exec, "join", vec![s("r")]).await, s("ok"));
        assert_eq!(
            a.call(exec, "fetch-sockets", vec![s("r")]).await,
            s("error: adapter: timeout reached while waiting for fetchSockets response: 0 of 1")
        );
        assert_eq!(
            a.call(exec, "server-side-emit", vec![]).await,
            s("error: adapter: timeout reached while waiting for serverSideEmit response: 0 of 1")
        );
        // ask-room waits 2 s (the table's); the silent node never reports its clients.
        let asked = a.call(exec, "ask-room", vec![s("r")]).await;
        assert!(json(&asked).starts_with("\"error: "), "{asked:?}");
        drop(silent);
        wait_server_count(exec, &nodes, 1).await;
        assert_eq!(
            json(&a.call(exec, "ask-room", vec![s("r")]).await),
            format!(r#"["{}"]"#, a.id)
        );
        stop_nodes(exec, nodes).await;
    });
}

/// The sockets `fetch_sockets` returns from another node carry their handshake, and their
/// handles (emit, join, leave, disconnect) act on that node.
#[test]
fn remote_socket_handles_act_on_the_other_node() {
    let exec = Executor::Tokio;
    exec.block_on(async move {
        let key = unique_key("remote-socket");
        let nodes = start_nodes(exec, &key, &["rs-1", "rs-2"]).await;
        wait_server_count(exec, &nodes, 2).await;
        let mut b = Peer::connect(exec, &nodes[1].url()).await;
        let sockets = nodes[0].io.fetch_sockets().await.expect("fetched");
        assert_eq!(sockets.len(), 1);
        let remote = &sockets[0];
        assert_eq!(remote.id(), b.id);
        assert!(remote.as_local().is_none());
        assert_eq!(
            remote.data::<Value>(),
            Some(Value::Object(vec![("node".to_owned(), s("rs-2"))]))
        );
        let handshake = remote.handshake();
        assert!(
            handshake.url.starts_with("/socket.io/?EIO=4"),
            "{handshake:?}"
        );
        assert_eq!(handshake.query.get("EIO"), Some(&s("4")));
        assert!(
            handshake.issued > 0 && handshake.address.contains("127.0.0.1"),
            "{handshake:?}"
        );

        remote.emit("direct", &("hi", 1)).unwrap();
        assert_eq!(json_args(&b.next(exec, "direct").await), r#"["hi",1]"#);
        remote.join("joined");
        wait_for_room(exec, &b, "joined", 1).await;
        remote.leave("joined");
        wait_for_room(exec, &b, "joined", 0).await;
        remote.disconnect(true);
        b.disconnected(exec).await;
        stop_nodes(exec, nodes).await;
    });
}

/// Garbage on every channel of the namespace is dropped: no panic, the nodes go on.
#[test]
fn malformed_messages_are_dropped() {
    let exec = Executor::Tokio;
    exec.block_on(async move {
        let key = unique_key("garbage");
        let nodes = start_nodes(exec, &key, &["rs-1", "rs-2"]).await;
        wait_server_count(exec, &nodes, 2).await;
        let mut a = Peer::connect(exec, &nodes[0].url()).await;
        let mut b = Peer::connect(exec, &nodes[1].url()).await;
        assert_eq!(a.call(exec, "join", vec![s("r")]).await, s("ok"));
        let mut conn = redis_client()
            .get_multiplexed_async_connection()
            .await
            .expect("redis");
        let garbage: [&[u8]; 8] = [
            b"",
            b"{",
            b"{\"type\":7,\"requestId\":\"x\",\"opts\":{\"rooms\":5}}",
            b"{\"type\":5,\"requestId\":\"y\",\"uid\":\"z\",\"opts\":{\"rooms\":[[[]]]}}",
            b"\x93\xa1u\xc0\xc0",
            b"\x93\xa1u\x83\xa4type\x02\xa4data\x91\xc1\xa3nsp\xa1/\x80",
            b"\xdd\xff\xff\xff\xff",
            &[0x91; 200],
        ];
        for channel in [
            format!("{key}#/#"),
            format!("{key}#/#r#"),
            format!("{key}-request#/#"),
            format!("{key}-response#/#"),
        ] {
            for payload in garbage {
                let _: i64 = socketio_redis::redis::cmd("PUBLISH")
                    .arg(&channel)
                    .arg(payload)
                    .query_async(&mut conn)
                    .await
                    .expect("published");
            }
        }
        b.emit("to-room", vec![s("r"), s("still here")]);
        assert_eq!(
            json_args(&a.next(exec, "room-event").await),
            r#"["still here"]"#
        );
        assert_eq!(
            b.call(exec, "server-count", vec![]).await,
            Value::from(2u64)
        );
        assert!(!a.seen("broadcast-event") && !b.seen("broadcast-event"));
        stop_nodes(exec, nodes).await;
    });
}

/// A Redis that wants a password: every flavour authenticates (redis-rs from the URL, and the
/// sharded flavour's own subscriber with `AUTH`), and broadcasts cross nodes.
#[test]
fn every_flavour_authenticates_from_the_url() {
    let exec = Executor::Tokio;
    let redis = OwnRedis::start_with(Some("s3cret"));
    let url = redis.url();
    exec.block_on(async move {
        for flavor in [
            Flavor::Classic,
            Flavor::Sharded(SubscriptionMode::Dynamic),
            Flavor::Streams(socketio_redis::StreamsOptions::default()),
        ] {
            let mut options = RedisAdapterOptions::with_key(unique_key("auth"));
            options.flavor = flavor;
            let nodes = start_nodes_on(exec, &url, options, &["rs-1", "rs-2"]).await;
            wait_server_count(exec, &nodes, 2).await;
            let a = Peer::connect(exec, &nodes[0].url()).await;
            let mut b = Peer::connect(exec, &nodes[1].url()).await;
            a.emit("broadcast", vec![s("authenticated")]);
            assert_eq!(
                json_args(&b.next(exec, "broadcast-event").await),
                r#"["authenticated"]"#
            );
            stop_nodes(exec, nodes).await;
        }
    });
}
