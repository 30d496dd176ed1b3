//! Socket.IO mounted on an axum 0.8 router with the tower layer.
//!
//! ```text
//! cargo run -p socketio-tokio --example axum
//! # the page's client comes from tests/node (`npm ci --prefix tests/node`), or from
//! SOCKETIO_CLIENT=path/to/socket.io.min.js cargo run -p socketio-tokio --example axum
//! ```
//! Then open <http://localhost:3000/>: the page connects, sends `chat` and prints the echo.

use axum::{Router, response::Html, routing::get};
use socketio_tokio::{AckSender, ClientBundle, Server, ServerBuilderExt, ServerExt, Socket};

const PAGE: &str = r#"<!doctype html>
<title>socketio-tokio + axum</title>
<pre id="log"></pre>
<script src="/socket.io/socket.io.js"></script>
<script>
  const log = (line) => (document.getElementById("log").textContent += line + "\n");
  const socket = io();
  socket.on("connect", () => {
    log("connected as " + socket.id);
    socket.emit("chat", "hello from the browser", (reply) => log("ack: " + reply));
  });
  socket.on("chat", (message) => log("echo: " + message));
</script>
"#;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter("info,socketio_tokio=debug")
        .init();

    let io = Server::builder().build_tokio();
    io.ns("/", |socket: Socket| async move {
        tracing::info!(id = socket.id(), "connected");
        socket.on(
            "chat",
            |socket: Socket, message: String, ack: Option<AckSender>| async move {
                socket.emit("chat", &message).ok();
                if let Some(ack) = ack {
                    ack.send(&"received").ok();
                }
            },
        );
    });

    // The browser client: $SOCKETIO_CLIENT, else the pinned npm package of the interop tests.
    let client = std::env::var("SOCKETIO_CLIENT").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/node/node_modules/socket.io-client/dist/socket.io.min.js"
        )
        .to_owned()
    });
    let mut http = io.http();
    match ClientBundle::from_file(&client) {
        Ok(bundle) => http = http.serve_client(bundle),
        Err(error) => eprintln!(
            "no client bundle at {client} ({error}): run `npm ci --prefix tests/node` or set \
             SOCKETIO_CLIENT; the page will not load the client"
        ),
    }

    let app = Router::new()
        .route("/", get(|| async { Html(PAGE) }))
        .layer(http.layer());

    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = tokio::signal::ctrl_c().await;
            io.shutdown().await;
        })
        .await
}
