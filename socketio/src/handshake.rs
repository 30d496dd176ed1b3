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
/// every connection (a fifth of an idle WebSocket connection's memory).
fn owned_headers(headers: &http::HeaderMap) -> http::HeaderMap {
    let mut owned = http::HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        // Both were valid when parsed, so the copies are too; anything else keeps the clone.
        let name =
            http::HeaderName::from_bytes(name.as_str().as_bytes()).unwrap_or_else(|_| name.clone());
        let mut copy =
            http::HeaderValue::from_bytes(value.as_bytes()).unwrap_or_else(|_| value.clone());
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
