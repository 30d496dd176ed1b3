//! The tower layer mounted on an axum 0.8 router, served by `axum::serve` on loopback.

mod common;

use axum::{Router, routing::get as get_route};
use common::*;
use http::StatusCode;
use socketio_tokio::{ClientBundle, ServerBuilderExt, ServerExt};
use tokio::net::TcpListener;

async fn start_axum() -> std::net::SocketAddr {
    let io = conformance_builder().build_tokio();
    let layer = io
        .http()
        .serve_client(ClientBundle::from_bytes("socket.io.min.js", "/* client */"))
        .layer();
    let app = Router::new()
        .route("/", get_route(|| async { "hello from axum" }))
        .layer(layer);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

#[tokio::test]
async fn router_routes_still_answer() {
    let addr = start_axum().await;
    let reply = get(addr, "/").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.text(), "hello from axum");
    assert_eq!(get(addr, "/nowhere").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn polling_handshake_through_the_layer() {
    let addr = start_axum().await;
    let (sid, open) = polling_open(addr, "/socket.io/").await;
    assert_eq!(sid.len(), 20);
    assert_eq!(open["upgrades"], serde_json::json!(["websocket"]));
    assert_eq!(open["pingInterval"], 300);
}

#[tokio::test]
async fn websocket_through_the_layer() {
    let addr = start_axum().await;
    let mut socket = ws_connect(addr, "/socket.io/?EIO=4&transport=websocket").await;
    let open = next_text(&mut socket).await;
    assert!(open.starts_with("0{"), "{open}");
    assert!(open.contains(r#""upgrades":[]"#), "{open}");
}

#[tokio::test]
async fn client_bundle_through_the_layer() {
    let addr = start_axum().await;
    let reply = get(addr, "/socket.io/socket.io.min.js").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.text(), "/* client */");
}

/// A server that tells each client the address its handshake saw.
fn address_server() -> socketio_tokio::Server {
    use socketio_tokio::Socket;
    let io = conformance_builder().build_tokio();
    io.ns("/", |socket: Socket| async move {
        let address = socket
            .handshake()
            .address()
            .map(|addr| addr.ip().to_string());
        socket.emit("address", &address).unwrap();
    });
    io
}

async fn address_seen(addr: std::net::SocketAddr) -> String {
    use futures_util::SinkExt;
    let mut socket = ws_connect(addr, "/socket.io/?EIO=4&transport=websocket").await;
    let _open = next_text(&mut socket).await;
    socket
        .send(socketio_tokio::tungstenite::Message::text("40"))
        .await
        .unwrap();
    let _connected = next_text(&mut socket).await;
    next_text(&mut socket).await
}

#[tokio::test]
async fn standalone_server_passes_the_peer_address() {
    let addr = start(address_server().http()).await;
    assert_eq!(address_seen(addr).await, r#"42["address","127.0.0.1"]"#);
}

#[tokio::test]
async fn remote_addr_extension_reaches_the_handshake() {
    use socketio_tokio::RemoteAddr;
    let io = address_server();
    let app = Router::new()
        .layer(io.layer())
        .layer(axum::middleware::from_fn(
            |mut request: axum::extract::Request, next: axum::middleware::Next| async move {
                request
                    .extensions_mut()
                    .insert(RemoteAddr(([10, 1, 2, 3], 4000).into()));
                next.run(request).await
            },
        ));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    assert_eq!(address_seen(addr).await, r#"42["address","10.1.2.3"]"#);
}

#[cfg(feature = "axum")]
#[tokio::test]
async fn axum_connect_info_reaches_the_handshake() {
    let app = Router::new().layer(address_server().layer());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
        .unwrap()
    });
    assert_eq!(address_seen(addr).await, r#"42["address","127.0.0.1"]"#);
}
