//! End to end over real TCP on loopback: the official `socket.io-client` 4.8 (and 2.5) from npm,
//! run as Node scripts (`tests/node/clients`), against the Rust server with the test app of
//! `interop_support`. Each test starts its own server on `127.0.0.1:0`, and runs on each
//! executor (`tokio::…`, `async_std::…`, `smol::…`).

mod interop_support;

use futures_util::join;
use interop_support::{AppOptions, client, start};
use serde_json::{Value, json};
use socketio_tests::executor::Executor;
use socketio_tests::executor_tests;

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// The socket.io-client 4.8 main scenario in one transport mode, plus the server-side view:
/// the disconnect reasons the Rust handlers saw.
async fn basic(exec: Executor, mode: &str) {
    let app = start(exec, AppOptions::default()).await;
    let run = client(exec, "basic.js", &[app.url.as_str(), mode]).await;
    run.assert_success();
    assert_eq!(
        str_of(run.step("transport"), "name"),
        if mode == "polling" {
            "polling"
        } else {
            "websocket"
        }
    );

    // Server-side reasons, as the reference server gives them (clients/ref-server.js).
    let kicked = str_of(run.step("kicked"), "id").to_owned();
    let left = str_of(run.step("client-disconnect"), "id").to_owned();
    let closed = run.step("engine-closed")["ids"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut expected = vec![
        (kicked, "server namespace disconnect"),
        (left, "client namespace disconnect"),
    ];
    for id in &closed {
        expected.push((
            id.as_str().unwrap_or_default().to_owned(),
            "transport close",
        ));
    }
    for (id, reason) in expected {
        let seen = app.log.disconnect_reason(&id).await;
        assert_eq!(
            seen.as_deref(),
            Some(reason),
            "server-side disconnect reason of {id}\n{run}\nserver log: {:#?}",
            app.log.all()
        );
    }
    // The refused connection never reached a connect handler; the dynamic namespace did.
    assert!(
        app.log.connected_to("/dyn-42"),
        "server log: {:#?}",
        app.log.all()
    );
    assert!(app.log.connected_to("/custom"));
}

async fn recovery(exec: Executor, mode: &str) {
    let app = start(
        exec,
        AppOptions {
            recovery: true,
            ..AppOptions::default()
        },
    )
    .await;
    let run = client(exec, "recovery.js", &[app.url.as_str(), mode]).await;
    run.assert_success();
    let reconnected = run.step("reconnected");
    assert_eq!(reconnected["recovered"], json!(true), "{run}");
    assert_eq!(reconnected["sameId"], json!(true), "{run}");
    assert_eq!(
        reconnected["order"],
        json!([
            "msg:d1", "msg:d2", "msg:d3", "msg:m1", "msg:m2", "msg:m3", "connect"
        ]),
        "{run}"
    );
    // The server side saw the same socket come back recovered.
    let recovered = app.log.all().into_iter().any(
        |s| matches!(s, interop_support::Seen::Connect { recovered: true, nsp, .. } if nsp == "/"),
    );
    assert!(
        recovered,
        "no recovered connect in the server log: {:#?}",
        app.log.all()
    );
}

executor_tests! {
async fn client_v4_polling_only(exec: Executor) {
    basic(exec, "polling").await;
}

async fn client_v4_websocket_only(exec: Executor) {
    basic(exec, "websocket").await;
}

async fn client_v4_polling_then_upgrade(exec: Executor) {
    basic(exec, "upgrade").await;
}

/// The server drops the transport (`socket.conn.close()`): the client sees `transport close`,
/// reconnects by itself; the server saw `forced close`.
async fn reconnection_after_the_server_drops_the_transport(exec: Executor) {
    let app = start(exec, AppOptions::default()).await;
    let (polling, websocket, upgrade) = join!(
        client(exec, "reconnect.js", &[app.url.as_str(), "polling"]),
        client(exec, "reconnect.js", &[app.url.as_str(), "websocket"]),
        client(exec, "reconnect.js", &[app.url.as_str(), "upgrade"]),
    );
    for run in [&polling, &websocket, &upgrade] {
        run.assert_success();
        let first = str_of(run.step("connect"), "id");
        let reason = app.log.disconnect_reason(first).await;
        assert_eq!(
            reason.as_deref(),
            Some("forced close"),
            "server-side reason\n{run}"
        );
    }
}

/// `Server::shutdown` with clients connected: they see `transport close`, the server handlers
/// `server shutting down` (as with the official `io.close()`, which over polling keeps the close
/// packet for a client's next GET when none is pending).
async fn server_shutdown_with_clients_connected(exec: Executor) {
    let (ws_app, polling_app) =
        join!(start(exec, AppOptions::default()), start(exec, AppOptions::default()));
    let (ws, polling) = join!(
        client(exec, "shutdown.js", &[ws_app.url.as_str(), "websocket", "3"]),
        client(exec, "shutdown.js", &[polling_app.url.as_str(), "polling", "6"]),
    );
    for (run, app) in [(&ws, &ws_app), (&polling, &polling_app)] {
        run.assert_success();
        let reasons = run.step("disconnected")["reasons"].as_array().unwrap();
        assert!(
            reasons.iter().all(|r| r == "transport close"),
            "every client should see `transport close`\n{run}"
        );
        for id in run.step("connected")["ids"].as_array().unwrap() {
            let id = id.as_str().unwrap();
            let reason = app.log.disconnect_reason(id).await;
            assert_eq!(
                reason.as_deref(),
                Some("server shutting down"),
                "server-side reason of {id}\n{run}"
            );
        }
    }
}

async fn rooms_and_broadcasts_to_many_clients(exec: Executor) {
    let app = start(exec, AppOptions::default()).await;
    // One run after the other: `volatile` and `sentinel` go to the whole namespace, so a
    // concurrent run's rounds would keep the other run's transports busy, and a volatile
    // packet is rightly dropped for a busy transport.
    let ws = client(exec, "rooms.js", &[app.url.as_str(), "40", "websocket", "ws-"]).await;
    let polling = client(exec, "rooms.js", &[app.url.as_str(), "10", "polling", "polling-"]).await;
    ws.assert_success();
    polling.assert_success();
    for run in [&ws, &polling] {
        let count = run.step("joined")["count"].as_u64().unwrap();
        let even: Vec<u64> = (0..count).step_by(2).collect();
        assert_eq!(
            run.steps("room-msg").next().unwrap()["receivers"],
            json!(even),
            "{run}"
        );
        assert_eq!(run.step("except-msg")["receivers"], json!(even), "{run}");
        let others: Vec<u64> = (0..count).filter(|&i| i != 2).collect();
        assert_eq!(
            run.step("broadcast-msg")["receivers"],
            json!(others),
            "{run}"
        );
    }
}

async fn connection_state_recovery_websocket(exec: Executor) {
    recovery(exec, "websocket").await;
}

async fn connection_state_recovery_polling(exec: Executor) {
    recovery(exec, "polling").await;
}

async fn connection_state_recovery_upgrade(exec: Executor) {
    recovery(exec, "upgrade").await;
}

async fn msgpack_parser(exec: Executor) {
    let app = start(exec, AppOptions {
        msgpack: true,
        ..AppOptions::default()
    })
    .await;
    let (ws, polling, upgrade) = join!(
        client(exec, "msgpack.js", &[app.url.as_str(), "websocket"]),
        client(exec, "msgpack.js", &[app.url.as_str(), "polling"]),
        client(exec, "msgpack.js", &[app.url.as_str(), "upgrade"]),
    );
    ws.assert_success();
    polling.assert_success();
    upgrade.assert_success();
}

async fn client_v2_against_allow_eio3(exec: Executor) {
    let app = start(exec, AppOptions {
        eio3: true,
        ..AppOptions::default()
    })
    .await;
    let (polling, websocket, upgrade) = join!(
        client(exec, "v2.js", &[app.url.as_str(), "polling"]),
        client(exec, "v2.js", &[app.url.as_str(), "websocket"]),
        client(exec, "v2.js", &[app.url.as_str(), "upgrade"]),
    );
    for run in [&polling, &websocket, &upgrade] {
        run.assert_success();
        assert_eq!(
            run.step("refused")["error"],
            json!({"reason": "bad token"}),
            "{run}"
        );
    }
    assert_eq!(str_of(upgrade.step("transport"), "name"), "websocket");
}
}
