//! The client bundle served under the Socket.IO path (like `serveClient`), standalone.

mod common;

use bytes::Bytes;
use common::*;
use http::{Request, StatusCode};
use http_body_util::Full;
use socketio_tokio::{ClientBundle, ServerBuilderExt, ServerExt};

#[tokio::test]
async fn bundle_file_and_map_with_etag() {
    let dir = std::env::temp_dir().join(format!("socketio-tokio-bundle-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("socket.io.min.js");
    std::fs::write(&file, "/* the client */").unwrap();
    std::fs::write(dir.join("socket.io.min.js.map"), "{\"version\":3}").unwrap();
    let bundle = ClientBundle::from_file(&file).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();

    let io = conformance_builder().build_tokio();
    let addr = start(io.http().serve_client(bundle)).await;

    for name in ["socket.io.js", "socket.io.min.js"] {
        let reply = get(addr, &format!("/socket.io/{name}")).await;
        assert_eq!(reply.status, StatusCode::OK, "{name}");
        assert_eq!(reply.text(), "/* the client */");
        assert_eq!(
            reply.header("content-type"),
            Some("application/javascript; charset=utf-8")
        );
        assert_eq!(reply.header("cache-control"), Some("public, max-age=0"));
    }
    let map = get(addr, "/socket.io/socket.io.min.js.map").await;
    assert_eq!(map.status, StatusCode::OK);
    assert_eq!(
        map.header("content-type"),
        Some("application/json; charset=utf-8")
    );

    let etag = get(addr, "/socket.io/socket.io.js")
        .await
        .header("etag")
        .unwrap()
        .to_owned();
    let request = Request::get("/socket.io/socket.io.js")
        .header("if-none-match", &etag)
        .body(Full::<Bytes>::default())
        .unwrap();
    let reply = send(addr, request).await;
    assert_eq!(reply.status, StatusCode::NOT_MODIFIED);
    assert!(reply.body.is_empty());

    // Not a bundle file: the Socket.IO server answers (an Engine.IO error, not a 404).
    let reply = get(addr, "/socket.io/socket.io.msgpack.min.js").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn no_bundle_configured() {
    let io = conformance_builder().build_tokio();
    let addr = start(io.http()).await;
    let reply = get(addr, "/socket.io/socket.io.js").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn bundle_follows_a_custom_server_path() {
    let io = conformance_builder().path("/chat/io").build_tokio();
    let addr = start(
        io.http()
            .serve_client(ClientBundle::from_bytes("socket.io.js", "/* js */")),
    )
    .await;
    let reply = get(addr, "/chat/io/socket.io.js").await;
    assert_eq!((reply.status, reply.text()), (StatusCode::OK, "/* js */"));
    assert_eq!(
        get(addr, "/socket.io/socket.io.js").await.status,
        StatusCode::NOT_FOUND
    );
    // The Socket.IO server is still there.
    let (sid, _) = polling_open(addr, "/chat/io/").await;
    assert_eq!(sid.len(), 20);
}
