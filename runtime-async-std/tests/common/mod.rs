//! Helpers for the loopback tests: one test body run under smol and under async-std, a server
//! on port 0, raw HTTP/1.1 over async-net, raw WebSockets with async-tungstenite.

#![allow(dead_code)]

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use async_net::{TcpListener, TcpStream};
use async_tungstenite::WebSocketStream;
use futures_lite::{AsyncReadExt, AsyncWriteExt, StreamExt, future};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use socketio_async_std::{AsyncIoRuntime, HttpServer, Server, ServerBuilder, tungstenite::Message};

/// How long any single wait in a test may take.
pub const WAIT: Duration = Duration::from_secs(5);

/// The executor a test body runs under.
#[derive(Clone, Copy, Debug)]
pub enum Executor {
    Smol,
    AsyncStd,
}

impl Executor {
    /// The [`AsyncIoRuntime`] that spawns on this executor.
    pub fn runtime(self) -> Arc<AsyncIoRuntime> {
        Arc::new(match self {
            Executor::Smol => AsyncIoRuntime::smol(),
            Executor::AsyncStd => AsyncIoRuntime::async_std(),
        })
    }

    /// Runs `test` to completion on this executor.
    pub fn block_on<F: Future>(self, test: F) -> F::Output {
        eprintln!("executor: {self:?}");
        match self {
            Executor::Smol => smol::block_on(test),
            Executor::AsyncStd => async_std::task::block_on(test),
        }
    }

    /// Spawns `task` on this executor.
    pub fn spawn(self, task: impl Future<Output = ()> + Send + 'static) {
        self.runtime().spawn(task);
    }
}

/// `on_executors!(name, body)`: a module `name` with one test per executor (`name::smol`,
/// `name::async_std`), each running `body(executor).await`.
#[macro_export]
macro_rules! on_executors {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[test]
            fn smol() {
                Executor::Smol.block_on($body(Executor::Smol));
            }
            #[test]
            fn async_std() {
                Executor::AsyncStd.block_on($body(Executor::AsyncStd));
            }
        }
    };
}

/// A builder set up like the conformance server: pingInterval 300, pingTimeout 200,
/// maxPayload 1000000, connectTimeout 1000.
pub fn conformance_builder() -> ServerBuilder {
    Server::builder()
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(200))
        .max_http_buffer_size(1_000_000)
        .connect_timeout(Duration::from_millis(1000))
}

/// Serves `http` on a loopback port, on `executor`.
pub async fn start(executor: Executor, http: HttpServer) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    executor.spawn(async move { http.serve(listener).await.unwrap() });
    addr
}

/// `future`, or a panic after [`WAIT`].
pub async fn timeout<T>(future: impl std::future::IntoFuture<Output = T>) -> T {
    future::or(future.into_future(), async {
        async_io::Timer::after(WAIT).await;
        panic!("timed out");
    })
    .await
}

/// A response, fully read.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
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

/// Sends one request (`extra` headers, `body` if any) over `stream` and reads the response.
pub async fn exchange(
    stream: &mut TcpStream,
    method: &str,
    path: &str,
    extra: &[(&str, &str)],
    body: &str,
) -> Reply {
    timeout(async {
        let mut head = format!("{method} {path} HTTP/1.1\r\nhost: localhost\r\n");
        for (name, value) in extra {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if method == "POST" {
            head.push_str(&format!("content-length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        head.push_str(body);
        stream.write_all(head.as_bytes()).await.unwrap();
        let mut buf = Vec::new();
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut response = httparse::Response::new(&mut headers);
            if let httparse::Status::Complete(len) = response.parse(&buf).unwrap() {
                let status = StatusCode::from_u16(response.code.unwrap()).unwrap();
                let mut map = HeaderMap::new();
                for h in response.headers.iter() {
                    map.append(
                        HeaderName::from_bytes(h.name.as_bytes()).unwrap(),
                        HeaderValue::from_bytes(h.value).unwrap(),
                    );
                }
                let length: usize = map
                    .get("content-length")
                    .map_or(0, |v| v.to_str().unwrap().parse().unwrap());
                let mut body = buf.split_off(len);
                if status != StatusCode::SWITCHING_PROTOCOLS {
                    let start = body.len();
                    body.resize(length, 0);
                    stream.read_exact(&mut body[start..]).await.unwrap();
                }
                return Reply {
                    status,
                    headers: map,
                    body,
                };
            }
            let mut chunk = [0; 4096];
            let read = stream.read(&mut chunk).await.unwrap();
            assert!(read > 0, "connection closed before the response");
            buf.extend_from_slice(&chunk[..read]);
        }
    })
    .await
}

/// GET `path` over a fresh connection.
pub async fn get(addr: SocketAddr, path: &str) -> Reply {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    exchange(&mut stream, "GET", path, &[], "").await
}

/// POST `body` to `path` over a fresh connection.
pub async fn post(addr: SocketAddr, path: &str, body: &str) -> Reply {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    exchange(&mut stream, "POST", path, &[], body).await
}

/// Opens a polling session: its sid and the parsed open packet.
pub async fn polling_open(addr: SocketAddr, path: &str) -> (String, serde_json::Value) {
    let reply = get(addr, &format!("{path}?EIO=4&transport=polling")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let open: serde_json::Value =
        serde_json::from_str(reply.text().strip_prefix('0').expect("open packet")).unwrap();
    (open["sid"].as_str().unwrap().to_owned(), open)
}

pub type WebSocket = WebSocketStream<TcpStream>;

/// A WebSocket to `path`.
pub async fn ws_connect(addr: SocketAddr, path: &str) -> WebSocket {
    timeout(async {
        let stream = TcpStream::connect(addr).await.unwrap();
        let url = format!("ws://{addr}{path}");
        async_tungstenite::client_async(url, stream)
            .await
            .unwrap()
            .0
    })
    .await
}

/// The next text message (pings from the server answered on the way).
pub async fn next_text(socket: &mut WebSocket) -> String {
    timeout(async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Text(text))) => return text.as_str().to_owned(),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
    })
    .await
}
