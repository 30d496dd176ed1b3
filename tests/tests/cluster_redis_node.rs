//! Mixed clusters on the real Redis (127.0.0.1:6379): the official socket.io 4.8 server with
//! the official `@socket.io/redis-adapter` 8.3 (`tests/node/servers/cluster-redis.js`) beside
//! our nodes on tokio and on smol, all running the cluster app; and the official
//! `@socket.io/redis-emitter` 5.1 (`tests/node/clients/cluster-emitter.js`) driving our nodes,
//! our emitter driving the Node node.

use std::time::Duration;

use serde_json::json;
use socketio_redis::Emitter;
use socketio_tests::cluster_support::*;
use socketio_tests::executor::Executor;
use socketio_tests::interop::{RefServer, run_client};
use socketio_tokio::Value;

/// The official cluster node on `key`.
fn node_node(key: &str, id: &str) -> RefServer {
    require_redis();
    RefServer::start_script(
        "servers/cluster-redis.js",
        &json!({"port": 0, "redisUrl": REDIS_URL, "key": key, "nodeId": id,
                "requestsTimeout": 1000}),
    )
}

/// A Node node, ours on tokio and ours on smol: every row of the table across them, in both
/// directions (the Node node's client is the requester of every request, and the target of
/// our nodes' broadcasts); then the Node node is killed and the survivors still answer.
#[test]
fn node_and_rust_nodes_share_a_cluster() {
    let exec = Executor::Tokio;
    exec.block_on(async move {
        let key = unique_key("mixed");
        let node = node_node(&key, "node-1");
        let mut nodes = start_nodes(Executor::Tokio, &key, &["rs-tokio"]).await;
        nodes.extend(start_nodes(Executor::Smol, &key, &["rs-smol"]).await);
        wait_server_count(exec, &nodes, 3).await;

        // The Node node's client is `a`: it asks, ours answer; ours broadcast, it receives.
        let mut peers = [
            Peer::connect(exec, &node.url()).await,
            Peer::connect(exec, &nodes[0].url()).await,
            Peer::connect(exec, &nodes[1].url()).await,
        ];
        every_operation(exec, &mut peers, ["node-1", "rs-tokio", "rs-smol"], None).await;

        // The reverse: a client of ours asks, the Node node answers (the clients of the Node
        // node and of the smol node were disconnected by the last step: new ones).
        let mut a = Peer::connect(exec, &node.url()).await;
        let c = Peer::connect(exec, &nodes[1].url()).await;
        let [_, b, _] = &mut peers;
        assert_eq!(a.call(exec, "join", vec![s("q")]).await, s("ok"));
        let fetched = b.call(exec, "fetch-sockets", vec![s("q")]).await;
        let mut rooms = [a.id.clone(), "q".to_owned()];
        rooms.sort();
        assert_eq!(
            json(&fetched),
            format!(
                r#"[{{"id":"{}","rooms":["{}","{}"],"data":{{"node":"node-1"}}}}]"#,
                a.id, rooms[0], rooms[1]
            )
        );
        assert_eq!(
            json(&b.call(exec, "ask-room", vec![s("q")]).await),
            format!(r#"["{}"]"#, a.id)
        );
        assert_eq!(
            json(&c.call(exec, "server-side-emit", vec![]).await),
            r#"["node-1","rs-tokio"]"#
        );
        b.emit("to-room", vec![s("q"), s("to node")]);
        assert_eq!(
            json_args(&a.next(exec, "room-event").await),
            r#"["to node"]"#
        );

        // The Node node dies: the survivors count two and their requests still answer.
        drop(node);
        wait_server_count(exec, &nodes, 2).await;
        assert_eq!(
            json(&c.call(exec, "server-side-emit", vec![]).await),
            r#"["rs-tokio"]"#
        );
        let fetched = c.call(exec, "fetch-sockets", vec![Value::Null]).await;
        assert_eq!(
            fetched.as_array().map(<[Value]>::len),
            Some(2),
            "{fetched:?}"
        );
        stop_nodes(exec, nodes).await;
    });
}

/// 500 room events from a Node node's client arrive in order on our nodes, and the reverse.
#[test]
fn room_events_keep_their_order_in_a_mixed_cluster() {
    let exec = Executor::Tokio;
    exec.block_on(async move {
        let key = unique_key("mixed-order");
        let node = node_node(&key, "node-1");
        let nodes = start_nodes(Executor::Tokio, &key, &["rs-1"]).await;
        wait_server_count(exec, &nodes, 2).await;
        let mut a = Peer::connect(exec, &node.url()).await;
        let mut b = Peer::connect(exec, &nodes[0].url()).await;
        assert_eq!(a.call(exec, "join", vec![s("r")]).await, s("ok"));
        assert_eq!(b.call(exec, "join", vec![s("r")]).await, s("ok"));
        for i in 0..500u64 {
            a.emit("to-room", vec![s("r"), Value::from(i)]);
        }
        for i in 0..500u64 {
            assert_eq!(b.next(exec, "room-event").await, vec![Value::from(i)]);
            assert_eq!(a.next(exec, "room-event").await, vec![Value::from(i)]);
        }
        for i in 0..500u64 {
            b.emit("to-room", vec![s("r"), Value::from(i)]);
        }
        for i in 0..500u64 {
            assert_eq!(a.next(exec, "room-event").await, vec![Value::from(i)]);
            assert_eq!(b.next(exec, "room-event").await, vec![Value::from(i)]);
        }
        stop_nodes(exec, nodes).await;
    });
}

/// The official emitter drives our node and the Node node; our emitter drives both too.
#[test]
fn emitters_drive_node_and_rust_nodes() {
    let exec = Executor::Tokio;
    exec.block_on(async move {
        let key = unique_key("emitters");
        let node = node_node(&key, "node-1");
        let nodes = start_nodes(Executor::Tokio, &key, &["rs-1"]).await;
        wait_server_count(exec, &nodes, 2).await;
        let (tx, rx) = ::smol::channel::unbounded();
        nodes[0]
            .io
            .on_server_side_emit(move |event: String, args: Vec<Value>| {
                let tx = tx.clone();
                async move {
                    let _ = tx.try_send((event, args));
                }
            });
        let mut on_node = Peer::connect(exec, &node.url()).await;
        let mut on_rust = Peer::connect(exec, &nodes[0].url()).await;
        assert_eq!(on_node.call(exec, "join", vec![s("news")]).await, s("ok"));
        assert_eq!(on_rust.call(exec, "join", vec![s("news")]).await, s("ok"));
        assert_eq!(on_rust.call(exec, "join", vec![s("rust")]).await, s("ok"));

        // The official emitter.
        let steps = json!([
            {"op": "emit", "to": ["news"], "event": "room-event", "args": ["official", 1, {"$bin": "AQID"}]},
            {"op": "emit", "except": ["rust"], "event": "except-event", "args": ["not rust"]},
            {"op": "socketsJoin", "to": ["news"], "rooms": ["joined"]},
            {"op": "emit", "to": ["joined"], "event": "room-event", "args": ["joined"]},
            {"op": "socketsLeave", "rooms": ["joined"]},
            {"op": "serverSideEmit", "args": ["ping", "official"]},
        ]);
        let args = json!({"redisUrl": REDIS_URL, "key": key, "steps": steps}).to_string();
        let run = exec
            .unblock(move || {
                run_client(
                    "cluster-emitter.js",
                    &[args],
                    Duration::from_secs(20),
                )
            })
            .await;
        run.assert_success();
        let bin = Value::Binary(bytes::Bytes::from_static(&[1, 2, 3]));
        for peer in [&mut on_node, &mut on_rust] {
            let args = peer.next(exec, "room-event").await;
            assert_eq!(args, vec![s("official"), Value::from(1u64), bin.clone()]);
            assert_eq!(json_args(&peer.next(exec, "room-event").await), r#"["joined"]"#);
        }
        assert_eq!(json_args(&on_node.next(exec, "except-event").await), r#"["not rust"]"#);
        assert!(!on_rust.seen("except-event"));
        let (event, args) = exec.timeout(WAIT, rx.recv()).await.expect("server-side event").unwrap();
        assert_eq!((event.as_str(), args), ("ping", vec![s("official")]));
        wait_for_room(exec, &on_rust, "joined", 0).await;

        // Ours, on the Node node's clients too.
        let conn = redis_client()
            .get_multiplexed_async_connection()
            .await
            .expect("redis");
        let emitter = Emitter::with_key(conn, key.clone());
        emitter.to("news").emit("room-event", &("ours", 2)).await.unwrap();
        for peer in [&mut on_node, &mut on_rust] {
            assert_eq!(json_args(&peer.next(exec, "room-event").await), r#"["ours",2]"#);
        }
        emitter.except("rust").emit("except-event", &"ours").await.unwrap();
        assert_eq!(json_args(&on_node.next(exec, "except-event").await), r#"["ours"]"#);
        emitter.sockets_join(&["all"]).await.unwrap();
        wait_for_room(exec, &on_rust, "all", 2).await;
        emitter.to("all").sockets_leave(&["all"]).await.unwrap();
        wait_for_room(exec, &on_rust, "all", 0).await;
        emitter.server_side_emit("ping", &"ours").await.unwrap();
        let start = std::time::Instant::now();
        while !node
            .lines()
            .iter()
            .any(|l| l.get("serverSideEvent").is_some() && l["args"] == json!(["ours"]))
        {
            assert!(start.elapsed() < WAIT, "the Node node never got ping: {:?}", node.lines());
            exec.sleep(Duration::from_millis(20)).await;
        }
        emitter.of("/").disconnect_sockets(true).await.unwrap();
        on_node.disconnected(exec).await;
        on_rust.disconnected(exec).await;
        assert!(!on_rust.seen("except-event"));
        stop_nodes(exec, nodes).await;
    });
}

/// Our emitter publishes the official emitter's bytes, on the same channels: the same steps
/// through both, read back from a subscription of the test's own.
#[test]
fn our_emitter_publishes_the_official_emitters_bytes() {
    let exec = Executor::Tokio;
    exec.block_on(async move {
        use futures_util::StreamExt;
        let key = unique_key("bytes");
        let mut pubsub = redis_client().get_async_pubsub().await.expect("redis");
        pubsub.psubscribe(format!("{key}*")).await.expect("psubscribe");
        let mut messages = pubsub.into_on_message();
        let mut read = async || -> (String, Vec<u8>) {
            let message = exec
                .timeout(WAIT, messages.next())
                .await
                .expect("a message in time")
                .expect("the subscription is open");
            (
                message.get_channel_name().to_owned(),
                message.get_payload_bytes().to_vec(),
            )
        };

        let steps = json!([
            {"op": "emit", "to": ["r"], "event": "ev", "args": [1, "two", {"$bin": "AQID"}, {"k": [true, null, 1.5]}]},
            {"op": "emit", "except": ["x"], "volatile": true, "event": "ev", "args": []},
            {"op": "emit", "nsp": "/admin", "to": ["a", "b"], "event": "ev", "args": [-7, 70000, 5000000000u64]},
            {"op": "socketsJoin", "to": ["r"], "rooms": ["j"]},
            {"op": "socketsLeave", "except": ["r"], "rooms": ["j", "k"]},
            {"op": "disconnectSockets", "to": ["r"], "close": true},
            {"op": "serverSideEmit", "args": ["ping", "x", 2]},
        ]);
        let args = json!({"redisUrl": REDIS_URL, "key": key, "steps": steps}).to_string();
        exec.unblock(move || {
            run_client("cluster-emitter.js", &[args], Duration::from_secs(20))
        })
        .await
        .assert_success();
        let mut official = Vec::new();
        for _ in 0..7 {
            official.push(read().await);
        }

        let conn = redis_client()
            .get_multiplexed_async_connection()
            .await
            .expect("redis");
        let emitter = Emitter::with_key(conn, key.clone());
        let bin = bytes::Bytes::from_static(&[1, 2, 3]);
        let object = Value::Object(vec![(
            "k".to_owned(),
            Value::Array(vec![Value::Bool(true), Value::Null, Value::from(1.5)]),
        )]);
        emitter
            .to("r")
            .emit("ev", &(1, "two", bin, object))
            .await
            .unwrap();
        emitter.except("x").volatile().emit("ev", &()).await.unwrap();
        emitter
            .of("admin")
            .to("a")
            .to("b")
            .emit("ev", &(-7, 70000, 5_000_000_000u64))
            .await
            .unwrap();
        emitter.to("r").sockets_join(&["j"]).await.unwrap();
        emitter.except("r").sockets_leave(&["j", "k"]).await.unwrap();
        emitter.to("r").disconnect_sockets(true).await.unwrap();
        emitter.server_side_emit("ping", &("x", 2)).await.unwrap();
        for (i, expected) in official.iter().enumerate() {
            let ours = read().await;
            assert_eq!(&ours.0, &expected.0, "channel of step {i}");
            assert_eq!(
                ours.1,
                expected.1,
                "bytes of step {i}: ours {:?}, official {:?}",
                String::from_utf8_lossy(&ours.1),
                String::from_utf8_lossy(&expected.1)
            );
        }
    });
}

/// Our node publishes the official adapter's bytes: the same broadcasts (all, one room,
/// except) and the same broadcast-with-ack request, made by a client on the Node node and by
/// one on ours, read back from a subscription of the test's own; only the random node uid and
/// request id (6 characters each in both) differ.
#[test]
fn our_adapter_publishes_the_official_adapters_bytes() {
    let exec = Executor::Tokio;
    exec.block_on(async move {
        use futures_util::StreamExt;
        let key = unique_key("adapter-bytes");
        let node = node_node(&key, "node-1");
        let nodes = start_nodes(Executor::Tokio, &key, &["rs-1"]).await;
        wait_server_count(exec, &nodes, 2).await;
        let on_node = Peer::connect(exec, &node.url()).await;
        let on_rust = Peer::connect(exec, &nodes[0].url()).await;

        let mut pubsub = redis_client().get_async_pubsub().await.expect("redis");
        pubsub
            .psubscribe(format!("{key}#*"))
            .await
            .expect("psubscribe");
        // A pattern, so that PUBSUB NUMSUB does not count this subscription as a node.
        pubsub
            .psubscribe(format!("{key}-request#*"))
            .await
            .expect("psubscribe");
        let mut messages = pubsub.into_on_message();
        let mut read = async || -> (String, Vec<u8>) {
            let message = exec
                .timeout(WAIT, messages.next())
                .await
                .expect("a message in time")
                .expect("the subscription is open");
            (
                message.get_channel_name().to_owned(),
                message.get_payload_bytes().to_vec(),
            )
        };
        let bin = Value::Binary(bytes::Bytes::from_static(&[9, 8]));
        let steps: Vec<(&str, Vec<Value>)> = vec![
            ("broadcast", vec![s("x"), Value::from(1u64), bin.clone()]),
            ("to-room", vec![s("room"), s("y")]),
            ("except-room", vec![s("room"), Value::from(2.5)]),
        ];
        let mut seen: Vec<Vec<(String, Vec<u8>)>> = Vec::new();
        for peer in [&on_node, &on_rust] {
            let mut these = Vec::new();
            for (event, args) in &steps {
                peer.emit(event, args.clone());
                these.push(read().await);
            }
            // A broadcast with acks to an empty room: the request (the answer is `[]`).
            assert_eq!(
                json(&peer.call(exec, "ask-room", vec![s("nobody")]).await),
                "[]"
            );
            these.push(read().await);
            seen.push(these);
        }
        // [uid, ...]: fixarray, then fixstr of 6 (0xa6) and the uid.
        let mask = |mut bytes: Vec<u8>, at: &[usize]| {
            for start in at {
                for b in bytes.iter_mut().skip(*start).take(6) {
                    *b = b'?';
                }
            }
            bytes
        };
        for (i, (official, ours)) in seen[0].iter().zip(&seen[1]).enumerate() {
            assert_eq!(official.0, ours.0, "channel of step {i}");
            let (official, ours) = if i < 3 {
                (mask(official.1.clone(), &[2]), mask(ours.1.clone(), &[2]))
            } else {
                // {uid: 6, requestId: 6, ...}: "uid" at 1..5, its value at 6..12; "requestId"
                // at 12..22, its value at 23..29.
                (
                    mask(official.1.clone(), &[6, 23]),
                    mask(ours.1.clone(), &[6, 23]),
                )
            };
            assert_eq!(
                official,
                ours,
                "bytes of step {i}: official {:?}, ours {:?}",
                String::from_utf8_lossy(&official),
                String::from_utf8_lossy(&ours)
            );
        }
        stop_nodes(exec, nodes).await;
    });
}

/// `publishOnSpecificResponseChannel` on our nodes: they answer the Node node on its own
/// response channel, which it reads, and read answers on theirs.
#[test]
fn specific_response_channels_interoperate() {
    let exec = Executor::Tokio;
    exec.block_on(async move {
        let key = unique_key("specific");
        let node = node_node(&key, "node-1");
        let mut options = socketio_redis::RedisAdapterOptions::with_key(key.clone());
        options.publish_on_specific_response_channel = true;
        let nodes = start_nodes_on(exec, REDIS_URL, options, &["rs-1", "rs-2"]).await;
        wait_server_count(exec, &nodes, 3).await;
        let a = Peer::connect(exec, &node.url()).await;
        let b = Peer::connect(exec, &nodes[0].url()).await;
        let c = Peer::connect(exec, &nodes[1].url()).await;
        for peer in [&a, &b, &c] {
            assert_eq!(peer.call(exec, "join", vec![s("r")]).await, s("ok"));
        }
        for peer in [&a, &b] {
            let fetched = peer.call(exec, "fetch-sockets", vec![s("r")]).await;
            assert_eq!(
                fetched.as_array().map(<[Value]>::len),
                Some(3),
                "{fetched:?}"
            );
            let asked = peer.call(exec, "ask-room", vec![s("r")]).await;
            assert_eq!(asked.as_array().map(<[Value]>::len), Some(3), "{asked:?}");
        }
        assert_eq!(
            json(&a.call(exec, "server-side-emit", vec![]).await),
            r#"["rs-1","rs-2"]"#
        );
        assert_eq!(
            json(&b.call(exec, "server-side-emit", vec![]).await),
            r#"["node-1","rs-2"]"#
        );
        stop_nodes(exec, nodes).await;
    });
}
