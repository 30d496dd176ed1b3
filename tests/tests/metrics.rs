//! Prometheus metrics (feature `metrics`), end to end: a server with [`Metrics`] serves its
//! endpoint on its own listener (`HttpServer::metrics`), clients drive it over real sockets
//! (this project's client over WebSocket, polling and upgrade; raw HTTP and WebSocket peers
//! where a misbehaving one is needed), and every check reads the endpoint over HTTP, parses
//! the text with a Prometheus text-format parser (`prometheus-parse`, plus the strict line
//! check of [`strict_lines`]) and compares values before and after: after 3 emits the counter
//! rose by 3. Each test runs on tokio, async-std and smol.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use socketio_tests::executor::Executor;
use socketio_tests::executor_tests;
use socketio_tests::raw;
use socketio_tokio::adapter::{
    Adapter, AdapterError, BoxFuture, BroadcastAcks, BroadcastMessage, BroadcastOptions,
    InMemoryAdapter, LocalNamespace, RemoteSocket,
};
use socketio_tokio::client::{AckSender as ClientAck, Client, ClientSocket};
use socketio_tokio::metrics::{ClientMetrics, Metrics};
use socketio_tokio::protocol::Str;
use socketio_tokio::{
    AckSender, Backpressure, ConnectError, Handshake, RecoveryConfig, Server, Socket,
    TransportKind, Value,
};

/// One scrape: `(name, sorted labels) → value`; a histogram's `+Inf` bucket is its count.
#[derive(Debug, Default)]
struct Scrape(HashMap<(String, Vec<(String, String)>), f64>);

impl Scrape {
    fn parse(text: &str) -> Scrape {
        strict_lines(text);
        let lines = text.lines().map(|line| Ok(line.to_owned()));
        let scrape = prometheus_parse::Scrape::parse(lines).expect("Prometheus text");
        let mut values = HashMap::new();
        for sample in scrape.samples {
            let mut labels: Vec<(String, String)> = sample
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            labels.sort();
            let value = match sample.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => v,
                prometheus_parse::Value::Histogram(buckets) => buckets
                    .iter()
                    .find(|b| b.less_than.is_infinite())
                    .map_or(0.0, |b| b.count),
                prometheus_parse::Value::Summary(_) => continue,
            };
            values.insert((sample.metric, labels), value);
        }
        Scrape(values)
    }

    /// The value of `name` with exactly `labels` (0 when the series is not there yet).
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let mut labels: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        labels.sort();
        self.0
            .get(&(name.to_owned(), labels))
            .copied()
            .unwrap_or(0.0)
    }
}

/// Every line is a comment (`# HELP`/`# TYPE` of a name in the `socketio_` family), or a
/// sample `name{label="value",…} number` whose family was typed before it.
fn strict_lines(text: &str) {
    let mut typed: Vec<String> = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split(' ');
            let name = parts.next().expect("a name");
            let kind = parts.next().expect("a type");
            assert!(
                ["counter", "gauge", "histogram"].contains(&kind),
                "type of {line:?}"
            );
            assert!(name.starts_with("socketio_"), "{line:?}");
            typed.push(name.to_owned());
            continue;
        }
        if line.starts_with("# HELP ") || line.is_empty() {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("`series value`");
        value
            .parse::<f64>()
            .unwrap_or_else(|_| panic!("a number in {line:?}"));
        let name = series.split('{').next().unwrap_or(series);
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "{line:?}"
        );
        assert!(
            typed.iter().any(|family| name == family
                || ["_bucket", "_sum", "_count"]
                    .iter()
                    .any(|suffix| name.strip_suffix(suffix) == Some(family.as_str()))),
            "sample before its # TYPE: {line:?}"
        );
        if let Some(labels) = series.strip_prefix(name) {
            assert!(
                labels.is_empty() || (labels.starts_with('{') && labels.ends_with('}')),
                "{line:?}"
            );
        }
    }
}

/// GETs `path` from `addr` (HTTP/1.1, `Connection: close`): status, content type, body.
fn http_get(addr: SocketAddr, path: &str) -> (u16, String, String) {
    let mut stream = raw::connect(addr);
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let (status, head, body) = raw::read_response(&mut stream);
    let content_type = head
        .lines()
        .find_map(|line| line.strip_prefix("content-type:"))
        .unwrap_or("")
        .trim()
        .to_owned();
    (status, content_type, String::from_utf8(body).unwrap())
}

async fn scrape(exec: Executor, addr: SocketAddr) -> Scrape {
    exec.unblock(move || {
        let (status, content_type, body) = http_get(addr, "/metrics");
        assert_eq!(status, 200, "{body}");
        assert!(content_type.starts_with("text/plain"), "{content_type}");
        Scrape::parse(&body)
    })
    .await
}

/// Scrapes until `check` holds (the server's side of what a client saw may lag a little).
async fn scrape_until(
    exec: Executor,
    addr: SocketAddr,
    what: &str,
    check: impl Fn(&Scrape) -> bool,
) -> Scrape {
    for _ in 0..200 {
        let scrape = scrape(exec, addr).await;
        if check(&scrape) {
            return scrape;
        }
        exec.sleep(Duration::from_millis(25)).await;
    }
    panic!("never: {what}");
}

fn client(exec: Executor, url: &str, transports: &[TransportKind]) -> Client {
    Client::builder(url)
        .transports(transports.iter().copied())
        .reconnection(false)
        .build(exec.runtime(), exec.connector())
        .expect("client options")
}

async fn connected(exec: Executor, socket: &ClientSocket) {
    exec.timeout(Duration::from_secs(10), socket.wait_connected())
        .await
        .expect("connected in time")
        .expect("connected");
}

/// The app: `hello` is acked; `ask` makes the server ask the client (`q`, acked by it);
/// `ask-silent` asks with a 100 ms timeout and no answer; `join` joins the rooms given;
/// `news` broadcasts; `volatile` sends 20 volatile packets of 16 KiB back in a row; `requests` makes the
/// three cluster requests. `/chat` needs `auth.token`; `/dyn-*` is dynamic.
fn app(exec: Executor, metrics: &Metrics) -> Server {
    let io = exec.server(
        Server::builder()
            .metrics(metrics)
            .connection_state_recovery(RecoveryConfig::default()),
    );
    io.ns("/", |socket: Socket| async move {
        socket.on(
            "hello",
            |_s: Socket, _n: i64, ack: Option<AckSender>| async move {
                if let Some(ack) = ack {
                    ack.send(&"hi").ok();
                }
            },
        );
        socket.on(
            "ask",
            |s: Socket, _: (), ack: Option<AckSender>| async move {
                let answer: Result<String, _> = s.emit_with_ack("q", &1).await;
                if let Some(ack) = ack {
                    ack.send(&answer.is_ok()).ok();
                }
            },
        );
        socket.on(
            "ask-silent",
            |s: Socket, _: (), ack: Option<AckSender>| async move {
                let answer: Result<String, _> = s
                    .emit_with_ack("silent", &1)
                    .timeout(Duration::from_millis(100))
                    .await;
                if let Some(ack) = ack {
                    ack.send(&answer.is_ok()).ok();
                }
            },
        );
        socket.on(
            "join",
            |s: Socket, rooms: Vec<String>, ack: Option<AckSender>| async move {
                for room in rooms {
                    s.join(room);
                }
                if let Some(ack) = ack {
                    ack.send(&()).ok();
                }
            },
        );
        socket.on(
            "news",
            |s: Socket, _: (), ack: Option<AckSender>| async move {
                let reached = s.broadcast().emit("news", &"n").unwrap_or(0);
                if let Some(ack) = ack {
                    ack.send(&reached).ok();
                }
            },
        );
        socket.on(
            "volatile",
            |s: Socket, _: (), _ack: Option<AckSender>| async move {
                let payload = "v".repeat(16 << 10);
                for _ in 0..20 {
                    s.volatile().emit("tick", &payload).ok();
                }
            },
        );
    });
    io.ns("/chat", |_socket: Socket| async move {})
        .with(|handshake: Handshake| async move {
            match handshake.auth_field::<String>("token") {
                Some(_) => Ok(()),
                None => Err(ConnectError::new("not authorized")),
            }
        });
    io.dynamic_ns(
        |name: &str| name.starts_with("/dyn-"),
        |_s: Socket| async move {},
    );
    io
}

const SEEN_EVENTS: &[&str] = &["hello"];

executor_tests! {
    /// The endpoint itself: served on the Socket.IO listener, parseable, `405` to a POST,
    /// other paths untouched.
    async fn endpoint_is_served_beside_socketio(exec: Executor) {
        let metrics = Metrics::new();
        let io = app(exec, &metrics);
        let served = exec.serve_metrics(io, "/metrics", &metrics).await;
        let addr = served.addr;
        let first = scrape(exec, addr).await;
        assert_eq!(first.get("socketio_connected_clients", &[("transport", "polling")]), 0.0);
        let (post, head) = exec
            .unblock(move || {
                let mut stream = raw::connect(addr);
                stream
                    .write_all(b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
                    .unwrap();
                let (status, head, _) = raw::read_response(&mut stream);
                let (other, _, _) = http_get(addr, "/elsewhere");
                assert_eq!(other, 404);
                (status, head)
            })
            .await;
        assert_eq!(post, 405);
        assert!(head.contains("allow: get, head"), "{head}");
        served.stop(Duration::from_secs(2)).await;
    }

    /// Clients by transport, handshakes, upgrades, sockets and rooms per namespace, packets and
    /// bytes by type, events by allow-listed name, acks and their timeouts, broadcasts and
    /// deliveries, disconnects, namespace connects.
    async fn traffic_is_counted(exec: Executor) {
        let metrics = Metrics::builder().events(SEEN_EVENTS.iter().copied()).build();
        let io = app(exec, &metrics);
        let served = exec.serve_metrics(io.clone(), "/metrics", &metrics).await;
        let (addr, url) = (served.addr, served.url());
        let before = scrape(exec, addr).await;

        let ws = client(exec, &url, &[TransportKind::WebSocket]);
        let polling = client(exec, &url, &[TransportKind::Polling]);
        let upgrading = client(exec, &url, &[TransportKind::Polling, TransportKind::WebSocket]);
        for c in [&ws, &polling, &upgrading] {
            c.default_socket()
                .on("q", |_s: ClientSocket, _: i64, ack: Option<ClientAck>| async move {
                    if let Some(ack) = ack {
                        ack.send(&"a").ok();
                    }
                });
            c.connect();
            connected(exec, &c.default_socket()).await;
        }
        let now = scrape_until(exec, addr, "3 clients, one upgraded", |s| {
            s.get("socketio_connected_clients", &[("transport", "websocket")]) == 2.0
                && s.get("socketio_transport_upgrades_total", &[]) >= 1.0
        })
        .await;
        assert_eq!(now.get("socketio_connected_clients", &[("transport", "polling")]), 1.0);
        let rose = |name: &str, labels: &[(&str, &str)], now: &Scrape| {
            now.get(name, labels) - before.get(name, labels)
        };
        assert_eq!(rose("socketio_handshakes_accepted_total", &[("transport", "websocket")], &now), 1.0);
        assert_eq!(rose("socketio_handshakes_accepted_total", &[("transport", "polling")], &now), 2.0);
        assert_eq!(rose("socketio_transport_upgrades_total", &[], &now), 1.0);
        assert_eq!(now.get("socketio_sockets", &[("namespace", "/")]), 3.0);
        assert_eq!(rose("socketio_namespace_connects_total", &[("result", "accepted")], &now), 3.0);

        // 3 emits over the WebSocket: 3 events in, 3 acks out.
        let event_in = [("direction", "in"), ("transport", "websocket"), ("type", "event")];
        let ack_out = [("direction", "out"), ("transport", "websocket"), ("type", "ack")];
        let bytes_before = now.get("socketio_bytes_total", &event_in);
        let acks_before = now.get("socketio_packets_total", &ack_out);
        let events_before = now.get("socketio_packets_total", &event_in);
        for n in 0..3 {
            let reply: String = ws.default_socket().emit_with_ack("hello", &n).await.unwrap();
            assert_eq!(reply, "hi");
        }
        let now = scrape(exec, addr).await;
        assert_eq!(now.get("socketio_packets_total", &event_in) - events_before, 3.0);
        assert_eq!(now.get("socketio_packets_total", &ack_out) - acks_before, 3.0);
        // `42N["hello",N]` is 14 bytes.
        assert_eq!(now.get("socketio_bytes_total", &event_in) - bytes_before, 42.0);
        assert_eq!(rose("socketio_events_received_total", &[("event", "hello")], &now), 3.0);
        // Polling: one emit, its packet counted in the POST body.
        let polling_in = [("direction", "in"), ("transport", "polling"), ("type", "event")];
        let _: String = polling.default_socket().emit_with_ack("hello", &7).await.unwrap();
        polling.default_socket().emit("other", &()).unwrap();
        let now = scrape_until(exec, addr, "the polling events", |s| {
            rose("socketio_events_received_total", &[("event", "(other)")], s) == 1.0
        })
        .await;
        let polling_series: Vec<_> = now
            .0
            .iter()
            .filter(|((name, labels), _)| {
                name == "socketio_packets_total" && labels.iter().any(|(_, v)| v == "polling")
            })
            .collect();
        assert_eq!(
            rose("socketio_packets_total", &polling_in, &now),
            2.0,
            "{polling_series:?}"
        );
        assert_eq!(rose("socketio_events_received_total", &[("event", "hello")], &now), 4.0);

        // Acks the server waits for: answered, then one that times out.
        let ok: bool = ws.default_socket().emit_with_ack("ask", &()).await.unwrap();
        assert!(ok);
        let ok: bool = ws.default_socket().emit_with_ack("ask-silent", &()).await.unwrap();
        assert!(!ok);
        let now = scrape(exec, addr).await;
        assert_eq!(rose("socketio_ack_latency_seconds", &[("kind", "emit")], &now), 1.0);
        assert_eq!(rose("socketio_ack_timeouts_total", &[("kind", "emit")], &now), 1.0);

        // A broadcast to the two others; rooms.
        let reached: usize = ws.default_socket().emit_with_ack("news", &()).await.unwrap();
        assert_eq!(reached, 2);
        let () = ws
            .default_socket()
            .emit_with_ack("join", &["red", "blue"])
            .await
            .unwrap();
        let () = upgrading.default_socket().emit_with_ack("join", &["red"]).await.unwrap();
        let now = scrape(exec, addr).await;
        // (`socket.emit` with recovery on goes through the broadcast path: none here.)
        assert_eq!(rose("socketio_broadcasts_total", &[], &now), 1.0);
        assert_eq!(rose("socketio_broadcast_deliveries_total", &[], &now), 2.0);
        assert_eq!(now.get("socketio_rooms", &[("namespace", "/")]), 2.0);

        // Volatile packets in a row to a WebSocket: those that find the previous one still
        // unwritten are dropped.
        ws.default_socket().emit("volatile", &()).unwrap();
        scrape_until(exec, addr, "a volatile drop", |s| {
            rose("socketio_volatile_drops_total", &[], s) >= 1.0
        })
        .await;

        // Namespaces: a refusal by a middleware, an unknown one, a dynamic one.
        let chat = ws.socket("/chat");
        chat.connect();
        let nope = ws.socket("/nope");
        nope.connect();
        let dynamic = ws.socket("/dyn-42");
        dynamic.connect();
        connected(exec, &dynamic).await;
        let now = scrape_until(exec, addr, "the namespace refusals", |s| {
            rose("socketio_namespace_connects_total", &[("result", "refused")], s) == 1.0
                && rose("socketio_namespace_connects_total", &[("result", "unknown_namespace")], s) == 1.0
        })
        .await;
        assert_eq!(now.get("socketio_sockets", &[("namespace", "(dynamic)")]), 1.0);

        // A recovery asked for a session that does not exist.
        exec.unblock(move || {
            let mut stream = raw::websocket(addr);
            stream
                .write_all(&raw::frame(0x81, br#"40{"pid":"nope","offset":"0"}"#, true))
                .unwrap();
            let (_, connect) = raw::read_frame(&mut stream).expect("the CONNECT");
            assert!(connect.starts_with(b"40{"), "{connect:?}");
        })
        .await;
        let now = scrape(exec, addr).await;
        assert_eq!(rose("socketio_recoveries_total", &[("result", "not_recovered")], &now), 1.0);

        // A recovery that succeeds: A gets a broadcast (with its offset), its transport goes,
        // and a new connection comes back with A's pid and that offset.
        exec.unblock(move || {
            let field = |text: &str, key: &str| -> String {
                let start = text.find(&format!("\"{key}\":\"")).expect(key) + key.len() + 4;
                text[start..start + text[start..].find('"').unwrap()].to_owned()
            };
            let mut a = raw::websocket(addr);
            a.write_all(&raw::frame(0x81, b"40", true)).unwrap();
            let (_, connect) = raw::read_frame(&mut a).expect("A's CONNECT");
            let connect = String::from_utf8(connect).unwrap();
            let (sid, pid) = (field(&connect, "sid"), field(&connect, "pid"));
            let mut b = raw::websocket(addr);
            b.write_all(&raw::frame(0x81, b"40", true)).unwrap();
            raw::read_frame(&mut b).expect("B's CONNECT");
            b.write_all(&raw::frame(0x81, br#"42["news"]"#, true)).unwrap();
            let (_, news) = raw::read_frame(&mut a).expect("the news");
            let news = String::from_utf8(news).unwrap();
            assert!(news.starts_with(r#"42["news","n",""#), "{news}");
            let offset = news[r#"42["news","n",""#.len()..news.len() - 2].to_owned();
            drop(a);
            std::thread::sleep(Duration::from_millis(100));
            let mut c = raw::websocket(addr);
            let resume = format!(r#"40{{"pid":"{pid}","offset":"{offset}"}}"#);
            c.write_all(&raw::frame(0x81, resume.as_bytes(), true)).unwrap();
            let (_, connect) = raw::read_frame(&mut c).expect("the recovered CONNECT");
            let connect = String::from_utf8(connect).unwrap();
            assert_eq!(field(&connect, "sid"), sid, "the same socket: {connect}");
            drop((b, c));
        })
        .await;
        let now = scrape_until(exec, addr, "a recovery", |s| {
            rose("socketio_recoveries_total", &[("result", "recovered")], s) == 1.0
        })
        .await;
        assert_eq!(rose("socketio_recoveries_total", &[("result", "not_recovered")], &now), 1.0);

        // Disconnects by reason: two sockets leave (a namespace of `ws`, the polling client's
        // `/`), and the four raw WebSockets above are gone (`transport close`).
        dynamic.disconnect();
        polling.disconnect();
        scrape_until(exec, addr, "the disconnects", |s| {
            rose("socketio_disconnects_total", &[("reason", "client namespace disconnect")], s) == 2.0
                && rose("socketio_disconnects_total", &[("reason", "transport close")], s) == 4.0
                && s.get("socketio_connected_clients", &[("transport", "polling")]) == 0.0
        })
        .await;
        ws.disconnect();
        upgrading.disconnect();
        served.stop(Duration::from_secs(2)).await;
    }

    /// Handshakes refused by reason, a slow consumer, the cluster requests (and
    /// their errors, with an adapter that fails them).
    async fn refusals_recovery_slow_consumers_and_requests(exec: Executor) {
        let metrics = Metrics::new();
        let reporter = Arc::new(std::sync::Mutex::new(None));
        let slot = reporter.clone();
        let io = exec.server(
            Server::builder()
                .metrics(&metrics)
                .backpressure(Backpressure {
                    high_water: 64 << 10,
                    limit: 256 << 10,
                    ..Backpressure::default()
                })
                .adapter(move |local: LocalNamespace| {
                    *slot.lock().unwrap() = Some(local.metrics());
                    Arc::new(Failing(InMemoryAdapter::new(local))) as Arc<dyn Adapter>
                }),
        );
        io.ns("/", |socket: Socket| async move {
            socket.on("flood", |s: Socket, _: (), _ack: Option<AckSender>| async move {
                let chunk = "x".repeat(256 << 10);
                for _ in 0..200 {
                    if s.emit("chunk", &chunk).is_err() {
                        break;
                    }
                }
            });
        });
        let served = exec.serve_metrics(io.clone(), "/metrics", &metrics).await;
        let addr = served.addr;
        let before = scrape(exec, addr).await;
        exec.unblock(move || {
            let (status, _, _) = http_get(addr, "/socket.io/?EIO=4&transport=bogus");
            assert_eq!(status, 400);
            let (status, _, _) = http_get(addr, "/socket.io/?EIO=4&transport=polling&sid=nope");
            assert_eq!(status, 400);
            let mut stream = raw::websocket(addr);
            stream.write_all(&raw::frame(0x81, b"40", true)).unwrap();
            let (_, connect) = raw::read_frame(&mut stream).expect("the CONNECT");
            assert!(connect.starts_with(b"40{"), "{connect:?}");
            // A client that asks for a flood and never reads it.
            stream
                .write_all(&raw::frame(0x81, br#"42["flood"]"#, true))
                .unwrap();
            std::thread::sleep(Duration::from_secs(3));
            let mut rest = Vec::new();
            let _ = stream.read_to_end(&mut rest);
        })
        .await;
        let now = scrape_until(exec, addr, "the slow consumer", |s| {
            s.get("socketio_slow_consumer_disconnects_total", &[("transport", "websocket")])
                - before.get("socketio_slow_consumer_disconnects_total", &[("transport", "websocket")])
                == 1.0
        })
        .await;
        let rose = |name: &str, labels: &[(&str, &str)]| now.get(name, labels) - before.get(name, labels);
        assert_eq!(rose("socketio_handshakes_refused_total", &[("reason", "unknown_transport")]), 1.0);
        assert_eq!(rose("socketio_handshakes_refused_total", &[("reason", "unknown_sid")]), 1.0);
        assert_eq!(
            rose("socketio_disconnects_total", &[("reason", "transport error")]),
            1.0,
        );

        // The cluster requests: fetch_sockets and server_count go through, server_side_emit
        // fails (the adapter says so).
        assert!(io.fetch_sockets().await.is_ok());
        assert!(io.fetch_sockets().await.is_ok());
        assert_eq!(io.server_count().await.unwrap(), 1);
        assert!(io.server_side_emit("x", &()).await.is_err());
        let now = scrape(exec, addr).await;
        let rose = |name: &str, labels: &[(&str, &str)]| now.get(name, labels) - before.get(name, labels);
        let fetch = [("request", "fetch_sockets")];
        let emit = [("request", "server_side_emit")];
        assert_eq!(rose("socketio_adapter_requests_total", &fetch), 2.0);
        assert_eq!(rose("socketio_adapter_request_duration_seconds", &fetch), 2.0);
        assert_eq!(rose("socketio_adapter_requests_total", &[("request", "server_count")]), 1.0);
        assert_eq!(rose("socketio_adapter_request_errors_total", &fetch), 0.0);
        assert_eq!(rose("socketio_adapter_request_errors_total", &emit), 1.0);

        // The adapter's own report (a Redis adapter reports its reconnections so).
        let adapter_metrics = reporter.lock().unwrap().clone().expect("the adapter of /");
        adapter_metrics.reconnected("publisher");
        let now = scrape(exec, addr).await;
        assert_eq!(now.get("socketio_adapter_reconnects_total", &[("link", "publisher")]), 1.0);
        served.stop(Duration::from_secs(2)).await;
    }

    /// The client's reconnections (its own registry): attempts against a port where nothing
    /// listens, then the give-up.
    async fn client_reconnect_attempts_are_counted(exec: Executor) {
        // Nothing listens there: every attempt fails, then the client gives up.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let metrics = ClientMetrics::new();
        let client = Client::builder(format!("http://127.0.0.1:{port}"))
            .reconnection_attempts(3)
            .reconnection_delay(Duration::from_millis(20))
            .reconnection_delay_max(Duration::from_millis(40))
            .build(exec.runtime(), exec.connector())
            .unwrap();
        metrics.attach(&client);
        client.connect();
        for _ in 0..200 {
            let scrape = Scrape::parse(&metrics.encode());
            if scrape.get("socketio_client_reconnect_failures_total", &[]) == 1.0 {
                assert_eq!(scrape.get("socketio_client_reconnect_attempts_total", &[]), 3.0);
                assert_eq!(scrape.get("socketio_client_reconnects_total", &[]), 0.0);
                client.disconnect();
                return;
            }
            exec.sleep(Duration::from_millis(25)).await;
        }
        panic!("the client never gave up: {}", metrics.encode());
    }
}

/// The in-memory adapter, except that `server_side_emit` fails.
struct Failing(Arc<InMemoryAdapter>);

impl Adapter for Failing {
    fn add_all(&self, sid: &Str, rooms: &[Str]) {
        self.0.add_all(sid, rooms)
    }
    fn del(&self, sid: &Str, room: &Str) {
        self.0.del(sid, room)
    }
    fn del_all(&self, sid: &Str) -> Vec<Str> {
        self.0.del_all(sid)
    }
    fn socket_rooms(&self, sid: &Str) -> Vec<Str> {
        self.0.socket_rooms(sid)
    }
    fn local_sockets(&self, opts: &BroadcastOptions) -> Vec<Str> {
        self.0.local_sockets(opts)
    }
    fn broadcast(&self, message: BroadcastMessage) -> usize {
        self.0.broadcast(message)
    }
    fn broadcast_with_ack(
        &self,
        message: BroadcastMessage,
        timeout: Duration,
    ) -> BoxFuture<BroadcastAcks> {
        self.0.broadcast_with_ack(message, timeout)
    }
    fn fetch_sockets(
        &self,
        opts: BroadcastOptions,
    ) -> BoxFuture<Result<Vec<RemoteSocket>, AdapterError>> {
        self.0.fetch_sockets(opts)
    }
    fn add_sockets(&self, opts: BroadcastOptions, rooms: Vec<Str>) {
        self.0.add_sockets(opts, rooms)
    }
    fn del_sockets(&self, opts: BroadcastOptions, rooms: Vec<Str>) {
        self.0.del_sockets(opts, rooms)
    }
    fn disconnect_sockets(&self, opts: BroadcastOptions, close: bool) {
        self.0.disconnect_sockets(opts, close)
    }
    fn server_side_emit(&self, _data: Value) -> BoxFuture<Result<Vec<Value>, AdapterError>> {
        Box::pin(async { Err(AdapterError("unreachable cluster".into())) })
    }
    fn server_count(&self) -> BoxFuture<Result<usize, AdapterError>> {
        self.0.server_count()
    }
    fn persist_session(
        &self,
        session: socketio_tokio::adapter::SessionRecord,
        reason: socketio_tokio::adapter::DisconnectReason,
    ) {
        self.0.persist_session(session, reason)
    }
    fn restore_session(
        &self,
        pid: Str,
        offset: Str,
    ) -> BoxFuture<Option<socketio_tokio::adapter::Restored>> {
        self.0.restore_session(pid, offset)
    }
    fn local_room_count(&self) -> Option<usize> {
        self.0.local_room_count()
    }
}
