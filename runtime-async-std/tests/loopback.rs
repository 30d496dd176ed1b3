//! Socket.IO over real loopback sockets, every test under smol and under async-std (the test
//! names end in `::smol` / `::async_std`): polling and WebSocket handshakes, connect, events,
//! acks, the upgrade from polling, Engine.IO error codes and graceful shutdown.

mod common;

use async_net::{TcpListener, TcpStream};
use common::*;
use futures_util::StreamExt;
use http::StatusCode;
use socketio_async_std::{
    AckSender, Cors, CorsOrigin, HttpServer, Server, Socket, Value, tungstenite::Message,
};

/// A small server configured like the conformance one: `/` and `/custom` emit `auth`, `message`
/// comes back as `message-back`, `message-with-ack` is acked.
fn conformance_server(executor: Executor) -> Server {
    let io = conformance_builder()
        .cors(Cors::new(CorsOrigin::Any))
        .build(executor.runtime());
    for ns in ["/", "/custom"] {
        io.ns(ns, |socket: Socket| async move {
            socket
                .emit("auth", socket.handshake().auth_value())
                .unwrap();
            socket.on(
                "message",
                |socket: Socket, value: Value, _ack: Option<AckSender>| async move {
                    socket.emit("message-back", &value).unwrap();
                },
            );
            socket.on(
                "message-with-ack",
                |_s: Socket, value: Value, ack: Option<AckSender>| async move {
                    if let Some(ack) = ack {
                        ack.send(&value).unwrap();
                    }
                },
            );
        });
    }
    io
}

async fn server(executor: Executor) -> std::net::SocketAddr {
    start(executor, HttpServer::new(conformance_server(executor))).await
}

on_executors!(polling_handshake_connect_and_event, |executor| async move {
    let addr = server(executor).await;
    let (sid, open) = polling_open(addr, "/socket.io/").await;
    assert_eq!(sid.len(), 20);
    assert_eq!(
        open,
        serde_json::json!({
            "sid": sid, "upgrades": ["websocket"], "pingInterval": 300, "pingTimeout": 200,
            "maxPayload": 1000000
        })
    );
    let path = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    // One keep-alive connection for the whole session.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let reply = exchange(&mut stream, "POST", &path, &[], "40").await;
    assert_eq!((reply.status, reply.text()), (StatusCode::OK, "ok"));
    let reply = exchange(&mut stream, "GET", &path, &[], "").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.header("content-type"),
        Some("text/plain; charset=UTF-8")
    );
    let packets: Vec<&str> = reply.text().split('\u{1e}').collect();
    assert!(packets[0].starts_with(r#"40{"sid":""#), "{packets:?}");
    let mut seen: Vec<String> = packets[1..].iter().map(|p| p.to_string()).collect();
    let reply = post(addr, &path, r#"42["message",1]"#).await;
    assert_eq!(reply.text(), "ok");
    while !seen.iter().any(|p| p == r#"42["message-back",1]"#) {
        let reply = exchange(&mut stream, "GET", &path, &[], "").await;
        assert_eq!(reply.status, StatusCode::OK);
        seen = reply.text().split('\u{1e}').map(str::to_owned).collect();
        if seen.iter().any(|p| p == "2") {
            assert_eq!(post(addr, &path, "3").await.text(), "ok");
        }
    }
});

on_executors!(
    websocket_connect_event_ack_and_namespaces,
    |executor| async move {
        let addr = server(executor).await;
        let mut socket = ws_connect(addr, "/socket.io/?EIO=4&transport=websocket").await;
        let open = next_text(&mut socket).await;
        let json: serde_json::Value =
            serde_json::from_str(open.strip_prefix('0').unwrap()).unwrap();
        assert_eq!(json["upgrades"], serde_json::json!([]));
        assert_eq!(json["pingInterval"], 300);

        let send = Message::text(r#"40{"token":"abc"}"#);
        socket.send(send).await.unwrap();
        let connected = next_text(&mut socket).await;
        assert!(connected.starts_with(r#"40{"sid":""#), "{connected}");
        assert_eq!(
            next_text(&mut socket).await,
            r#"42["auth",{"token":"abc"}]"#
        );
        socket
            .send(Message::text(r#"42["message",1]"#))
            .await
            .unwrap();
        assert_eq!(next_text(&mut socket).await, r#"42["message-back",1]"#);
        let ack = Message::text(r#"421["message-with-ack","x"]"#);
        socket.send(ack).await.unwrap();
        assert_eq!(next_text(&mut socket).await, r#"431["x"]"#);
        socket.send(Message::text("40/random,")).await.unwrap();
        assert_eq!(
            next_text(&mut socket).await,
            r#"44/random,{"message":"Invalid namespace"}"#
        );
        socket.send(Message::text("40/custom,")).await.unwrap();
        assert!(
            next_text(&mut socket)
                .await
                .starts_with(r#"40/custom,{"sid":""#)
        );
        assert_eq!(next_text(&mut socket).await, r#"42/custom,["auth",{}]"#);
    }
);

on_executors!(
    websocket_answers_pings_and_stays_open,
    |executor| async move {
        let addr = server(executor).await;
        let mut socket = ws_connect(addr, "/socket.io/?EIO=4&transport=websocket").await;
        let _open = next_text(&mut socket).await;
        socket.send(Message::text("40")).await.unwrap();
        let _connected = next_text(&mut socket).await;
        let _auth = next_text(&mut socket).await;
        // Three ping intervals (300 ms), each answered: the session stays up.
        for _ in 0..3 {
            assert_eq!(next_text(&mut socket).await, "2");
            socket.send(Message::text("3")).await.unwrap();
        }
        socket
            .send(Message::text(r#"42["message",2]"#))
            .await
            .unwrap();
        loop {
            match next_text(&mut socket).await.as_str() {
                "2" => socket.send(Message::text("3")).await.unwrap(),
                text => break assert_eq!(text, r#"42["message-back",2]"#),
            }
        }
    }
);

on_executors!(upgrade_from_polling_to_websocket, |executor| async move {
    let addr = server(executor).await;
    let (sid, _) = polling_open(addr, "/socket.io/").await;
    let path = format!("/socket.io/?EIO=4&transport=websocket&sid={sid}");
    let mut socket = ws_connect(addr, &path).await;
    socket.send(Message::text("2probe")).await.unwrap();
    assert_eq!(next_text(&mut socket).await, "3probe");
    socket.send(Message::text("5")).await.unwrap();
    socket.send(Message::text("40")).await.unwrap();
    assert!(next_text(&mut socket).await.starts_with(r#"40{"sid":""#));
    let reply = get(
        addr,
        &format!("/socket.io/?EIO=4&transport=polling&sid={sid}"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        reply.json(),
        serde_json::json!({"code": 3, "message": "Bad request"})
    );
});

on_executors!(engine_io_error_codes, |executor| async move {
    let addr = server(executor).await;
    let cases = [
        (
            "GET",
            "/socket.io/?EIO=4&transport=carrier-pigeon",
            0,
            "Transport unknown",
        ),
        (
            "GET",
            "/socket.io/?EIO=4&transport=polling&sid=nope",
            1,
            "Session ID unknown",
        ),
        (
            "POST",
            "/socket.io/?EIO=4&transport=polling",
            2,
            "Bad handshake method",
        ),
        (
            "GET",
            "/socket.io/?EIO=4&transport=websocket",
            3,
            "Bad request",
        ),
        (
            "GET",
            "/socket.io/?EIO=3&transport=polling",
            5,
            "Unsupported protocol version",
        ),
    ];
    for (method, path, code, message) in cases {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let reply = exchange(&mut stream, method, path, &[], "4hi").await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{path}: {}",
            reply.text()
        );
        assert_eq!(
            reply.json(),
            serde_json::json!({ "code": code, "message": message })
        );
    }
    assert_eq!(get(addr, "/elsewhere").await.status, StatusCode::NOT_FOUND);
});

on_executors!(websocket_upgrade_checks, |executor| async move {
    let addr = server(executor).await;
    let upgrade = [
        ("upgrade", "websocket"),
        ("connection", "Upgrade"),
        ("sec-websocket-version", "13"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let path = "/socket.io/?EIO=4&transport=websocket";
    let reply = exchange(&mut stream, "GET", path, &upgrade, "").await;
    assert_eq!(reply.status, StatusCode::SWITCHING_PROTOCOLS);
    assert_eq!(
        reply.header("sec-websocket-accept"),
        Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    );
    // No key: a plain 400.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let reply = exchange(&mut stream, "GET", path, &upgrade[..3], "").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    // Refused by the server (unknown sid): its error, not 101.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let path = "/socket.io/?EIO=4&transport=websocket&sid=nope";
    let reply = exchange(&mut stream, "GET", path, &upgrade, "").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
});

on_executors!(
    graceful_shutdown_closes_clients_and_returns,
    |executor| async move {
        let io = conformance_server(executor);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = async_channel::bounded::<()>(1);
        let (done, finished) = async_channel::bounded::<()>(1);
        executor.spawn(async move {
            let signal = async move {
                let _ = stopped.recv().await;
            };
            HttpServer::new(io)
                .serve_with_shutdown(listener, signal)
                .await
                .unwrap();
            drop(done);
        });
        let mut socket = ws_connect(addr, "/socket.io/?EIO=4&transport=websocket").await;
        let _open = next_text(&mut socket).await;
        socket.send(Message::text("40")).await.unwrap();
        let _connected = next_text(&mut socket).await;
        let _auth = next_text(&mut socket).await;

        drop(stop);
        assert!(timeout(finished.recv()).await.is_err(), "server returned");
        let ended = timeout(async {
            loop {
                match socket.next().await {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return true,
                    Some(Ok(Message::Text(text))) if text.as_str() == "1" => return true,
                    Some(Ok(_)) => {}
                }
            }
        })
        .await;
        assert!(ended);
        assert!(TcpStream::connect(addr).await.is_err(), "still accepting");
    }
);
