//! The tokio client against this project's server over real loopback sockets: polling,
//! WebSocket, upgrade, and TLS (rustls, a certificate generated at test time).
#![allow(missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use socketio_tokio::client::{AckSender, Client, ClientSocket};
use socketio_tokio::{
    ClientBuilderExt, ServerBuilderExt, ServerExt, Socket, TokioConnector, TransportKind,
};
use tokio::net::TcpListener;
use tokio_rustls::rustls;

fn server() -> socketio_tokio::Server {
    let io = socketio_tokio::Server::builder().build_tokio();
    io.ns("/", |socket: Socket| async move {
        socket.on(
            "add",
            |_s: Socket, (a, b): (i64, i64), ack: Option<socketio_tokio::AckSender>| async move {
                if let Some(ack) = ack {
                    ack.send(&(a + b)).ok();
                }
            },
        );
        socket.on(
            "bytes",
            |_s: Socket, data: Bytes, ack: Option<socketio_tokio::AckSender>| async move {
                if let Some(ack) = ack {
                    ack.send(&data).ok();
                }
            },
        );
        socket.on(
            "ask",
            |socket: Socket, _: (), _: Option<socketio_tokio::AckSender>| async move {
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
    tokio::time::timeout(Duration::from_secs(10), socket.wait_connected())
        .await
        .unwrap()
        .unwrap();
    let sum: i64 = socket.emit_with_ack("add", &(20, 22)).await.unwrap();
    assert_eq!(sum, 42);
    let data = Bytes::from_static(&[1, 2, 3, 0, 255]);
    let back: Bytes = socket.emit_with_ack("bytes", &data).await.unwrap();
    assert_eq!(back, data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_websocket_and_upgrade_over_loopback() {
    let io = server();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(io.serve(listener));
    let url = format!("http://{addr}");

    let polling = Client::builder(&url)
        .transports([TransportKind::Polling])
        .connect_tokio()
        .unwrap();
    exchange(&polling).await;
    assert_eq!(polling.transport(), Some("polling"));

    let websocket = Client::builder(&url)
        .transports([TransportKind::WebSocket])
        .build_tokio()
        .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let socket = websocket.default_socket();
    socket.on(
        "question",
        |_s: ClientSocket, _: (), ack: Option<AckSender>| async move {
            ack.unwrap().send(&"yes").unwrap();
        },
    );
    socket.on("answer", move |_s: ClientSocket, text: String, _| {
        let tx = tx.clone();
        async move { tx.send(text).unwrap() }
    });
    websocket.connect();
    exchange(&websocket).await;
    assert_eq!(websocket.transport(), Some("websocket"));
    socket.emit("ask", &()).unwrap();
    assert_eq!(rx.recv().await.unwrap(), "yes");

    let upgrading = Client::builder(&url).connect_tokio().unwrap();
    exchange(&upgrading).await;
    for _ in 0..100 {
        if upgrading.transport() == Some("websocket") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(upgrading.transport(), Some("websocket"));
    exchange(&upgrading).await;

    polling.disconnect();
    websocket.disconnect();
    upgrading.disconnect();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_a_test_root_certificate() {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert_der = certified.cert.der().clone();
    let key_der =
        rustls::pki_types::PrivateKeyDer::Pkcs8(certified.key_pair.serialize_der().into());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert_der.clone()], key_der)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));

    let io = server();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let http = io.http();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, remote)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let http = http.clone();
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(tcp).await {
                    http.serve_connection(tls, Some(remote)).await;
                }
            });
        }
    });

    let connector = || {
        TokioConnector::builder()
            .add_root_certificate(cert_der.to_vec())
            .unwrap()
            .build()
    };
    let url = format!("https://localhost:{port}");
    for transports in [
        vec![TransportKind::Polling],
        vec![TransportKind::WebSocket],
        vec![TransportKind::Polling, TransportKind::WebSocket],
    ] {
        let client = Client::builder(&url)
            .transports(transports)
            .connect_tokio_with(connector())
            .unwrap();
        exchange(&client).await;
        client.disconnect();
    }

    // Without the test root, the certificate is refused: connect_error, no connection.
    let client = Client::builder(format!("wss://localhost:{port}"))
        .transports([TransportKind::WebSocket])
        .reconnection(false)
        .connect_tokio()
        .unwrap();
    let error = tokio::time::timeout(
        Duration::from_secs(10),
        client.default_socket().wait_connected(),
    )
    .await
    .unwrap()
    .unwrap_err();
    assert!(error.data.is_none());
}
