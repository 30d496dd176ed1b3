//! [`TokioRuntime`]: the [`socketio::Runtime`] for tokio (tasks and timers).

use std::{future::Future, pin::Pin, time::Duration};

use tokio::runtime::Handle;

/// Runs the `socketio` drivers on tokio: `spawn` is `tokio::spawn`, `sleep` is `tokio::time::sleep`.
///
/// It keeps the [`Handle`] of the runtime it was made in (when there is one), so tasks spawned
/// from a thread outside the runtime still land on it.
#[derive(Clone, Debug, Default)]
pub struct TokioRuntime {
    handle: Option<Handle>,
}

impl TokioRuntime {
    /// A runtime bound to the current tokio runtime if called inside one, else to whichever
    /// runtime is current when a task is spawned.
    pub fn new() -> Self {
        Self {
            handle: Handle::try_current().ok(),
        }
    }

    /// A runtime that spawns every task on `handle`.
    pub fn from_handle(handle: Handle) -> Self {
        Self {
            handle: Some(handle),
        }
    }
}

impl socketio::Runtime for TokioRuntime {
    fn spawn(&self, task: Pin<Box<dyn Future<Output = ()> + Send + 'static>>) {
        match &self.handle {
            Some(handle) => drop(handle.spawn(task)),
            None => drop(tokio::spawn(task)),
        }
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        Box::pin(tokio::time::sleep(duration))
    }
}
