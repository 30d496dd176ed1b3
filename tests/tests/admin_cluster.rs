//! The Admin UI protocol across a cluster: two of this project's nodes on the Redis adapter
//! (the real Redis on 127.0.0.1:6379), each instrumented with `socketio-admin`. A UI connected
//! to one node sees both nodes' `server_stats`, every node's sockets in `all_sockets` (their
//! transports from their own node as `socket_updated`), the other node's socket and room
//! events, and its commands reach a socket on the other node. On tokio.

use std::time::Duration;

use serde_json::{Value as Json, json};
use smol::channel::{Receiver, unbounded};
use socketio_admin::AdminOptions;
use socketio_tests::cluster_support::*;
use socketio_tests::executor::Executor;
use socketio_tokio::Value;
use socketio_tokio::client::{Client, ClientSocket};

const WAIT: Duration = Duration::from_secs(10);

/// A UI on `/admin` of `url`: every event it gets, as JSON.
struct Ui {
    _client: Client,
    socket: ClientSocket,
    events: Receiver<(String, Vec<Json>)>,
}

impl Ui {
    async fn connect(exec: Executor, url: &str) -> Ui {
        let client = Client::builder(url)
            .reconnection(false)
            .build(exec.runtime(), exec.connector())
            .unwrap();
        let socket = client.socket("/admin");
        let (tx, events) = unbounded();
        socket.on_any(move |_s, event: String, args: Vec<Value>, _| {
            let tx = tx.clone();
            async move {
                let args = args
                    .into_iter()
                    .map(|v| socketio_tokio::from_value::<Json>(v).unwrap_or(Json::Null))
                    .collect();
                let _ = tx.try_send((event, args));
            }
        });
        socket.connect();
        exec.timeout(WAIT, socket.wait_connected())
            .await
            .expect("connected in time")
            .expect("connected");
        Ui {
            _client: client,
            socket,
            events,
        }
    }

    async fn wait(
        &mut self,
        exec: Executor,
        event: &str,
        pred: impl Fn(&[Json]) -> bool,
    ) -> Vec<Json> {
        let start = std::time::Instant::now();
        loop {
            let left = WAIT.saturating_sub(start.elapsed());
            let got = exec
                .timeout(left, self.events.recv())
                .await
                .unwrap_or_else(|_| panic!("no {event}"))
                .expect("ui alive");
            if got.0 == event && pred(&got.1) {
                return got.1;
            }
        }
    }

    fn command(&self, event: &str, args: Vec<Json>) {
        let args = args
            .into_iter()
            .map(|a| socketio_tokio::to_value(&a).unwrap())
            .collect();
        self.socket.emit_args(event, args).unwrap();
    }
}

#[test]
fn a_ui_on_one_node_sees_and_drives_both_nodes() {
    Executor::Tokio.run(|exec| async move {
        let key = unique_key("admin");
        let nodes = start_nodes(exec, &key, &["node-a", "node-b"]).await;
        for (node, id) in nodes.iter().zip(["node-a", "node-b"]) {
            socketio_admin::instrument(&node.io, AdminOptions::default().server_id(id)).unwrap();
        }
        wait_server_count(exec, &nodes, 2).await;
        wait_server_count_on(exec, &nodes, "/admin", 2).await;
        let on_a = Peer::connect(exec, &nodes[0].url()).await;
        let mut on_b = Peer::connect(exec, &nodes[1].url()).await;

        let mut ui = Ui::connect(exec, &nodes[0].url()).await;
        let all = ui.wait(exec, "all_sockets", |_| true).await;
        let ids: Vec<&str> = all[0]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|s| s["id"].as_str())
            .collect();
        assert!(ids.contains(&on_a.id.as_str()), "{ids:?}");
        assert!(
            ids.contains(&on_b.id.as_str()),
            "node b's socket in {ids:?}"
        );
        // Node b sends its socket's transport and client id itself.
        let updated = ui
            .wait(exec, "socket_updated", |a| a[0]["id"] == json!(on_b.id))
            .await;
        assert!(matches!(
            updated[0]["transport"].as_str(),
            Some("polling" | "websocket")
        ));
        assert_eq!(updated[0]["clientId"].as_str().unwrap().len(), 12);
        // Both nodes' stats.
        ui.wait(exec, "server_stats", |a| a[0]["serverId"] == "node-b")
            .await;
        ui.wait(exec, "server_stats", |a| a[0]["serverId"] == "node-a")
            .await;

        // A command from the UI on node a reaches the socket on node b; node b reports the
        // room it joined.
        ui.command("join", vec![json!("/"), json!("blue"), json!(on_b.id)]);
        ui.wait(exec, "room_joined", |a| {
            a[1] == "blue" && a[2] == json!(on_b.id)
        })
        .await;
        ui.command(
            "emit",
            vec![
                json!("/"),
                json!("blue"),
                json!("notice"),
                json!("from the ui"),
            ],
        );
        let notice = on_b.next(exec, "notice").await;
        assert_eq!(notice, vec![Value::from("from the ui")]);

        // A new socket on node b, then gone: both reach the UI on node a.
        let late = Peer::connect(exec, &nodes[1].url()).await;
        ui.wait(exec, "socket_connected", |a| a[0]["id"] == json!(late.id))
            .await;
        late.client.disconnect();
        ui.wait(exec, "socket_disconnected", |a| a[1] == json!(late.id))
            .await;
        drop(on_a);
        stop_nodes(exec, nodes).await;
    });
}
