//! The demo: a chat server with rooms, nicknames, typing notices and message acks, whose page
//! (`examples/chat/static`) runs the official socket.io JavaScript client.
//!
//! ```sh
//! npm ci --prefix tests/node            # once: the pinned official client bundle
//! cargo run --release --example chat    # then open http://127.0.0.1:3000
//! ```
//!
//! `CHAT_ADDR` changes the address (default `127.0.0.1:3000`); `SOCKETIO_CLIENT_JS` points at
//! another `socket.io.min.js` (default: `tests/node/node_modules/socket.io-client/dist/`).
//! `--redis URL` makes the instance one node of a cluster on Redis (the `socketio-redis`
//! adapter): instances on several ports share rooms, messages and member lists.
//!
//! ```sh
//! CHAT_ADDR=127.0.0.1:3000 cargo run --example chat -- --redis redis://127.0.0.1:6379 &
//! CHAT_ADDR=127.0.0.1:3001 cargo run --example chat -- --redis redis://127.0.0.1:6379
//! ```
//! The application itself is in `examples/chat/app.rs`, runtime-neutral and shared with the
//! browser test (`tests/tests/interop_chat.rs`); this file is its tokio wiring, under axum.

#[path = "chat/app.rs"]
mod app;

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use axum::Router;
use socketio_tokio::{HttpServer, Server, ServerBuilderExt};

/// The whole app as an axum router: Socket.IO with the chat handlers, the official client bundle
/// under `/socket.io/` and the page at `/`, through socketio-tokio's tower layer; with `redis`,
/// on the Redis adapter.
fn router(bundle: &Path, redis: Option<socketio_redis::redis::Client>) -> std::io::Result<Router> {
    let builder = Server::builder();
    let builder = match redis {
        Some(client) => {
            let runtime = Arc::new(socketio_tokio::TokioRuntime::new());
            let options = socketio_redis::RedisAdapterOptions::with_key("socketio-chat");
            let node = socketio_redis::RedisNode::new(client, runtime, options);
            builder.adapter(node.factory())
        }
        None => builder,
    };
    let io = builder.build_tokio();
    app::install(&io);
    let http = HttpServer::new(io).serve_client(app::files(bundle)?);
    Ok(Router::new().layer(http.layer()))
}

#[tokio::main]
async fn main() -> ExitCode {
    let addr = std::env::var("CHAT_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let args: Vec<String> = std::env::args().skip(1).collect();
    let redis = match args.as_slice() {
        [] => None,
        [flag, url] if flag == "--redis" => match socketio_redis::redis::Client::open(url.as_str())
        {
            Ok(client) => Some(client),
            Err(e) => {
                eprintln!("error: --redis {url}: {e}");
                return ExitCode::FAILURE;
            }
        },
        _ => {
            eprintln!("usage: chat [--redis redis://HOST:PORT]");
            return ExitCode::from(2);
        }
    };
    let bundle = app::client_bundle_path();
    if !bundle.is_file() {
        eprintln!(
            "error: the chat page needs the official socket.io client bundle, and {} is missing.\n\
             Install the pinned npm packages once with `npm ci --prefix tests/node` (from the \
             repository root), or set SOCKETIO_CLIENT_JS to a socket.io.min.js file.",
            bundle.display()
        );
        return ExitCode::FAILURE;
    }
    let listener = match tokio::net::TcpListener::bind(&addr).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("error: cannot listen on {addr}: {e} (set CHAT_ADDR to another address)");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "chat: open http://{addr}/ in two browser windows (client bundle: {})",
        bundle.display()
    );
    let router = match router(&bundle, redis) {
        Ok(router) => router,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", bundle.display());
            return ExitCode::FAILURE;
        }
    };
    match axum::serve(listener, router).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
