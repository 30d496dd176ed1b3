//! The standalone server: a tokio `TcpListener`, hyper's HTTP/1.1 connections with upgrades,
//! and a graceful shutdown.

use std::{future::Future, io, net::SocketAddr, pin::pin, time::Duration};

use hyper::{body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::{TcpListener, TcpStream, ToSocketAddrs},
    sync::watch,
};
use tracing::Instrument;

use crate::{Endpoint, HttpServer};

pub use socketio::http::SHUTDOWN_GRACE;

impl<E: Endpoint> HttpServer<E> {
    /// Binds `addr` and serves until the process ends (see [`serve`](Self::serve)).
    pub async fn listen(self, addr: impl ToSocketAddrs) -> io::Result<()> {
        self.serve(TcpListener::bind(addr).await?).await
    }

    /// Binds `addr` and serves until `signal` completes, then shuts down gracefully (see
    /// [`serve_with_shutdown`](Self::serve_with_shutdown)).
    pub async fn listen_with_shutdown(
        self,
        addr: impl ToSocketAddrs,
        signal: impl Future<Output = ()> + Send,
    ) -> io::Result<()> {
        let listener = TcpListener::bind(addr).await?;
        self.serve_with_shutdown(listener, signal).await
    }

    /// Serves every connection accepted on `listener`, until the process ends.
    pub async fn serve(self, listener: TcpListener) -> io::Result<()> {
        self.serve_with_shutdown(listener, std::future::pending())
            .await
    }

    /// Serves connections accepted on `listener` until `signal` completes; then stops accepting,
    /// shuts the Socket.IO server down (every client gets `server shutting down`), asks the open
    /// HTTP connections to close once their request is answered, and waits for them (at most
    /// [`SHUTDOWN_GRACE`]).
    pub async fn serve_with_shutdown(
        self,
        listener: TcpListener,
        signal: impl Future<Output = ()> + Send,
    ) -> io::Result<()> {
        let local = listener.local_addr()?;
        tracing::info!(%local, "socket.io listening");
        let (stop, stopped) = watch::channel(false);
        let mut signal = pin!(signal);
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, remote)) => {
                        let span = tracing::info_span!("http", %remote);
                        tokio::spawn(
                            serve_connection(self.clone(), stream, remote, stopped.clone()).instrument(span),
                        );
                    }
                    Err(error) => {
                        // EMFILE and friends: back off instead of spinning.
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                () = &mut signal => break,
            }
        }
        tracing::info!(%local, "socket.io shutting down");
        // Keep accepting while the sessions close: a polling client may need one more request,
        // on a new connection, to receive its close packet (as with the reference server).
        let io = self.io().clone();
        let mut shutdown = pin!(io.shutdown());
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                accepted = listener.accept() => {
                    if let Ok((stream, remote)) = accepted {
                        let span = tracing::info_span!("http", %remote);
                        tokio::spawn(
                            serve_connection(self.clone(), stream, remote, stopped.clone()).instrument(span),
                        );
                    }
                }
            }
        }
        drop(listener);
        drop(stopped);
        let _ = stop.send(true);
        if tokio::time::timeout(SHUTDOWN_GRACE, stop.closed())
            .await
            .is_err()
        {
            tracing::warn!("HTTP connections still open after the shutdown grace period");
        }
        Ok(())
    }
}

impl<E: Endpoint> HttpServer<E> {
    /// Serves one already accepted connection (a TLS stream, a Unix socket, …) until it
    /// closes: HTTP/1.1 with upgrades, `remote` as the handshake address.
    pub async fn serve_connection<IO>(self, io: IO, remote: Option<SocketAddr>)
    where
        IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        serve_io(self, io, remote, std::future::pending()).await;
    }
}

/// One TCP connection from the accept loop.
async fn serve_connection<E: Endpoint>(
    http: HttpServer<E>,
    stream: TcpStream,
    remote: SocketAddr,
    mut stopped: watch::Receiver<bool>,
) {
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%error, "TCP_NODELAY");
    }
    let stop = async move { drop(stopped.wait_for(|stop| *stop).await) };
    serve_io(http, stream, Some(remote), stop).await;
}

/// HTTP/1.1 with upgrades on `io`; once `stop` completes, finish the request in flight and
/// close.
async fn serve_io<E: Endpoint, IO>(
    http: HttpServer<E>,
    io: IO,
    remote: Option<SocketAddr>,
    stop: impl Future<Output = ()>,
) where
    IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let headers_timeout = http.headers_timeout_value();
    let service = service_fn(move |request: hyper::Request<Incoming>| {
        let http = http.clone();
        async move { Ok::<_, std::convert::Infallible>(http.handle(request, remote).await) }
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(headers_timeout)
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    let mut connection = pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = stop => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%error, "connection ended with an error");
    }
}
