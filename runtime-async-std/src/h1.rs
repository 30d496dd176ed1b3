//! HTTP/1.1 on a futures-io stream, just what Engine.IO needs: request heads (httparse),
//! `Content-Length` bodies, keep-alive, `Expect: 100-continue`, and responses with a known
//! length. hyper is not used because hyper 1 depends on tokio (its `sync` module), and this
//! crate keeps tokio out of its dependency tree.

use std::io;

use bytes::Bytes;
use futures_lite::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use http::{HeaderName, HeaderValue, Response, StatusCode, Version, header, request::Parts};
use http_body_util::{BodyExt, Full};

/// Largest request head accepted (request line and headers).
pub(crate) const MAX_HEAD: usize = 16 * 1024;
const MAX_HEADERS: usize = 64;

/// Reads one request head. `buf` keeps bytes read past it (the start of the body, a pipelined
/// request, or WebSocket frames). `None`: the peer closed between requests.
pub(crate) async fn read_head<IO: AsyncRead + Unpin>(
    io: &mut IO,
    buf: &mut Vec<u8>,
) -> io::Result<Option<Parts>> {
    loop {
        if !buf.is_empty() {
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut request = httparse::Request::new(&mut headers);
            match request.parse(buf).map_err(invalid)? {
                httparse::Status::Complete(len) => {
                    let parts = to_parts(&request)?;
                    buf.drain(..len);
                    return Ok(Some(parts));
                }
                httparse::Status::Partial if buf.len() >= MAX_HEAD => {
                    return Err(invalid("request head too large"));
                }
                httparse::Status::Partial => {}
            }
        }
        let mut chunk = [0; 4096];
        let read = io.read(&mut chunk).await?;
        if read == 0 {
            return match buf.is_empty() {
                true => Ok(None),
                false => Err(io::ErrorKind::UnexpectedEof.into()),
            };
        }
        buf.extend_from_slice(&chunk[..read]);
    }
}

fn to_parts(request: &httparse::Request<'_, '_>) -> io::Result<Parts> {
    let mut builder = http::Request::builder()
        .method(request.method.unwrap_or("GET"))
        .uri(request.path.unwrap_or("/"))
        .version(match request.version {
            Some(0) => Version::HTTP_10,
            _ => Version::HTTP_11,
        });
    for h in request.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes()).map_err(invalid)?;
        builder = builder.header(name, HeaderValue::from_bytes(h.value).map_err(invalid)?);
    }
    Ok(builder.body(()).map_err(invalid)?.into_parts().0)
}

/// Whether the connection stays open after this request.
pub(crate) fn keep_alive(parts: &Parts) -> bool {
    let says = |token: &[u8]| {
        parts
            .headers
            .get_all(header::CONNECTION)
            .iter()
            .any(|value| {
                value
                    .as_bytes()
                    .split(|&b| b == b',')
                    .any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
            })
    };
    match parts.version {
        Version::HTTP_10 => says(b"keep-alive"),
        _ => !says(b"close"),
    }
}

/// Reads the body of `parts` (at most `limit` bytes; more is left unread and the connection
/// must close). `Ok(None)` for a body framing this server does not take (chunked).
pub(crate) async fn read_body<IO: AsyncRead + AsyncWrite + Unpin>(
    io: &mut IO,
    buf: &mut Vec<u8>,
    parts: &Parts,
    limit: usize,
) -> io::Result<Option<(Bytes, bool)>> {
    if parts.headers.contains_key(header::TRANSFER_ENCODING) {
        return Ok(None);
    }
    let length = match parts.headers.get(header::CONTENT_LENGTH) {
        None => 0,
        Some(value) => value
            .to_str()
            .ok()
            .and_then(|value| value.trim().parse::<usize>().ok())
            .ok_or_else(|| invalid("bad Content-Length"))?,
    };
    if length == 0 {
        return Ok(Some((Bytes::new(), true)));
    }
    let expects = parts
        .headers
        .get(header::EXPECT)
        .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    if expects && buf.is_empty() {
        io.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await?;
        io.flush().await?;
    }
    let wanted = length.min(limit);
    let mut body = Vec::with_capacity(wanted);
    let from_buf = wanted.min(buf.len());
    body.extend(buf.drain(..from_buf));
    if body.len() < wanted {
        let start = body.len();
        body.resize(wanted, 0);
        io.read_exact(&mut body[start..]).await?;
    }
    Ok(Some((Bytes::from(body), length <= limit)))
}

/// Writes `response` (no body for `HEAD`), with `Content-Length`, and `Connection: close`
/// unless `keep_alive`.
pub(crate) async fn write_response<IO: AsyncWrite + Unpin>(
    io: &mut IO,
    response: Response<Full<Bytes>>,
    head_only: bool,
    keep_alive: bool,
) -> io::Result<()> {
    let (parts, body) = response.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(never) => match never {},
    };
    let status = parts.status;
    let mut out = Vec::with_capacity(256 + body.len());
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in &parts.headers {
        if name == header::CONNECTION && status != StatusCode::SWITCHING_PROTOCOLS {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let bodyless = status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    if !bodyless && !parts.headers.contains_key(header::CONTENT_LENGTH) {
        out.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
    }
    if !keep_alive && status != StatusCode::SWITCHING_PROTOCOLS {
        out.extend_from_slice(b"connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    if !head_only && !bodyless {
        out.extend_from_slice(&body);
    }
    io.write_all(&out).await?;
    io.flush().await
}

fn invalid(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, error)
}

/// Writes a client request (origin-form URI, `Host` already set) with its body.
pub(crate) async fn write_request<IO: AsyncWrite + Unpin>(
    io: &mut IO,
    parts: &Parts,
    body: &[u8],
) -> io::Result<()> {
    let mut out = Vec::with_capacity(256 + body.len());
    out.extend_from_slice(parts.method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(parts.uri.to_string().as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in &parts.headers {
        if name != header::CONTENT_LENGTH {
            out.extend_from_slice(name.as_str().as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }
    if !body.is_empty() || parts.method == http::Method::POST {
        out.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    io.write_all(&out).await?;
    io.flush().await
}

/// Reads a response to a request without upgrade: the head, then a `Content-Length` body (or
/// up to the end of the stream). The flag: whether the connection may carry another request.
pub(crate) async fn read_response<IO: AsyncRead + Unpin>(
    io: &mut IO,
) -> io::Result<(Response<Bytes>, bool)> {
    let mut buf = Vec::new();
    loop {
        let mut chunk = [0; 4096];
        let read = io.read(&mut chunk).await?;
        if read == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..read]);
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut headers);
        let len = match response.parse(&buf).map_err(invalid)? {
            httparse::Status::Complete(len) => len,
            httparse::Status::Partial if buf.len() >= MAX_HEAD => {
                return Err(invalid("response head too large"));
            }
            httparse::Status::Partial => continue,
        };
        let mut builder = Response::builder().status(response.code.unwrap_or(500));
        for h in response.headers.iter() {
            let name = HeaderName::from_bytes(h.name.as_bytes()).map_err(invalid)?;
            builder = builder.header(name, HeaderValue::from_bytes(h.value).map_err(invalid)?);
        }
        let head = builder.body(()).map_err(invalid)?;
        if head.headers().contains_key(header::TRANSFER_ENCODING) {
            return Err(invalid("chunked responses are not supported"));
        }
        let mut body = buf.split_off(len);
        let length = head
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok()?.trim().parse::<usize>().ok());
        let reusable = match length {
            Some(length) => {
                let start = body.len().min(length);
                body.resize(length, 0);
                io.read_exact(&mut body[start..]).await?;
                !head
                    .headers()
                    .get(header::CONNECTION)
                    .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"close"))
            }
            None => {
                io.read_to_end(&mut body).await?;
                false
            }
        };
        let (parts, ()) = head.into_parts();
        return Ok((Response::from_parts(parts, Bytes::from(body)), reusable));
    }
}
