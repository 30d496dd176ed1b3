//! tower: [`SocketIoLayer`] mounts the Socket.IO server in front of any HTTP service (an axum
//! `Router`, for one); [`SocketIoService`] is the layered service.

use std::{
    convert::Infallible,
    future::Future,
    net::SocketAddr,
    pin::Pin,
    task::{Context, Poll},
};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{Either, Full};
use tower_layer::Layer;
use tower_service::Service;

use crate::{BoxError, Endpoint, HttpServer, Server, glue::Route, http::plain};

/// The peer address of a request, read by [`SocketIoService`] from the request extensions.
///
/// Without it the handshake has no address. Put it there with a small middleware; with the
/// `axum` feature, axum's `ConnectInfo<SocketAddr>` (from
/// `into_make_service_with_connect_info::<SocketAddr>()`) is read as well.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RemoteAddr(pub SocketAddr);

/// A tower [`Layer`] that answers the Socket.IO path (and the client bundle, when configured)
/// and passes every other request to the wrapped service.
///
/// With axum: `Router::new().route(…).layer(io.layer())`.
#[derive(Clone, Debug)]
pub struct SocketIoLayer<E = Server> {
    http: HttpServer<E>,
}

impl<E: Endpoint> SocketIoLayer<E> {
    /// The layer for `http`.
    pub fn new(http: HttpServer<E>) -> Self {
        Self { http }
    }
}

impl<S, E: Endpoint> Layer<S> for SocketIoLayer<E> {
    type Service = SocketIoService<S, E>;

    fn layer(&self, inner: S) -> Self::Service {
        SocketIoService {
            http: self.http.clone(),
            inner,
        }
    }
}

/// The service made by [`SocketIoLayer`]: Socket.IO requests are answered here, the others go
/// to `S`. The response body is `Either<Full<Bytes>, S's body>` (left: ours).
#[derive(Clone, Debug)]
pub struct SocketIoService<S = NotFound, E = Server> {
    http: HttpServer<E>,
    inner: S,
}

impl<E: Endpoint> SocketIoService<NotFound, E> {
    /// A service that answers Socket.IO and `404` for every other path.
    pub fn new(http: HttpServer<E>) -> Self {
        Self {
            http,
            inner: NotFound,
        }
    }
}

impl<S, E, ReqBody, ResBody> Service<Request<ReqBody>> for SocketIoService<S, E>
where
    E: Endpoint,
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: http_body::Body<Data = Bytes> + Send + 'static,
    ReqBody::Error: Into<BoxError>,
{
    type Response = Response<Either<Full<Bytes>, ResBody>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send + 'static>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        if let Some(response) = self.http.metrics_response(&request) {
            return Box::pin(async move { Ok(response.map(Either::Left)) });
        }
        match self.http.route(&request) {
            Route::Other => {
                let future = self.inner.call(request);
                Box::pin(async move { Ok(future.await?.map(Either::Right)) })
            }
            Route::Bundle => {
                let response = self.http.serve_bundle(request);
                Box::pin(async move { Ok(response.map(Either::Left)) })
            }
            Route::SocketIo => {
                let http = self.http.clone();
                let remote = remote_addr(request.extensions());
                Box::pin(
                    async move { Ok(http.serve_socketio(request, remote).await.map(Either::Left)) },
                )
            }
        }
    }
}

/// The peer address from the request extensions: [`RemoteAddr`], or axum's
/// `ConnectInfo<SocketAddr>` with the `axum` feature.
fn remote_addr(extensions: &http::Extensions) -> Option<SocketAddr> {
    if let Some(RemoteAddr(addr)) = extensions.get::<RemoteAddr>() {
        return Some(*addr);
    }
    #[cfg(feature = "axum")]
    if let Some(axum::extract::ConnectInfo(addr)) =
        extensions.get::<axum::extract::ConnectInfo<SocketAddr>>()
    {
        return Some(*addr);
    }
    None
}

/// A service answering `404 Not Found` to everything: the default inner service of
/// [`SocketIoService::new`].
#[derive(Clone, Copy, Debug, Default)]
pub struct NotFound;

impl<B> Service<Request<B>> for NotFound {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _request: Request<B>) -> Self::Future {
        std::future::ready(Ok(plain(StatusCode::NOT_FOUND, "Not Found")))
    }
}
