//! The WebSocket opening handshake (HTTP/1.1 upgrade) with bounded buffers.
//!
//! [`write_request`] writes the `GET … Upgrade: websocket` request into a caller buffer;
//! [`parse_response`] reads the server's answer from the bytes received so far, with at most
//! [`MAX_HEADERS`] headers, and checks the status (101), `Upgrade`, `Connection` and
//! `Sec-WebSocket-Accept`. The response head must fit the caller's buffer.
//!
//! ```
//! use socketio_embedded::handshake::{accept_key, parse_response, Response};
//!
//! let key = "dGhlIHNhbXBsZSBub25jZQ==";
//! assert_eq!(accept_key(key), *b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
//! let head = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
//!              Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
//! assert_eq!(parse_response(head, key), Ok(Response::Complete { head_len: head.len() }));
//! ```

use base64::Engine as _;
use core::fmt;
use sha1::{Digest, Sha1};

/// The most response headers [`parse_response`] accepts.
pub const MAX_HEADERS: usize = 24;

const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Why the handshake failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The request does not fit the buffer.
    RequestTooLong,
    /// The response head does not fit the buffer, or has more than [`MAX_HEADERS`] headers.
    ResponseTooLong,
    /// The response is not HTTP.
    Malformed,
    /// The server answered with this status instead of 101.
    Status(u16),
    /// `Upgrade`, `Connection` or `Sec-WebSocket-Accept` is missing or wrong.
    NotUpgraded,
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandshakeError::RequestTooLong => f.write_str("upgrade request larger than the buffer"),
            HandshakeError::ResponseTooLong => {
                f.write_str("upgrade response head larger than the buffer or with too many headers")
            }
            HandshakeError::Malformed => f.write_str("malformed upgrade response"),
            HandshakeError::Status(code) => write!(f, "upgrade refused with HTTP status {code}"),
            HandshakeError::NotUpgraded => f.write_str("the server did not upgrade to websocket"),
        }
    }
}

impl core::error::Error for HandshakeError {}

/// The state of the response read so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Response {
    /// More bytes are needed.
    Partial,
    /// The upgrade succeeded; the head is `head_len` bytes, frames follow it.
    Complete {
        /// The length of the response head, blank line included.
        head_len: usize,
    },
}

/// The `Sec-WebSocket-Key` for 16 random bytes (24 base64 characters).
pub fn request_key(random: [u8; 16]) -> [u8; 24] {
    let mut out = [0u8; 24];
    // 16 bytes always encode to 24 characters.
    let _ = base64::engine::general_purpose::STANDARD.encode_slice(random, &mut out);
    out
}

/// The `Sec-WebSocket-Accept` the server must answer to `key` (28 base64 characters).
pub fn accept_key(key: &str) -> [u8; 28] {
    let mut sha = Sha1::new();
    sha.update(key.as_bytes());
    sha.update(GUID.as_bytes());
    let digest = sha.finalize();
    let mut out = [0u8; 28];
    let _ = base64::engine::general_purpose::STANDARD.encode_slice(digest, &mut out);
    out
}

/// Writes the upgrade request for `path_and_query` on `host` into `out`; returns its length.
///
/// ```
/// let mut out = [0u8; 256];
/// let n = socketio_embedded::handshake::write_request(&mut out, "example.com:80", "/socket.io/?EIO=4&transport=websocket", "dGhlIHNhbXBsZSBub25jZQ==").unwrap();
/// assert!(out[..n].starts_with(b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: example.com:80\r\n"));
/// assert!(out[..n].ends_with(b"\r\n\r\n"));
/// ```
pub fn write_request(
    out: &mut [u8],
    host: &str,
    path_and_query: &str,
    key: &str,
) -> Result<usize, HandshakeError> {
    let parts: [&str; 7] = [
        "GET ",
        path_and_query,
        " HTTP/1.1\r\nHost: ",
        host,
        "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ",
        key,
        "\r\n\r\n",
    ];
    // A line break (or, in the request target, a space) would inject headers.
    let unsafe_byte = |b: u8| b == b'\r' || b == b'\n' || b == b' ';
    if [host, path_and_query, key]
        .iter()
        .any(|value| value.bytes().any(unsafe_byte))
    {
        return Err(HandshakeError::Malformed);
    }
    let mut n = 0;
    for part in parts {
        let end = n + part.len();
        let Some(dst) = out.get_mut(n..end) else {
            return Err(HandshakeError::RequestTooLong);
        };
        dst.copy_from_slice(part.as_bytes());
        n = end;
    }
    Ok(n)
}

/// Parses the response head received so far (`received`, which may hold frames after it).
pub fn parse_response(received: &[u8], key: &str) -> Result<Response, HandshakeError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let head_len = match response.parse(received) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(Response::Partial),
        Err(httparse::Error::TooManyHeaders) => return Err(HandshakeError::ResponseTooLong),
        Err(_) => return Err(HandshakeError::Malformed),
    };
    let code = response.code.unwrap_or(0);
    if code != 101 {
        return Err(HandshakeError::Status(code));
    }
    let expected = accept_key(key);
    let mut upgrade = false;
    let mut connection = false;
    let mut accept = false;
    for header in response.headers.iter() {
        let value = header.value;
        if header.name.eq_ignore_ascii_case("upgrade") {
            upgrade |= value.eq_ignore_ascii_case(b"websocket");
        } else if header.name.eq_ignore_ascii_case("connection") {
            connection |= value
                .split(|&b| b == b',')
                .any(|token| token.trim_ascii().eq_ignore_ascii_case(b"upgrade"));
        } else if header.name.eq_ignore_ascii_case("sec-websocket-accept") {
            accept |= value.trim_ascii() == expected;
        }
    }
    if upgrade && connection && accept {
        Ok(Response::Complete { head_len })
    } else {
        Err(HandshakeError::NotUpgraded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_gives_its_status() {
        let head = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(parse_response(head, "k"), Err(HandshakeError::Status(400)));
    }

    #[test]
    fn a_wrong_accept_is_refused() {
        let head = b"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n";
        assert_eq!(parse_response(head, "k"), Err(HandshakeError::NotUpgraded));
    }

    #[test]
    fn partial_and_too_small() {
        assert_eq!(parse_response(b"HTTP/1.1 101", "k"), Ok(Response::Partial));
        let mut out = [0u8; 32];
        assert_eq!(
            write_request(&mut out, "h", "/socket.io/", "k"),
            Err(HandshakeError::RequestTooLong)
        );
    }

    #[test]
    fn header_injection_is_refused() {
        let mut out = [0u8; 512];
        assert_eq!(
            write_request(&mut out, "h\r\nX: y", "/", "k"),
            Err(HandshakeError::Malformed)
        );
    }
}
