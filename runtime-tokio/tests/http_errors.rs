//! Bad inputs over a real loopback socket: every Engine.IO error code with its exact status and
//! JSON body, a refused WebSocket upgrade, `413` over maxPayload, `404` off the path, a half-sent
//! head closed after the (shortened) headers timeout.

mod common;

use bytes::Bytes;
use common::*;
use http::{Request, StatusCode};
use http_body_util::Full;
use socketio_tokio::{HttpServer, ServerBuilderExt};

async fn server() -> std::net::SocketAddr {
    let io = conformance_builder()
        .allow_request(|parts, _remote| {
            if parts.uri.query().unwrap_or("").contains("refuse=1") {
                Err("refused by the test".to_owned())
            } else {
                Ok(())
            }
        })
        .build_tokio();
    start(HttpServer::new(io)).await
}

fn assert_error(reply: &Reply, status: StatusCode, code: u64, message: &str) {
    assert_eq!(reply.status, status, "body: {}", reply.text());
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(
        reply.json(),
        serde_json::json!({ "code": code, "message": message })
    );
}

#[tokio::test]
async fn code_0_transport_unknown() {
    let addr = server().await;
    for path in [
        "/socket.io/?EIO=4",
        "/socket.io/?EIO=4&transport=carrier-pigeon",
    ] {
        assert_error(
            &get(addr, path).await,
            StatusCode::BAD_REQUEST,
            0,
            "Transport unknown",
        );
    }
}

#[tokio::test]
async fn code_1_session_id_unknown() {
    let addr = server().await;
    let reply = get(addr, "/socket.io/?EIO=4&transport=polling&sid=nope").await;
    assert_error(&reply, StatusCode::BAD_REQUEST, 1, "Session ID unknown");
    let reply = post(addr, "/socket.io/?EIO=4&transport=polling&sid=nope", "4hi").await;
    assert_error(&reply, StatusCode::BAD_REQUEST, 1, "Session ID unknown");
}

#[tokio::test]
async fn code_2_bad_handshake_method() {
    let addr = server().await;
    let reply = post(addr, "/socket.io/?EIO=4&transport=polling", "4hi").await;
    assert_error(&reply, StatusCode::BAD_REQUEST, 2, "Bad handshake method");
}

#[tokio::test]
async fn code_3_bad_request() {
    let addr = server().await;
    // transport=websocket on a plain GET (no upgrade headers)
    let reply = get(addr, "/socket.io/?EIO=4&transport=websocket").await;
    assert_error(&reply, StatusCode::BAD_REQUEST, 3, "Bad request");
}

#[tokio::test]
async fn code_4_forbidden() {
    let addr = server().await;
    let reply = get(addr, "/socket.io/?EIO=4&transport=polling&refuse=1").await;
    // The reference server puts the application's refusal message in place of "Forbidden".
    assert_error(&reply, StatusCode::FORBIDDEN, 4, "refused by the test");
}

#[tokio::test]
async fn code_5_unsupported_protocol_version() {
    let addr = server().await;
    for path in [
        "/socket.io/?transport=polling",
        "/socket.io/?EIO=abc&transport=polling",
        "/socket.io/?EIO=3&transport=polling",
    ] {
        let reply = get(addr, path).await;
        assert_error(
            &reply,
            StatusCode::BAD_REQUEST,
            5,
            "Unsupported protocol version",
        );
    }
}

/// A raw upgrade request (hyper client) so the refusal's status and body can be read.
fn upgrade_request(path: &str) -> Request<Full<Bytes>> {
    Request::get(path)
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .body(Full::default())
        .unwrap()
}

#[tokio::test]
async fn refused_websocket_upgrade_is_plain_400() {
    let addr = server().await;
    for (path, message) in [
        (
            "/socket.io/?EIO=4&transport=websocket&sid=nope",
            "Session ID unknown",
        ),
        (
            "/socket.io/?EIO=9&transport=websocket",
            "Unsupported protocol version",
        ),
        (
            "/socket.io/?EIO=4&transport=websocket&refuse=1",
            "refused by the test",
        ),
    ] {
        let reply = send(addr, upgrade_request(path)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{path}");
        // As the reference's abortUpgrade: the message as text/html, then close.
        assert_eq!(reply.header("content-type"), Some("text/html"), "{path}");
        assert_eq!(reply.header("connection"), Some("close"), "{path}");
        assert_eq!(reply.text(), message, "{path}");
    }
}

#[tokio::test]
async fn accepted_upgrade_gets_101_with_accept_key() {
    let addr = server().await;
    let reply = send(
        addr,
        upgrade_request("/socket.io/?EIO=4&transport=websocket"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::SWITCHING_PROTOCOLS);
    // RFC 6455's sample key and answer.
    assert_eq!(
        reply.header("sec-websocket-accept"),
        Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    );
    assert_eq!(reply.header("upgrade"), Some("websocket"));
}

#[tokio::test]
async fn upgrade_without_key_is_400() {
    let addr = server().await;
    let request = Request::get("/socket.io/?EIO=4&transport=websocket")
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .body(Full::default())
        .unwrap();
    let reply = send(addr, request).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn post_over_max_payload_is_413_and_keeps_the_session() {
    let addr = server().await;
    let (sid, _) = polling_open(addr, "/socket.io/").await;
    let path = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    let big = format!("4{}", "x".repeat(1_000_001));
    let reply = post(addr, &path, big).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    // Session kept: a small POST still works.
    let reply = post(addr, &path, "3").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.text(), "ok");
}

#[tokio::test]
async fn other_paths_are_404() {
    let addr = server().await;
    for path in ["/", "/socket.io", "/engine.io/?EIO=4&transport=polling"] {
        assert_eq!(
            get(addr, path).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
}

#[tokio::test]
async fn unknown_method_on_known_session_is_500() {
    let addr = server().await;
    let (sid, _) = polling_open(addr, "/socket.io/").await;
    let request = Request::put(format!("/socket.io/?EIO=4&transport=polling&sid={sid}"))
        .body(Full::default())
        .unwrap();
    assert_eq!(
        send(addr, request).await.status,
        StatusCode::INTERNAL_SERVER_ERROR
    );
}

#[tokio::test]
async fn a_half_sent_head_is_closed_after_the_headers_timeout() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let http = HttpServer::new(conformance_builder().build_tokio())
        .headers_timeout(std::time::Duration::from_millis(200));
    let addr = start(http).await;
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHo")
        .await
        .unwrap();
    // Then nothing: closed well within the test's wait, far below the 60 s default; hyper
    // closes without an answer.
    let mut rest = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut rest))
        .await
        .expect("the connection stays open")
        .unwrap();
    assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest));
}

/// What hyper lets through and Node refuses is refused here too (`socketio::http::refusal`).
#[tokio::test]
async fn heads_node_refuses_are_refused() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = server().await;
    for (head, status) in [
        (
            "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\n\r\n",
            "400",
        ),
        (
            "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nExpect: telepathy\r\n\r\n",
            "417",
        ),
        (
            "POST /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2000000\r\n\r\n",
            "413",
        ),
        (
            "POST /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
            "501",
        ),
    ] {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream.write_all(head.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        tokio::time::timeout(WAIT, stream.read_to_end(&mut answer))
            .await
            .expect("answered and closed")
            .unwrap();
        let answer = String::from_utf8_lossy(&answer);
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {status} ")),
            "{head:?}: {answer}"
        );
    }
}
