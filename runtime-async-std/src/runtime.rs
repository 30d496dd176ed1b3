//! [`AsyncIoRuntime`]: the [`socketio::Runtime`] on async-io timers and a chosen executor.

use std::{fmt, future::Future, pin::Pin, sync::Arc, time::Duration};

use socketio::BoxTask;

type Spawner = Arc<dyn Fn(BoxTask) + Send + Sync>;

/// Runs the `socketio` drivers on async-io: timers are [`async_io::Timer`]s, tasks go to the
/// executor given at construction — `smol()` (feature `smol`), `async_std()` (feature
/// `async-std`) or any other through [`new`](Self::new).
#[derive(Clone)]
pub struct AsyncIoRuntime {
    spawner: Spawner,
}

impl fmt::Debug for AsyncIoRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncIoRuntime").finish_non_exhaustive()
    }
}

impl AsyncIoRuntime {
    /// Spawns every task with `spawner` (which must run it to completion in the background).
    pub fn new(spawner: impl Fn(BoxTask) + Send + Sync + 'static) -> Self {
        Self {
            spawner: Arc::new(spawner),
        }
    }

    /// Tasks on smol's global executor (`smol::spawn(task).detach()`).
    #[cfg(feature = "smol")]
    pub fn smol() -> Self {
        Self::new(|task| smol::spawn(task).detach())
    }

    /// Tasks on async-std's executor (`async_std::task::spawn`).
    #[cfg(feature = "async-std")]
    pub fn async_std() -> Self {
        Self::new(|task| drop(async_std::task::spawn(task)))
    }

    /// Spawns `task` on this runtime's executor.
    pub fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        (self.spawner)(Box::pin(task));
    }
}

impl socketio::Runtime for AsyncIoRuntime {
    fn spawn(&self, task: Pin<Box<dyn Future<Output = ()> + Send + 'static>>) {
        (self.spawner)(task);
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        Box::pin(async move {
            async_io::Timer::after(duration).await;
        })
    }
}
