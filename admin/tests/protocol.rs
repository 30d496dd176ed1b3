//! The Admin UI protocol against an instrumented server, spoken by this project's client over
//! loopback (tokio): auth, `config`, `server_stats`, `all_sockets`, the socket and room
//! events, `event_received` / `event_sent` in development mode only, and the commands (refused
//! in readonly mode).
#![allow(missing_docs)]

use std::time::Duration;

use serde_json::{Value as Json, json};
use socketio::Value;
use socketio::client::{ClientSocket, ConnectFailedKind};
use socketio_admin::{AdminOptions, Mode};
use socketio_tokio::client::Client;
use socketio_tokio::{AckSender, ClientBuilderExt, ServerBuilderExt, ServerExt, Socket};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

const WAIT: Duration = Duration::from_secs(10);

/// A server with an app on `/` (`ping` → `pong` to the sender; `rooms` → ack with its rooms;
/// `join` a room), instrumented with `options`; its URL.
async fn server(options: AdminOptions) -> (socketio_tokio::Server, String) {
    let io = socketio_tokio::Server::builder().build_tokio();
    io.ns("/", |socket: Socket| async move {
        socket.on(
            "ping",
            |socket: Socket, _: Json, _: Option<AckSender>| async move {
                socket.emit("pong", &json!({"n": 1})).ok();
            },
        );
        socket.on(
            "join",
            |socket: Socket, room: String, _: Option<AckSender>| async move {
                socket.join(room);
            },
        );
        socket.on(
            "leave",
            |socket: Socket, room: String, _: Option<AckSender>| async move {
                socket.leave(&room);
            },
        );
        socket.on(
            "rooms",
            |socket: Socket, _: (), ack: Option<AckSender>| async move {
                let mut rooms = socket.rooms();
                rooms.sort();
                if let Some(ack) = ack {
                    ack.send(&rooms).ok();
                }
            },
        );
    });
    socketio_admin::instrument(&io, options).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(io.clone().serve(listener));
    (io, url)
}

/// An admin UI connection: every event it gets, as JSON.
struct Ui {
    _client: Client,
    events: mpsc::UnboundedReceiver<(String, Vec<Json>)>,
    socket: ClientSocket,
}

impl Ui {
    /// Connects to `/admin` with `auth`: the UI, or the refusal's message.
    async fn connect(url: &str, auth: Json) -> Result<Ui, String> {
        let client = Client::builder(url)
            .auth(&auth)
            .reconnection(false)
            .build_tokio()
            .unwrap();
        let socket = client.socket("/admin");
        let (tx, events) = mpsc::unbounded_channel();
        socket.on_any(move |_s, event: String, args: Vec<Value>, _| {
            let tx = tx.clone();
            async move {
                let args = args
                    .into_iter()
                    .map(|v| socketio::from_value::<Json>(v).unwrap_or(Json::Null))
                    .collect();
                let _ = tx.send((event, args));
            }
        });
        let (done_tx, mut done) = mpsc::unbounded_channel();
        let refused = done_tx.clone();
        socket.on_connect(move |_| {
            let done = done_tx.clone();
            async move {
                let _ = done.send(Ok(()));
            }
        });
        socket.on_connect_error(move |_, error| {
            let done = refused.clone();
            async move {
                if error.kind == ConnectFailedKind::Refused {
                    let _ = done.send(Err(error.message));
                }
            }
        });
        socket.connect();
        match tokio::time::timeout(WAIT, done.recv()).await {
            Ok(Some(Ok(()))) => Ok(Ui {
                _client: client,
                events,
                socket,
            }),
            Ok(Some(Err(message))) => Err(message),
            other => panic!("no verdict: {other:?}"),
        }
    }

    /// The next `event` (others are skipped) whose arguments satisfy `pred`.
    async fn wait(&mut self, event: &str, pred: impl Fn(&[Json]) -> bool) -> Vec<Json> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let got = tokio::time::timeout_at(deadline, self.events.recv())
                .await
                .unwrap_or_else(|_| panic!("no {event}"))
                .expect("ui closed");
            if got.0 == event && pred(&got.1) {
                return got.1;
            }
        }
    }

    /// Whether `event` comes within `within`.
    async fn sees(&mut self, event: &str, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        while let Ok(Some((name, _))) = tokio::time::timeout_at(deadline, self.events.recv()).await
        {
            if name == event {
                return true;
            }
        }
        false
    }

    fn command(&self, event: &str, args: Vec<Json>) {
        let args = args
            .into_iter()
            .map(|a| socketio::to_value(&a).unwrap())
            .collect();
        self.socket.emit_args(event, args).unwrap();
    }
}

type App = (
    Client,
    ClientSocket,
    mpsc::UnboundedReceiver<(String, Vec<Json>)>,
);

/// An app client on `/`: its socket and the events it gets.
async fn app(url: &str) -> App {
    app_over(url, false).await
}

/// An app client on `/` (HTTP long-polling only with `polling`).
async fn app_over(url: &str, polling: bool) -> App {
    let mut builder = Client::builder(url).reconnection(false);
    if polling {
        builder = builder.transports([socketio::TransportKind::Polling]);
    }
    let client = builder.build_tokio().unwrap();
    let socket = client.default_socket();
    let (tx, rx) = mpsc::unbounded_channel();
    socket.on_any(move |_s, event: String, args: Vec<Value>, _| {
        let tx = tx.clone();
        async move {
            let args = args
                .into_iter()
                .map(|v| socketio::from_value::<Json>(v).unwrap_or(Json::Null))
                .collect();
            let _ = tx.send((event, args));
        }
    });
    client.connect();
    tokio::time::timeout(WAIT, socket.wait_connected())
        .await
        .unwrap()
        .unwrap();
    (client, socket, rx)
}

async fn rooms_of(socket: &ClientSocket) -> Vec<String> {
    socket.emit_with_ack("rooms", &()).await.unwrap()
}

fn hash() -> String {
    bcrypt::hash("s3cret", 4).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_auth_refuses_missing_and_wrong_credentials_and_accepts_the_right_ones() {
    let (_io, url) = server(AdminOptions::default().basic_auth("admin", hash())).await;
    assert_eq!(
        Ui::connect(&url, json!({})).await.err().as_deref(),
        Some("invalid credentials")
    );
    assert_eq!(
        Ui::connect(&url, json!({"username": "admin", "password": "wrong"}))
            .await
            .err()
            .as_deref(),
        Some("invalid credentials")
    );
    assert_eq!(
        Ui::connect(&url, json!({"username": "root", "password": "s3cret"}))
            .await
            .err()
            .as_deref(),
        Some("invalid credentials")
    );
    let mut ui = Ui::connect(&url, json!({"username": "admin", "password": "s3cret"}))
        .await
        .unwrap();
    let session = ui.wait("session", |_| true).await;
    let session = session[0].as_str().unwrap().to_owned();
    assert_eq!(session.len(), 16);
    ui.wait("config", |_| true).await;
    // The UI comes back with its session id instead of the password.
    let mut again = Ui::connect(&url, json!({"sessionId": session}))
        .await
        .unwrap();
    again.wait("config", |_| true).await;
    assert!(
        Ui::connect(&url, json!({"sessionId": "0123456789abcdef"}))
            .await
            .is_err()
    );
}

#[test]
fn a_password_that_is_not_a_bcrypt_hash_is_refused() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let io = socketio_tokio::Server::builder().build_tokio();
        let refused =
            socketio_admin::instrument(&io, AdminOptions::default().basic_auth("a", "plain"));
        assert_eq!(
            refused.err(),
            Some(socketio_admin::AdminError::InvalidPasswordHash)
        );
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn development_mode_reports_stats_sockets_rooms_and_events() {
    let (_io, url) = server(AdminOptions::default().server_id("node-a")).await;
    let (_app1, first, _) = app(&url).await;
    let first_id = first.id().unwrap();
    first.emit("join", "lobby").unwrap();
    assert!(rooms_of(&first).await.contains(&"lobby".to_owned()));

    let mut ui = Ui::connect(&url, json!({})).await.unwrap();
    let config = ui.wait("config", |_| true).await;
    let features = config[0]["supportedFeatures"].as_array().unwrap().clone();
    for feature in [
        "EMIT",
        "JOIN",
        "LEAVE",
        "DISCONNECT",
        "AGGREGATED_EVENTS",
        "ALL_EVENTS",
    ] {
        assert!(
            features.contains(&json!(feature)),
            "{feature} in {features:?}"
        );
    }
    let all = ui.wait("all_sockets", |_| true).await;
    let sockets = all[0].as_array().unwrap();
    let listed = sockets
        .iter()
        .find(|s| s["id"] == json!(first_id))
        .unwrap_or_else(|| panic!("{first_id} in {sockets:?}"));
    assert_eq!(listed["nsp"], "/");
    let rooms: Vec<&str> = listed["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert!(
        rooms.contains(&"lobby") && rooms.contains(&first_id.as_str()),
        "{rooms:?}"
    );
    assert!(matches!(
        listed["transport"].as_str(),
        Some("polling" | "websocket")
    ));
    assert_eq!(listed["clientId"].as_str().unwrap().len(), 12);
    assert!(listed["handshake"]["headers"].is_object());
    assert!(listed["handshake"].get("auth").is_none());
    // The admin socket itself is listed too, as the reference does.
    assert!(sockets.iter().any(|s| s["nsp"] == "/admin"));

    let stats = ui.wait("server_stats", |_| true).await;
    let stats = &stats[0];
    assert_eq!(stats["serverId"], "node-a");
    assert_eq!(stats["pid"], json!(std::process::id()));
    assert!(stats["hostname"].is_string() && stats["uptime"].is_number());
    assert!(stats["clientsCount"].as_u64().unwrap() >= 2);
    assert!(stats["pollingClientsCount"].is_u64());
    assert!(stats["aggregatedEvents"].is_array());
    let namespaces = stats["namespaces"].as_array().unwrap();
    assert!(
        namespaces
            .iter()
            .any(|n| n["name"] == "/" && n["socketsCount"] == 1),
        "{namespaces:?}"
    );

    // A second client: connected (with its own room), an event each way, a room joined and
    // left, gone.
    let (second_client, second, _) = app(&url).await;
    let second_id = second.id().unwrap();
    let connected = ui
        .wait("socket_connected", |a| a[0]["id"] == json!(second_id))
        .await;
    assert_eq!(connected[0]["nsp"], "/");
    assert!(connected[1].as_str().unwrap().ends_with('Z'));
    second.emit("ping", &json!({"hello": "admin"})).unwrap();
    let received = ui
        .wait("event_received", |a| a[1] == json!(second_id))
        .await;
    assert_eq!(received[0], "/");
    assert_eq!(received[2], json!(["ping", {"hello": "admin"}]));
    let sent = ui.wait("event_sent", |a| a[1] == json!(second_id)).await;
    assert_eq!(sent[2], json!(["pong", {"n": 1}]));
    second.emit("join", "games").unwrap();
    let joined = ui
        .wait("room_joined", |a| {
            a[1] == "games" && a[2] == json!(second_id)
        })
        .await;
    assert_eq!(joined[0], "/");
    second.emit("leave", "games").unwrap();
    ui.wait("room_left", |a| a[1] == "games" && a[2] == json!(second_id))
        .await;
    second_client.disconnect();
    let gone = ui
        .wait("socket_disconnected", |a| a[1] == json!(second_id))
        .await;
    assert_eq!(gone[0], "/");
    assert_eq!(gone[2], "client namespace disconnect");
    // Its connection's close is counted.
    ui.wait("server_stats", |a| {
        a[0]["aggregatedEvents"]
            .as_array()
            .is_some_and(|e| e.iter().any(|e| e["type"] == "rawDisconnection"))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_emit_join_leave_and_disconnect_by_id_by_room_and_all() {
    let (_io, url) = server(AdminOptions::default()).await;
    let (_c1, one, mut one_events) = app(&url).await;
    let (_c2, two, mut two_events) = app(&url).await;
    let (one_id, two_id) = (one.id().unwrap(), two.id().unwrap());
    let ui = Ui::connect(&url, json!({})).await.unwrap();

    // emit: to one socket (its id is a room), then to all.
    ui.command(
        "emit",
        vec![
            json!("/"),
            json!(one_id),
            json!("notice"),
            json!("just you"),
            json!(2),
        ],
    );
    let got = wait_app(&mut one_events, "notice").await;
    assert_eq!(got, vec![json!("just you"), json!(2)]);
    ui.command(
        "emit",
        vec![json!("/"), Json::Null, json!("notice"), json!("everyone")],
    );
    assert_eq!(
        wait_app(&mut two_events, "notice").await,
        vec![json!("everyone")]
    );
    assert_eq!(
        wait_app(&mut one_events, "notice").await,
        vec![json!("everyone")]
    );

    // join: one socket by id, then every socket of a room, then all.
    ui.command("join", vec![json!("/"), json!("red"), json!(two_id)]);
    eventually(&two, |rooms| rooms.contains(&"red".to_owned())).await;
    assert!(!rooms_of(&one).await.contains(&"red".to_owned()));
    ui.command("join", vec![json!("/"), json!("blue"), json!("red")]);
    eventually(&two, |rooms| rooms.contains(&"blue".to_owned())).await;
    assert!(!rooms_of(&one).await.contains(&"blue".to_owned()));
    ui.command("join", vec![json!("/"), json!("all")]);
    eventually(&one, |rooms| rooms.contains(&"all".to_owned())).await;
    eventually(&two, |rooms| rooms.contains(&"all".to_owned())).await;
    // leave by id.
    ui.command("leave", vec![json!("/"), json!("all"), json!(one_id)]);
    eventually(&one, |rooms| !rooms.contains(&"all".to_owned())).await;
    assert!(rooms_of(&two).await.contains(&"all".to_owned()));

    // Malformed commands and unknown namespaces are ignored (the server keeps going).
    ui.command("join", vec![json!(42), json!("x")]);
    ui.command("join", vec![json!("/nowhere"), json!("x")]);
    ui.command("emit", vec![json!("/")]);
    ui.command("_disconnect", vec![json!("/"), json!("yes")]);
    ui.command("join", vec![json!("/"), json!("x".repeat(5000))]);
    assert!(rooms_of(&one).await.len() == 1);

    // _disconnect by id: that one only.
    ui.command("_disconnect", vec![json!("/"), json!(false), json!(one_id)]);
    let deadline = tokio::time::Instant::now() + WAIT;
    while one.connected() {
        assert!(tokio::time::Instant::now() < deadline, "still connected");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(two.connected());
    ui.command("_disconnect", vec![json!("/"), json!(true)]);
    let deadline = tokio::time::Instant::now() + WAIT;
    while two.connected() {
        assert!(tokio::time::Instant::now() < deadline, "still connected");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readonly_announces_no_command_and_ignores_them() {
    let (_io, url) = server(AdminOptions::default().readonly(true)).await;
    let (_c, one, mut events) = app(&url).await;
    let one_id = one.id().unwrap();
    let mut ui = Ui::connect(&url, json!({})).await.unwrap();
    let config = ui.wait("config", |_| true).await;
    assert_eq!(
        config[0]["supportedFeatures"],
        json!(["AGGREGATED_EVENTS", "ALL_EVENTS"])
    );
    ui.command("join", vec![json!("/"), json!("red"), json!(one_id)]);
    ui.command(
        "emit",
        vec![json!("/"), Json::Null, json!("notice"), json!("x")],
    );
    ui.command("_disconnect", vec![json!("/"), json!(false)]);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(rooms_of(&one).await, vec![one_id]);
    assert!(one.connected());
    assert!(events.try_recv().is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_mode_sends_config_and_stats_only() {
    let (_io, url) = server(AdminOptions::default().mode(Mode::Production)).await;
    let (_c, one, _) = app(&url).await;
    let mut ui = Ui::connect(&url, json!({})).await.unwrap();
    let config = ui.wait("config", |_| true).await;
    assert!(
        !config[0]["supportedFeatures"]
            .as_array()
            .unwrap()
            .contains(&json!("ALL_EVENTS"))
    );
    ui.wait("server_stats", |_| true).await;
    one.emit("ping", &json!({})).unwrap();
    one.emit("join", "lobby").unwrap();
    let (_c2, _two, _) = app(&url).await;
    for event in [
        "all_sockets",
        "event_received",
        "event_sent",
        "room_joined",
        "socket_connected",
    ] {
        assert!(
            !ui.sees(event, Duration::from_millis(300)).await,
            "{event} in production"
        );
    }
    // The stats still count connections.
    ui.wait("server_stats", |a| {
        a[0]["aggregatedEvents"]
            .as_array()
            .is_some_and(|e| e.iter().any(|e| e["type"] == "rawConnection"))
    })
    .await;
}

async fn wait_app(
    events: &mut mpsc::UnboundedReceiver<(String, Vec<Json>)>,
    event: &str,
) -> Vec<Json> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (name, args) = tokio::time::timeout_at(deadline, events.recv())
            .await
            .unwrap_or_else(|_| panic!("no {event}"))
            .unwrap();
        if name == event {
            return args;
        }
    }
}

async fn eventually(socket: &ClientSocket, pred: impl Fn(&Vec<String>) -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let rooms = rooms_of(socket).await;
        if pred(&rooms) {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "rooms {rooms:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_count_packets_and_bytes_in_and_out_over_websocket() {
    stats_count_traffic(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_count_packets_and_bytes_in_and_out_over_polling() {
    stats_count_traffic(true).await;
}

/// After emits (and a broadcast), the `server_stats` report `packetsIn/Out` and
/// `bytesIn/Out`: at least a packet in per emit, one out per answer.
async fn stats_count_traffic(polling: bool) {
    let (io, url) = server(AdminOptions::default().mode(Mode::Production)).await;
    let (_c1, one, mut one_events) = app_over(&url, polling).await;
    let (_c2, _two, mut two_events) = app_over(&url, polling).await;
    let mut ui = Ui::connect(&url, json!({})).await.unwrap();
    ui.wait("server_stats", |_| true).await;
    const EMITS: u64 = 20;
    for _ in 0..EMITS {
        one.emit("ping", &json!({"hello": "world"})).unwrap();
    }
    for _ in 0..EMITS {
        wait_app(&mut one_events, "pong").await;
    }
    // A broadcast (written straight to the WebSockets, counted once for all recipients).
    io.of("/").emit("news", "extra").unwrap();
    wait_app(&mut two_events, "news").await;
    let mut totals: std::collections::HashMap<String, u64> = Default::default();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let stats = ui.wait("server_stats", |_| true).await;
        for event in stats[0]["aggregatedEvents"].as_array().unwrap() {
            let kind = event["type"].as_str().unwrap();
            if kind.starts_with("packets") || kind.starts_with("bytes") {
                assert!(event.get("subType").is_none(), "{event}");
                assert_eq!(event["timestamp"].as_u64().unwrap() % 1000, 0, "{event}");
                *totals.entry(kind.to_owned()).or_default() += event["count"].as_u64().unwrap();
            }
        }
        let get = |kind: &str| totals.get(kind).copied().unwrap_or(0);
        if get("packetsIn") >= EMITS
            && get("packetsOut") >= EMITS + 2
            && get("bytesIn") >= EMITS * 10
            && get("bytesOut") >= EMITS * 10
        {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "traffic {totals:?}");
    }
    // The totals are the server's, and keep counting.
    let traffic = io.traffic();
    assert!(traffic.packets_in >= EMITS && traffic.bytes_out > traffic.packets_out);
}
