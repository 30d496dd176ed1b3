//! The chat example's application (`runtime-tokio/examples/chat/app.rs`, what `cargo run
//! --example chat -- --redis URL` serves) on two instances sharing rooms through the Redis
//! adapter (the real Redis at 127.0.0.1:6379): members, joins, messages and leaves cross
//! instances, with our client and with the page in headless Chromium (two pages on two
//! instances).

// The application names `socketio::…`, which both runtime crates re-export whole.
extern crate socketio_async_std as socketio;

// Only its handlers are used here (the page is the browser test's).
#[path = "../../runtime-tokio/examples/chat/app.rs"]
#[allow(dead_code)]
mod app;

use std::time::Duration;

use serde_json::json;
use socketio_redis::{RedisAdapterOptions, RedisNode};
use socketio_tests::cluster_support::{WAIT, redis_client, unique_key};
use socketio_tests::executor::{Executor, Served};
use socketio_tests::interop::{ensure_chromium, run_client};
use socketio_tokio::client::ClientSocket;
use socketio_tokio::{Client, Server, Value};

struct Chatter {
    _client: Client,
    socket: ClientSocket,
    events: ::smol::channel::Receiver<(String, Vec<Value>)>,
}

impl Chatter {
    async fn connect(exec: Executor, url: &str) -> Chatter {
        let client = Client::builder(url)
            .reconnection(false)
            .build(exec.runtime(), exec.connector())
            .expect("client options");
        let socket = client.socket("/");
        let (tx, events) = ::smol::channel::unbounded();
        socket.on_any(move |_s, event: String, args: Vec<Value>, _ack| {
            let tx = tx.clone();
            async move {
                let _ = tx.try_send((event, args));
            }
        });
        client.connect();
        exec.timeout(WAIT, socket.wait_connected())
            .await
            .expect("connected in time")
            .expect("connected");
        Chatter {
            _client: client,
            socket,
            events,
        }
    }

    async fn call(&self, exec: Executor, event: &str, data: serde_json::Value) -> String {
        let ack = self
            .socket
            .emit_with_ack::<serde_json::Value, _>(event, &data)
            .timeout(WAIT);
        let answer = exec
            .timeout(WAIT + Duration::from_secs(1), ack.into_future())
            .await
            .expect("an ack in time")
            .expect("an ack");
        answer.to_string()
    }

    /// The first argument of the next `event`, as JSON text.
    async fn next(&self, exec: Executor, event: &str) -> String {
        loop {
            let (name, args) = exec
                .timeout(WAIT, self.events.recv())
                .await
                .unwrap_or_else(|_| panic!("no {event} in time"))
                .expect("the client is alive");
            if name == event {
                return socketio_tokio::protocol::json::to_string(&args[0]);
            }
        }
    }
}

/// Two chat instances on Redis under `key`, serving the page too.
async fn instances(exec: Executor, key: &str) -> Vec<Served> {
    let bundle = app::client_bundle_path();
    let mut served = Vec::new();
    for _ in 0..2 {
        let node = RedisNode::new(
            redis_client(),
            exec.runtime(),
            RedisAdapterOptions::with_key(key),
        );
        let io = exec.server(Server::builder().adapter(node.factory()));
        app::install(&io);
        let _ = io.server_count().await;
        let files = app::files(&bundle).expect("the client bundle (npm ci) is readable");
        served.push(exec.serve_client(io, files).await);
    }
    served
}

/// Two pages in headless Chromium, on two instances, chat in one room; a third page (first
/// instance, another room) sees nothing.
#[test]
fn chat_pages_on_two_instances_in_headless_chromium() {
    socketio_tests::node::ensure_installed();
    ensure_chromium();
    let exec = Executor::Tokio;
    exec.block_on(async move {
        let key = unique_key("chat-browser");
        let served = instances(exec, &key).await;
        wait_subscribed(exec, &key).await;
        let urls = [
            format!("{}/", served[0].url()),
            format!("{}/", served[1].url()),
        ];
        let run = exec
            .unblock(move || run_client("chat-browser.js", &urls, Duration::from_secs(45)))
            .await;
        run.assert_success();
        run.step("typing");
        run.step("rooms-isolated");
        run.step("left");
    });
}

/// Waits until both instances subscribed (the adapter of `/` is made on first use).
async fn wait_subscribed(exec: Executor, key: &str) {
    let start = std::time::Instant::now();
    loop {
        let mut conn = redis_client()
            .get_multiplexed_async_connection()
            .await
            .expect("redis");
        let counts: Vec<(String, usize)> = socketio_redis::redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(format!("{key}-request#/#"))
            .query_async(&mut conn)
            .await
            .expect("NUMSUB");
        if counts.first().map(|c| c.1) == Some(2) {
            return;
        }
        assert!(start.elapsed() < WAIT, "the instances never subscribed");
        exec.sleep(Duration::from_millis(20)).await;
    }
}

#[test]
fn two_chat_instances_share_rooms_through_redis() {
    let exec = Executor::Tokio;
    exec.block_on(async move {
        let key = unique_key("chat");
        let served = instances(exec, &key).await;
        wait_subscribed(exec, &key).await;
        let ann = Chatter::connect(exec, &served[0].url()).await;
        let bob = Chatter::connect(exec, &served[1].url()).await;
        assert_eq!(
            ann.call(exec, "join", json!({"nick": "ann", "room": "lobby"}))
                .await,
            r#"{"members":["ann"],"room":"lobby"}"#
        );
        assert_eq!(
            bob.call(exec, "join", json!({"nick": "bob", "room": "lobby"}))
                .await,
            r#"{"members":["ann","bob"],"room":"lobby"}"#
        );
        assert_eq!(ann.next(exec, "system").await, r#"{"text":"bob joined"}"#);
        assert_eq!(ann.next(exec, "members").await, r#"["ann","bob"]"#);
        bob.call(exec, "message", json!({"text": "hi ann"})).await;
        let message = ann.next(exec, "message").await;
        assert!(
            message.contains(r#""nick":"bob""#) && message.contains(r#""text":"hi ann""#),
            "{message}"
        );
        bob.socket.disconnect();
        assert_eq!(ann.next(exec, "system").await, r#"{"text":"bob left"}"#);
        assert_eq!(ann.next(exec, "members").await, r#"["ann"]"#);
    });
}
