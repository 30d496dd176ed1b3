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
//!
//! `--admin` instruments the server for the official Socket.IO Admin UI (`socketio-admin`,
//! development mode, no authentication unless `--admin-user NAME --admin-password PASSWORD`
//! are given) and serves the UI itself, from the pinned npm package
//! (`tests/node/node_modules/@socket.io/admin-ui/ui/dist`, or `$SOCKETIO_ADMIN_UI`), at
//! `/admin-ui/`: open it and connect to the chat's own URL.
//!
//! ```sh
//! cargo run --release --example chat -- --admin   # then open http://127.0.0.1:3000/admin-ui/
//! ```
//!
//! The application itself is in `examples/chat/app.rs`, runtime-neutral and shared with the
//! browser test (`tests/tests/interop_chat.rs`); this file is its tokio wiring, under axum.

#[path = "chat/app.rs"]
mod app;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use axum::Router;
use socketio_tokio::{HttpServer, Server, ServerBuilderExt};

/// The whole app as an axum router: Socket.IO with the chat handlers, the official client bundle
/// under `/socket.io/` and the page at `/`, through socketio-tokio's tower layer; with `redis`,
/// on the Redis adapter.
fn router(
    bundle: &Path,
    redis: Option<socketio_redis::redis::Client>,
    admin: Option<&Admin>,
) -> std::io::Result<Router> {
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
    let mut files = app::files(bundle)?;
    if let Some(admin) = admin {
        let mut options = socketio_admin::AdminOptions::default();
        if let Some((user, hash)) = &admin.auth {
            options = options.basic_auth(user.clone(), hash.clone());
        }
        socketio_admin::instrument(&io, options)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        files = files.merge(app::admin_ui(&admin.ui)?);
    }
    let http = HttpServer::new(io).serve_client(files);
    Ok(Router::new().layer(http.layer()))
}

/// `--admin`: the Admin UI's files, and the basic auth (username, bcrypt hash) if asked.
struct Admin {
    ui: PathBuf,
    auth: Option<(String, String)>,
}

/// The command line: `--redis URL`, `--admin`, `--admin-user NAME`, `--admin-password PASSWORD`.
struct Args {
    redis: Option<String>,
    admin: bool,
    admin_user: Option<String>,
    admin_password: Option<String>,
}

const USAGE: &str = "usage: chat [--redis redis://HOST:PORT] [--admin [--admin-user NAME --admin-password PASSWORD]]";

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut parsed = Args {
        redis: None,
        admin: false,
        admin_user: None,
        admin_password: None,
    };
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--redis" => parsed.redis = Some(value()?),
            "--admin" => parsed.admin = true,
            "--admin-user" => parsed.admin_user = Some(value()?),
            "--admin-password" => parsed.admin_password = Some(value()?),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if parsed.admin_user.is_some() != parsed.admin_password.is_some() {
        return Err("--admin-user and --admin-password go together".to_owned());
    }
    if parsed.admin_user.is_some() && !parsed.admin {
        return Err("--admin-user and --admin-password need --admin".to_owned());
    }
    Ok(parsed)
}

#[tokio::main]
async fn main() -> ExitCode {
    let addr = std::env::var("CHAT_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("error: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let redis = match &args.redis {
        None => None,
        Some(url) => match socketio_redis::redis::Client::open(url.as_str()) {
            Ok(client) => Some(client),
            Err(e) => {
                eprintln!("error: --redis {url}: {e}");
                return ExitCode::FAILURE;
            }
        },
    };
    let admin = if args.admin {
        let ui = app::admin_ui_dir();
        if !ui.join("index.html").is_file() {
            eprintln!(
                "error: --admin serves the Admin UI from the pinned npm package, and {} is \
                 missing.\nInstall the pinned npm packages once with `npm ci --prefix tests/node` \
                 (from the repository root), or set SOCKETIO_ADMIN_UI to the UI's built files \
                 (`@socket.io/admin-ui`'s `ui/dist`).",
                ui.join("index.html").display()
            );
            return ExitCode::FAILURE;
        }
        let auth = match (args.admin_user, args.admin_password) {
            (Some(user), Some(password)) => match socketio_admin::bcrypt::hash(password, 10) {
                Ok(hash) => Some((user, hash)),
                Err(e) => {
                    eprintln!("error: --admin-password: {e}");
                    return ExitCode::FAILURE;
                }
            },
            _ => None,
        };
        Some(Admin { ui, auth })
    } else {
        None
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
    if let Some(admin) = &admin {
        let auth = match &admin.auth {
            Some((user, _)) => format!("basic auth, user {user}"),
            None => "no authentication".to_owned(),
        };
        println!(
            "admin: open http://{addr}/admin-ui/ and connect to http://{addr} ({auth}; UI files: {})",
            admin.ui.display()
        );
    }
    let router = match router(&bundle, redis, admin.as_ref()) {
        Ok(router) => router,
        Err(e) => {
            eprintln!(
                "error: cannot set up the app (client bundle {}): {e}",
                bundle.display()
            );
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
