//! API-level scenarios, driven through `serve_websocket` (in-memory) and `handle_http`.
#![allow(missing_docs)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use socketio::{
    AckError, AckSender, BroadcastAckError, ConnectError, Handshake, RecoveryConfig, Server, Socket,
};

fn sid_of(reply: &str) -> String {
    let start = reply.find("\"sid\":\"").unwrap() + 7;
    reply[start..start + 20].to_owned()
}

#[test]
fn connect_event_and_ack_both_ways() {
    let (io, rt) = build(Server::builder());
    io.ns("/", |socket: Socket| async move {
        socket.on(
            "add",
            |_s: Socket, (a, b): (i64, i64), ack: Option<AckSender>| async move {
                ack.unwrap().send(&(a + b)).unwrap();
            },
        );
        socket.on(
            "echo",
            |s: Socket, msg: String, _ack: Option<AckSender>| async move {
                s.emit("echo", &msg).unwrap();
            },
        );
        socket.on(
            "ask",
            |s: Socket, _: (), _ack: Option<AckSender>| async move {
                let answer: Result<String, AckError> = s
                    .emit_with_ack("question", &1)
                    .timeout(Duration::from_secs(1))
                    .await;
                s.emit("answer", &answer.unwrap()).unwrap();
            },
        );
    });
    block_on(async {
        let (mut c, reply) = connect(&io, &rt, "/", "").await;
        assert!(reply.starts_with("40{\"sid\":\""), "{reply}");
        c.send(r#"421["add",1,2]"#);
        assert_eq!(c.text().await, "431[3]");
        c.send(r#"42["echo","hi"]"#);
        assert_eq!(c.text().await, r#"42["echo","hi"]"#);
        c.send(r#"42["ask"]"#);
        let q = c.text().await;
        assert!(
            q.starts_with("42") && q.ends_with(r#"["question",1]"#),
            "{q}"
        );
        let id: String = q[2..].chars().take_while(|c| c.is_ascii_digit()).collect();
        c.send(&format!(r#"43{id}["forty-two"]"#));
        assert_eq!(c.text().await, r#"42["answer","forty-two"]"#);
    });
}

#[test]
fn emit_with_ack_times_out() {
    let (io, rt) = build(Server::builder());
    let result = Arc::new(Mutex::new(None));
    let seen = result.clone();
    io.ns("/", move |socket: Socket| {
        let seen = seen.clone();
        async move {
            let r: Result<u32, AckError> = socket
                .emit_with_ack("q", &())
                .timeout(Duration::from_millis(100))
                .await;
            *seen.lock().unwrap() = Some(r);
        }
    });
    block_on(async {
        let (mut c, _) = connect(&io, &rt, "/", "").await;
        assert!(c.text().await.ends_with(r#"["q"]"#));
        sleep(300).await;
        assert_eq!(*result.lock().unwrap(), Some(Err(AckError::Timeout)));
    });
}

#[test]
fn middleware_refusal_and_unknown_namespace() {
    let (io, rt) = build(Server::builder());
    io.ns("/", |_s: Socket| async {});
    io.ns("/admin", |s: Socket| async move {
        s.emit("hello", &s.handshake().auth_field::<String>("token"))
            .unwrap();
    })
    .with(|hs: Handshake| async move {
        match hs.auth_field::<String>("token").as_deref() {
            Some("secret") => Ok(()),
            _ => {
                Err(ConnectError::new("not authorized").with_data(&serde_json::json!({"code": 7})))
            }
        }
    });
    block_on(async {
        let (mut c, reply) = connect(&io, &rt, "/admin", r#"{"token":"bad"}"#).await;
        assert_eq!(
            reply,
            r#"44/admin,{"message":"not authorized","data":{"code":7}}"#
        );
        c.send(r#"40/admin,{"token":"secret"}"#);
        assert!(c.text().await.starts_with("40/admin,{\"sid\""));
        assert_eq!(c.text().await, r#"42/admin,["hello","secret"]"#);
        c.send("40/nope,");
        assert_eq!(c.text().await, r#"44/nope,{"message":"Invalid namespace"}"#);
    });
}

#[test]
fn dynamic_namespaces() {
    let (io, rt) = build(Server::builder());
    io.dynamic_ns(
        |name: &str| name.starts_with("/dyn-"),
        |s: Socket| async move {
            s.emit("ns", s.ns()).unwrap();
        },
    );
    block_on(async {
        let (mut c, reply) = connect(&io, &rt, "/dyn-1", "").await;
        assert!(reply.starts_with("40/dyn-1,{\"sid\""), "{reply}");
        assert_eq!(c.text().await, r#"42/dyn-1,["ns","/dyn-1"]"#);
        c.send("40/other,");
        assert_eq!(
            c.text().await,
            r#"44/other,{"message":"Invalid namespace"}"#
        );
    });
}

#[test]
fn rooms_broadcast_except_and_fetch_sockets() {
    let (io, rt) = build(Server::builder());
    io.ns("/", |socket: Socket| async move {
        socket.on(
            "join",
            |s: Socket, room: String, _: Option<AckSender>| async move {
                s.join(room);
            },
        );
        socket.on(
            "shout",
            |s: Socket, room: String, _: Option<AckSender>| async move {
                s.to(room).emit("shout", "hey").unwrap();
            },
        );
    });
    block_on(async {
        let (mut a, ra) = connect(&io, &rt, "/", "").await;
        let (mut b, _) = connect(&io, &rt, "/", "").await;
        let (mut c, _) = connect(&io, &rt, "/", "").await;
        a.send(r#"42["join","red"]"#);
        b.send(r#"42["join","red"]"#);
        c.send(r#"42["join","blue"]"#);
        sleep(100).await;
        // The sender is left out of its own `to`.
        a.send(r#"42["shout","red"]"#);
        assert_eq!(b.text().await, r#"42["shout","hey"]"#);
        a.silent(100).await;
        c.silent(0).await;
        // Server-side operators.
        assert_eq!(io.to("red").emit("news", &1).unwrap(), 2);
        assert_eq!(a.text().await, r#"42["news",1]"#);
        assert_eq!(b.text().await, r#"42["news",1]"#);
        assert_eq!(io.except("red").emit("news", &2).unwrap(), 1);
        assert_eq!(c.text().await, r#"42["news",2]"#);
        let red: Vec<String> = io
            .to("red")
            .fetch_sockets()
            .await
            .unwrap()
            .iter()
            .map(|s| s.id().to_owned())
            .collect();
        assert_eq!(red.len(), 2);
        assert!(red.contains(&sid_of(&ra)));
        io.to("blue").sockets_join("red");
        assert_eq!(io.to("red").fetch_sockets().await.unwrap().len(), 3);
        io.to("red").sockets_leave("red");
        assert_eq!(io.to("red").fetch_sockets().await.unwrap().len(), 0);
        assert_eq!(io.fetch_sockets().await.unwrap().len(), 3);
        let a_socket = io
            .fetch_sockets()
            .await
            .unwrap()
            .into_iter()
            .find(|s| s.id() == sid_of(&ra))
            .unwrap();
        assert!(a_socket.rooms().contains(&sid_of(&ra)));
    });
}

#[test]
fn broadcast_with_acks_all_and_partial() {
    let (io, rt) = build(Server::builder());
    io.ns("/", |_s: Socket| async {});
    block_on(async {
        let (mut a, _) = connect(&io, &rt, "/", "").await;
        let (mut b, _) = connect(&io, &rt, "/", "").await;
        let io2 = io.clone();
        let all = rt_spawn(&rt, async move {
            io2.timeout(Duration::from_secs(2))
                .emit_with_ack::<u32, _>("count", &())
                .await
        });
        let qa = a.text().await;
        let qb = b.text().await;
        assert_eq!(qa, qb);
        let id: String = qa[2..].chars().take_while(|c| c.is_ascii_digit()).collect();
        a.send(&format!("43{id}[1]"));
        b.send(&format!("43{id}[2]"));
        let mut got = all.await.unwrap().unwrap();
        got.sort();
        assert_eq!(got, vec![1, 2]);
        // Only one answers: the partial responses on timeout.
        let io2 = io.clone();
        let partial = rt_spawn(&rt, async move {
            io2.timeout(Duration::from_millis(200))
                .emit_with_ack::<u32, _>("count", &())
                .await
        });
        let qa = a.text().await;
        let _ = b.text().await;
        let id: String = qa[2..].chars().take_while(|c| c.is_ascii_digit()).collect();
        a.send(&format!("43{id}[5]"));
        assert_eq!(
            partial.await.unwrap(),
            Err(BroadcastAckError::Timeout { partial: vec![5] })
        );
    });
}

fn rt_spawn<T: Send + 'static>(
    rt: &Arc<PoolRuntime>,
    f: impl std::future::Future<Output = T> + Send + 'static,
) -> futures_channel::oneshot::Receiver<T> {
    let (tx, rx) = futures_channel::oneshot::channel();
    rt.0.spawn_ok(async move {
        let _ = tx.send(f.await);
    });
    async_unwrap(rx)
}

fn async_unwrap<T>(
    rx: futures_channel::oneshot::Receiver<T>,
) -> futures_channel::oneshot::Receiver<T> {
    rx
}

#[test]
fn binary_both_ways() {
    let (io, rt) = build(Server::builder());
    io.ns("/", |socket: Socket| async move {
        socket.on(
            "bin",
            |s: Socket, data: bytes::Bytes, _: Option<AckSender>| async move {
                let mut reversed = data.to_vec();
                reversed.reverse();
                s.emit("bin", &bytes::Bytes::from(reversed)).unwrap();
            },
        );
    });
    block_on(async {
        let (mut c, _) = connect(&io, &rt, "/", "").await;
        c.send(r#"451-["bin",{"_placeholder":true,"num":0}]"#);
        c.send_binary(&[1, 2, 3]);
        assert_eq!(
            c.text().await,
            r#"451-["bin",{"_placeholder":true,"num":0}]"#
        );
        match c.next().await {
            Some(tungstenite::Message::Binary(b)) => assert_eq!(&b[..], &[3, 2, 1]),
            other => panic!("{other:?}"),
        }
    });
}

#[test]
fn disconnect_reasons_and_data() {
    let (io, rt) = build(Server::builder());
    let reasons = Arc::new(Mutex::new(Vec::new()));
    let seen = reasons.clone();
    io.ns("/", move |socket: Socket| {
        let seen = seen.clone();
        async move {
            socket.set_data(&"alice").unwrap();
            let seen2 = seen.clone();
            socket.on_disconnecting(move |s: Socket, _reason| {
                let seen = seen2.clone();
                async move {
                    seen.lock()
                        .unwrap()
                        .push(format!("rooms:{}", s.rooms().len()))
                }
            });
            socket.on_disconnect(move |s: Socket, reason| {
                let seen = seen.clone();
                async move {
                    seen.lock()
                        .unwrap()
                        .push(format!("{}:{reason}", s.data::<String>().unwrap()))
                }
            });
            socket.on("bye", |s: Socket, _: (), _: Option<AckSender>| async move {
                s.disconnect(false);
            });
        }
    });
    block_on(async {
        let (c, _) = connect(&io, &rt, "/", "").await;
        c.send("41");
        let (mut d, _) = connect(&io, &rt, "/", "").await;
        d.send(r#"42["bye"]"#);
        assert_eq!(d.text().await, "41");
        sleep(200).await;
        let mut got = reasons.lock().unwrap().clone();
        got.sort();
        assert_eq!(
            got,
            [
                "alice:client namespace disconnect",
                "alice:server namespace disconnect",
                "rooms:1",
                "rooms:1"
            ]
        );
    });
}

#[test]
fn shutdown_disconnects_everyone() {
    let (io, rt) = build(Server::builder());
    let reasons = Arc::new(Mutex::new(Vec::new()));
    let seen = reasons.clone();
    io.ns("/", move |socket: Socket| {
        let seen = seen.clone();
        async move {
            socket.on_disconnect(move |_s: Socket, reason| {
                let seen = seen.clone();
                async move { seen.lock().unwrap().push(reason.to_string()) }
            });
        }
    });
    block_on(async {
        let (mut c, _) = connect(&io, &rt, "/", "").await;
        io.shutdown().await;
        assert_eq!(*reasons.lock().unwrap(), ["server shutting down"]);
        // The WebSocket got its close.
        loop {
            match c.next().await {
                Some(tungstenite::Message::Close(_)) | None => break,
                Some(_) => {}
            }
        }
        let (status, _) = http(&io, "GET", "/socket.io/?EIO=4&transport=polling", "").await;
        assert_eq!(status, 503);
    });
}

#[test]
fn polling_session() {
    let (io, _rt) = build(Server::builder());
    io.ns("/", |socket: Socket| async move {
        socket.on(
            "echo",
            |s: Socket, v: serde_json::Value, _: Option<AckSender>| async move {
                s.emit("echo", &v).unwrap();
            },
        );
    });
    block_on(async {
        let (status, body) = http(&io, "GET", "/socket.io/?EIO=4&transport=polling", "").await;
        assert_eq!(status, 200);
        assert!(body.starts_with("0{\"sid\":\""), "{body}");
        let sid = &body[9..29];
        let target = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
        assert_eq!(
            http(&io, "POST", &target, "40").await,
            (200, "ok".to_owned())
        );
        let (_, body) = http(&io, "GET", &target, "").await;
        assert!(body.starts_with("40{\"sid\""), "{body}");
        assert_eq!(
            http(&io, "POST", &target, r#"42["echo",{"a":1}]"#).await.0,
            200
        );
        let (_, body) = http(&io, "GET", &target, "").await;
        assert_eq!(body, r#"42["echo",{"a":1}]"#);
        // Too large a body: 413.
        let big = "4".repeat(1_000_001);
        assert_eq!(http(&io, "POST", &target, &big).await.0, 413);
        // Unknown sid.
        let (status, body) = http(
            &io,
            "GET",
            "/socket.io/?EIO=4&transport=polling&sid=nope",
            "",
        )
        .await;
        assert_eq!(
            (status, body.as_str()),
            (400, r#"{"code":1,"message":"Session ID unknown"}"#)
        );
    });
}

#[test]
fn allow_request_refuses() {
    let (io, _rt) = build(Server::builder().allow_request(|parts, _| {
        if parts.uri.query().unwrap_or("").contains("token=ok") {
            Ok(())
        } else {
            Err("no token".into())
        }
    }));
    block_on(async {
        let (status, body) = http(&io, "GET", "/socket.io/?EIO=4&transport=polling", "").await;
        assert_eq!(
            (status, body.as_str()),
            (403, r#"{"code":4,"message":"no token"}"#)
        );
        let (status, _) = http(
            &io,
            "GET",
            "/socket.io/?EIO=4&transport=polling&token=ok",
            "",
        )
        .await;
        assert_eq!(status, 200);
        assert!(
            io.accept_websocket(&parts("/socket.io/?EIO=4&transport=websocket"), None)
                .is_err()
        );
    });
}

/// A WebSocket that never takes a write, with its connection's sockets' disconnect reasons.
#[allow(clippy::type_complexity)]
fn never_writable(
    limits: socketio::Backpressure,
) -> (
    Server,
    Arc<PoolRuntime>,
    Arc<Mutex<Vec<String>>>,
    Arc<Mutex<Vec<Socket>>>,
) {
    let (io, rt) = build(Server::builder().backpressure(limits));
    let reasons = Arc::new(Mutex::new(Vec::new()));
    let seen = reasons.clone();
    let sockets = Arc::new(Mutex::new(Vec::new()));
    let keep = sockets.clone();
    io.ns("/", move |socket: Socket| {
        let seen = seen.clone();
        keep.lock().unwrap().push(socket.clone());
        async move {
            socket.on_disconnect(move |_s: Socket, reason| {
                let seen = seen.clone();
                async move { seen.lock().unwrap().push(reason.to_string()) }
            });
        }
    });
    (io, rt, reasons, sockets)
}

#[test]
fn a_websocket_consumer_above_the_high_water_mark_too_long_is_disconnected() {
    let limits = socketio::Backpressure {
        high_water: 64,
        slow_consumer_timeout: Duration::from_secs(1),
        ..socketio::Backpressure::default()
    };
    let (io, rt, reasons, sockets) = never_writable(limits);
    block_on(async {
        let c = open_ws(&io, &rt, "", true);
        c.send("40");
        sleep(100).await;
        let socket = sockets.lock().unwrap()[0].clone();
        // Above the high water mark, far below the limit: not yet a slow consumer.
        let big = "x".repeat(100);
        for _ in 0..3 {
            socket.emit("data", &big).unwrap();
        }
        assert!(socket.connected());
        // Still above it past the timeout: the next frame finds a slow consumer.
        sleep(1200).await;
        let _ = socket.emit("data", &"late");
        sleep(100).await;
        assert!(!socket.connected());
        assert_eq!(*reasons.lock().unwrap(), ["transport error"]);
    });
}

#[test]
fn slow_websocket_consumer_is_disconnected() {
    let (io, rt, reasons, sockets) = never_writable(socketio::Backpressure {
        high_water: 64,
        limit: 256,
        ..socketio::Backpressure::default()
    });
    block_on(async {
        // A client whose transport never accepts a write: nothing it is sent gets written.
        let c = open_ws(&io, &rt, "", true);
        c.send("40");
        sleep(100).await;
        let socket = sockets.lock().unwrap()[0].clone();
        // Volatile emits are dropped, never disconnecting.
        for _ in 0..20 {
            socket.volatile().emit("tick", &1).unwrap();
        }
        assert!(socket.connected());
        for i in 0..40 {
            let _ = socket.emit("data", &i);
        }
        sleep(100).await;
        assert!(!socket.connected());
        assert_eq!(*reasons.lock().unwrap(), ["transport error"]);
        assert!(io.fetch_sockets().await.unwrap().is_empty());
    });
}

#[test]
fn connect_timeout_closes_idle_sessions() {
    let (io, rt) = build(Server::builder().connect_timeout(Duration::from_millis(100)));
    io.ns("/", |_s: Socket| async {});
    block_on(async {
        let mut c = open_ws(&io, &rt, "", false);
        assert!(c.text().await.starts_with("0{"));
        loop {
            match c.next().await {
                Some(tungstenite::Message::Close(_)) | None => break,
                Some(m) => assert_ne!(m, tungstenite::Message::text("40")),
            }
        }
    });
}

#[test]
fn handlers_start_in_arrival_order() {
    let (io, rt) = build(Server::builder());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    io.ns("/", move |socket: Socket| {
        let log = log.clone();
        async move {
            socket.on("n", move |_s: Socket, n: u32, _: Option<AckSender>| {
                let log = log.clone();
                async move { log.lock().unwrap().push(n) }
            });
        }
    });
    block_on(async {
        let mut c = open_ws(&io, &rt, "", false);
        assert!(c.text().await.starts_with("0{"));
        // Events sent right behind the CONNECT reach the handler registered by the connect
        // handler, in order.
        c.send("40");
        for n in 0..200 {
            c.send(&format!(r#"42["n",{n}]"#));
        }
        sleep(300).await;
        assert_eq!(*seen.lock().unwrap(), (0..200).collect::<Vec<u32>>());
    });
}

#[test]
fn slow_polling_consumer_is_disconnected() {
    let (io, _rt) = build(Server::builder().max_buffered_packets(4));
    let reasons = Arc::new(Mutex::new(Vec::new()));
    let seen = reasons.clone();
    io.ns("/", move |socket: Socket| {
        let seen = seen.clone();
        async move {
            socket.on_disconnect(move |_s: Socket, reason| {
                let seen = seen.clone();
                async move { seen.lock().unwrap().push(reason.to_string()) }
            });
        }
    });
    block_on(async {
        let (_, body) = http(&io, "GET", "/socket.io/?EIO=4&transport=polling", "").await;
        let target = format!("/socket.io/?EIO=4&transport=polling&sid={}", &body[9..29]);
        http(&io, "POST", &target, "40").await;
        let (_, body) = http(&io, "GET", &target, "").await;
        assert!(body.starts_with("40{"), "{body}");
        // The client stops polling; volatile emits are dropped, others fill the buffer.
        for _ in 0..10 {
            io.volatile().emit("tick", &1).unwrap();
        }
        assert_eq!(io.fetch_sockets().await.unwrap().len(), 1);
        for i in 0..10 {
            let _ = io.emit("data", &i);
        }
        sleep(100).await;
        assert!(io.fetch_sockets().await.unwrap().is_empty());
        assert_eq!(*reasons.lock().unwrap(), ["transport error"]);
    });
}

#[test]
fn polling_upgrades_to_websocket() {
    let (io, rt) = build(Server::builder());
    io.ns("/", |socket: Socket| async move {
        socket.on(
            "echo",
            |s: Socket, v: String, _: Option<AckSender>| async move {
                s.emit("echo", &v).unwrap();
            },
        );
    });
    block_on(async {
        let (_, body) = http(&io, "GET", "/socket.io/?EIO=4&transport=polling", "").await;
        assert!(body.contains(r#""upgrades":["websocket"]"#), "{body}");
        let sid = body[9..29].to_owned();
        let target = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
        http(&io, "POST", &target, "40").await;
        let (_, body) = http(&io, "GET", &target, "").await;
        assert!(body.starts_with("40{"), "{body}");
        // A GET is pending while the probe runs: it is answered with a noop.
        let io2 = io.clone();
        let held = target.clone();
        let (tx, pending) = futures_channel::oneshot::channel();
        rt.0.spawn_ok(async move {
            let _ = tx.send(http(&io2, "GET", &held, "").await);
        });
        sleep(50).await;
        let mut ws = open_ws(&io, &rt, &format!("&sid={sid}"), false);
        ws.send("2probe");
        assert_eq!(ws.text().await, "3probe");
        assert_eq!(pending.await.unwrap(), (200, "6".to_owned()));
        ws.send("5");
        ws.send(r#"42["echo","over ws"]"#);
        assert_eq!(ws.text().await, r#"42["echo","over ws"]"#);
        // Polling is over for this session.
        assert_eq!(http(&io, "GET", &target, "").await.0, 400);
    });
}

/// `Socket::close_transport`: no DISCONNECT goes out, the engine session closes, and every
/// socket of the client (all namespaces) leaves with `forced close`.
#[test]
fn close_transport_closes_the_engine_session() {
    let (io, rt) = build(Server::builder());
    let reasons = Arc::new(Mutex::new(Vec::new()));
    for nsp in ["/", "/custom"] {
        let seen = reasons.clone();
        io.ns(nsp, move |socket: Socket| {
            let seen = seen.clone();
            async move {
                socket.on_disconnect(move |s: Socket, reason| {
                    let seen = seen.clone();
                    async move { seen.lock().unwrap().push(format!("{}:{reason}", s.ns())) }
                });
                socket.on(
                    "drop",
                    |s: Socket, _: (), _: Option<AckSender>| async move {
                        s.close_transport();
                    },
                );
            }
        });
    }
    block_on(async {
        // Over WebSocket: the connection closes at once, without `41`.
        let (mut c, _) = connect(&io, &rt, "/", "").await;
        c.send("40/custom,");
        c.expect_prefix("40/custom,").await;
        c.send(r#"42["drop"]"#);
        loop {
            match c.next().await {
                Some(tungstenite::Message::Close(_)) | None => break,
                Some(tungstenite::Message::Text(t)) => {
                    assert!(!t.starts_with("41"), "unexpected DISCONNECT {t}")
                }
                Some(_) => {}
            }
        }
        sleep(200).await;
        let mut got = std::mem::take(&mut *reasons.lock().unwrap());
        got.sort();
        assert_eq!(got, ["/:forced close", "/custom:forced close"]);

        // Over polling with no GET pending: the close packet waits for the next GET.
        let (_, body) = http(&io, "GET", "/socket.io/?EIO=4&transport=polling", "").await;
        let sid = body[9..29].to_owned();
        let target = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
        assert_eq!(http(&io, "POST", &target, "40").await.0, 200);
        let (_, body) = http(&io, "GET", &target, "").await;
        assert!(body.starts_with("40{\"sid\""), "{body}");
        assert_eq!(http(&io, "POST", &target, r#"42["drop"]"#).await.0, 200);
        sleep(200).await;
        let (status, body) = http(&io, "GET", &target, "").await;
        assert_eq!(status, 200);
        assert!(body.ends_with('1') && !body.contains("41"), "{body:?}");
        sleep(200).await;
        assert_eq!(*reasons.lock().unwrap(), ["/:forced close"]);
        let (status, _) = http(&io, "GET", &target, "").await;
        assert_eq!(status, 400);
    });
}

/// A WebSocket whose reads come from a channel of results (to inject errors); writes vanish.
struct ErrWs(
    futures_channel::mpsc::UnboundedReceiver<Result<tungstenite::Message, tungstenite::Error>>,
);

impl futures_core::Stream for ErrWs {
    type Item = Result<tungstenite::Message, tungstenite::Error>;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        futures_util::StreamExt::poll_next_unpin(&mut self.0, cx)
    }
}

impl futures_sink::Sink<tungstenite::Message> for ErrWs {
    type Error = tungstenite::Error;
    fn poll_ready(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn start_send(
        self: std::pin::Pin<&mut Self>,
        _: tungstenite::Message,
    ) -> Result<(), Self::Error> {
        Ok(())
    }
    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn poll_close(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// A WebSocket that ends without a close frame (stream end, reset, `ConnectionClosed`) is a
/// `transport close`, as with the reference; a genuine protocol or IO error mid-stream is a
/// `transport error`.
#[test]
fn websocket_end_without_close_frame_is_transport_close() {
    use tungstenite::error::{CapacityError, ProtocolError};
    type Ending = Option<tungstenite::Error>;
    let cases: Vec<(&str, Ending, &str)> = vec![
        ("stream end", None, "transport close"),
        (
            "reset without closing handshake",
            Some(tungstenite::Error::Protocol(
                ProtocolError::ResetWithoutClosingHandshake,
            )),
            "transport close",
        ),
        (
            "connection reset",
            Some(tungstenite::Error::Io(
                std::io::ErrorKind::ConnectionReset.into(),
            )),
            "transport close",
        ),
        (
            "connection closed",
            Some(tungstenite::Error::ConnectionClosed),
            "transport close",
        ),
        (
            "protocol error",
            Some(tungstenite::Error::Protocol(
                ProtocolError::NonZeroReservedBits,
            )),
            "transport error",
        ),
        (
            "message too long",
            Some(tungstenite::Error::Capacity(
                CapacityError::MessageTooLong {
                    size: 2,
                    max_size: 1,
                },
            )),
            "transport error",
        ),
        (
            "other io error",
            Some(tungstenite::Error::Io(
                std::io::ErrorKind::InvalidData.into(),
            )),
            "transport error",
        ),
    ];
    for (what, ending, expected) in cases {
        let (io, rt) = build(Server::builder());
        let reasons = Arc::new(Mutex::new(Vec::new()));
        let seen = reasons.clone();
        io.ns("/", move |socket: Socket| {
            let seen = seen.clone();
            async move {
                socket.on_disconnect(move |_s: Socket, reason| {
                    let seen = seen.clone();
                    async move { seen.lock().unwrap().push(reason.to_string()) }
                });
            }
        });
        let ticket = io
            .accept_websocket(&parts("/socket.io/?EIO=4&transport=websocket"), None)
            .expect("accepted");
        let (tx, rx) = futures_channel::mpsc::unbounded();
        let io2 = io.clone();
        rt.0.spawn_ok(async move { io2.serve_websocket(ticket, ErrWs(rx)).await });
        tx.unbounded_send(Ok(tungstenite::Message::text("40")))
            .unwrap();
        block_on(async {
            sleep(100).await;
            match ending {
                None => drop(tx),
                Some(error) => tx.unbounded_send(Err(error)).unwrap(),
            }
            for _ in 0..100 {
                if !reasons.lock().unwrap().is_empty() {
                    break;
                }
                sleep(10).await;
            }
        });
        assert_eq!(*reasons.lock().unwrap(), [expected], "{what}");
    }
}

/// Shutdown with a polling client whose GET is not pending: the close packet waits for its
/// next GET (as with the reference), new handshakes get `503`, and `shutdown()` returns once
/// the session is gone.
#[test]
fn shutdown_keeps_the_close_for_the_next_poll() {
    let (io, rt) = build(Server::builder().shutdown_timeout(Duration::from_secs(10)));
    let reasons = Arc::new(Mutex::new(Vec::new()));
    let seen = reasons.clone();
    io.ns("/", move |socket: Socket| {
        let seen = seen.clone();
        async move {
            socket.on_disconnect(move |_s: Socket, reason| {
                let seen = seen.clone();
                async move { seen.lock().unwrap().push(reason.to_string()) }
            });
        }
    });
    block_on(async {
        let (_, body) = http(&io, "GET", "/socket.io/?EIO=4&transport=polling", "").await;
        let sid = body[9..29].to_owned();
        let target = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
        assert_eq!(http(&io, "POST", &target, "40").await.0, 200);
        let (_, body) = http(&io, "GET", &target, "").await;
        assert!(body.starts_with("40{\"sid\""), "{body}");

        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (io2, done2) = (io.clone(), done.clone());
        let started = std::time::Instant::now();
        rt.0.spawn_ok(async move {
            io2.shutdown().await;
            done2.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        sleep(200).await;
        assert_eq!(*reasons.lock().unwrap(), ["server shutting down"]);
        assert!(
            !done.load(std::sync::atomic::Ordering::SeqCst),
            "waits for the session"
        );
        // New handshakes are refused; the existing session gets its close packet.
        let (status, _) = http(&io, "GET", "/socket.io/?EIO=4&transport=polling", "").await;
        assert_eq!(status, 503);
        let (status, body) = http(&io, "GET", &target, "").await;
        assert_eq!((status, body.as_str()), (200, "6\u{1e}1"));
        for _ in 0..200 {
            if done.load(std::sync::atomic::Ordering::SeqCst) {
                break;
            }
            sleep(10).await;
        }
        assert!(
            done.load(std::sync::atomic::Ordering::SeqCst),
            "shutdown finished"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        let (status, _) = http(&io, "GET", &target, "").await;
        assert_eq!(status, 400);
    });
}

/// `emit_args` / `BroadcastOperator::emit_args` / `AckSender::send_args` spread a dynamic
/// argument list (where `emit(&vec)` sends one array argument); `max_payload` follows the
/// builder.
#[test]
fn dynamic_argument_lists_are_spread() {
    use socketio::Value;
    let (io, rt) = build(Server::builder().max_http_buffer_size(4096));
    assert_eq!(io.max_payload(), 4096);
    io.ns("/", |socket: Socket| async move {
        socket.on(
            "go",
            |s: Socket, _: (), ack: Option<AckSender>| async move {
                let args = vec![Value::from(1i64), Value::from("two")];
                s.emit("one", &args).unwrap();
                s.emit_args("spread", args.clone()).unwrap();
                s.emit_args("none", Vec::new()).unwrap();
                s.server()
                    .to(s.id().to_owned())
                    .emit_args("room", args.clone())
                    .unwrap();
                assert!(matches!(
                    s.emit_args("connect", Vec::new()),
                    Err(socketio::EmitError::ReservedName(_))
                ));
                ack.unwrap().send_args(args).unwrap();
            },
        );
    });
    block_on(async {
        let (mut c, _) = connect(&io, &rt, "/", "").await;
        c.send(r#"425["go"]"#);
        assert_eq!(c.text().await, r#"42["one",[1,"two"]]"#);
        assert_eq!(c.text().await, r#"42["spread",1,"two"]"#);
        assert_eq!(c.text().await, r#"42["none"]"#);
        assert_eq!(c.text().await, r#"42["room",1,"two"]"#);
        assert_eq!(c.text().await, r#"435[1,"two"]"#);
    });
}

/// `drain(over)`: new handshakes, WebSockets without a session and requests naming a session
/// this node does not have get `503` with `Retry-After` (so a load balancer tries another
/// node); requests of its own sessions are served; its sockets leave with `server shutting
/// down` spread over `over`, not all at once; it resolves once no session is left.
#[test]
fn drain_refuses_new_work_and_spreads_the_disconnections() {
    let (io, rt) = build(Server::builder().connection_state_recovery(RecoveryConfig::default()));
    let left = Arc::new(Mutex::new(Vec::new()));
    let seen = left.clone();
    io.ns("/", move |socket: Socket| {
        let seen = seen.clone();
        async move {
            socket.on_disconnect(move |_s: Socket, reason| {
                let seen = seen.clone();
                async move {
                    seen.lock()
                        .unwrap()
                        .push((std::time::Instant::now(), reason.to_string()))
                }
            });
        }
    });
    block_on(async {
        let mut clients = Vec::new();
        for _ in 0..40 {
            clients.push(connect(&io, &rt, "/", "").await.0);
        }
        // A polling session of its own, its CONNECT done.
        let (_, body) = http(&io, "GET", "/socket.io/?EIO=4&transport=polling", "").await;
        let sid = body[9..29].to_owned();
        let own = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
        assert_eq!(http(&io, "POST", &own, "40").await.0, 200);
        assert!(http(&io, "GET", &own, "").await.1.starts_with("40{"));
        assert!(!io.is_draining());

        let over = Duration::from_millis(600);
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (io2, done2) = (io.clone(), done.clone());
        let started = std::time::Instant::now();
        rt.0.spawn_ok(async move {
            io2.drain(over).await;
            done2.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        sleep(20).await;
        assert!(io.is_draining());
        let refused = |target: &'static str| {
            let request = http::Request::get(target)
                .body(http_body_util::Full::new(bytes::Bytes::new()))
                .unwrap();
            let io = io.clone();
            async move {
                let response = io.handle_http(request, None).await;
                (
                    response.status().as_u16(),
                    response
                        .headers()
                        .get(http::header::RETRY_AFTER)
                        .map(|v| v.to_str().unwrap().to_owned()),
                )
            }
        };
        assert_eq!(
            refused("/socket.io/?EIO=4&transport=polling").await,
            (503, Some("1".to_owned())),
            "a new handshake"
        );
        assert_eq!(
            refused("/socket.io/?EIO=4&transport=polling&sid=AAAAAAAAAAAAAAAAAAAA").await,
            (503, Some("1".to_owned())),
            "a session of another node"
        );
        let ws = io.accept_websocket(&parts("/socket.io/?EIO=4&transport=websocket"), None);
        assert_eq!(ws.err().map(|r| r.status().as_u16()), Some(503));
        // Its own polling session is still served: it gets its close packet.
        let mut closed = false;
        for _ in 0..100 {
            let (status, body) = http(&io, "GET", &own, "").await;
            assert_eq!(status, 200, "its own session is served");
            if body.ends_with('1') && body.contains('\u{1e}') || body == "1" {
                closed = true;
                break;
            }
        }
        assert!(closed, "the polling session got its close");
        for _ in 0..300 {
            if done.load(std::sync::atomic::Ordering::SeqCst) {
                break;
            }
            sleep(10).await;
        }
        assert!(done.load(std::sync::atomic::Ordering::SeqCst), "drained");
        assert!(io.fetch_sockets().await.unwrap().is_empty());
        let left = left.lock().unwrap().clone();
        assert_eq!(left.len(), 41);
        assert!(
            left.iter()
                .all(|(_, reason)| reason == "server shutting down")
        );
        // Spread: the middle 80% leave over at least 40% of `over` (all at once, within a few
        // milliseconds).
        let mut at: Vec<Duration> = left.iter().map(|(t, _)| *t - started).collect();
        at.sort();
        let span = at[at.len() * 9 / 10] - at[at.len() / 10];
        assert!(span >= over * 2 / 5, "the middle 80% left within {span:?}");
        // Every WebSocket got its close.
        for mut client in clients {
            loop {
                match client.next().await {
                    Some(tungstenite::Message::Close(_)) | None => break,
                    Some(_) => {}
                }
            }
        }
        // Still refusing once drained.
        assert_eq!(refused("/socket.io/?EIO=4&transport=polling").await.0, 503);
    });
}

/// `join`, `leave`, `to` and `except` take one room of any string type or several at once.
#[test]
fn rooms_are_given_one_or_several_of_any_string_type() {
    let (io, rt) = build(Server::builder());
    let sockets = Arc::new(Mutex::new(Vec::new()));
    let seen = sockets.clone();
    io.ns("/", move |socket: Socket| {
        let seen = seen.clone();
        async move {
            seen.lock().unwrap().push(socket);
        }
    });
    block_on(async {
        let (a, _) = connect(&io, &rt, "/", "").await;
        let (b, _) = connect(&io, &rt, "/", "").await;
        sleep(50).await;
        let (sa, sb) = {
            let list = sockets.lock().unwrap();
            (list[0].clone(), list[1].clone())
        };
        let news = String::from("news");
        sa.join(["news", "sports"]);
        sb.join(&news);
        sb.join(vec![String::from("weather")]);
        let mut rooms = sa.rooms();
        rooms.sort();
        assert_eq!(rooms.len(), 3, "{rooms:?}");
        assert!(rooms.contains(&"sports".to_owned()) && rooms.contains(&news));
        // The union of several rooms, less several.
        assert_eq!(io.to(["sports", "weather"]).emit("e", &1).unwrap(), 2);
        assert_eq!(
            io.to(&news)
                .except(vec![sa.id().to_owned(), "nobody".to_owned()])
                .emit("e", &2)
                .unwrap(),
            1
        );
        sa.leave(["news", "sports"]);
        assert_eq!(sa.rooms().len(), 1);
        assert_eq!(io.to(news.as_str()).emit("e", &3).unwrap(), 1);
        drop((a, b));
    });
}
