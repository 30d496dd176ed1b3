//! The official Socket.IO Admin UI (`@socket.io/admin-ui` 0.5.1's built page, pinned in
//! `tests/node`) in headless Chromium, driven by playwright-core
//! (`tests/node/clients/admin-ui-browser.js`), against the chat demo's application
//! instrumented with `socketio-admin` (basic auth) and serving the UI at `/admin-ui/` as the
//! demo's `--admin` does: the UI connects through its form, lists two chat pages' sockets with
//! their transport and rooms, joins one of them to a room from its socket page (the chat page
//! shows it), and lists the server. The page is saved as `<target>/admin-ui.png` (and
//! `admin-ui-socket.png`). On tokio (the UI is the same on every runtime).

// The application names `socketio::…`: the runtime-neutral crate, re-exported whole.
extern crate socketio_tokio as socketio;

#[path = "../../runtime-tokio/examples/chat/app.rs"]
mod app;

use std::path::PathBuf;
use std::time::Duration;

use socketio_tests::executor::Executor;
use socketio_tests::interop::{ensure_chromium, run_client_env};
use socketio_tokio::Server;

/// Where the screenshot goes: the target directory of this build.
fn screenshot_path() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let _ = std::fs::create_dir_all(&target);
    target.join("admin-ui.png")
}

#[test]
fn admin_ui_in_headless_chromium() {
    Executor::Tokio.run(|exec| async move {
        socketio_tests::node::ensure_installed();
        exec.unblock(ensure_chromium).await;
        let ui = app::admin_ui_dir();
        assert!(
            ui.join("index.html").is_file(),
            "the Admin UI {} is missing after npm ci",
            ui.display()
        );
        let io = exec.server(Server::builder());
        app::install(&io);
        let hash = socketio_admin::bcrypt::hash("s3cret", 4).unwrap();
        socketio_admin::instrument(
            &io,
            socketio_admin::AdminOptions::default()
                .basic_auth("admin", hash)
                .server_id("admin-ui-test"),
        )
        .unwrap();
        let files = app::files(&app::client_bundle_path())
            .expect("the client bundle is readable")
            .merge(app::admin_ui(&ui).expect("the Admin UI is readable"));
        let served = exec.serve_client(io, files).await;
        let url = format!("{}/", served.url());
        let shot = screenshot_path();
        let args = vec![
            url,
            shot.display().to_string(),
            "admin".to_owned(),
            "s3cret".to_owned(),
        ];
        let run = exec
            .unblock(move || {
                run_client_env(
                    "admin-ui-browser.js",
                    &args,
                    &[("SCRIPT_TIMEOUT_MS", "80000")],
                    Duration::from_secs(90),
                )
            })
            .await;
        served.stop(Duration::from_secs(5)).await;
        run.assert_success();
        run.step("admin-connected");
        assert_eq!(run.steps("listed").count(), 2);
        run.step("joined-from-ui");
        run.step("ui-room-listed");
        run.step("server-listed");
        println!("screenshot: {}", shot.display());
    });
}
