//! `AsyncIoConnector` over TLS, under smol and async-std: the client over `https` (polling),
//! `wss` and the upgrade, against `HttpServer::serve_connection` behind a futures-rustls
//! acceptor with a certificate made at test time (rcgen) and trusted as an added root; a
//! certificate the client does not trust, or for another name, is refused with rustls' reason.

mod common;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use async_net::TcpListener;
use bytes::Bytes;
use common::*;
use futures_rustls::{TlsAcceptor, rustls};
use socketio_async_std::{
    AckSender, AsyncIoConnector, ClientBuilderExt, HttpServer, Server, Socket, TransportKind,
    client::{Client, Connector},
};

/// A certificate for `localhost` and the acceptor that presents it.
fn certificate() -> (Vec<u8>, TlsAcceptor) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = certified.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(certified.key_pair.serialize_der().into());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .unwrap();
    (cert.to_vec(), TlsAcceptor::from(Arc::new(config)))
}

/// An echo server behind `acceptor` on a loopback port.
async fn tls_server(executor: Executor, acceptor: TlsAcceptor) -> SocketAddr {
    let io = Server::builder().build(executor.runtime());
    io.ns("/", |socket: Socket| async move {
        socket.on(
            "echo",
            |_s: Socket, data: Bytes, ack: Option<AckSender>| async move {
                if let Some(ack) = ack {
                    ack.send(&data).ok();
                }
            },
        );
    });
    let http = HttpServer::new(io);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    executor.spawn(async move {
        while let Ok((tcp, remote)) = listener.accept().await {
            let (acceptor, http) = (acceptor.clone(), http.clone());
            executor.spawn(async move {
                if let Ok(tls) = acceptor.accept(tcp).await {
                    http.serve_connection(tls, Some(remote)).await;
                }
            });
        }
    });
    addr
}

async fn echo(client: &Client) {
    let socket = client.default_socket();
    timeout(socket.wait_connected()).await.unwrap();
    let data = Bytes::from_static(&[1, 2, 3, 0, 255]);
    let back: Bytes = timeout(socket.emit_with_ack("echo", &data)).await.unwrap();
    assert_eq!(back, data);
}

on_executors!(
    https_wss_and_upgrade_with_an_added_root,
    |executor: Executor| async move {
        let (cert, acceptor) = certificate();
        let addr = tls_server(executor, acceptor).await;
        let connector = || {
            AsyncIoConnector::builder()
                .add_root_certificate(cert.clone())
                .unwrap()
                .build()
        };
        for (scheme, transports, expected) in [
            ("https", vec![TransportKind::Polling], "polling"),
            ("wss", vec![TransportKind::WebSocket], "websocket"),
            (
                "https",
                vec![TransportKind::Polling, TransportKind::WebSocket],
                "websocket",
            ),
        ] {
            let client = Client::builder(format!("{scheme}://localhost:{}", addr.port()))
                .transports(transports)
                .connect_async_io((*executor.runtime()).clone(), connector())
                .unwrap();
            echo(&client).await;
            for _ in 0..100 {
                if client.transport() == Some(expected) {
                    break;
                }
                async_io::Timer::after(Duration::from_millis(20)).await;
            }
            assert_eq!(client.transport(), Some(expected), "{scheme}");
            echo(&client).await;
            client.disconnect();
        }
    }
);

on_executors!(
    an_untrusted_certificate_is_refused,
    |executor: Executor| async move {
        let (cert, acceptor) = certificate();
        let addr = tls_server(executor, acceptor).await;
        let port = addr.port();
        let get = |host: &str| {
            http::Request::get(format!(
                "https://{host}:{port}/socket.io/?EIO=4&transport=polling"
            ))
            .body(Bytes::new())
            .unwrap()
        };

        // Without the root: rustls' reason in the connector's error.
        let error = timeout(AsyncIoConnector::new().http(get("localhost")))
            .await
            .unwrap_err();
        eprintln!("refused: {error}");
        assert!(
            error.to_string().contains("invalid peer certificate"),
            "{error}"
        );
        let ws = http::Request::get(format!(
            "wss://localhost:{port}/socket.io/?EIO=4&transport=websocket"
        ))
        .body(())
        .unwrap();
        let error = match timeout(AsyncIoConnector::new().websocket(ws)).await {
            Ok(_) => panic!("an untrusted wss server was accepted"),
            Err(error) => error,
        };
        assert!(
            error.to_string().contains("invalid peer certificate"),
            "{error}"
        );

        // With the root but another name (the certificate is for localhost only).
        let trusting = AsyncIoConnector::builder()
            .add_root_certificate(cert.clone())
            .unwrap()
            .build();
        let error = timeout(trusting.http(get("127.0.0.1"))).await.unwrap_err();
        eprintln!("refused: {error}");
        assert!(
            error.to_string().contains("invalid peer certificate"),
            "{error}"
        );
        // The same connector reaches the right name.
        let reply = timeout(trusting.http(get("localhost"))).await.unwrap();
        assert_eq!(reply.status(), http::StatusCode::OK);

        // The client gets connect_error and does not connect.
        let client = Client::builder(format!("wss://localhost:{port}"))
            .transports([TransportKind::WebSocket])
            .reconnection(false)
            .connect_async_io((*executor.runtime()).clone(), AsyncIoConnector::new())
            .unwrap();
        let error = timeout(client.default_socket().wait_connected())
            .await
            .unwrap_err();
        eprintln!("client: {error}");
        assert!(error.data.is_none(), "{error:?}");
        assert!(!client.default_socket().connected());

        // The test-only option skips verification.
        let lax = AsyncIoConnector::builder()
            .danger_accept_invalid_certs(true)
            .build();
        let reply = timeout(lax.http(get("127.0.0.1"))).await.unwrap();
        assert_eq!(reply.status(), http::StatusCode::OK);
    }
);
