//! HTTP/1.1 on a futures-io stream, just what Engine.IO needs: request heads (httparse),
//! `Content-Length` and chunked bodies, keep-alive and pipelining, `Expect: 100-continue`, and
//! responses with a known length. hyper is not used because hyper 1 depends on tokio (its
//! `sync` module), and this crate keeps tokio out of its dependency tree.
//!
//! Limits, with the status Node's HTTP server answers in the same case:
//! - a request head must arrive within [`HEADERS_TIMEOUT`] (60 s, Node's `headersTimeout`):
//!   `408` and close once part of it has come; an idle keep-alive connection is just closed
//!   (a `408` there could be taken for the answer to a request crossing it on the wire);
//! - a body must arrive within [`REQUEST_TIMEOUT`] (300 s, Node's `requestTimeout`): `408`;
//! - a kept-alive connection with no new request within [`KEEP_ALIVE_TIMEOUT`] (5 s, Node's
//!   `keepAliveTimeout`) is closed;
//! - a head larger than [`MAX_HEAD`] (16 KiB, Node's `maxHeaderSize`) or with more than
//!   [`MAX_HEADERS`] fields: `431`;
//! - both `Transfer-Encoding` and `Content-Length`, a bad length, a bad chunk, an HTTP/1.1
//!   request without `Host`: `400`;
//!   a transfer coding other than `chunked`: `501`; an `Expect` other than `100-continue`:
//!   `417`; `Expect: 100-continue` with a declared length over the limit: `413` (no `100`);
//!   more than 16 KiB of chunk extensions in a body: `413`, as Node.
//!
//! Each of those answers closes the connection, after a short [`linger`] that reads what the
//! peer still sends, so that the kernel does not reset the connection over unread bytes.

use std::{io, time::Duration};

use bytes::Bytes;
use futures_lite::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, future};
use http::{HeaderName, HeaderValue, Response, StatusCode, Version, header, request::Parts};
use http_body_util::{BodyExt, Full};
use socketio::http::plain;

/// Largest request head accepted (request line and headers), as Node's `maxHeaderSize`.
pub(crate) const MAX_HEAD: usize = 16 * 1024;
/// Most header fields in a head.
pub(crate) const MAX_HEADERS: usize = 100;
/// Time allowed for a whole request head, from the moment the server waits for it.
pub(crate) const HEADERS_TIMEOUT: Duration = Duration::from_secs(60);
/// Time allowed for a request body, once its head is read.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(300);
/// How long a kept-alive connection may wait for its next request (Node's
/// `keepAliveTimeout`).
pub(crate) const KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest chunk-size line (with extensions) of a chunked body.
const MAX_CHUNK_LINE: usize = 4096;
/// Most bytes of chunk extensions in one body (`413` beyond, as Node).
const MAX_CHUNK_EXTENSIONS: usize = 16 * 1024;

/// The chunk extensions of a body passed [`MAX_CHUNK_EXTENSIONS`].
#[derive(Debug)]
struct ExtensionsTooLarge;

impl std::fmt::Display for ExtensionsTooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("chunk extensions too large")
    }
}

impl std::error::Error for ExtensionsTooLarge {}
/// Most bytes read and dropped after a refusal, before closing ([`linger`]).
const LINGER_BYTES: usize = 256 * 1024;
/// Longest wait for the peer's end after a refusal ([`linger`]).
const LINGER_TIME: Duration = Duration::from_secs(2);
/// Largest response body the client reads.
const MAX_RESPONSE_BODY: usize = 256 * 1024 * 1024;

/// The server side's limits (see the module documentation).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// [`HEADERS_TIMEOUT`].
    pub(crate) headers_timeout: Duration,
    /// [`REQUEST_TIMEOUT`].
    pub(crate) request_timeout: Duration,
    /// [`KEEP_ALIVE_TIMEOUT`].
    pub(crate) keep_alive_timeout: Duration,
    /// [`MAX_HEAD`].
    pub(crate) max_head: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            headers_timeout: HEADERS_TIMEOUT,
            request_timeout: REQUEST_TIMEOUT,
            keep_alive_timeout: KEEP_ALIVE_TIMEOUT,
            max_head: MAX_HEAD,
        }
    }
}

/// Why no request head came.
enum HeadError {
    /// The peer closed before the first byte of a request.
    Closed,
    TooLarge,
    Timeout,
    Io(io::Error),
}

impl From<io::Error> for HeadError {
    fn from(error: io::Error) -> Self {
        HeadError::Io(error)
    }
}

/// Waits at most `limits.keep_alive_timeout` for the first bytes of a kept-alive connection's
/// next request (into `buf`). `false`: the connection is done (the wait ran out, or the peer
/// closed), to be closed without an answer, as Node does.
pub(crate) async fn await_next_request<IO: AsyncRead + Unpin>(
    io: &mut IO,
    buf: &mut Vec<u8>,
    limits: &Limits,
) -> bool {
    let mut chunk = [0; 4096];
    let read = future::or(async { Some(io.read(&mut chunk).await) }, async {
        async_io::Timer::after(limits.keep_alive_timeout).await;
        None
    });
    match read.await {
        Some(Ok(read)) if read > 0 => {
            buf.extend_from_slice(&chunk[..read]);
            true
        }
        _ => false,
    }
}

/// Reads one request head with `limits`. `buf` keeps bytes read past it (the start of the
/// body, a pipelined request, or WebSocket frames). `None`: the connection is done — the
/// peer closed between requests, or the head was refused (`408`, `431`, answered here). An
/// error: a malformed head, to answer `400`.
pub(crate) async fn read_head_with<IO: AsyncRead + AsyncWrite + Unpin>(
    io: &mut IO,
    buf: &mut Vec<u8>,
    limits: &Limits,
) -> io::Result<Option<Parts>> {
    let waited = future::or(parse_head(io, buf, limits.max_head), async {
        async_io::Timer::after(limits.headers_timeout).await;
        Err(HeadError::Timeout)
    });
    match waited.await {
        Ok(parts) => Ok(Some(parts)),
        Err(HeadError::Closed) => Ok(None),
        Err(HeadError::Timeout) if buf.is_empty() => Ok(None),
        Err(HeadError::Timeout) => {
            refuse(io, StatusCode::REQUEST_TIMEOUT, "Request Timeout").await;
            Ok(None)
        }
        Err(HeadError::TooLarge) => {
            let status = StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE;
            refuse(io, status, "Request Header Fields Too Large").await;
            Ok(None)
        }
        Err(HeadError::Io(error)) => Err(error),
    }
}

async fn parse_head<IO: AsyncRead + Unpin>(
    io: &mut IO,
    buf: &mut Vec<u8>,
    max_head: usize,
) -> Result<Parts, HeadError> {
    loop {
        if !buf.is_empty() {
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut request = httparse::Request::new(&mut headers);
            match request.parse(buf) {
                Ok(httparse::Status::Complete(len)) if len > max_head => {
                    return Err(HeadError::TooLarge);
                }
                Ok(httparse::Status::Complete(len)) => {
                    let parts = to_parts(&request)?;
                    buf.drain(..len);
                    return Ok(parts);
                }
                Ok(httparse::Status::Partial) if buf.len() >= max_head => {
                    return Err(HeadError::TooLarge);
                }
                Ok(httparse::Status::Partial) => {}
                Err(httparse::Error::TooManyHeaders) => return Err(HeadError::TooLarge),
                Err(error) => return Err(invalid(error).into()),
            }
        }
        let mut chunk = [0; 4096];
        let read = io.read(&mut chunk).await?;
        if read == 0 {
            return match buf.is_empty() {
                true => Err(HeadError::Closed),
                false => Err(io::Error::from(io::ErrorKind::UnexpectedEof).into()),
            };
        }
        buf.extend_from_slice(&chunk[..read]);
    }
}

fn to_parts(request: &httparse::Request<'_, '_>) -> io::Result<Parts> {
    // RFC 9112 §3.2: an HTTP/1.1 request without `Host` gets 400 (as Node's
    // `requireHostHeader`).
    if request.version != Some(0)
        && !request
            .headers
            .iter()
            .any(|h| h.name.eq_ignore_ascii_case("host"))
    {
        return Err(invalid("HTTP/1.1 request without Host"));
    }
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

/// How a request body is delimited.
#[derive(Debug, PartialEq, Eq)]
enum Framing {
    Length(usize),
    Chunked,
}

/// The body framing of `parts`, or the status to refuse it with.
fn framing(parts: &Parts) -> Result<Framing, (StatusCode, &'static str)> {
    const BAD: (StatusCode, &str) = (StatusCode::BAD_REQUEST, "Bad Request");
    let codings: Vec<Vec<u8>> = parts
        .headers
        .get_all(header::TRANSFER_ENCODING)
        .iter()
        .flat_map(|value| value.as_bytes().split(|&b| b == b','))
        .map(|coding| coding.trim_ascii().to_ascii_lowercase())
        .filter(|coding| !coding.is_empty())
        .collect();
    let lengths: Vec<&[u8]> = parts
        .headers
        .get_all(header::CONTENT_LENGTH)
        .iter()
        .flat_map(|value| value.as_bytes().split(|&b| b == b','))
        .map(<[u8]>::trim_ascii)
        .collect();
    if parts.headers.contains_key(header::TRANSFER_ENCODING) {
        // Both framings at once is how requests are smuggled past proxies: refused, as Node.
        if !lengths.is_empty() || parts.version == Version::HTTP_10 {
            return Err(BAD);
        }
        return match codings.last().map(Vec::as_slice) {
            Some(b"chunked") if codings.len() == 1 => Ok(Framing::Chunked),
            Some(b"chunked") => Err((
                StatusCode::NOT_IMPLEMENTED,
                "Transfer-Encoding not supported",
            )),
            _ => Err(BAD),
        };
    }
    let Some(first) = lengths.first() else {
        return Ok(Framing::Length(0));
    };
    if first.is_empty()
        || !first.iter().all(u8::is_ascii_digit)
        || lengths.iter().any(|l| l != first)
    {
        return Err(BAD);
    }
    std::str::from_utf8(first)
        .ok()
        .and_then(|digits| digits.parse().ok())
        .map(Framing::Length)
        .ok_or(BAD)
}

/// Reads the body of `parts` with `limits`: at most `limit` bytes; the flag is false when
/// there was more (left unread: the connection must close after the answer). A request
/// refused here (bad framing, unmet expectation, timeout) is answered here and comes back as
/// an error: close the connection.
pub(crate) async fn read_body_with<IO: AsyncRead + AsyncWrite + Unpin>(
    io: &mut IO,
    buf: &mut Vec<u8>,
    parts: &Parts,
    limit: usize,
    limits: &Limits,
) -> io::Result<(Bytes, bool)> {
    let framing = match framing(parts) {
        Ok(framing) => framing,
        Err((status, text)) => {
            refuse(io, status, text).await;
            return Err(invalid(text));
        }
    };
    if framing == Framing::Length(0) {
        return Ok((Bytes::new(), true));
    }
    if let Some(expect) = parts.headers.get(header::EXPECT)
        && parts.version != Version::HTTP_10
    {
        if !expect.as_bytes().eq_ignore_ascii_case(b"100-continue") {
            refuse(io, StatusCode::EXPECTATION_FAILED, "Expectation Failed").await;
            return Err(invalid("unknown expectation"));
        }
        if matches!(framing, Framing::Length(length) if length > limit) {
            refuse(io, StatusCode::PAYLOAD_TOO_LARGE, "Payload Too Large").await;
            return Err(invalid("declared body too large"));
        }
        if buf.is_empty() {
            io.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await?;
            io.flush().await?;
        }
    }
    let read = future::or(
        async {
            match framing {
                Framing::Length(length) => read_length(io, buf, length, limit).await,
                Framing::Chunked => read_chunked(io, buf, limit).await,
            }
        },
        async {
            async_io::Timer::after(limits.request_timeout).await;
            Err(io::Error::from(io::ErrorKind::TimedOut))
        },
    );
    match read.await {
        Ok(body) => Ok(body),
        Err(error) => {
            let extensions = error
                .get_ref()
                .is_some_and(|inner| inner.is::<ExtensionsTooLarge>());
            let (status, text) = match error.kind() {
                io::ErrorKind::TimedOut => (StatusCode::REQUEST_TIMEOUT, "Request Timeout"),
                _ if extensions => (StatusCode::PAYLOAD_TOO_LARGE, "Payload Too Large"),
                io::ErrorKind::InvalidData => (StatusCode::BAD_REQUEST, "Bad Request"),
                _ => return Err(error),
            };
            refuse(io, status, text).await;
            Err(error)
        }
    }
}

/// A `Content-Length` body: at most `limit` bytes of its `length`.
async fn read_length<IO: AsyncRead + Unpin>(
    io: &mut IO,
    buf: &mut Vec<u8>,
    length: usize,
    limit: usize,
) -> io::Result<(Bytes, bool)> {
    let wanted = length.min(limit);
    let mut body = Vec::with_capacity(wanted);
    let from_buf = wanted.min(buf.len());
    body.extend(buf.drain(..from_buf));
    if body.len() < wanted {
        let start = body.len();
        body.resize(wanted, 0);
        io.read_exact(&mut body[start..]).await?;
    }
    Ok((Bytes::from(body), length <= limit))
}

/// A chunked body, decoded: at most `limit` bytes (then `false`, the rest left unread).
async fn read_chunked<IO: AsyncRead + Unpin>(
    io: &mut IO,
    buf: &mut Vec<u8>,
    limit: usize,
) -> io::Result<(Bytes, bool)> {
    let mut body = Vec::new();
    let mut extensions = 0;
    loop {
        let line = read_line(io, buf, MAX_CHUNK_LINE).await?;
        let size = chunk_size(&line)?;
        extensions += line
            .iter()
            .position(|&b| b == b';')
            .map_or(0, |at| line.len() - at);
        if extensions > MAX_CHUNK_EXTENSIONS {
            return Err(invalid(ExtensionsTooLarge));
        }
        if size == 0 {
            break;
        }
        // Over the limit, `limit` bytes are read (so the caller sees more than it takes and
        // answers 413) and the rest is left.
        let room = limit - body.len();
        let take = size.min(room);
        let from_buf = take.min(buf.len());
        body.extend(buf.drain(..from_buf));
        if from_buf < take {
            let start = body.len();
            body.resize(start + take - from_buf, 0);
            io.read_exact(&mut body[start..]).await?;
        }
        if size > room {
            return Ok((Bytes::from(body), false));
        }
        if !read_line(io, buf, 2).await?.is_empty() {
            return Err(invalid("chunk data longer than its size"));
        }
    }
    // Trailer fields, ignored, up to the empty line.
    let mut trailers = 0;
    loop {
        let line = read_line(io, buf, MAX_HEAD).await?;
        if line.is_empty() {
            return Ok((Bytes::from(body), true));
        }
        trailers += line.len() + 2;
        if trailers > MAX_HEAD {
            return Err(invalid("chunked trailers too large"));
        }
    }
}

/// The size of a chunk from its size line (`1a;name=value`).
fn chunk_size(line: &[u8]) -> io::Result<usize> {
    let digits = line
        .split(|&b| b == b';')
        .next()
        .unwrap_or_default()
        .trim_ascii_end();
    if digits.is_empty() || digits.len() > 15 || !digits.iter().all(u8::is_ascii_hexdigit) {
        return Err(invalid("bad chunk size"));
    }
    let digits = std::str::from_utf8(digits).map_err(invalid)?;
    usize::from_str_radix(digits, 16).map_err(invalid)
}

/// One line ending in CRLF (without it), at most `max` bytes long.
async fn read_line<IO: AsyncRead + Unpin>(
    io: &mut IO,
    buf: &mut Vec<u8>,
    max: usize,
) -> io::Result<Vec<u8>> {
    let mut searched = 0;
    loop {
        if let Some(at) = buf[searched..].iter().position(|&b| b == b'\n') {
            let end = searched + at;
            if end == 0 || buf[end - 1] != b'\r' {
                return Err(invalid("bare LF in chunked framing"));
            }
            let line = buf[..end - 1].to_vec();
            buf.drain(..=end);
            return Ok(line);
        }
        searched = buf.len();
        if buf.len() > max + 1 {
            return Err(invalid("line too long in chunked framing"));
        }
        let mut chunk = [0; 4096];
        let read = io.read(&mut chunk).await?;
        if read == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..read]);
    }
}

/// Answers `status` with `text` and `Connection: close`, then [`linger`]s; errors are moot
/// (closing anyway).
async fn refuse<IO: AsyncRead + AsyncWrite + Unpin>(
    io: &mut IO,
    status: StatusCode,
    text: &'static str,
) {
    tracing::debug!(%status, "request refused");
    if write_response(io, plain(status, text), false, false)
        .await
        .is_ok()
    {
        linger(io).await;
    }
}

/// Closes the sending side and reads what the peer still sends (at most [`LINGER_BYTES`],
/// for at most [`LINGER_TIME`]), so that a request left partly unread does not make the
/// kernel reset the connection, which can destroy the answer before the peer reads it.
pub(crate) async fn linger<IO: AsyncRead + AsyncWrite + Unpin>(io: &mut IO) {
    if io.close().await.is_err() {
        return;
    }
    let drain = async {
        let mut chunk = [0; 4096];
        let mut left = LINGER_BYTES;
        while left > 0 {
            match io.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(read) => left = left.saturating_sub(read),
            }
        }
    };
    let timer = async {
        async_io::Timer::after(LINGER_TIME).await;
    };
    future::or(drain, timer).await;
}

/// Writes `response` (no body for `HEAD`), with `Content-Length`, and `Connection:
/// keep-alive` or `close`.
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
    // Said both ways, as Node does: an HTTP/1.0 client assumes close without `keep-alive`.
    if status != StatusCode::SWITCHING_PROTOCOLS {
        out.extend_from_slice(match keep_alive {
            true => b"connection: keep-alive\r\n".as_slice(),
            false => b"connection: close\r\n".as_slice(),
        });
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
        if name != header::CONTENT_LENGTH && name != header::TRANSFER_ENCODING {
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

/// Reads the response to a request without upgrade (`head_request`: to a `HEAD`, so without
/// body): interim `1xx` responses skipped, then the head and a `Content-Length`, chunked or
/// until-close body (at most 256 MiB). The flag: whether the connection may carry another
/// request.
pub(crate) async fn read_response<IO: AsyncRead + Unpin>(
    io: &mut IO,
    head_request: bool,
) -> io::Result<(Response<Bytes>, bool)> {
    let mut buf = Vec::new();
    loop {
        if buf.is_empty() || parse_response(&buf)?.is_none() {
            let mut chunk = [0; 4096];
            let read = io.read(&mut chunk).await?;
            if read == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            buf.extend_from_slice(&chunk[..read]);
        }
        let Some((head, len)) = parse_response(&buf)? else {
            if buf.len() >= MAX_HEAD {
                return Err(invalid("response head too large"));
            }
            continue;
        };
        buf.drain(..len);
        let status = head.status();
        if status.is_informational() && status != StatusCode::SWITCHING_PROTOCOLS {
            continue;
        }
        let headers = head.headers();
        let close = headers
            .get_all(header::CONNECTION)
            .iter()
            .any(|value| value.as_bytes().eq_ignore_ascii_case(b"close"));
        let chunked = headers
            .get_all(header::TRANSFER_ENCODING)
            .iter()
            .any(|value| {
                value
                    .as_bytes()
                    .split(|&b| b == b',')
                    .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"chunked"))
            });
        let length = match headers.get(header::CONTENT_LENGTH) {
            None => None,
            Some(value) => Some(
                value
                    .to_str()
                    .ok()
                    .and_then(|value| value.trim().parse::<usize>().ok())
                    .ok_or_else(|| invalid("bad Content-Length"))?,
            ),
        };
        let bodyless =
            head_request || status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED;
        let (body, reusable) = if bodyless {
            (Vec::new(), buf.is_empty())
        } else if chunked {
            let (body, whole) = read_chunked(io, &mut buf, MAX_RESPONSE_BODY).await?;
            if !whole {
                return Err(invalid("response body too large"));
            }
            (body.to_vec(), buf.is_empty())
        } else if let Some(length) = length {
            if length > MAX_RESPONSE_BODY {
                return Err(invalid("response body too large"));
            }
            let (body, _) = read_length(io, &mut buf, length, length).await?;
            // Bytes past the body mean the connection is out of step: not reused.
            (body.to_vec(), buf.is_empty())
        } else {
            let mut body = std::mem::take(&mut buf);
            (&mut *io)
                .take((MAX_RESPONSE_BODY - body.len().min(MAX_RESPONSE_BODY)) as u64 + 1)
                .read_to_end(&mut body)
                .await?;
            if body.len() > MAX_RESPONSE_BODY {
                return Err(invalid("response body too large"));
            }
            (body, false)
        };
        let (parts, ()) = head.into_parts();
        return Ok((
            Response::from_parts(parts, Bytes::from(body)),
            reusable && !close,
        ));
    }
}

/// A complete response head in `buf` and its length, or `None` if more is needed.
fn parse_response(buf: &[u8]) -> io::Result<Option<(Response<()>, usize)>> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let len = match response.parse(buf).map_err(invalid)? {
        httparse::Status::Complete(len) => len,
        httparse::Status::Partial => return Ok(None),
    };
    let mut builder = Response::builder().status(response.code.unwrap_or(500));
    for h in response.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes()).map_err(invalid)?;
        builder = builder.header(name, HeaderValue::from_bytes(h.value).map_err(invalid)?);
    }
    Ok(Some((builder.body(()).map_err(invalid)?, len)))
}

#[cfg(test)]
mod tests {
    //! The limits with short timeouts, on a loopback pair, under smol and async-std.

    use std::future::Future;

    use async_net::{TcpListener, TcpStream};

    use super::*;

    fn on_both<F: Future<Output = ()>>(test: impl Fn() -> F) {
        smol::block_on(test());
        async_std::task::block_on(test());
    }

    async fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        (client, server)
    }

    fn short() -> Limits {
        Limits {
            headers_timeout: Duration::from_millis(200),
            request_timeout: Duration::from_millis(200),
            keep_alive_timeout: Duration::from_millis(200),
            max_head: MAX_HEAD,
        }
    }

    async fn read_all(stream: &mut TcpStream) -> String {
        let mut out = Vec::new();
        stream.read_to_end(&mut out).await.unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn half_a_head_gets_408_and_the_connection_closes() {
        on_both(|| async {
            let (mut client, mut server) = pair().await;
            client
                .write_all(b"GET /socket.io/?EIO=4 HTTP/1.1\r\nhost: x\r\n")
                .await
                .unwrap();
            let serve = async move {
                let head = read_head_with(&mut server, &mut Vec::new(), &short()).await;
                assert!(matches!(head, Ok(None)));
            };
            let talk = async {
                let answer = read_all(&mut client).await;
                client.close().await.unwrap();
                answer
            };
            let (answer, ()) = future::zip(talk, serve).await;
            assert!(
                answer.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
                "{answer}"
            );
            assert!(answer.contains("connection: close\r\n"), "{answer}");
        });
    }

    #[test]
    fn an_idle_connection_is_closed_without_an_answer() {
        on_both(|| async {
            let (mut client, mut server) = pair().await;
            let mut buf = Vec::new();
            let head = read_head_with(&mut server, &mut buf, &short()).await;
            assert!(matches!(head, Ok(None)));
            drop(server);
            assert_eq!(read_all(&mut client).await, "");
        });
    }

    #[test]
    fn a_body_that_stops_coming_gets_408() {
        on_both(|| async {
            let (mut client, mut server) = pair().await;
            client
                .write_all(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\nabc")
                .await
                .unwrap();
            let serve = async move {
                let mut buf = Vec::new();
                let parts = read_head_with(&mut server, &mut buf, &short())
                    .await
                    .unwrap()
                    .unwrap();
                let body = read_body_with(&mut server, &mut buf, &parts, 100, &short()).await;
                assert_eq!(body.unwrap_err().kind(), io::ErrorKind::TimedOut);
            };
            let talk = async {
                let answer = read_all(&mut client).await;
                client.close().await.unwrap();
                answer
            };
            let (answer, ()) = future::zip(talk, serve).await;
            assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
        });
    }

    #[test]
    fn a_refusal_drains_the_rest_instead_of_resetting() {
        on_both(|| async {
            let (mut client, mut server) = pair().await;
            let serve = async move {
                let mut buf = Vec::new();
                let parts = read_head_with(&mut server, &mut buf, &short())
                    .await
                    .unwrap()
                    .unwrap();
                let body = read_body_with(&mut server, &mut buf, &parts, 100, &short()).await;
                assert_eq!(body.unwrap_err().kind(), io::ErrorKind::InvalidData);
            };
            let talk = async {
                // Both framings (400); the client goes on sending its body after the answer.
                client
                    .write_all(
                        b"POST / HTTP/1.1\r\nhost: x\r\n\
                          transfer-encoding: chunked\r\ncontent-length: 3\r\n\r\n",
                    )
                    .await
                    .unwrap();
                let answer = read_all(&mut client).await;
                // A closed socket would answer these with a reset (EPIPE / ECONNRESET).
                for _ in 0..20 {
                    client.write_all(&[b'x'; 4096]).await.unwrap();
                    async_io::Timer::after(Duration::from_millis(5)).await;
                }
                client.close().await.unwrap();
                answer
            };
            let (answer, ()) = future::zip(talk, serve).await;
            assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
        });
    }

    #[test]
    fn chunk_sizes() {
        assert_eq!(chunk_size(b"1a").unwrap(), 26);
        assert_eq!(chunk_size(b"0").unwrap(), 0);
        assert_eq!(chunk_size(b"A;name=value").unwrap(), 10);
        assert!(chunk_size(b"").is_err());
        assert!(chunk_size(b"-1").is_err());
        assert!(chunk_size(b"0x10").is_err());
        assert!(chunk_size(b"ffffffffffffffffff").is_err());
    }

    #[test]
    fn chunked_responses_are_read_for_the_client() {
        on_both(|| async {
            let (mut client, mut server) = pair().await;
            server
                .write_all(
                    b"HTTP/1.1 100 Continue\r\n\r\n\
                      HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n\
                      3\r\nabc\r\n2;x=y\r\nde\r\n0\r\ntrailer: 1\r\n\r\n",
                )
                .await
                .unwrap();
            let (response, reusable) = read_response(&mut client, false).await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(response.body().as_ref(), b"abcde");
            assert!(reusable);
        });
    }

    #[test]
    fn a_huge_content_length_is_an_error_not_an_allocation() {
        on_both(|| async {
            let (mut client, mut server) = pair().await;
            server
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 99999999999999999\r\n\r\n")
                .await
                .unwrap();
            let error = read_response(&mut client, false).await.unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        });
    }
}
