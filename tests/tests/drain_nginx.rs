//! Draining a node behind a real load balancer: nginx (Debian's package, installed when
//! missing; configuration generated here, `ip_hash` for polling stickiness, `503` retried on
//! the next upstream) in front of two of our nodes with the Redis streams adapter and
//! connection state recovery, 200 official clients (`tests/node/clients/drain.js`), a
//! broadcast every 10 ms from the node that stays. The node holding the clients drains over
//! 2 s: every client ends up on the other node, recovered, with every broadcast exactly once
//! and in order, the reconnections are spread: no 500 ms window sees more than 60% of them (the spread
//! allows a quarter; the Node process of all 200 clients handles its events in batches), and
//! the middle 80% span at least 40% of the drain. A node dropping every client at once would
//! see them all within 150 ms (a 100 ms reconnection delay with jitter).

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Value as Json, json};
use socketio_redis::{Flavor, RedisAdapterOptions, StreamsOptions};
use socketio_tests::cluster_support::*;
use socketio_tests::executor::Executor;
use socketio_tests::interop::{NGINX, RefServer, ensure_nginx};

const CLIENTS: usize = 200;
const DRAIN_OVER: Duration = Duration::from_secs(2);

fn streams(key: &str) -> RedisAdapterOptions {
    let mut options = RedisAdapterOptions::with_key(key);
    options.flavor = Flavor::Streams(StreamsOptions {
        session_key_prefix: format!("{key}:session:"),
        ..StreamsOptions::default()
    });
    options
}

/// nginx in front of `upstreams`, on a port of its own; stopped on drop.
struct Nginx {
    child: Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl Nginx {
    fn start(upstreams: &[String]) -> Nginx {
        ensure_nginx();
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let dir = std::env::temp_dir().join(format!("sio-nginx-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("nginx dir");
        let servers: String = upstreams
            .iter()
            .map(|u| format!("    server {};\n", u.trim_start_matches("http://")))
            .collect();
        let d = dir.display();
        let conf = format!(
            r#"worker_processes 1;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
  upstream socketio {{
    ip_hash;
{servers}  }}
  server {{
    listen 127.0.0.1:{port};
    location /socket.io/ {{
      proxy_pass http://socketio;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host $host;
      proxy_buffering off;
      proxy_read_timeout 60s;
      # A draining node answers 503: hand the request to the next node (a handshake, and
      # the requests of a session the draining node does not have).
      proxy_next_upstream error timeout http_503 non_idempotent;
    }}
  }}
}}
"#
        );
        let conf_path = dir.join("nginx.conf");
        std::fs::write(&conf_path, conf).expect("nginx.conf");
        let child = Command::new(NGINX)
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {NGINX}: {e}"));
        let start = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < WAIT,
                "nginx never listened on {port}: {}",
                std::fs::read_to_string(dir.join("error.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Nginx { child, port, dir }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM: the master stops its workers (SIGKILL would leave them running).
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let start = std::time::Instant::now();
        while matches!(self.child.try_wait(), Ok(None)) && start.elapsed() < WAIT {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The most reconnections in any `window` (timestamps in ms).
fn busiest_window(mut times: Vec<u64>, window: u64) -> usize {
    times.sort_unstable();
    let mut best = 0;
    let mut first = 0;
    for last in 0..times.len() {
        while times[last] - times[first] >= window {
            first += 1;
        }
        best = best.max(last - first + 1);
    }
    best
}

#[test]
fn a_node_drains_behind_nginx_without_a_reconnect_storm() {
    let exec = Executor::Tokio;
    exec.block_on(async move {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let key = unique_key("drain");
        // The defaults of production (heartbeats 25 s / 20 s, connectTimeout 45 s): the
        // conformance ones (300 ms / 200 ms, 1 s) time out some of 200 clients of one busy
        // Node process on two cores.
        let nodes = start_nodes_with(
            exec,
            REDIS_URL,
            streams(&key),
            &["node-0", "node-1"],
            &[],
            |b| {
                b.ping_interval(Duration::from_secs(25))
                    .ping_timeout(Duration::from_secs(20))
                    .connect_timeout(Duration::from_secs(45))
            },
        )
        .await;
        wait_server_count(exec, &nodes, 2).await;
        let upstreams: Vec<String> = nodes.iter().map(|n| n.url()).collect();
        let nginx = exec.unblock(move || Nginx::start(&upstreams)).await;
        let url = nginx.url();
        let clients = exec
            .unblock(move || {
                let script = RefServer::start_script_with(
                    "clients/drain.js",
                    &json!({"url": url, "clients": CLIENTS}),
                    &[
                        ("SCRIPT_TIMEOUT_MS", "120000"),
                        ("DRAIN_DEBUG", "/tmp/drain-events.jsonl"),
                    ],
                    "ready",
                );
                let ready = script.wait_line("ready", Duration::from_secs(30));
                (script, ready)
            })
            .await;
        let (script, ready) = clients;
        // ip_hash: every client comes from 127.0.0.1, so one node has them all.
        let on = |id: &str| ready["nodes"][id].as_u64().unwrap_or(0) as usize;
        let (drained, staying) = if on("node-0") >= on("node-1") {
            (0, 1)
        } else {
            (1, 0)
        };
        assert_eq!(
            on(["node-0", "node-1"][drained]),
            CLIENTS,
            "every client on one node first: {ready}"
        );
        let staying_id = ["node-0", "node-1"][staying];

        // A broadcast every 10 ms from the node that stays, through the stream.
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let ticker = nodes[staying].io.clone();
        let (ticker_stop, ticker_sent) = (stop.clone(), sent.clone());
        let (done_tx, done_rx) = smol::channel::bounded::<()>(1);
        exec.spawn(async move {
            while !ticker_stop.load(Ordering::Acquire) {
                let seq = ticker_sent.load(Ordering::Acquire);
                ticker.emit("tick", &seq).expect("emit");
                ticker_sent.store(seq + 1, Ordering::Release);
                exec.sleep(Duration::from_millis(10)).await;
            }
            let _ = done_tx.send(()).await;
        });
        exec.sleep(Duration::from_millis(300)).await;

        let drain_start = std::time::Instant::now();
        eprintln!(
            "drain starts at {:?}",
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)
        );
        nodes[drained].io.drain(DRAIN_OVER).await;
        let drained_after = drain_start.elapsed();
        eprintln!(
            "drain ends at {:?}",
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)
        );
        assert!(nodes[drained].io.is_draining());

        // Every client back, on the other node.
        let start = std::time::Instant::now();
        loop {
            let here = nodes[staying]
                .io
                .local()
                .fetch_sockets()
                .await
                .map(|s| s.len())
                .unwrap_or(0);
            if here == CLIENTS {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "only {here} of {CLIENTS} clients reached {staying_id}"
            );
            exec.sleep(Duration::from_millis(20)).await;
        }
        exec.sleep(Duration::from_millis(300)).await;
        stop.store(true, Ordering::Release);
        let _ = done_rx.recv().await;
        let total = sent.load(Ordering::Acquire);
        nodes[staying].io.emit("ticks-done", &()).expect("emit");

        let clients = exec
            .unblock(move || {
                script.wait_line("finished", Duration::from_secs(60));
                script.wait_line("done", Duration::from_secs(10));
                let clients: Vec<Json> = script
                    .lines()
                    .into_iter()
                    .filter_map(|mut l| l.get_mut("client").map(Json::take))
                    .collect();
                drop(script);
                clients
            })
            .await;
        assert_eq!(clients.len(), CLIENTS);
        let expected: Vec<u64> = (0..total).collect();
        let mut reconnected_at = Vec::new();
        let mut wrong = Vec::new();
        for client in &clients {
            let seqs: Vec<u64> = client["seqs"]
                .as_array()
                .expect("seqs")
                .iter()
                .filter_map(Json::as_u64)
                .collect();
            assert!(
                client["done"] == json!(true),
                "ticks-done never reached {client}"
            );
            assert_eq!(
                client["disconnects"],
                json!(["transport close"]),
                "one disconnection, seen as `transport close`: {}",
                client["id"]
            );
            assert_eq!(
                client["recovered"],
                json!([true]),
                "recovered: {}",
                client["id"]
            );
            assert_eq!(client["node"], json!(staying_id), "now on {staying_id}");
            if seqs != expected {
                let missing = expected.iter().filter(|s| !seqs.contains(s)).count();
                let extra = seqs.len() + missing - expected.len();
                wrong.push(format!(
                    "{}: {} of {total} ticks, {missing} missing, {extra} extra, first out of \
                     order at {:?}",
                    client["id"],
                    seqs.len(),
                    seqs.windows(2).position(|w| w[1] != w[0] + 1)
                ));
            }
            reconnected_at.extend(
                client["reconnected_at"]
                    .as_array()
                    .expect("times")
                    .iter()
                    .filter_map(Json::as_u64),
            );
        }
        assert!(
            wrong.is_empty(),
            "{} clients did not get every tick exactly once in order:\n{}",
            wrong.len(),
            wrong.join("\n")
        );
        assert_eq!(reconnected_at.len(), CLIENTS, "one reconnection each");
        // 200 clients spread over 2 s: about 50 per 500 ms (more when the one Node process
        // of every client handles its events in batches). All at once (a 100 ms delay with
        // jitter), they would all come within 150 ms.
        let busiest = busiest_window(reconnected_at.clone(), 500);
        assert!(
            busiest <= CLIENTS * 3 / 5,
            "{busiest} reconnections within one 500 ms window: the drain did not spread them \
             (drain took {drained_after:?})"
        );
        // And the middle 80% of them span at least 40% of the drain (about 80% when spread).
        reconnected_at.sort_unstable();
        let span = reconnected_at[CLIENTS * 9 / 10] - reconnected_at[CLIENTS / 10];
        assert!(
            span >= DRAIN_OVER.as_millis() as u64 * 2 / 5,
            "the middle 80% of the reconnections came within {span} ms"
        );
        eprintln!(
            "drain: {total} ticks, drain resolved after {drained_after:?}, busiest 500 ms window \
             {busiest} reconnections, middle 80% within {span} ms"
        );
        drop(nginx);
        stop_nodes(exec, nodes).await;
    });
}
