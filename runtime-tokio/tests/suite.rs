//! The scenarios of the official protocol test suite (socket.io-protocol's `test-suite`), replayed
//! over loopback against a server configured as in PROTOCOL.md's conformance configuration.

mod common;

use std::time::Duration;

use common::*;
use futures_util::{SinkExt, StreamExt};
use http::StatusCode;
use socketio_tokio::{
    AckSender, Cors, CorsOrigin, Server, ServerBuilderExt, ServerExt, Socket, Value,
    tungstenite::Message,
};

fn conformance_server() -> Server {
    let io = conformance_builder()
        .cors(Cors::new(CorsOrigin::Any))
        .build_tokio();
    for ns in ["/", "/custom"] {
        io.ns(ns, |socket: Socket| async move {
            socket.emit("auth", socket.handshake().auth_value()).unwrap();
            socket.on_any(
                |socket: Socket, event: String, args: Vec<Value>, ack: Option<AckSender>| async move {
                    // One- and three-argument events are all these scenarios send.
                    match (event.as_str(), ack, args.as_slice()) {
                        ("message", _, [a]) => socket.emit("message-back", a).unwrap(),
                        ("message", _, [a, b, c]) => {
                            socket.emit("message-back", &(a, b, c)).unwrap()
                        }
                        ("message-with-ack", Some(ack), [a]) => ack.send(a).unwrap(),
                        ("message-with-ack", Some(ack), [a, b, c]) => ack.send(&(a, b, c)).unwrap(),
                        ("message-with-ack", Some(ack), [a, b]) => ack.send(&(a, b)).unwrap(),
                        _ => {}
                    }
                },
            );
        });
    }
    io
}

async fn server() -> std::net::SocketAddr {
    start(conformance_server().http()).await
}

const WS: &str = "/socket.io/?EIO=4&transport=websocket";

/// Opens a WebSocket session and connects to `/` (handshake, `40`, the `auth` event).
async fn connected(addr: std::net::SocketAddr) -> Ws {
    let mut socket = ws_connect(addr, WS).await;
    let _open = next_text(&mut socket).await;
    socket.send(Message::text("40")).await.unwrap();
    assert!(next_text(&mut socket).await.starts_with("40{"));
    assert_eq!(next_text(&mut socket).await, r#"42["auth",{}]"#);
    socket
}

/// Waits until the server ends the WebSocket (close frame, end of stream or reset), answering
/// pings meanwhile; fails on any other frame.
async fn closed(socket: &mut Ws) {
    tokio::time::timeout(WAIT, async {
        loop {
            match socket.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(Message::Text(text))) if text.as_str() == "2" => {}
                Some(Ok(other)) => panic!("expected the close, got {other:?}"),
            }
        }
    })
    .await
    .expect("closed in time");
}

#[tokio::test]
async fn heartbeat_over_polling_times_out() {
    let addr = server().await;
    let (sid, _) = polling_open(addr, "/socket.io/").await;
    // No GET takes the ping (due at 300 ms): the client cannot answer a ping it never got, so
    // it has pingInterval + pingTimeout from when the ping was queued (300 + 200).
    tokio::time::sleep(Duration::from_millis(300 + 300 + 200 + 100)).await;
    let reply = get(
        addr,
        &format!("/socket.io/?EIO=4&transport=polling&sid={sid}"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn heartbeat_over_polling_answered_keeps_the_session() {
    let addr = server().await;
    let (sid, _) = polling_open(addr, "/socket.io/").await;
    let path = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    for _ in 0..3 {
        let reply = get(addr, &path).await;
        assert_eq!((reply.status, reply.text()), (StatusCode::OK, "2"));
        assert_eq!(post(addr, &path, "3").await.text(), "ok");
    }
}

#[tokio::test]
async fn heartbeat_over_websocket_times_out_without_pong() {
    let addr = server().await;
    let mut socket = ws_connect(addr, WS).await;
    let _open = next_text(&mut socket).await;
    // Never answer the ping: the server closes after pingInterval + pingTimeout.
    tokio::time::timeout(WAIT, async {
        loop {
            match socket.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await
    .expect("closed after the ping timeout");
}

#[tokio::test]
async fn close_over_polling_answers_the_pending_get_with_noop() {
    let addr = server().await;
    let (sid, _) = polling_open(addr, "/socket.io/").await;
    let path = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    let pending = tokio::spawn({
        let path = path.clone();
        async move { get(addr, &path).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(post(addr, &path, "1").await.text(), "ok");
    let reply = pending.await.unwrap();
    assert_eq!((reply.status, reply.text()), (StatusCode::OK, "6"));
    assert_eq!(get(addr, &path).await.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn close_packet_over_websocket_closes() {
    let addr = server().await;
    let mut socket = ws_connect(addr, WS).await;
    let _open = next_text(&mut socket).await;
    socket.send(Message::text("1")).await.unwrap();
    closed(&mut socket).await;
}

#[tokio::test]
async fn second_websocket_with_an_upgraded_sid_is_closed() {
    let addr = server().await;
    let (sid, _) = polling_open(addr, "/socket.io/").await;
    let with_sid = format!("{WS}&sid={sid}");
    let mut first = ws_connect(addr, &with_sid).await;
    first.send(Message::text("2probe")).await.unwrap();
    assert_eq!(next_text(&mut first).await, "3probe");
    first.send(Message::text("5")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut second = ws_connect(addr, &with_sid).await;
    closed(&mut second).await;
}

#[tokio::test]
async fn socket_connect_with_payload_and_custom_namespace() {
    let addr = server().await;
    let mut socket = ws_connect(addr, WS).await;
    let _open = next_text(&mut socket).await;
    socket
        .send(Message::text(r#"40/custom,{"token":"abc"}"#))
        .await
        .unwrap();
    let connect = next_text(&mut socket).await;
    let handshake: serde_json::Value =
        serde_json::from_str(connect.strip_prefix("40/custom,").unwrap()).unwrap();
    assert_eq!(
        handshake.as_object().unwrap().len(),
        1,
        "only the sid: {connect}"
    );
    assert!(handshake["sid"].is_string());
    assert_eq!(
        next_text(&mut socket).await,
        r#"42/custom,["auth",{"token":"abc"}]"#
    );
}

#[tokio::test]
async fn invalid_socket_packet_closes() {
    let addr = server().await;
    let mut socket = ws_connect(addr, WS).await;
    let _open = next_text(&mut socket).await;
    socket.send(Message::text("4abc")).await.unwrap();
    closed(&mut socket).await;
}

#[tokio::test]
async fn disconnect_from_main_namespace_closes() {
    let addr = server().await;
    let mut socket = connected(addr).await;
    socket.send(Message::text("41")).await.unwrap();
    closed(&mut socket).await;
}

#[tokio::test]
async fn disconnect_custom_namespace_keeps_main() {
    let addr = server().await;
    let mut socket = connected(addr).await;
    socket.send(Message::text("40/custom,")).await.unwrap();
    assert!(next_text(&mut socket).await.starts_with("40/custom,{"));
    let _auth = next_text(&mut socket).await;
    socket.send(Message::text("41/custom,")).await.unwrap();
    socket
        .send(Message::text(
            r#"42["message","message to main namespace"]"#,
        ))
        .await
        .unwrap();
    assert_eq!(
        next_text(&mut socket).await,
        r#"42["message-back","message to main namespace"]"#
    );
}

#[tokio::test]
async fn three_argument_message_and_ack() {
    let addr = server().await;
    let mut socket = connected(addr).await;
    socket
        .send(Message::text(r#"42["message",1,"2",{"3":[true]}]"#))
        .await
        .unwrap();
    assert_eq!(
        next_text(&mut socket).await,
        r#"42["message-back",1,"2",{"3":[true]}]"#
    );
    socket
        .send(Message::text(
            r#"42456["message-with-ack",1,"2",{"3":[false]}]"#,
        ))
        .await
        .unwrap();
    assert_eq!(
        next_text(&mut socket).await,
        r#"43456[1,"2",{"3":[false]}]"#
    );
}

#[tokio::test]
async fn binary_attachments_with_an_ack() {
    let addr = server().await;
    let mut socket = connected(addr).await;
    socket
        .send(Message::text(
            r#"452-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
        ))
        .await
        .unwrap();
    socket.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
    socket.send(Message::binary(vec![4u8, 5, 6])).await.unwrap();
    assert_eq!(
        next_text(&mut socket).await,
        r#"462-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#
    );
    for expected in [[1u8, 2, 3], [4, 5, 6]] {
        match next_frame(&mut socket).await {
            Message::Binary(data) => assert_eq!(&data[..], &expected),
            other => panic!("expected an attachment, got {other:?}"),
        }
    }
}
