//! The runtime abstraction: how the async layer spawns tasks, sleeps and reads the clock.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// A boxed, sendable future with no output, as [`Runtime::spawn`] takes it.
pub type BoxTask = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// What the server needs from an async runtime: spawn a task, sleep, read the clock.
///
/// Held as `Arc<dyn Runtime>`, so no runtime type parameter reaches the public types. The
/// runtime crates (`socketio-tokio`, `socketio-async-std`) provide implementations; tests can
/// use any executor.
///
/// ```
/// use std::future::Future;
/// use std::pin::Pin;
/// use std::time::Duration;
///
/// /// A runtime on a `futures` thread pool with `futures-timer` timers.
/// struct PoolRuntime(futures_executor::ThreadPool);
///
/// impl socketio::Runtime for PoolRuntime {
///     fn spawn(&self, task: Pin<Box<dyn Future<Output = ()> + Send + 'static>>) {
///         self.0.spawn_ok(task);
///     }
///     fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
///         Box::pin(futures_timer::Delay::new(duration))
///     }
/// }
/// ```
pub trait Runtime: Send + Sync + 'static {
    /// Runs `task` to completion in the background.
    fn spawn(&self, task: Pin<Box<dyn Future<Output = ()> + Send + 'static>>);

    /// A future that completes after `duration`; dropping it cancels the timer.
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

    /// The current instant (the runtime's clock, `std::time::Instant::now()` by default).
    fn now(&self) -> std::time::Instant {
        std::time::Instant::now()
    }
}
