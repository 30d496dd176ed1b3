//! The demo chat page in headless Chromium (Debian's `chromium`, installed when missing), driven
//! by playwright-core (`tests/node/clients/chat-browser.js`): two pages join a room, exchange
//! messages, see each other's messages, the acks, the member list and the typing notice; a third
//! page in another room sees nothing. The server runs the chat example's own application
//! (`runtime-tokio/examples/chat/app.rs`: its handlers, its page and the official client bundle)
//! on each executor's `HttpServer`, on `127.0.0.1:0`: `tokio::chat_page_in_headless_chromium`,
//! `async_std::…` and `smol::…`.

// The application names `socketio::…`, the runtime-neutral crate that both runtime crates
// re-export whole (socketio-async-std's `Server` is the same type as socketio-tokio's).
extern crate socketio_async_std as socketio;

#[path = "../../runtime-tokio/examples/chat/app.rs"]
mod app;

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use socketio_tests::executor::Executor;
use socketio_tests::interop::{ensure_chromium, run_client};
use socketio_tokio::Server;

/// One browser at a time: the three executors' tests run in parallel, and three Chromiums (each
/// with three pages) on a small machine would make the page's 5 s waits the thing under test.
static ONE_BROWSER: Mutex<()> = Mutex::new(());

socketio_tests::executor_tests! {
    /// Two pages chat in one room, a third in another room sees nothing, on this executor.
    async fn chat_page_in_headless_chromium(exec: Executor) {
        socketio_tests::node::ensure_installed();
        exec.unblock(ensure_chromium).await;
        let bundle = app::client_bundle_path();
        assert!(
            bundle.is_file(),
            "the official client bundle {} is missing after npm ci",
            bundle.display()
        );
        let io = exec.server(Server::builder());
        app::install(&io);
        let files = app::files(&bundle).expect("the client bundle is readable");
        let served = exec.serve_client(io, files).await;
        let url = format!("{}/", served.url());
        let run = exec
            .unblock(move || {
                let _one = ONE_BROWSER.lock().unwrap_or_else(PoisonError::into_inner);
                run_client("chat-browser.js", &[url], Duration::from_secs(45))
            })
            .await;
        served.stop(Duration::from_secs(5)).await;
        run.assert_success();
        run.step("typing");
        run.step("rooms-isolated");
        run.step("left");
    }
}
