//! Sockets and dates as the Admin UI reads them (the reference's `serialize`).

use std::time::SystemTime;

use serde_json::{Value as Json, json};
use socketio::adapter::RemoteSocket;
use socketio::{RemoteHandshake, Socket, TransportKind, Value};

/// A dynamic value as JSON (binary becomes `null`: the UI shows JSON).
pub(crate) fn json(value: &Value) -> Json {
    socketio::from_value::<Json>(value.clone()).unwrap_or(Json::Null)
}

/// The first 12 characters of the socket's Engine.IO id, as the reference shows it.
pub(crate) fn client_id(socket: &Socket) -> String {
    socket.client_id().chars().take(12).collect()
}

/// `polling` or `websocket`.
pub(crate) fn transport(socket: &Socket) -> &'static str {
    match socket.transport() {
        TransportKind::WebSocket => "websocket",
        _ => "polling",
    }
}

/// The handshake without its `auth` (which may hold credentials), the address taken from a
/// proxy's header first, as the reference does.
fn handshake(handshake: &RemoteHandshake) -> Json {
    let header = |name: &str| {
        handshake
            .headers
            .get(name)
            .and_then(|value| value.as_str())
            .map(str::to_owned)
    };
    let address = header("cf-connecting-ip")
        .or_else(|| header("x-forwarded-for"))
        .unwrap_or_else(|| handshake.address.clone());
    let map = |values: &std::collections::BTreeMap<String, Value>| -> Json {
        Json::Object(values.iter().map(|(k, v)| (k.clone(), json(v))).collect())
    };
    json!({
        "address": address,
        "headers": map(&handshake.headers),
        "query": map(&handshake.query),
        "issued": handshake.issued,
        "secure": handshake.secure,
        "time": handshake.time,
        "url": handshake.url,
        "xdomain": handshake.xdomain,
    })
}

/// The per-socket data (`{}` when unset, as the reference's default).
fn data(value: Option<Json>) -> Json {
    match value {
        None | Some(Json::Null) => json!({}),
        Some(data) => data,
    }
}

/// One of this node's sockets.
pub(crate) fn local(socket: &Socket) -> Json {
    json!({
        "id": socket.id(),
        "clientId": client_id(socket),
        "transport": transport(socket),
        "nsp": socket.ns(),
        "data": data(socket.data::<Json>()),
        "handshake": handshake(&RemoteHandshake::of(socket.handshake())),
        "rooms": socket.rooms(),
    })
}

/// A socket from `fetch_sockets` (this node's, or another's: then without its transport and
/// client id, which its node sends on its own).
pub(crate) fn remote(socket: &RemoteSocket, nsp: &str) -> Json {
    if let Some(local) = socket.as_local() {
        return self::local(local);
    }
    json!({
        "id": socket.id(),
        "nsp": nsp,
        "data": data(socket.data::<Json>()),
        "handshake": handshake(socket.handshake()),
        "rooms": socket.rooms(),
    })
}

/// `time` as JavaScript's `Date.prototype.toISOString` writes it
/// (`2024-05-01T12:34:56.789Z`), which is how the reference's `new Date()` arguments reach
/// the UI.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// let t = UNIX_EPOCH + Duration::from_millis(1_714_566_896_789);
/// assert_eq!(socketio_admin::iso_date(t), "2024-05-01T12:34:56.789Z");
/// ```
pub fn iso_date(time: SystemTime) -> String {
    let ms = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let days = ms.div_euclid(86_400_000);
    let rest = ms.rem_euclid(86_400_000);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3_600_000,
        rest / 60_000 % 60,
        rest / 1000 % 60,
        rest % 1000
    )
}

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}
