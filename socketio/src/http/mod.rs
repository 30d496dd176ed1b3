//! Runtime-neutral HTTP pieces shared by the runtime crates: the WebSocket upgrade checks and
//! `101` response, the tungstenite configuration of accepted WebSockets, plain responses and the
//! [`ClientBundle`]. The runtime crates only move bytes.

mod bundle;
mod refusals;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Response, StatusCode, header};
use http_body_util::Full;
use tungstenite::{handshake::derive_accept_key, protocol::WebSocketConfig};

pub use bundle::{ClientBundle, content_type};
pub use refusals::refusal;

/// Read buffer of each WebSocket connection: 4 KiB (tungstenite's default is 128 KiB). It is
/// allocated once per connection and grows only while a larger frame is being read.
pub const WEBSOCKET_READ_BUFFER: usize = 4 * 1024;
/// Write buffer target of each WebSocket connection: 4 KiB (tungstenite's default is 128 KiB).
/// Frames collect up to this size between flushes, so small packets still share one `write`.
pub const WEBSOCKET_WRITE_BUFFER: usize = 4 * 1024;

/// Largest WebSocket message (and frame) accepted by default: 1 000 000 bytes, the reference
/// server's default `maxHttpBufferSize`, which it also applies to WebSocket messages. A server
/// built with a larger `max_http_buffer_size` should raise it too.
pub const WEBSOCKET_MAX_MESSAGE: usize = 1_000_000;

/// The tungstenite configuration used for every accepted WebSocket: [`WEBSOCKET_READ_BUFFER`],
/// [`WEBSOCKET_WRITE_BUFFER`], messages and frames up to [`WEBSOCKET_MAX_MESSAGE`], tungstenite's
/// defaults otherwise.
pub fn default_websocket_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(WEBSOCKET_READ_BUFFER)
        .write_buffer_size(WEBSOCKET_WRITE_BUFFER)
        .max_message_size(Some(WEBSOCKET_MAX_MESSAGE))
        .max_frame_size(Some(WEBSOCKET_MAX_MESSAGE))
}

/// How long a standalone server waits for open HTTP connections to finish after the Socket.IO
/// server has shut down.
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// Where a request goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// A client bundle file.
    Bundle,
    /// Engine.IO / Socket.IO: polling or a WebSocket upgrade.
    SocketIo,
    /// Not ours: 404 standalone, the inner service under tower.
    Other,
}

/// Routes a request by method and path: a file of `bundle`, the server (`handles` is its path
/// test) or elsewhere.
pub fn route(
    method: &Method,
    path: &str,
    bundle: Option<&ClientBundle>,
    handles: impl Fn(&str) -> bool,
) -> Route {
    match bundle {
        Some(bundle) if bundle.matches(method, path, &handles) => Route::Bundle,
        _ if handles(path) => Route::SocketIo,
        _ => Route::Other,
    }
}

/// Whether the request asks for a WebSocket: `GET` with `Upgrade: websocket` and a `Connection`
/// header listing `upgrade`.
pub fn is_websocket_upgrade(method: &Method, headers: &HeaderMap) -> bool {
    let upgrade = headers
        .get_all(header::UPGRADE)
        .iter()
        .any(|value| value.as_bytes().eq_ignore_ascii_case(b"websocket"));
    let connection = headers.get_all(header::CONNECTION).iter().any(|value| {
        value
            .as_bytes()
            .split(|&b| b == b',')
            .any(|token| token.trim_ascii().eq_ignore_ascii_case(b"upgrade"))
    });
    method == Method::GET && upgrade && connection
}

/// The `Sec-WebSocket-Accept` value for an upgrade request, or the `400` to answer when it has
/// no key or a version other than 13.
#[allow(clippy::result_large_err)] // the refusal is the response to write
pub fn websocket_accept(headers: &HeaderMap) -> Result<HeaderValue, Response<Full<Bytes>>> {
    let version_ok = headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .is_some_and(|version| version.as_bytes() == b"13");
    match headers
        .get(header::SEC_WEBSOCKET_KEY)
        .filter(|_| version_ok)
    {
        Some(key) => Ok(HeaderValue::from_str(&derive_accept_key(key.as_bytes()))
            .expect("base64 is a valid header value")),
        None => Err(plain(StatusCode::BAD_REQUEST, "Bad request")),
    }
}

/// The `101 Switching Protocols` answer to an accepted upgrade, with `extra` headers (CORS).
pub fn switching_protocols(
    accept: HeaderValue,
    extra: impl IntoIterator<Item = (HeaderName, HeaderValue)>,
) -> Response<Full<Bytes>> {
    let mut response = Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "Upgrade")
        .header(header::UPGRADE, "websocket")
        .header(header::SEC_WEBSOCKET_ACCEPT, accept);
    for (name, value) in extra {
        response = response.header(name, value);
    }
    response.body(Full::default()).expect("valid response")
}

/// A `text/plain` response.
pub fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Full::new(Bytes::from_static(text.as_bytes())))
        .expect("valid response")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_key_of_rfc6455_example() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::SEC_WEBSOCKET_KEY,
            "dGhlIHNhbXBsZSBub25jZQ==".parse().unwrap(),
        );
        assert_eq!(
            websocket_accept(&headers).unwrap_err().status(),
            StatusCode::BAD_REQUEST
        );
        headers.insert(header::SEC_WEBSOCKET_VERSION, "13".parse().unwrap());
        assert_eq!(
            websocket_accept(&headers).unwrap(),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn upgrade_needs_get_upgrade_and_connection() {
        let mut headers = HeaderMap::new();
        headers.insert(header::UPGRADE, "WebSocket".parse().unwrap());
        headers.insert(header::CONNECTION, "keep-alive, Upgrade".parse().unwrap());
        assert!(is_websocket_upgrade(&Method::GET, &headers));
        assert!(!is_websocket_upgrade(&Method::POST, &headers));
        headers.remove(header::CONNECTION);
        assert!(!is_websocket_upgrade(&Method::GET, &headers));
    }
}
