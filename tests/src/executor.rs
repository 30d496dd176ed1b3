//! The three executors the integration and interop suites run on: tokio (socketio-tokio),
//! async-std and smol (both socketio-async-std, on async-io). One test body, written once as
//! `async fn name(exec: Executor)`, runs on each through [`executor_tests!`](crate::executor_tests),
//! which makes `tokio::name`, `async_std::name` and `smol::name` tests.
//!
//! Everything a test needs from its executor goes through [`Executor`], runtime-neutrally:
//! [`block_on`](Executor::block_on), the [`runtime`](Executor::runtime) for a
//! [`Server`] or a [`Client`](socketio_tokio::Client), the client [`connector`](Executor::connector),
//! [`serve`](Executor::serve) (the runtime crate's `HttpServer` on loopback;
//! [`serve_client`](Executor::serve_client) with a [`ClientBundle`] of files too),
//! [`sleep`](Executor::sleep) and [`timeout`](Executor::timeout) on the executor's own timers, and
//! [`unblock`](Executor::unblock) for blocking work (a Node process) off the async threads.
//!
//! ```ignore
//! use socketio_tests::executor::Executor;
//! socketio_tests::executor_tests! {
//!     /// The server answers.
//!     async fn answers(exec: Executor) {
//!         let served = exec.serve(exec.server(Server::builder())).await;
//!         // …
//!     }
//! }
//! ```

use std::fmt;
use std::future::Future;
use std::io;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::{AbortHandle, Abortable};
use smol::channel;
use socketio_tokio::client::Connector;
use socketio_tokio::{ClientBundle, Runtime, Server, ServerBuilder};

/// One of the executors the suites run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Executor {
    /// tokio (multi-threaded, 2 workers per test), with socketio-tokio.
    Tokio,
    /// async-std's executor, with socketio-async-std.
    AsyncStd,
    /// smol's global executor, with socketio-async-std.
    Smol,
}

/// A [`Executor::timeout`] that ran out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Elapsed;

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline elapsed")
    }
}

impl std::error::Error for Elapsed {}

impl fmt::Display for Executor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Executor {
    /// Every executor, in the order the suites name them.
    pub const ALL: [Executor; 3] = [Executor::Tokio, Executor::AsyncStd, Executor::Smol];

    /// `tokio`, `async-std` or `smol`.
    pub fn name(self) -> &'static str {
        match self {
            Executor::Tokio => "tokio",
            Executor::AsyncStd => "async-std",
            Executor::Smol => "smol",
        }
    }

    /// Runs `future` to completion on this executor, from a plain (test) thread. With tokio, a
    /// fresh multi-threaded runtime (2 workers) that is dropped afterwards, with its tasks; with
    /// async-std and smol, their global executors, whose tasks outlive the call.
    pub fn block_on<F: Future>(self, future: F) -> F::Output {
        match self {
            Executor::Tokio => ::tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a tokio runtime")
                .block_on(future),
            Executor::AsyncStd => ::async_std::task::block_on(future),
            Executor::Smol => ::smol::block_on(future),
        }
    }

    /// Runs one test body: `test(self)` to completion on this executor.
    pub fn run<F, Fut>(self, test: F)
    where
        F: FnOnce(Executor) -> Fut,
        Fut: Future<Output = ()>,
    {
        self.block_on(test(self));
    }

    /// The [`Runtime`] of this executor's runtime crate. With tokio, call it inside
    /// [`block_on`](Self::block_on) (it binds to the current tokio runtime).
    pub fn runtime(self) -> Arc<dyn Runtime> {
        match self {
            Executor::Tokio => Arc::new(socketio_tokio::TokioRuntime::new()),
            Executor::AsyncStd => Arc::new(socketio_async_std::AsyncIoRuntime::async_std()),
            Executor::Smol => Arc::new(socketio_async_std::AsyncIoRuntime::smol()),
        }
    }

    /// `builder` built on this executor's [`runtime`](Self::runtime).
    pub fn server(self, builder: ServerBuilder) -> Server {
        builder.build(self.runtime())
    }

    /// The client connector of this executor's runtime crate (`TokioConnector` or
    /// `AsyncIoConnector`), with the default roots.
    pub fn connector(self) -> Arc<dyn Connector> {
        match self {
            Executor::Tokio => Arc::new(socketio_tokio::TokioConnector::new()),
            Executor::AsyncStd | Executor::Smol => {
                Arc::new(socketio_async_std::AsyncIoConnector::new())
            }
        }
    }

    /// The client connector that also trusts the certificate `der` (a test CA).
    pub fn connector_trusting(self, der: Vec<u8>) -> Arc<dyn Connector> {
        match self {
            Executor::Tokio => Arc::new(
                socketio_tokio::TokioConnector::builder()
                    .add_root_certificate(der)
                    .expect("a root certificate")
                    .build(),
            ),
            Executor::AsyncStd | Executor::Smol => Arc::new(
                socketio_async_std::AsyncIoConnector::builder()
                    .add_root_certificate(der)
                    .expect("a root certificate")
                    .build(),
            ),
        }
    }

    /// Spawns `task` on this executor (through its [`Runtime`]), detached.
    pub fn spawn(self, task: impl Future<Output = ()> + Send + 'static) {
        self.runtime().spawn(Box::pin(task));
    }

    /// Serves `io` on `127.0.0.1:0` with this executor's runtime crate (`HttpServer` of
    /// socketio-tokio or of socketio-async-std) in a background task.
    pub async fn serve(self, io: Server) -> Served {
        self.serve_with(io, None, None).await
    }

    /// [`serve`](Self::serve), also answering Prometheus scrapes of `metrics` at `path` on
    /// the same listener (the HTTP server's `metrics`).
    pub async fn serve_metrics(
        self,
        io: Server,
        path: &str,
        metrics: &socketio_tokio::metrics::Metrics,
    ) -> Served {
        self.serve_with(io, None, Some((path.to_owned(), metrics.clone())))
            .await
    }

    /// [`serve`](Self::serve), also serving the files of `bundle` (the HTTP server's
    /// `serve_client`: a client bundle, a page).
    pub async fn serve_client(self, io: Server, bundle: ClientBundle) -> Served {
        self.serve_with(io, Some(bundle), None).await
    }

    async fn serve_with(
        self,
        io: Server,
        bundle: Option<ClientBundle>,
        metrics: Option<(String, socketio_tokio::metrics::Metrics)>,
    ) -> Served {
        let listener = StdListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let (stop, stopped) = channel::bounded::<()>(1);
        let signal = async move {
            let _ = stopped.recv().await;
        };
        let (done_tx, done) = channel::bounded(1);
        let (abort, registration) = AbortHandle::new_pair();
        let serving: std::pin::Pin<Box<dyn Future<Output = io::Result<()>> + Send>> = match self {
            Executor::Tokio => {
                let listener =
                    ::tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
                let mut http = socketio_tokio::HttpServer::new(io);
                if let Some(bundle) = bundle {
                    http = http.serve_client(bundle);
                }
                if let Some((path, metrics)) = &metrics {
                    http = http.metrics(path.as_str(), metrics);
                }
                Box::pin(http.serve_with_shutdown(listener, signal))
            }
            Executor::AsyncStd | Executor::Smol => {
                let listener =
                    smol::net::TcpListener::try_from(listener).expect("an async-net listener");
                let mut http = socketio_async_std::HttpServer::new(io);
                if let Some(bundle) = bundle {
                    http = http.serve_client(bundle);
                }
                if let Some((path, metrics)) = &metrics {
                    http = http.metrics(path.as_str(), metrics);
                }
                Box::pin(http.serve_with_shutdown(listener, signal))
            }
        };
        self.spawn(async move {
            let result = Abortable::new(serving, registration)
                .await
                .unwrap_or(Ok(()));
            let _ = done_tx.try_send(result);
        });
        Served {
            addr,
            stop: Some(stop),
            done,
            abort,
            exec: self,
        }
    }

    /// Waits `duration` on this executor's timers (tokio's, or async-io's for async-std and
    /// smol).
    pub async fn sleep(self, duration: Duration) {
        match self {
            Executor::Tokio => ::tokio::time::sleep(duration).await,
            Executor::AsyncStd | Executor::Smol => {
                smol::Timer::after(duration).await;
            }
        }
    }

    /// `future`'s output, or [`Elapsed`] if it does not complete within `duration`.
    pub async fn timeout<F: Future>(
        self,
        duration: Duration,
        future: F,
    ) -> Result<F::Output, Elapsed> {
        smol::future::or(async { Ok(future.await) }, async {
            self.sleep(duration).await;
            Err(Elapsed)
        })
        .await
    }

    /// Runs blocking `work` (a Node process, a blocking wait) on a thread of its own, so this
    /// executor's threads stay free; works on every executor. A panic in `work` is resumed
    /// here, so a failed assertion in it fails the test with its own message.
    pub async fn unblock<T: Send + 'static>(self, work: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = channel::bounded(1);
        std::thread::spawn(move || {
            let _ = tx.try_send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)));
        });
        match rx.recv().await {
            Ok(Ok(value)) => value,
            Ok(Err(panic)) => std::panic::resume_unwind(panic),
            Err(_) => unreachable!("the worker thread always sends its outcome"),
        }
    }
}

/// A server started by [`Executor::serve`]: its address, and a handle that stops it. Dropping it
/// aborts the accept loop (open connections end on their own).
pub struct Served {
    /// Where it listens (`127.0.0.1:<port>`).
    pub addr: SocketAddr,
    stop: Option<channel::Sender<()>>,
    done: channel::Receiver<io::Result<()>>,
    abort: AbortHandle,
    exec: Executor,
}

impl Served {
    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Shuts the server down gracefully (`serve_with_shutdown`'s signal: every client gets
    /// `server shutting down`), waits for it up to `wait`, then aborts what is left.
    pub async fn stop(mut self, wait: Duration) {
        drop(self.stop.take());
        let _ = self.exec.timeout(wait, self.done.recv()).await;
        self.abort.abort();
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.abort.abort();
    }
}

impl fmt::Debug for Served {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Served")
            .field("addr", &self.addr)
            .field("exec", &self.exec)
            .finish_non_exhaustive()
    }
}

/// Turns async test functions `async fn name(exec: Executor) { … }` into one `#[test]` per
/// executor: `tokio::name`, `async_std::name` and `smol::name`, each running the same body
/// with [`Executor::run`]. Use it once per test file (it defines the three modules).
#[macro_export]
macro_rules! executor_tests {
    ($(
        $(#[$meta:meta])*
        async fn $name:ident($exec:ident : $ty:ty) $body:block
    )*) => {
        $(
            $(#[$meta])*
            async fn $name($exec: $ty) $body
        )*
        $crate::executor_tests!(@mod tokio, Tokio; $($name)*);
        $crate::executor_tests!(@mod async_std, AsyncStd; $($name)*);
        $crate::executor_tests!(@mod smol, Smol; $($name)*);
    };
    (@mod $module:ident, $variant:ident; $($name:ident)*) => {
        /// The suite on this executor.
        mod $module {
            $(
                #[test]
                fn $name() {
                    $crate::executor::Executor::$variant.run(super::$name);
                }
            )*
        }
    };
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpStream;

    use super::*;

    crate::executor_tests! {
        /// `timeout` gives the output of a ready future and `Elapsed` for a pending one.
        async fn timeout_and_sleep(exec: Executor) {
            assert_eq!(exec.timeout(Duration::from_secs(5), async { 7 }).await, Ok(7));
            let pending = std::future::pending::<()>();
            assert_eq!(exec.timeout(Duration::from_millis(50), pending).await, Err(Elapsed));
        }

        /// `unblock` returns the work's value and resumes its panic with the same payload.
        async fn unblock_returns_and_resumes_panics(exec: Executor) {
            assert_eq!(exec.unblock(|| 40 + 2).await, 42);
            let caught = ::smol::future::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(
                exec.unblock(|| panic!("from the worker")),
            ))
            .await;
            let payload = caught.expect_err("the panic comes back");
            assert_eq!(payload.downcast_ref::<&str>(), Some(&"from the worker"));
        }

        /// `serve` accepts connections until `stop`, then refuses them.
        async fn serve_until_stopped(exec: Executor) {
            let served = exec.serve(exec.server(Server::builder())).await;
            let addr = served.addr;
            assert!(exec.unblock(move || TcpStream::connect(addr)).await.is_ok());
            served.stop(Duration::from_secs(5)).await;
            assert!(exec.unblock(move || TcpStream::connect(addr)).await.is_err());
        }

        /// `serve_client` serves the bundle's files (a page at `/`) next to Socket.IO.
        async fn serve_client_serves_files(exec: Executor) {
            let page = ClientBundle::from_bytes("index.html", "<p>hi</p>")
                .at("/")
                .index("index.html");
            let served = exec.serve_client(exec.server(Server::builder()), page).await;
            let addr = served.addr;
            let get = |path: &'static str| {
                exec.unblock(move || {
                    let mut stream = TcpStream::connect(addr).expect("connect");
                    let request =
                        format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
                    stream.write_all(request.as_bytes()).expect("write");
                    let mut reply = String::new();
                    stream.read_to_string(&mut reply).expect("read");
                    reply.to_ascii_lowercase()
                })
            };
            let page = get("/").await;
            assert!(page.starts_with("http/1.1 200"), "{page}");
            assert!(page.contains("content-type: text/html; charset=utf-8"), "{page}");
            assert!(page.ends_with("<p>hi</p>"), "{page}");
            let handshake = get("/socket.io/?EIO=4&transport=polling").await;
            assert!(handshake.contains("\"sid\""), "{handshake}");
            served.stop(Duration::from_secs(5)).await;
        }
    }
}
