//! HTTP helpers shared by both servers ([`Server`](crate::Server) and
//! [`EngineServer`](crate::engine::EngineServer)) and their plumbing: a request's head for the
//! engine core, its body, the core's answers as `http` responses, and header names.
//!
//! (The public, runtime-neutral HTTP pieces for the runtime crates are in [`crate::http`].)

use bytes::{Bytes, BytesMut};
use futures_channel::oneshot;
use http_body_util::{BodyExt, Full};
use socketio_protocol::Str;
use socketio_protocol::engine::server::{Method, RequestHead, Response};

/// The request's head as the engine core reads it (method, path, query, and the headers it
/// looks at).
pub(crate) fn head_from_parts(parts: &http::request::Parts) -> RequestHead {
    let method = Method::parse(parts.method.as_str());
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().unwrap_or("").to_owned();
    let mut head = RequestHead::new(method, path, query);
    let header = |name: http::header::HeaderName| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| Str::from(v.to_owned()))
    };
    if let Some(origin) = header(http::header::ORIGIN) {
        head = head.with_origin(origin);
    }
    if let Some(content_type) = header(http::header::CONTENT_TYPE) {
        head = head.with_content_type(content_type);
    }
    if let Some(requested) = header(http::header::ACCESS_CONTROL_REQUEST_HEADERS) {
        head = head.with_access_control_request_headers(requested);
    }
    head
}

/// The request's body, read until it ends or reaches `limit` bytes (cut there).
pub(crate) async fn read_body<B>(body: B, limit: usize) -> Result<Bytes, ()>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut body = Box::pin(body);
    let mut out = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| ())?;
        if let Ok(data) = frame.into_data() {
            out.extend_from_slice(&data);
            if out.len() >= limit {
                out.truncate(limit);
                break;
            }
        }
    }
    Ok(out.freeze())
}

/// How reading a POST body the core asked for ended.
pub(crate) enum BodyRead {
    /// The body (cut after `limit + 1` bytes): hand it to the core, then wait for the answer.
    Read(Bytes),
    /// The core answered first (`408` when the body took too long, or the session closed).
    Answered(Result<Response, oneshot::Canceled>),
    /// The body failed (the peer went away).
    Failed,
}

/// Reads a POST body of at most `limit + 1` bytes unless the core's answer comes first (its
/// `request_timeout`): a body that never ends cannot hold the request.
pub(crate) async fn read_body_or_answer<B>(
    body: B,
    limit: usize,
    answer: &mut oneshot::Receiver<Response>,
) -> BodyRead
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let read = std::pin::pin!(read_body(body, limit.saturating_add(1)));
    match futures_util::future::select(read, answer).await {
        futures_util::future::Either::Left((Ok(body), _)) => BodyRead::Read(body),
        futures_util::future::Either::Left((Err(()), _)) => BodyRead::Failed,
        futures_util::future::Either::Right((answer, _)) => BodyRead::Answered(answer),
    }
}

/// The core's answer to a request handed to it, once the body it asked for (`wanted`: its
/// limit) is read and passed on with `feed` (outside any lock). `None`: the peer's body failed.
/// The flag says whether a body was left unread (see [`close_unread`]).
pub(crate) async fn await_answer<B>(
    method: Method,
    body: B,
    wanted: Option<usize>,
    mut answer: oneshot::Receiver<Response>,
    feed: impl FnOnce(Bytes),
) -> Option<(Result<Response, oneshot::Canceled>, bool)>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let Some(limit) = wanted else {
        drop(body);
        return Some((answer.await, method == Method::Post));
    };
    match read_body_or_answer(body, limit, &mut answer).await {
        BodyRead::Read(body) => {
            feed(body);
            Some((answer.await, false))
        }
        BodyRead::Answered(response) => Some((response, true)),
        BodyRead::Failed => None,
    }
}

/// Marks a response to a POST whose body was not read: the connection cannot be reused (the
/// rest of the body would be taken for the next request), so it closes.
pub(crate) fn close_unread(
    mut response: http::Response<Full<Bytes>>,
) -> http::Response<Full<Bytes>> {
    response.headers_mut().insert(
        http::header::CONNECTION,
        http::HeaderValue::from_static("close"),
    );
    response
}

/// A response of the engine core as an `http` response, with `Content-Length`.
pub(crate) fn to_http(response: Response) -> http::Response<Full<Bytes>> {
    let mut builder = http::Response::builder().status(response.status);
    for (name, value) in &response.headers {
        if let Ok(value) = http::HeaderValue::from_str(value) {
            builder = builder.header(*name, value);
        }
    }
    builder
        .header(http::header::CONTENT_LENGTH, response.body.len())
        .body(Full::new(response.body))
        .unwrap_or_else(|_| plain(500, ""))
}

/// An answer with `status`, `body` and `Content-Length` (no content type).
pub(crate) fn plain(status: u16, body: &'static str) -> http::Response<Full<Bytes>> {
    let mut response = http::Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = http::StatusCode::from_u16(status).unwrap_or_default();
    response.headers_mut().insert(
        http::header::CONTENT_LENGTH,
        http::HeaderValue::from(body.len()),
    );
    response
}

/// A lower-case static header name for `HeaderName::from_static`.
pub(crate) fn static_lower(name: &'static str) -> Option<&'static str> {
    const NAMES: [&str; 6] = [
        "access-control-allow-origin",
        "access-control-allow-credentials",
        "access-control-expose-headers",
        "vary",
        "set-cookie",
        "access-control-allow-headers",
    ];
    NAMES.into_iter().find(|n| n.eq_ignore_ascii_case(name))
}

/// The session the request names (`sid` in its query).
pub(crate) fn session_of(parts: &http::request::Parts) -> Option<&str> {
    parts
        .uri
        .query()?
        .split('&')
        .find_map(|pair| pair.strip_prefix("sid="))
}
