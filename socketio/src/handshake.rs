//! What a namespace connection request carries: the HTTP handshake and the CONNECT auth.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use serde::de::DeserializeOwned;
use socketio_protocol::Value;

/// The HTTP side of a session's handshake, shared by all its sockets.
#[derive(Debug)]
pub(crate) struct HttpHandshake {
    pub(crate) headers: http::HeaderMap,
    pub(crate) uri: http::Uri,
    pub(crate) address: Option<SocketAddr>,
    pub(crate) time: SystemTime,
    pub(crate) eio: u8,
}

impl HttpHandshake {
    pub(crate) fn new(parts: Option<&http::request::Parts>, address: Option<SocketAddr>) -> Self {
        let (headers, uri) = match parts {
            Some(parts) => (owned_headers(&parts.headers), owned_uri(&parts.uri)),
            None => (http::HeaderMap::new(), http::Uri::default()),
        };
        let eio = if query_param(uri.query().unwrap_or(""), "EIO").as_deref() == Some("3") {
            3
        } else {
            4
        };
        HttpHandshake {
            headers,
            uri,
            address,
            time: SystemTime::now(),
            eio,
        }
    }
}

/// A copy of `headers` that owns its bytes. hyper's header values are slices of its read
/// buffer (8 KiB); a plain clone kept for the session's lifetime would pin that buffer for
/// every connection (a fifth of an idle WebSocket connection's memory). The values are copied
/// into one buffer they all share, one allocation instead of one per header.
fn owned_headers(headers: &http::HeaderMap) -> http::HeaderMap {
    let mut values = bytes::BytesMut::with_capacity(headers.values().map(|v| v.len()).sum());
    for value in headers.values() {
        values.extend_from_slice(value.as_bytes());
    }
    let mut values = values.freeze();
    let mut owned = http::HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        let shared = values.split_to(value.len().min(values.len()));
        // Both were valid when parsed, so the copies are too; anything else keeps the clone.
        let name =
            http::HeaderName::from_bytes(name.as_str().as_bytes()).unwrap_or_else(|_| name.clone());
        let mut copy = match http::HeaderValue::from_maybe_shared(shared) {
            Ok(copy) if copy == value => copy,
            _ => value.clone(),
        };
        copy.set_sensitive(value.is_sensitive());
        owned.append(name, copy);
    }
    owned
}

/// A copy of `uri` that owns its bytes (see [`owned_headers`]).
fn owned_uri(uri: &http::Uri) -> http::Uri {
    uri.to_string().parse().unwrap_or_else(|_| uri.clone())
}

/// What a client presented when it asked to join a namespace: the handshake request (headers,
/// query, remote address, time) and the CONNECT auth. Cheap to clone.
///
/// ```no_run
/// # fn handshake() -> socketio::Handshake { unimplemented!() }
/// let hs = handshake();
/// let token: Option<String> = hs.auth_field("token");
/// println!("{} from {:?} at {:?}: {token:?}", hs.namespace(), hs.address(), hs.time());
/// ```
#[derive(Debug, Clone)]
pub struct Handshake {
    pub(crate) http: Arc<HttpHandshake>,
    pub(crate) namespace: Arc<str>,
    pub(crate) auth: Arc<Value>,
}

impl Handshake {
    /// The request headers of the handshake.
    ///
    /// ```no_run
    /// # fn handshake() -> socketio::Handshake { unimplemented!() }
    /// let agent = handshake().headers().get("user-agent").cloned();
    /// ```
    pub fn headers(&self) -> &http::HeaderMap {
        &self.http.headers
    }

    /// The handshake request URI (path and query).
    ///
    /// ```no_run
    /// # fn handshake() -> socketio::Handshake { unimplemented!() }
    /// println!("{}", handshake().uri());
    /// ```
    pub fn uri(&self) -> &http::Uri {
        &self.http.uri
    }

    /// The raw query string of the handshake request (`EIO=4&transport=polling&...`).
    ///
    /// ```no_run
    /// # fn handshake() -> socketio::Handshake { unimplemented!() }
    /// assert!(handshake().query().contains("EIO="));
    /// ```
    pub fn query(&self) -> &str {
        self.http.uri.query().unwrap_or("")
    }

    /// One query parameter, percent-decoded.
    ///
    /// ```no_run
    /// # fn handshake() -> socketio::Handshake { unimplemented!() }
    /// let room = handshake().query_param("room");
    /// ```
    pub fn query_param(&self, key: &str) -> Option<String> {
        query_param(self.query(), key)
    }

    /// The peer address, if the runtime knows it.
    ///
    /// ```no_run
    /// # fn handshake() -> socketio::Handshake { unimplemented!() }
    /// let ip = handshake().address().map(|a| a.ip());
    /// ```
    pub fn address(&self) -> Option<SocketAddr> {
        self.http.address
    }

    /// When the engine session opened.
    ///
    /// ```no_run
    /// # fn handshake() -> socketio::Handshake { unimplemented!() }
    /// let opened = handshake().time();
    /// ```
    pub fn time(&self) -> SystemTime {
        self.http.time
    }

    /// The Engine.IO protocol revision (3 or 4).
    ///
    /// ```no_run
    /// # fn handshake() -> socketio::Handshake { unimplemented!() }
    /// assert!(matches!(handshake().protocol(), 3 | 4));
    /// ```
    pub fn protocol(&self) -> u8 {
        self.http.eio
    }

    /// The namespace asked for.
    ///
    /// ```no_run
    /// # fn handshake() -> socketio::Handshake { unimplemented!() }
    /// assert!(handshake().namespace().starts_with('/'));
    /// ```
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The CONNECT auth as a dynamic value (`{}` when the client sent none).
    ///
    /// ```no_run
    /// # fn handshake() -> socketio::Handshake { unimplemented!() }
    /// let token = handshake().auth_value().get("token").cloned();
    /// ```
    pub fn auth_value(&self) -> &Value {
        &self.auth
    }

    /// The CONNECT auth as a typed value.
    ///
    /// ```no_run
    /// # fn handshake() -> socketio::Handshake { unimplemented!() }
    /// #[derive(serde::Deserialize)]
    /// struct Auth { token: String }
    /// let auth: Result<Auth, String> = handshake().auth();
    /// ```
    pub fn auth<T: DeserializeOwned>(&self) -> Result<T, String> {
        self.auth.deserialize_ref().map_err(|e| e.0)
    }

    /// One field of the auth object, typed (`None` if absent or of another type).
    ///
    /// ```no_run
    /// # fn handshake() -> socketio::Handshake { unimplemented!() }
    /// let token: Option<String> = handshake().auth_field("token");
    /// ```
    pub fn auth_field<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        self.auth.get(key)?.deserialize_ref().ok()
    }
}

/// The value of `key` in a query string (`+` and `%XX` decoded), first match.
pub(crate) fn query_param(query: &str, key: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (decode(k) == key).then(|| decode(v))
    })
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod owned_copy_tests {
    use super::*;

    #[test]
    fn the_owned_copies_keep_every_header_and_the_uri() {
        let mut headers = http::HeaderMap::new();
        headers.append("x-token", http::HeaderValue::from_static("a"));
        headers.append("x-token", http::HeaderValue::from_static("b"));
        let mut secret = http::HeaderValue::from_static("s3cret");
        secret.set_sensitive(true);
        headers.insert(http::header::AUTHORIZATION, secret);
        let copy = owned_headers(&headers);
        assert_eq!(copy, headers);
        assert!(copy[http::header::AUTHORIZATION].is_sensitive());
        let uri: http::Uri = "/socket.io/?EIO=4&transport=websocket&t=x".parse().unwrap();
        assert_eq!(owned_uri(&uri), uri);
    }
}

/// A socket's handshake as a cluster carries it: the reference's `socket.handshake` object,
/// which `fetchSockets` returns for sockets on every node (`headers`, `time`, `address`,
/// `xdomain`, `secure`, `issued`, `url`, `query`, `auth`), so a Node node and ours read each
/// other's. Serializes to and from that JSON shape.
///
/// ```
/// use socketio::RemoteHandshake;
/// let json = r#"{"headers":{"host":"x"},"time":"Mon Dec 07 2026 16:41:04 GMT+0000 (Coordinated Universal Time)",
///   "address":"::1","xdomain":false,"secure":false,"issued":1796661664000,
///   "url":"/socket.io/?EIO=4&transport=polling","query":{"EIO":"4"},"auth":{"token":"t"}}"#;
/// let handshake: RemoteHandshake = serde_json::from_str(json).unwrap();
/// assert_eq!(handshake.address, "::1");
/// assert_eq!(handshake.issued, 1_796_661_664_000);
/// ```
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct RemoteHandshake {
    /// The request headers, names in lower case (a repeated header joined with `, `, as Node
    /// does; Node sends `set-cookie` as a list).
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, Value>,
    /// When the session opened, as JavaScript's `Date.prototype.toString` writes it.
    #[serde(default)]
    pub time: String,
    /// The peer's address (empty when unknown).
    #[serde(default)]
    pub address: String,
    /// Whether the request carried an `Origin` header (a cross-domain request).
    #[serde(default)]
    pub xdomain: bool,
    /// Whether the connection was encrypted; ours tells only through `X-Forwarded-Proto:
    /// https` or a `wss`/`https` URI (the TLS layer is the runtime's).
    #[serde(default)]
    pub secure: bool,
    /// When the session opened, in milliseconds since the Unix epoch.
    #[serde(default)]
    pub issued: u64,
    /// The request's path and query.
    #[serde(default)]
    pub url: String,
    /// The query parameters (a repeated one keeps its last value).
    #[serde(default)]
    pub query: std::collections::BTreeMap<String, Value>,
    /// The CONNECT auth payload.
    #[serde(default)]
    pub auth: Value,
}

impl RemoteHandshake {
    /// The handshake of one of this node's sockets.
    pub fn of(handshake: &Handshake) -> Self {
        let http = &handshake.http;
        let mut headers = std::collections::BTreeMap::<String, Value>::new();
        for name in http.headers.keys() {
            let values: Vec<String> = http
                .headers
                .get_all(name)
                .iter()
                .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
                .collect();
            let value = if name == http::header::SET_COOKIE {
                Value::Array(values.into_iter().map(Value::String).collect())
            } else {
                Value::String(values.join(", "))
            };
            headers.insert(name.as_str().to_owned(), value);
        }
        let query = handshake
            .query()
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                (decode(key), Value::String(decode(value)))
            })
            .collect();
        let forwarded_https = http
            .headers
            .get("x-forwarded-proto")
            .is_some_and(|proto| proto.as_bytes().eq_ignore_ascii_case(b"https"));
        let scheme_secure = matches!(http.uri.scheme_str(), Some("https" | "wss"));
        let issued = http
            .time
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |since| {
                u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
            });
        RemoteHandshake {
            headers,
            time: js_date_string(issued),
            address: http.address.map(|a| a.ip().to_string()).unwrap_or_default(),
            xdomain: http.headers.contains_key(http::header::ORIGIN),
            secure: forwarded_https || scheme_secure,
            issued,
            url: http.uri.to_string(),
            query,
            auth: handshake.auth.as_ref().clone(),
        }
    }
}

/// `new Date(ms).toString()` in UTC: `Mon Dec 07 2026 16:41:04 GMT+0000 (Coordinated Universal
/// Time)`.
fn js_date_string(ms: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = ms / 1000;
    let days = secs / 86_400;
    let (hour, minute, second) = ((secs / 3600) % 24, (secs / 60) % 60, secs % 60);
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{} {} {day:02} {year} {hour:02}:{minute:02}:{second:02} GMT+0000 (Coordinated Universal Time)",
        DAYS[(days % 7) as usize],
        MONTHS[(month - 1) as usize],
    )
}

#[cfg(test)]
mod remote_tests {
    use super::*;

    #[test]
    fn dates_read_as_javascript_writes_them() {
        assert_eq!(
            js_date_string(0),
            "Thu Jan 01 1970 00:00:00 GMT+0000 (Coordinated Universal Time)"
        );
        // 2026-12-07T16:41:04Z
        assert_eq!(
            js_date_string(1_796_661_664_000),
            "Mon Dec 07 2026 16:41:04 GMT+0000 (Coordinated Universal Time)"
        );
        // A leap day.
        assert_eq!(
            js_date_string(951_782_400_000),
            "Tue Feb 29 2000 00:00:00 GMT+0000 (Coordinated Universal Time)"
        );
    }

    #[test]
    fn a_local_handshake_in_the_reference_shape() {
        let request = http::Request::get("/socket.io/?EIO=4&transport=websocket&room=a%20b")
            .header("origin", "https://app")
            .header("x-forwarded-proto", "https")
            .header("set-cookie", "a=1")
            .header("set-cookie", "b=2")
            .body(())
            .unwrap();
        let (parts, ()) = request.into_parts();
        let handshake = Handshake {
            http: Arc::new(HttpHandshake::new(
                Some(&parts),
                Some("10.0.0.1:4000".parse().unwrap()),
            )),
            namespace: Arc::from("/"),
            auth: Arc::new(Value::String("token".into())),
        };
        let remote = RemoteHandshake::of(&handshake);
        assert_eq!(remote.address, "10.0.0.1");
        assert!(remote.xdomain && remote.secure);
        assert_eq!(remote.query["room"], Value::String("a b".into()));
        assert_eq!(
            remote.url,
            "/socket.io/?EIO=4&transport=websocket&room=a%20b"
        );
        assert_eq!(
            remote.headers["set-cookie"],
            Value::Array(vec![
                Value::String("a=1".into()),
                Value::String("b=2".into())
            ])
        );
        assert_eq!(remote.auth, Value::String("token".into()));
        assert!(
            remote
                .time
                .ends_with("GMT+0000 (Coordinated Universal Time)")
        );
        let json = serde_json::to_value(&remote).unwrap();
        for field in [
            "headers", "time", "address", "xdomain", "secure", "issued", "url", "query", "auth",
        ] {
            assert!(json.get(field).is_some(), "{field}");
        }
    }
}
