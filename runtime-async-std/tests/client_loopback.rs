//! The async-io client against this project's server over loopback sockets — polling,
//! WebSocket and the upgrade — under smol and under async-std (`::smol` / `::async_std`).

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use socketio_async_std::{
    AsyncIoConnector, ClientBuilderExt, HttpServer, Server, Socket, TransportKind,
    client::{AckSender, Client, ClientSocket},
};

fn server(executor: Executor) -> Server {
    let io = Server::builder().build(executor.runtime());
    io.ns("/", |socket: Socket| async move {
        socket.on(
            "add",
            |_s: Socket, (a, b): (i64, i64), ack: Option<socketio_async_std::AckSender>| async move {
                if let Some(ack) = ack {
                    ack.send(&(a + b)).ok();
                }
            },
        );
        socket.on(
            "bytes",
            |_s: Socket, data: Bytes, ack: Option<socketio_async_std::AckSender>| async move {
                if let Some(ack) = ack {
                    ack.send(&data).ok();
                }
            },
        );
        socket.on(
            "ask",
            |socket: Socket, _: (), _: Option<socketio_async_std::AckSender>| async move {
                let reply: String = socket
                    .emit_with_ack("question", &())
                    .timeout(Duration::from_secs(5))
                    .await
                    .unwrap();
                socket.emit("answer", &reply).ok();
            },
        );
    });
    io
}

async fn exchange(client: &Client) {
    let socket = client.default_socket();
    timeout(socket.wait_connected()).await.unwrap();
    let sum: i64 = timeout(socket.emit_with_ack("add", &(20, 22)))
        .await
        .unwrap();
    assert_eq!(sum, 42);
    let data = Bytes::from_static(&[1, 2, 3, 0, 255]);
    let back: Bytes = timeout(socket.emit_with_ack("bytes", &data)).await.unwrap();
    assert_eq!(back, data);
}

on_executors!(
    polling_websocket_and_upgrade,
    |executor: Executor| async move {
        let addr = start(executor, HttpServer::new(server(executor))).await;
        let url = format!("http://{addr}");
        let runtime = || (*executor.runtime()).clone();

        let polling = Client::builder(&url)
            .transports([TransportKind::Polling])
            .connect_async_io(runtime(), AsyncIoConnector::new())
            .unwrap();
        exchange(&polling).await;
        assert_eq!(polling.transport(), Some("polling"));

        let websocket = Client::builder(&url)
            .transports([TransportKind::WebSocket])
            .build_async_io(runtime(), AsyncIoConnector::new())
            .unwrap();
        let (tx, rx) = async_channel::unbounded();
        let socket = websocket.default_socket();
        socket.on(
            "question",
            |_s: ClientSocket, _: (), ack: Option<AckSender>| async move {
                ack.unwrap().send(&"yes").unwrap();
            },
        );
        socket.on("answer", move |_s: ClientSocket, text: String, _| {
            let tx = tx.clone();
            async move { tx.send(text).await.unwrap() }
        });
        websocket.connect();
        exchange(&websocket).await;
        assert_eq!(websocket.transport(), Some("websocket"));
        socket.emit("ask", &()).unwrap();
        assert_eq!(timeout(rx.recv()).await.unwrap(), "yes");

        let upgrading = Client::builder(&url)
            .connect_async_io(runtime(), AsyncIoConnector::new())
            .unwrap();
        exchange(&upgrading).await;
        for _ in 0..100 {
            if upgrading.transport() == Some("websocket") {
                break;
            }
            async_io::Timer::after(Duration::from_millis(20)).await;
        }
        assert_eq!(upgrading.transport(), Some("websocket"));
        exchange(&upgrading).await;

        polling.disconnect();
        websocket.disconnect();
        upgrading.disconnect();
    }
);
