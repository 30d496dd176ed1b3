//! The client's incoming backpressure: events handed to handlers are counted until their
//! handler finishes; while [`Inflow::limit`](Inflow) of them are pending, the transport
//! readers wait (the WebSocket reader reads no frame, no polling GET is sent), so a server that
//! sends faster than the handlers consume fills the TCP buffers instead of the client's memory.

use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};

/// Events whose handlers did not finish, and the readers waiting for room.
pub(crate) struct Inflow {
    pending: AtomicUsize,
    limit: usize,
    closed: AtomicBool,
    waiters: Mutex<Vec<Waker>>,
}

impl Inflow {
    pub(crate) fn new(limit: usize) -> Self {
        Inflow {
            pending: AtomicUsize::new(0),
            limit: limit.max(1),
            closed: AtomicBool::new(false),
            waiters: Mutex::new(Vec::new()),
        }
    }

    /// Counts one event until the returned guard is dropped (its handler finished, or its
    /// task was dropped).
    pub(crate) fn admit(self: &Arc<Self>) -> Pending {
        self.pending.fetch_add(1, Ordering::AcqRel);
        Pending(self.clone())
    }

    /// Events whose handlers did not finish.
    pub(crate) fn pending(&self) -> usize {
        self.pending.load(Ordering::Acquire)
    }

    fn has_room(&self) -> bool {
        self.closed.load(Ordering::Acquire) || self.pending() < self.limit
    }

    /// The client is gone: every wait returns.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.wake_all();
    }

    fn wake_all(&self) {
        let waiters = match self.waiters.lock() {
            Ok(mut waiters) => std::mem::take(&mut *waiters),
            Err(_) => return,
        };
        for waker in waiters {
            waker.wake();
        }
    }

    /// Waits until fewer than the limit of events are pending.
    pub(crate) async fn room(&self) {
        poll_fn(|cx| {
            if self.has_room() {
                return Poll::Ready(());
            }
            if let Ok(mut waiters) = self.waiters.lock()
                && !waiters.iter().any(|w| w.will_wake(cx.waker()))
            {
                waiters.push(cx.waker().clone());
            }
            // Checked again after registering, so a release in between is not lost.
            if self.has_room() {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await
    }
}

/// One pending event; dropping it releases its place.
pub(crate) struct Pending(Arc<Inflow>);

impl Drop for Pending {
    fn drop(&mut self) {
        let before = self.0.pending.fetch_sub(1, Ordering::AcqRel);
        // Crossing below the limit (the count may exceed it: one polling body can carry many
        // events) frees the readers.
        if before == self.0.limit {
            self.0.wake_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt;

    #[test]
    fn readers_wait_while_the_limit_is_pending() {
        let inflow = Arc::new(Inflow::new(2));
        let a = inflow.admit();
        assert!(inflow.room().now_or_never().is_some());
        let b = inflow.admit();
        let mut wait = Box::pin(inflow.room());
        assert!(wait.as_mut().now_or_never().is_none());
        drop(a);
        assert!(wait.as_mut().now_or_never().is_some());
        let c = inflow.admit();
        let mut wait = Box::pin(inflow.room());
        assert!(wait.as_mut().now_or_never().is_none());
        inflow.close();
        assert!(wait.as_mut().now_or_never().is_some());
        drop((b, c));
        assert_eq!(inflow.pending(), 0);
    }
}
