//! The runtime-neutral HTTP vocabulary of the server: request heads, responses, error codes,
//! and the query string of an Engine.IO request.

use alloc::string::String;
use alloc::vec::Vec;
use bytes::Bytes;

use crate::Str;

/// A response header: a static name and a value.
pub type Header = (&'static str, Str);

/// Identifies one HTTP request (a poll, a POST, a handshake); assigned by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

/// Identifies one WebSocket (from its upgrade request on); assigned by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(pub u64);

/// A transport that carries (or asks for) a handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum TransportId {
    /// A polling GET.
    Polling(RequestId),
    /// A WebSocket.
    WebSocket(ConnectionId),
}

/// The HTTP method of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Method {
    /// `GET`.
    Get,
    /// `POST`.
    Post,
    /// `OPTIONS` (a CORS preflight when CORS is on).
    Options,
    /// Any other method (`HEAD`, `PUT`, `DELETE`, ...).
    Other,
}

impl Method {
    /// Maps a method name (case-sensitive, as HTTP says) to a [`Method`].
    pub fn parse(name: &str) -> Method {
        match name {
            "GET" => Method::Get,
            "POST" => Method::Post,
            "OPTIONS" => Method::Options,
            _ => Method::Other,
        }
    }
}

/// The parts of an HTTP request the engine looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// The method.
    pub method: Method,
    /// The path, without the query (`/engine.io/`).
    pub path: Str,
    /// The raw query string, without `?` (`EIO=4&transport=polling`).
    pub query: Str,
    /// The `Origin` header.
    pub origin: Option<Str>,
    /// The `Content-Type` header (only `application/octet-stream` matters).
    pub content_type: Option<Str>,
    /// The `Access-Control-Request-Headers` header (reflected by CORS preflights).
    pub access_control_request_headers: Option<Str>,
}

impl RequestHead {
    /// A head with a method, a path and a raw query string, and no headers.
    pub fn new(method: Method, path: impl Into<Str>, query: impl Into<Str>) -> Self {
        RequestHead {
            method,
            path: path.into(),
            query: query.into(),
            origin: None,
            content_type: None,
            access_control_request_headers: None,
        }
    }

    /// Splits a request target (`/engine.io/?EIO=4&transport=polling`) into path and query.
    pub fn from_target(method: Method, target: &str) -> Self {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        RequestHead::new(
            method,
            Str::from(String::from(path)),
            Str::from(String::from(query)),
        )
    }

    /// Sets the `Origin` header.
    pub fn with_origin(mut self, origin: impl Into<Str>) -> Self {
        self.origin = Some(origin.into());
        self
    }

    /// Sets the `Content-Type` header.
    pub fn with_content_type(mut self, content_type: impl Into<Str>) -> Self {
        self.content_type = Some(content_type.into());
        self
    }

    /// Sets the `Access-Control-Request-Headers` header.
    pub fn with_access_control_request_headers(mut self, headers: impl Into<Str>) -> Self {
        self.access_control_request_headers = Some(headers.into());
        self
    }

    /// Whether the body is declared binary (`Content-Type: application/octet-stream`).
    pub(crate) fn is_octet_stream(&self) -> bool {
        self.content_type
            .as_deref()
            .is_some_and(|value| value == "application/octet-stream")
    }
}

/// An HTTP response for the runtime to write.
///
/// The runtime sets `Content-Length` from the body (the reference sends it on every response)
/// and may add its own headers; the engine never sets `Content-Length` itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The headers, in order.
    pub headers: Vec<Header>,
    /// The body.
    pub body: Bytes,
}

impl Response {
    /// The value of the first header named `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The body as text (empty if it is not UTF-8).
    pub fn body_text(&self) -> &str {
        core::str::from_utf8(&self.body).unwrap_or("")
    }

    /// A response with a status, headers and no body.
    pub(crate) fn empty(status: u16, headers: Vec<Header>) -> Self {
        Response {
            status,
            headers,
            body: Bytes::new(),
        }
    }

    /// A `200` poll response carrying a payload.
    pub(crate) fn poll(body: Bytes, content_type: &'static str, extra: Vec<Header>) -> Self {
        let mut headers = Vec::with_capacity(extra.len() + 2);
        headers.push(("Content-Type", Str::from_static(content_type)));
        headers.push(("Cache-Control", Str::from_static("no-store")));
        headers.extend(extra);
        Response {
            status: 200,
            headers,
            body,
        }
    }

    /// The `200 ok` answer to a data POST.
    pub(crate) fn post_ok(extra: Vec<Header>) -> Self {
        let mut headers = Vec::with_capacity(extra.len() + 2);
        headers.push(("Content-Type", Str::from_static("text/html")));
        headers.push(("Cache-Control", Str::from_static("no-store")));
        headers.extend(extra);
        Response {
            status: 200,
            headers,
            body: Bytes::from_static(b"ok"),
        }
    }

    /// An Engine.IO error: `400` (`403` for [`ErrorCode::Forbidden`]) with the JSON body.
    pub(crate) fn error(code: ErrorCode, message: Option<&str>, extra: Vec<Header>) -> Self {
        let mut headers = Vec::with_capacity(extra.len() + 1);
        headers.push(("Content-Type", Str::from_static("application/json")));
        headers.extend(extra);
        Response {
            status: code.status(),
            headers,
            body: Bytes::from(code.json(message).into_bytes()),
        }
    }

    /// The plain `400` that refuses a WebSocket upgrade, with the message as the body.
    pub(crate) fn websocket_refusal(code: ErrorCode, message: Option<&str>) -> Self {
        let text = message.unwrap_or(code.message());
        Response {
            status: 400,
            headers: alloc::vec![
                ("Connection", Str::from_static("close")),
                ("Content-Type", Str::from_static("text/html")),
            ],
            body: Bytes::from(String::from(text).into_bytes()),
        }
    }
}

/// The Engine.IO error codes of a refused request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// `0` `Transport unknown`.
    UnknownTransport,
    /// `1` `Session ID unknown`.
    UnknownSid,
    /// `2` `Bad handshake method`.
    BadHandshakeMethod,
    /// `3` `Bad request`.
    BadRequest,
    /// `4` `Forbidden` (answered `403`).
    Forbidden,
    /// `5` `Unsupported protocol version`.
    UnsupportedProtocolVersion,
}

impl ErrorCode {
    /// The numeric code.
    pub const fn code(self) -> u8 {
        match self {
            ErrorCode::UnknownTransport => 0,
            ErrorCode::UnknownSid => 1,
            ErrorCode::BadHandshakeMethod => 2,
            ErrorCode::BadRequest => 3,
            ErrorCode::Forbidden => 4,
            ErrorCode::UnsupportedProtocolVersion => 5,
        }
    }

    /// The reference message.
    pub const fn message(self) -> &'static str {
        match self {
            ErrorCode::UnknownTransport => "Transport unknown",
            ErrorCode::UnknownSid => "Session ID unknown",
            ErrorCode::BadHandshakeMethod => "Bad handshake method",
            ErrorCode::BadRequest => "Bad request",
            ErrorCode::Forbidden => "Forbidden",
            ErrorCode::UnsupportedProtocolVersion => "Unsupported protocol version",
        }
    }

    /// The HTTP status of a polling request refused with this code.
    pub const fn status(self) -> u16 {
        match self {
            ErrorCode::Forbidden => 403,
            _ => 400,
        }
    }

    /// The JSON body `{"code":N,"message":"…"}`; `message` replaces the reference message.
    pub fn json(self, message: Option<&str>) -> String {
        let message = message
            .filter(|text| !text.is_empty())
            .unwrap_or(self.message());
        let escaped = serde_json::to_string(message).unwrap_or_else(|_| String::from("\"\""));
        let mut out = String::with_capacity(escaped.len() + 24);
        out.push_str("{\"code\":");
        out.push(char::from(b'0' + self.code()));
        out.push_str(",\"message\":");
        out.push_str(&escaped);
        out.push('}');
        out
    }
}

/// The query parameters the engine reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Query {
    /// `EIO`.
    pub eio: Option<String>,
    /// `transport`.
    pub transport: Option<String>,
    /// `sid` (an empty value counts as absent, as in the reference).
    pub sid: Option<String>,
    /// Whether `b64` has a non-empty value (the client cannot take binary bodies).
    pub b64: bool,
}

impl Query {
    /// Parses a raw query string as `URLSearchParams` does (last value wins).
    pub fn parse(raw: &str) -> Query {
        let mut query = Query::default();
        for pair in raw.split('&') {
            if pair.is_empty() {
                continue;
            }
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let name = percent_decode(name);
            let slot = match name.as_str() {
                "EIO" => &mut query.eio,
                "transport" => &mut query.transport,
                "sid" => &mut query.sid,
                "b64" => {
                    query.b64 = !value.is_empty();
                    continue;
                }
                _ => continue,
            };
            *slot = Some(percent_decode(value));
        }
        if query.sid.as_deref() == Some("") {
            query.sid = None;
        }
        query
    }
}

/// Decodes `%XX` escapes and `+` as a space; invalid escapes stay as they are.
fn percent_decode(text: &str) -> String {
    if !text.contains(['%', '+']) {
        return String::from(text);
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'+' => out.push(b' '),
            b'%' => {
                let high = bytes.get(index + 1).and_then(|&b| hex(b));
                let low = bytes.get(index + 2).and_then(|&b| hex(b));
                if let (Some(high), Some(low)) = (high, low) {
                    out.push(high << 4 | low);
                    index += 3;
                    continue;
                }
                out.push(b'%');
            }
            byte => out.push(byte),
        }
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The value of one hex digit.
fn hex(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// Whether an `Origin` value holds a byte Node's HTTP parser refuses (controls except tab, DEL).
pub(crate) fn is_invalid_header_value(value: &str) -> bool {
    value
        .bytes()
        .any(|byte| (byte < 0x20 && byte != b'\t') || byte == 0x7F)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_queries() {
        let query = Query::parse("EIO=4&transport=polling&t=N8hyd6w&sid=a%2Bb+c&b64=1");
        assert_eq!(query.eio.as_deref(), Some("4"));
        assert_eq!(query.transport.as_deref(), Some("polling"));
        assert_eq!(query.sid.as_deref(), Some("a+b c"));
        assert!(query.b64);
        let query = Query::parse("sid=&b64=&EIO=3&EIO=4&%zz");
        assert_eq!(query.sid, None);
        assert!(!query.b64);
        assert_eq!(query.eio.as_deref(), Some("4"));
        assert_eq!(percent_decode("%e2%82%ac%4"), "€%4");
    }

    #[test]
    fn error_bodies() {
        assert_eq!(
            ErrorCode::UnknownSid.json(None),
            "{\"code\":1,\"message\":\"Session ID unknown\"}"
        );
        assert_eq!(
            ErrorCode::Forbidden.json(Some("no \"way\"")),
            "{\"code\":4,\"message\":\"no \\\"way\\\"\"}"
        );
        assert!(is_invalid_header_value("a\nb"));
        assert!(!is_invalid_header_value("http://é.example\t"));
    }
}
