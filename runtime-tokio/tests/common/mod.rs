//! Helpers for the loopback tests: start a server on port 0, raw HTTP with hyper's client,
//! raw WebSockets with tokio-tungstenite.

#![allow(dead_code)]

use std::{net::SocketAddr, time::Duration};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use socketio_tokio::{HttpServer, Server, ServerBuilder, tungstenite::Message};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long any single wait in a test may take.
pub const WAIT: Duration = Duration::from_secs(5);

/// A builder set up like the conformance server: pingInterval 300, pingTimeout 200,
/// maxPayload 1000000, connectTimeout 1000.
pub fn conformance_builder() -> ServerBuilder {
    Server::builder()
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(200))
        .max_http_buffer_size(1_000_000)
        .connect_timeout(Duration::from_millis(1000))
}

/// Serves `http` on a loopback port; the server runs until the test's runtime ends.
pub async fn start(http: HttpServer) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(http.serve(listener));
    addr
}

/// A response, fully read.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("UTF-8 body")
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|value| value.to_str().unwrap())
    }
}

/// Sends one request over a fresh HTTP/1.1 connection.
pub async fn send(addr: SocketAddr, request: Request<Full<Bytes>>) -> Reply {
    tokio::time::timeout(WAIT, async {
        let stream = TcpStream::connect(addr).await.unwrap();
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(connection.with_upgrades());
        let mut request = request;
        if !request.headers().contains_key(http::header::HOST) {
            request
                .headers_mut()
                .insert(http::header::HOST, addr.to_string().parse().unwrap());
        }
        let response = sender.send_request(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let body = if parts.status == StatusCode::SWITCHING_PROTOCOLS {
            Bytes::new()
        } else {
            body.collect().await.unwrap().to_bytes()
        };
        Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    })
    .await
    .expect("response in time")
}

pub async fn get(addr: SocketAddr, path: &str) -> Reply {
    send(addr, Request::get(path).body(Full::default()).unwrap()).await
}

pub async fn post(addr: SocketAddr, path: &str, body: impl Into<Bytes>) -> Reply {
    let request = Request::post(path)
        .header("content-type", "text/plain;charset=UTF-8")
        .body(Full::new(body.into()))
        .unwrap();
    send(addr, request).await
}

/// Polling handshake: the sid and the open packet's JSON.
pub async fn polling_open(addr: SocketAddr, path: &str) -> (String, serde_json::Value) {
    let reply = get(addr, &format!("{path}?EIO=4&transport=polling")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let text = reply.text();
    let open = text.strip_prefix('0').expect("open packet");
    let json: serde_json::Value = serde_json::from_str(open).unwrap();
    (json["sid"].as_str().unwrap().to_owned(), json)
}

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Opens a WebSocket to `ws://addr<path_and_query>`.
pub async fn ws_connect(addr: SocketAddr, path_and_query: &str) -> Ws {
    let url = format!("ws://{addr}{path_and_query}");
    let (socket, response) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url))
        .await
        .expect("connect in time")
        .expect("websocket accepted");
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    socket
}

/// The next text or binary frame (pings from the server, `2`, are skipped unless asked for).
pub async fn next_frame(socket: &mut Ws) -> Message {
    loop {
        let message = tokio::time::timeout(WAIT, socket.next())
            .await
            .expect("frame in time")
            .expect("socket open")
            .expect("frame ok");
        match message {
            Message::Text(ref text) if text.as_str() == "2" => {
                socket.send(Message::text("3")).await.unwrap();
            }
            Message::Text(_) | Message::Binary(_) | Message::Close(_) => return message,
            _ => {}
        }
    }
}

/// The next text frame, as a string.
pub async fn next_text(socket: &mut Ws) -> String {
    match next_frame(socket).await {
        Message::Text(text) => text.as_str().to_owned(),
        other => panic!("expected a text frame, got {other:?}"),
    }
}
