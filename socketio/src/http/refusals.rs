//! Requests refused from their head before they reach the server: cases hyper lets through but
//! Node's HTTP server refuses. Each refusal asks the HTTP layer to close the connection
//! (`Connection: close`) once it is written. Both runtime crates call [`refusal`] first.

use super::plain;
use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, Version, header};
use http_body_util::Full;

/// The answer to a request that must not be served, or `None`: an HTTP/1.1 request without
/// `Host` (`400`), a transfer coding other than `chunked` (`501`), an `Expect` other than
/// `100-continue` (`417`), or `100-continue` with a declared length over `max_payload`, the
/// largest body the server accepts (`413`, and no `100`).
///
/// ```
/// let request = http::Request::get("/socket.io/").body(()).unwrap();
/// let refused = socketio::http::refusal(&request, 1_000_000).unwrap();
/// assert_eq!(refused.status(), 400); // no Host
/// ```
pub fn refusal<B>(request: &Request<B>, max_payload: usize) -> Option<Response<Full<Bytes>>> {
    let (status, text) = refused(request, max_payload)?;
    let mut response = plain(status, text);
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    Some(response)
}

fn refused<B>(request: &Request<B>, max_payload: usize) -> Option<(StatusCode, &'static str)> {
    let headers = request.headers();
    let http_1_1 = request.version() == Version::HTTP_11;
    // RFC 9112 §3.2: an HTTP/1.1 request without `Host` (Node's `requireHostHeader`).
    if http_1_1 && !headers.contains_key(header::HOST) {
        return Some((StatusCode::BAD_REQUEST, "Bad Request"));
    }
    // hyper decodes a body whose last coding is `chunked` and passes the others on undone.
    let mut codings = headers
        .get_all(header::TRANSFER_ENCODING)
        .iter()
        .flat_map(|value| value.as_bytes().split(|&b| b == b','))
        .map(<[u8]>::trim_ascii)
        .filter(|coding| !coding.is_empty());
    if let Some(first) = codings.next()
        && (!first.eq_ignore_ascii_case(b"chunked") || codings.next().is_some())
    {
        return Some((
            StatusCode::NOT_IMPLEMENTED,
            "Transfer-Encoding not supported",
        ));
    }
    // hyper ignores an expectation it does not know, and sends `100 Continue` as soon as the
    // body is read, even one the server then refuses for its length.
    if let Some(expect) = headers.get(header::EXPECT)
        && http_1_1
    {
        if !expect.as_bytes().eq_ignore_ascii_case(b"100-continue") {
            return Some((StatusCode::EXPECTATION_FAILED, "Expectation Failed"));
        }
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok());
        if declared.is_some_and(|length| length > max_payload as u64) {
            return Some((StatusCode::PAYLOAD_TOO_LARGE, "Payload Too Large"));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(request: http::request::Builder) -> Option<StatusCode> {
        let request = request.body(()).unwrap();
        refusal(&request, 100).map(|response| response.status())
    }

    #[test]
    fn refused_heads() {
        let get = || Request::get("/socket.io/").header("host", "x");
        assert_eq!(status(get()), None);
        assert_eq!(
            status(Request::get("/socket.io/")),
            Some(StatusCode::BAD_REQUEST)
        );
        assert_eq!(
            status(Request::get("/socket.io/").version(Version::HTTP_10)),
            None
        );
        assert_eq!(status(get().header("transfer-encoding", "chunked")), None);
        assert_eq!(
            status(get().header("transfer-encoding", "gzip, chunked")),
            Some(StatusCode::NOT_IMPLEMENTED)
        );
        assert_eq!(
            status(get().header("expect", "telepathy")),
            Some(StatusCode::EXPECTATION_FAILED)
        );
        let expect = || get().header("expect", "100-continue");
        assert_eq!(status(expect().header("content-length", "100")), None);
        assert_eq!(
            status(expect().header("content-length", "101")),
            Some(StatusCode::PAYLOAD_TOO_LARGE)
        );
    }
}
