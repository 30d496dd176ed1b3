//! The demo chat page in headless Chromium (Debian's `chromium`, installed when missing), driven
//! by playwright-core (`tests/node/clients/chat-browser.js`): two pages join a room, exchange
//! messages, see each other's messages, the acks, the member list and the typing notice; a third
//! page in another room sees nothing. The server is the chat example's own app
//! (`runtime-tokio/examples/chat/app.rs`), started in-process on `127.0.0.1:0`.

#[path = "../../runtime-tokio/examples/chat/app.rs"]
#[allow(dead_code)]
mod app;

use std::time::Duration;

use socketio_tests::interop::{ensure_chromium, run_client};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_page_in_headless_chromium() {
    socketio_tests::node::ensure_installed();
    tokio::task::spawn_blocking(ensure_chromium)
        .await
        .expect("chromium install");
    let bundle = app::client_bundle_path();
    assert!(
        bundle.is_file(),
        "the official client bundle {} is missing after npm ci",
        bundle.display()
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/", listener.local_addr().expect("addr"));
    let server = tokio::spawn(async move { app::serve(listener, &bundle).await });
    let run = tokio::task::spawn_blocking(move || {
        run_client("chat-browser.js", &[url], Duration::from_secs(45))
    })
    .await
    .expect("the browser script runs");
    server.abort();
    run.assert_success();
    run.step("typing");
    run.step("rooms-isolated");
    run.step("left");
}
