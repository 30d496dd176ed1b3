//! The chat application: rooms, nicknames, typing notices and message acks, plus the static
//! page, on any runtime: [`install`] puts the handlers on a `socketio::Server` built by any
//! runtime crate, and [`files`] is the page with the official client as one [`ClientBundle`]
//! for any runtime crate's `HttpServer::serve_client`. Used by `examples/chat.rs` (tokio, under
//! axum) and by the browser test (`tests/tests/interop_chat.rs`, on tokio, async-std and smol).
//!
//! Events from the page: `join` `{nick, room}` → ack `{room, members}` or `{error}`;
//! `message` `{text}` → ack `{id, ts}`; `typing` `true|false`.
//! Events to the page: `message` `{id, nick, text, ts}` (to the rest of the room), `system`
//! `{text}` (joins and leaves), `members` `[nick…]`, `typing` `{nick, typing}`, `room-joined`
//! `{room}` (its socket joined a room, e.g. from the Admin UI).

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use socketio::{AckSender, ClientBundle, Server, Socket};

const INDEX_HTML: &str = include_str!("static/index.html");
const CHAT_JS: &str = include_str!("static/chat.js");
const CHAT_CSS: &str = include_str!("static/chat.css");

/// Longest nickname and room name, in characters.
const MAX_NAME: usize = 32;
/// Longest message, in characters.
const MAX_TEXT: usize = 1000;

/// The official client bundle: `$SOCKETIO_CLIENT_JS`, else the pinned npm package in
/// `tests/node` (installed by `npm ci --prefix tests/node`).
pub fn client_bundle_path() -> PathBuf {
    if let Some(path) = std::env::var_os("SOCKETIO_CLIENT_JS") {
        return PathBuf::from(path);
    }
    // The manifest dir is `runtime-tokio/` (the example) or `tests/` (the browser test).
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    crate_dir
        .parent()
        .unwrap_or(crate_dir)
        .join("tests/node/node_modules/socket.io-client/dist/socket.io.min.js")
}

/// The nicknames in `room` on every server node (through the adapter's `fetch_sockets`, so a
/// cluster adapter such as `socketio-redis` lists every node's members), sorted.
async fn members(io: &Server, room: &str) -> Vec<String> {
    let sockets = io
        .to(room.to_owned())
        .fetch_sockets()
        .await
        .unwrap_or_default();
    let mut nicks: Vec<String> = sockets
        .iter()
        .filter_map(|s| Some(s.data::<Value>()?.get("nick")?.as_str()?.to_owned()))
        .collect();
    nicks.sort();
    nicks
}

/// A socket's identity in the chat, kept as its per-socket data: `{"nick", "room"}`.
struct Member {
    nick: String,
    room: String,
}

impl Member {
    fn of(socket: &Socket) -> Option<Member> {
        let data = socket.data::<Value>()?;
        Some(Member {
            nick: data.get("nick")?.as_str()?.to_owned(),
            room: data.get("room")?.as_str()?.to_owned(),
        })
    }
}

fn field(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .trim()
        .to_owned()
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.chars().count() <= MAX_NAME && !name.chars().any(char::is_control)
}

/// Puts the chat handlers on the namespace `/` of `io`, a server of any runtime crate.
///
/// A page is also told (`room-joined` `{room}`, shown as a system line) of every room its
/// socket joins, so a join made by someone else, such as the Admin UI, shows on the page.
pub fn install(io: &Server) {
    let next_id = Arc::new(AtomicU64::new(1));
    io.ns("/", move |socket: Socket| {
        let next_id = next_id.clone();
        async move { on_connect(socket, next_id) }
    });
    let weak = io.downgrade();
    io.on_room_change(move |change| {
        if !change.joined || change.nsp != "/" || change.room == change.sid {
            return;
        }
        if let Some(io) = weak.upgrade() {
            io.to(change.sid.clone())
                .emit("room-joined", &json!({"room": change.room}))
                .ok();
        }
    });
}

/// The Admin UI's built files: `$SOCKETIO_ADMIN_UI`, else the pinned npm package in
/// `tests/node` (`@socket.io/admin-ui`'s `ui/dist`, installed by `npm ci --prefix tests/node`).
#[allow(dead_code)] // the demo's --admin and the Admin UI test; not the other includers
pub fn admin_ui_dir() -> PathBuf {
    if let Some(path) = std::env::var_os("SOCKETIO_ADMIN_UI") {
        return PathBuf::from(path);
    }
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    crate_dir
        .parent()
        .unwrap_or(crate_dir)
        .join("tests/node/node_modules/@socket.io/admin-ui/ui/dist")
}

/// The Admin UI's files under `/admin-ui/` (its `index.html` for the directory itself, its
/// `js/`, `css/` and `img/` below; the source maps left out). Fails when `dir` has no
/// `index.html`.
#[allow(dead_code)] // the demo's --admin and the Admin UI test; not the other includers
pub fn admin_ui(dir: &Path) -> io::Result<ClientBundle> {
    let index = std::fs::read(dir.join("index.html"))?;
    let mut ui = ClientBundle::from_bytes("index.html", index);
    let mut below: Vec<ClientBundle> = Vec::new();
    let mut pending = vec![(dir.to_path_buf(), "/admin-ui/".to_owned())];
    while let Some((path, mount)) = pending.pop() {
        let mut here: Option<ClientBundle> = None;
        for entry in std::fs::read_dir(&path)? {
            let entry = entry?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let kind = entry.file_type()?;
            if kind.is_dir() {
                pending.push((entry.path(), format!("{mount}{name}/")));
            } else if kind.is_file() && !name.ends_with(".map") && name != "index.html" {
                let body = std::fs::read(entry.path())?;
                if mount == "/admin-ui/" {
                    ui = ui.with_file(name, body);
                } else {
                    here = Some(match here {
                        Some(bundle) => bundle.with_file(name, body),
                        None => ClientBundle::from_bytes(name, body),
                    });
                }
            }
        }
        if let Some(bundle) = here {
            below.push(bundle.at(&mount));
        }
    }
    let mut ui = ui.at("/admin-ui/").index("index.html");
    for bundle in below {
        ui = ui.merge(bundle);
    }
    Ok(ui)
}

/// The page, compiled in: `index.html` at `/`, `chat.js` and `chat.css` next to it.
pub fn page() -> ClientBundle {
    ClientBundle::from_bytes("index.html", INDEX_HTML)
        .with_file("chat.js", CHAT_JS)
        .with_file("chat.css", CHAT_CSS)
        .at("/")
        .index("index.html")
}

/// Everything the browser loads: the official client bundle `client` under the Socket.IO path
/// (`/socket.io/socket.io.min.js`, as the page asks) and the [`page`].
pub fn files(client: &Path) -> io::Result<ClientBundle> {
    Ok(ClientBundle::from_file(client)?.merge(page()))
}

async fn leave_room(socket: &Socket) {
    let Some(me) = Member::of(socket) else { return };
    socket.leave(&me.room);
    let io = socket.server();
    io.to(&me.room)
        .emit("system", &json!({"text": format!("{} left", me.nick)}))
        .ok();
    let members = members(&io, &me.room).await;
    io.to(&me.room).emit("members", &members).ok();
}

fn on_connect(socket: Socket, next_id: Arc<AtomicU64>) {
    socket.on(
        "join",
        move |socket: Socket, join: Value, ack: Option<AckSender>| async move {
            let (nick, room) = (field(&join, "nick"), field(&join, "room"));
            if !valid_name(&nick) || !valid_name(&room) {
                if let Some(ack) = ack {
                    ack.send(
                        &json!({"error": format!("nickname and room: 1 to {MAX_NAME} characters")}),
                    )
                    .ok();
                }
                return;
            }
            leave_room(&socket).await;
            socket.set_data(&json!({"nick": nick, "room": room})).ok();
            socket.join(room.clone());
            socket
                .to(&room)
                .emit("system", &json!({"text": format!("{nick} joined")}))
                .ok();
            let members = members(&socket.server(), &room).await;
            socket.to(&room).emit("members", &members).ok();
            if let Some(ack) = ack {
                ack.send(&json!({"room": room, "members": members})).ok();
            }
        },
    );
    socket.on(
        "message",
        move |socket: Socket, msg: Value, ack: Option<AckSender>| {
            let next_id = next_id.clone();
            async move {
                let Some(me) = Member::of(&socket) else {
                    return;
                };
                let text: String = field(&msg, "text").chars().take(MAX_TEXT).collect();
                if text.is_empty() {
                    return;
                }
                let id = next_id.fetch_add(1, Ordering::Relaxed).to_string();
                let ts = now_ms();
                let message = json!({"id": id, "nick": me.nick, "text": text, "ts": ts});
                socket.to(&me.room).emit("message", &message).ok();
                if let Some(ack) = ack {
                    ack.send(&json!({"id": id, "ts": ts})).ok();
                }
            }
        },
    );
    socket.on(
        "typing",
        |socket: Socket, typing: bool, _: Option<AckSender>| async move {
            if let Some(me) = Member::of(&socket) {
                socket
                    .to(&me.room)
                    .emit("typing", &json!({"nick": me.nick, "typing": typing}))
                    .ok();
            }
        },
    );
    socket.on_disconnect(|socket: Socket, _reason| async move { leave_room(&socket).await });
}
