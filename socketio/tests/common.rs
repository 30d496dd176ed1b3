//! Test harness: a thread-pool runtime, in-memory WebSockets and polling helpers.
#![allow(dead_code, missing_docs)]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_channel::mpsc;
use futures_util::StreamExt;
use http_body_util::{BodyExt, Full};
use socketio::{Server, ServerBuilder};
use tungstenite::Message;

pub struct PoolRuntime(pub futures_executor::ThreadPool);

impl socketio::Runtime for PoolRuntime {
    fn spawn(&self, task: Pin<Box<dyn Future<Output = ()> + Send + 'static>>) {
        self.0.spawn_ok(task);
    }
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        Box::pin(futures_timer::Delay::new(duration))
    }
}

pub fn runtime() -> Arc<PoolRuntime> {
    Arc::new(PoolRuntime(
        futures_executor::ThreadPool::builder()
            .pool_size(2)
            .create()
            .unwrap(),
    ))
}

pub fn build(builder: ServerBuilder) -> (Server, Arc<PoolRuntime>) {
    let rt = runtime();
    (builder.build(rt.clone()), rt)
}

pub fn block_on<F: Future>(f: F) -> F::Output {
    futures_executor::block_on(f)
}

pub async fn sleep(ms: u64) {
    futures_timer::Delay::new(Duration::from_millis(ms)).await
}

/// The server's end of an in-memory WebSocket.
pub struct MemWs {
    rx: mpsc::UnboundedReceiver<Message>,
    tx: mpsc::UnboundedSender<Message>,
    /// A sink that never accepts anything (a client that stopped reading).
    stalled: bool,
}

impl futures_core::Stream for MemWs {
    type Item = Result<Message, tungstenite::Error>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_next_unpin(cx).map(|m| m.map(Ok))
    }
}

impl futures_sink::Sink<Message> for MemWs {
    type Error = tungstenite::Error;
    fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        if self.stalled {
            Poll::Pending
        } else {
            Poll::Ready(Ok(()))
        }
    }
    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), Self::Error> {
        let _ = self.tx.unbounded_send(item);
        Ok(())
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        if self.stalled {
            Poll::Pending
        } else {
            Poll::Ready(Ok(()))
        }
    }
    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }
}

/// The client's end.
pub struct Client {
    pub tx: mpsc::UnboundedSender<Message>,
    pub rx: mpsc::UnboundedReceiver<Message>,
}

impl Client {
    pub fn send(&self, text: &str) {
        self.tx.unbounded_send(Message::text(text)).unwrap();
    }

    pub fn send_binary(&self, data: &[u8]) {
        self.tx
            .unbounded_send(Message::binary(Bytes::copy_from_slice(data)))
            .unwrap();
    }

    /// The next message (None after 2 s or at the end).
    pub async fn next(&mut self) -> Option<Message> {
        let delay = futures_timer::Delay::new(Duration::from_secs(2));
        match futures_util::future::select(self.rx.next(), delay).await {
            futures_util::future::Either::Left((m, _)) => m,
            futures_util::future::Either::Right(_) => None,
        }
    }

    /// The next text message, skipping engine pings.
    pub async fn text(&mut self) -> String {
        loop {
            match self.next().await {
                Some(Message::Text(t)) if t.as_str() == "2" => continue,
                Some(Message::Text(t)) => return t.to_string(),
                other => panic!("expected text, got {other:?}"),
            }
        }
    }

    /// Waits for a text message starting with `prefix`, skipping others.
    pub async fn expect_prefix(&mut self, prefix: &str) -> String {
        loop {
            let t = self.text().await;
            if t.starts_with(prefix) {
                return t;
            }
        }
    }

    /// Asserts nothing arrives (but pings) for `ms`.
    pub async fn silent(&mut self, ms: u64) {
        let delay = futures_timer::Delay::new(Duration::from_millis(ms));
        let mut delay = std::pin::pin!(delay);
        loop {
            match futures_util::future::select(self.rx.next(), delay.as_mut()).await {
                futures_util::future::Either::Left((Some(Message::Text(t)), _))
                    if t.as_str() == "2" => {}
                futures_util::future::Either::Left((m, _)) => panic!("unexpected {m:?}"),
                futures_util::future::Either::Right(_) => return,
            }
        }
    }
}

pub fn parts(target: &str) -> http::request::Parts {
    http::Request::get(target).body(()).unwrap().into_parts().0
}

/// Opens an engine.io WebSocket session (query `extra` appended) and serves it on the runtime.
pub fn open_ws(io: &Server, rt: &Arc<PoolRuntime>, extra: &str, stalled: bool) -> Client {
    let target = format!("/socket.io/?EIO=4&transport=websocket{extra}");
    let ticket = io
        .accept_websocket(&parts(&target), None)
        .expect("accepted");
    let (ctx, srx) = mpsc::unbounded();
    let (stx, crx) = mpsc::unbounded();
    let ws = MemWs {
        rx: srx,
        tx: stx,
        stalled,
    };
    let io2 = io.clone();
    rt.0.spawn_ok(async move { io2.serve_websocket(ticket, ws).await });
    Client { tx: ctx, rx: crx }
}

/// Opens a session and connects to `nsp` (`/` by default) with `auth`; returns the client and
/// the CONNECT reply.
pub async fn connect(
    io: &Server,
    rt: &Arc<PoolRuntime>,
    nsp: &str,
    auth: &str,
) -> (Client, String) {
    let mut client = open_ws(io, rt, "", false);
    let open = client.text().await;
    assert!(open.starts_with("0{\"sid\""), "{open}");
    let prefix = if nsp == "/" {
        String::new()
    } else {
        format!("{nsp},")
    };
    client.send(&format!("40{prefix}{auth}"));
    let reply = client.expect_prefix("4").await;
    (client, reply)
}

pub async fn http(io: &Server, method: &str, target: &str, body: &str) -> (u16, String) {
    let request = http::Request::builder()
        .method(method)
        .uri(target)
        .header("content-type", "text/plain;charset=UTF-8")
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap();
    let response = io.handle_http(request, None).await;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}
