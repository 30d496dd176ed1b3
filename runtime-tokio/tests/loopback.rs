//! Socket.IO over real loopback sockets: polling and WebSocket handshakes, connect, events,
//! acks, the upgrade from polling, CORS and graceful shutdown.

mod common;

use std::time::Duration;

use common::*;
use futures_util::{SinkExt, StreamExt};
use http::{Request, StatusCode};
use http_body_util::Full;
use socketio_tokio::{
    AckSender, Cors, CorsOrigin, Server, ServerBuilderExt, ServerExt, Socket, Value,
    tungstenite::Message,
};
use tokio::net::TcpListener;

/// A small server configured like the conformance one: `/` and `/custom` emit `auth`, `message`
/// comes back as `message-back`, `message-with-ack` is acked.
fn conformance_server() -> Server {
    let io = conformance_builder()
        .cors(Cors::new(CorsOrigin::Any))
        .build_tokio();
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

#[tokio::test]
async fn polling_handshake_connect_and_event() {
    let addr = start(conformance_server().http()).await;
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
    let reply = post(addr, &path, "40").await;
    assert_eq!((reply.status, reply.text()), (StatusCode::OK, "ok"));
    let reply = get(addr, &path).await;
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
        let reply = get(addr, &path).await;
        assert_eq!(reply.status, StatusCode::OK);
        seen = reply.text().split('\u{1e}').map(str::to_owned).collect();
        if seen.iter().any(|p| p == "2") {
            assert_eq!(post(addr, &path, "3").await.text(), "ok");
        }
    }
}

#[tokio::test]
async fn websocket_handshake_connect_event_and_ack() {
    let addr = start(conformance_server().http()).await;
    let mut socket = ws_connect(addr, "/socket.io/?EIO=4&transport=websocket").await;
    let open = next_text(&mut socket).await;
    let json: serde_json::Value = serde_json::from_str(open.strip_prefix('0').unwrap()).unwrap();
    assert_eq!(json["upgrades"], serde_json::json!([]));
    assert_eq!(json["pingInterval"], 300);

    socket
        .send(Message::text(r#"40{"token":"abc"}"#))
        .await
        .unwrap();
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
    socket
        .send(Message::text(r#"421["message-with-ack","x"]"#))
        .await
        .unwrap();
    assert_eq!(next_text(&mut socket).await, r#"431["x"]"#);

    // An unknown namespace is refused, the connection kept.
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
    // No auth payload: the handshake auth is an empty object, as in the reference server.
    assert_eq!(next_text(&mut socket).await, r#"42/custom,["auth",{}]"#);
}

#[tokio::test]
async fn websocket_answers_server_pings_and_stays_open() {
    let addr = start(conformance_server().http()).await;
    let mut socket = ws_connect(addr, "/socket.io/?EIO=4&transport=websocket").await;
    let _open = next_text(&mut socket).await;
    socket.send(Message::text("40")).await.unwrap();
    let _connected = next_text(&mut socket).await;
    let _auth = next_text(&mut socket).await;
    // Over three ping intervals (300 ms), answered by next_frame, the session stays up.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let deadline = tokio::time::Instant::now() + Duration::from_millis(1000);
    let mut pings = 0;
    while tokio::time::Instant::now() < deadline {
        match tokio::time::timeout_at(deadline, socket.next()).await {
            Ok(Some(Ok(Message::Text(text)))) if text.as_str() == "2" => {
                pings += 1;
                socket.send(Message::text("3")).await.unwrap();
            }
            Ok(other) => panic!("unexpected {other:?}"),
            Err(_) => break,
        }
    }
    assert!(pings >= 2, "{pings} pings");
    socket
        .send(Message::text(r#"42["message","still here"]"#))
        .await
        .unwrap();
    assert_eq!(
        next_text(&mut socket).await,
        r#"42["message-back","still here"]"#
    );
}

#[tokio::test]
async fn upgrade_from_polling_to_websocket() {
    let addr = start(conformance_server().http()).await;
    let (sid, _) = polling_open(addr, "/socket.io/").await;
    let mut socket = ws_connect(
        addr,
        &format!("/socket.io/?EIO=4&transport=websocket&sid={sid}"),
    )
    .await;
    socket.send(Message::text("2probe")).await.unwrap();
    assert_eq!(next_text(&mut socket).await, "3probe");
    socket.send(Message::text("5")).await.unwrap();
    socket.send(Message::text("40")).await.unwrap();
    assert!(next_text(&mut socket).await.starts_with(r#"40{"sid":""#));
    // After the upgrade, polling that sid is a bad request.
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
}

#[tokio::test]
async fn binary_event_over_websocket() {
    let addr = start(conformance_server().http()).await;
    let mut socket = ws_connect(addr, "/socket.io/?EIO=4&transport=websocket").await;
    let _open = next_text(&mut socket).await;
    socket.send(Message::text("40")).await.unwrap();
    let _connected = next_text(&mut socket).await;
    let _auth = next_text(&mut socket).await;
    socket
        .send(Message::text(
            r#"451-["message",{"_placeholder":true,"num":0}]"#,
        ))
        .await
        .unwrap();
    socket.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
    assert_eq!(
        next_text(&mut socket).await,
        r#"451-["message-back",{"_placeholder":true,"num":0}]"#
    );
    match next_frame(&mut socket).await {
        Message::Binary(data) => assert_eq!(&data[..], &[1, 2, 3]),
        other => panic!("expected the attachment, got {other:?}"),
    }
}

#[tokio::test]
async fn cors_any_on_polling_and_preflight() {
    let addr = start(conformance_server().http()).await;
    let request = Request::get("/socket.io/?EIO=4&transport=polling")
        .header("origin", "http://example.test")
        .body(Full::default())
        .unwrap();
    let reply = send(addr, request).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
    let preflight = Request::options("/socket.io/?EIO=4&transport=polling")
        .header("origin", "http://example.test")
        .header("access-control-request-method", "POST")
        .body(Full::default())
        .unwrap();
    let reply = send(addr, preflight).await;
    assert!(
        reply.status == StatusCode::NO_CONTENT || reply.status == StatusCode::OK,
        "{}",
        reply.status
    );
    assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
}

#[tokio::test]
async fn graceful_shutdown_closes_clients_and_returns() {
    let io = conformance_server();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(io.serve_with_shutdown(listener, async {
        let _ = stopped.await;
    }));
    let mut socket = ws_connect(addr, "/socket.io/?EIO=4&transport=websocket").await;
    let _open = next_text(&mut socket).await;
    socket.send(Message::text("40")).await.unwrap();
    let _connected = next_text(&mut socket).await;
    let _auth = next_text(&mut socket).await;

    stop.send(()).unwrap();
    tokio::time::timeout(WAIT, server)
        .await
        .expect("server returns")
        .unwrap()
        .unwrap();
    // The client sees its session end (a close packet or frame, or the stream ending).
    let ended = tokio::time::timeout(WAIT, async {
        loop {
            match socket.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(Message::Text(text))) if text.as_str() == "1" => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the client was not closed");
    // No longer accepting.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn keep_alive_connection_serves_several_requests() {
    let addr = start(conformance_server().http()).await;
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(connection);
    let mut exchange = async |mut request: Request<Full<bytes::Bytes>>| {
        use http_body_util::BodyExt;
        // hyper's connection-level client sends no `Host` of its own; an HTTP/1.1 request
        // without one is refused (400), as by Node.
        request.headers_mut().insert(
            http::header::HOST,
            http::HeaderValue::from_static("localhost"),
        );
        let response = sender.send_request(request).await.unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8(body.to_vec()).unwrap())
    };
    let (status, open) = exchange(
        Request::get("/socket.io/?EIO=4&transport=polling")
            .body(Full::default())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let open: serde_json::Value = serde_json::from_str(open.strip_prefix('0').unwrap()).unwrap();
    let path = format!(
        "/socket.io/?EIO=4&transport=polling&sid={}",
        open["sid"].as_str().unwrap()
    );
    let (status, body) = exchange(Request::post(&path).body(Full::from("40")).unwrap()).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ok"));
    let (status, body) = exchange(Request::get(&path).body(Full::default()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.starts_with(r#"40{"sid":""#), "{body}");
}

#[tokio::test]
async fn aborted_pending_get_closes_the_session() {
    let addr = start(conformance_server().http()).await;
    let (sid, _) = polling_open(addr, "/socket.io/").await;
    let path = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    // A GET that waits (nothing to send yet), then its TCP connection goes away.
    let pending = tokio::spawn({
        let path = path.clone();
        async move { get(addr, &path).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    pending.abort();
    let _ = pending.await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    // Well before the heartbeat could close it (300 + 200 ms), the session is gone.
    let reply = get(addr, &path).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text());
    assert_eq!(
        reply.json(),
        serde_json::json!({"code": 1, "message": "Session ID unknown"})
    );
}

#[tokio::test]
async fn graceful_shutdown_answers_a_pending_poll() {
    let io = conformance_server();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(io.serve_with_shutdown(listener, async {
        let _ = stopped.await;
    }));
    let (sid, _) = polling_open(addr, "/socket.io/").await;
    let path = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    assert_eq!(post(addr, &path, "40").await.text(), "ok");
    assert!(get(addr, &path).await.text().starts_with("40{"));
    let pending = tokio::spawn(async move { get(addr, &path).await });
    tokio::time::sleep(Duration::from_millis(50)).await;

    stop.send(()).unwrap();
    tokio::time::timeout(WAIT, server)
        .await
        .expect("server returns")
        .unwrap()
        .unwrap();
    let reply = pending.await.unwrap();
    assert_eq!(reply.status, StatusCode::OK);
    // The held GET gets the close (`1`), maybe after the namespace disconnect.
    assert!(
        reply.text().split('\u{1e}').any(|p| p == "1" || p == "6"),
        "{}",
        reply.text()
    );
}

#[tokio::test]
async fn graceful_shutdown_delivers_the_close_to_a_later_poll() {
    let io = conformance_server();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(io.serve_with_shutdown(listener, async {
        let _ = stopped.await;
    }));
    let (sid, _) = polling_open(addr, "/socket.io/").await;
    let path = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    assert_eq!(post(addr, &path, "40").await.text(), "ok");
    assert!(get(addr, &path).await.text().starts_with("40{"));

    // No GET is pending when the shutdown starts: the close waits for the next poll, which
    // arrives on a new connection while the listener is still accepting.
    stop.send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        !server.is_finished(),
        "shutdown waits for the session to close"
    );
    let reply = get(addr, &path).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(
        reply.text().split('\u{1e}').any(|p| p == "1"),
        "{}",
        reply.text()
    );
    tokio::time::timeout(WAIT, server)
        .await
        .expect("server returns")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn websocket_101_carries_the_ticket_headers() {
    let addr = start(conformance_server().http()).await;
    let request = Request::get("/socket.io/?EIO=4&transport=websocket")
        .header("origin", "http://example.test")
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .body(Full::default())
        .unwrap();
    let reply = send(addr, request).await;
    assert_eq!(reply.status, StatusCode::SWITCHING_PROTOCOLS);
    assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
    let io = conformance_server();
    let parts = Request::get("/socket.io/?EIO=4&transport=websocket")
        .header("origin", "http://example.test")
        .body(())
        .unwrap()
        .into_parts()
        .0;
    // Whatever extra headers the engine gives the ticket are on the 101.
    let ticket = io.accept_websocket(&parts, None).unwrap();
    for (name, value) in ticket.headers() {
        assert_eq!(reply.headers.get(name), Some(value), "{name}");
    }
}

#[tokio::test]
async fn websocket_message_over_max_payload_closes() {
    let addr = start(conformance_server().http()).await;
    let mut socket = ws_connect(addr, "/socket.io/?EIO=4&transport=websocket").await;
    let _open = next_text(&mut socket).await;
    socket.send(Message::text("40")).await.unwrap();
    let _connected = next_text(&mut socket).await;
    let _auth = next_text(&mut socket).await;
    // Just under the limit: delivered.
    let fits = format!(r#"42["message","{}"]"#, "x".repeat(999_000));
    socket.send(Message::text(fits)).await.unwrap();
    assert!(
        next_text(&mut socket)
            .await
            .starts_with(r#"42["message-back","xxx"#)
    );
    // Over it: the connection ends.
    let big = format!("4{}", "x".repeat(1_000_001));
    let _ = socket.send(Message::text(big)).await;
    let ended = tokio::time::timeout(WAIT, async {
        loop {
            match socket.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(
        ended.is_ok(),
        "the oversized message did not end the connection"
    );
}

#[tokio::test]
async fn serve_connection_on_an_in_memory_stream() {
    let (client, server) = tokio::io::duplex(4096);
    tokio::spawn(conformance_server().http().serve_connection(server, None));
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(client))
            .await
            .unwrap();
    tokio::spawn(connection);
    let request = Request::get("/socket.io/?EIO=4&transport=polling")
        .header("host", "memory")
        .body(Full::<bytes::Bytes>::default())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    use http_body_util::BodyExt;
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert!(body.starts_with(b"0{\"sid\":"));
}

/// A socket that has its CONNECT is already in the rooms its connection handler joins (as in
/// the reference, where the handler runs in the same tick): a broadcast made as soon as the
/// client sees the CONNECT reaches it, even when the handler is slow to get there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connected_socket_is_already_in_the_rooms_its_handler_joined() {
    let io = conformance_builder().build_tokio();
    io.ns("/", |socket: Socket| async move {
        // Synchronous work before the join: without the hold, the client would see its
        // CONNECT during it.
        // (`block_in_place`: the worker's other tasks, the writers, move on meanwhile.)
        tokio::task::block_in_place(|| std::thread::sleep(std::time::Duration::from_millis(200)));
        socket.join("lobby");
    });
    let addr = start(io.clone().http()).await;
    let mut client = ws_connect(addr, "/socket.io/?EIO=4&transport=websocket").await;
    let _open = next_text(&mut client).await;
    client.send(Message::text("40")).await.unwrap();
    assert!(next_text(&mut client).await.starts_with("40{"));
    // From the test's own thread, at once: the socket must already be in the lobby.
    let reached = io.to("lobby").emit("heard", "hi").unwrap();
    assert_eq!(reached, 1);
    assert_eq!(next_text(&mut client).await, r#"42["heard","hi"]"#);
}
