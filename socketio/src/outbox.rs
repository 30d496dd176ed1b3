//! A connection's outgoing queue: many producers (the server state, under its lock), one
//! consumer (the connection's writer task).
//!
//! Cheaper than a channel for fan-out: a push is a short uncontended lock and a `VecDeque`
//! push (an allocation per batch, not per item), and it wakes the writer only when the queue
//! goes from empty to non-empty; the writer takes everything queued at once and writes it as
//! one batch.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::Poll;

use futures_util::task::AtomicWaker;

struct Shared<T> {
    state: Mutex<State<T>>,
    /// Bytes pushed and not yet reported written by the writer ([`OutboxReceiver::written`]):
    /// the queue plus the batch being written.
    bytes: AtomicUsize,
    waker: AtomicWaker,
    /// Woken when bytes are reported written (a reader paused by backpressure).
    drained: AtomicWaker,
}

struct State<T> {
    items: VecDeque<T>,
    /// The sender or the receiver is gone.
    closed: bool,
}

/// The producing side; dropping it ends the receiver once the queue is drained.
pub(crate) struct OutboxSender<T>(Arc<Shared<T>>);

/// The consuming side (the writer task).
pub(crate) struct OutboxReceiver<T>(Arc<Shared<T>>);

/// A new, empty queue.
pub(crate) fn outbox<T>() -> (OutboxSender<T>, OutboxReceiver<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            items: VecDeque::new(),
            closed: false,
        }),
        bytes: AtomicUsize::new(0),
        waker: AtomicWaker::new(),
        drained: AtomicWaker::new(),
    });
    (OutboxSender(shared.clone()), OutboxReceiver(shared))
}

impl<T> Shared<T> {
    fn lock(&self) -> std::sync::MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<T> OutboxSender<T> {
    /// Queues `item` of `bytes` bytes; gives it back if the receiver is gone.
    pub(crate) fn push(&self, item: T, bytes: usize) -> Result<(), T> {
        let was_empty = {
            let mut state = self.0.lock();
            if state.closed {
                return Err(item);
            }
            self.0.bytes.fetch_add(bytes, Ordering::AcqRel);
            let was_empty = state.items.is_empty();
            state.items.push_back(item);
            was_empty
        };
        if was_empty {
            self.0.waker.wake();
        }
        Ok(())
    }

    /// Bytes pushed and not yet written.
    pub(crate) fn bytes(&self) -> usize {
        self.0.bytes.load(Ordering::Acquire)
    }
}

impl<T> Drop for OutboxSender<T> {
    fn drop(&mut self) {
        self.0.lock().closed = true;
        self.0.waker.wake();
    }
}

impl<T> OutboxReceiver<T> {
    /// Waits until something is queued and moves all of it into `batch` (which should be
    /// empty; its allocation is reused). Returns `false` once the sender is gone and nothing
    /// is left.
    pub(crate) async fn take_all(&mut self, batch: &mut VecDeque<T>) -> bool {
        poll_fn(|cx| {
            if self.try_take_all(batch) {
                return Poll::Ready(true);
            }
            self.0.waker.register(cx.waker());
            // A push between the check and the registration would otherwise be missed.
            if self.try_take_all(batch) {
                return Poll::Ready(true);
            }
            if self.0.lock().closed {
                return Poll::Ready(false);
            }
            Poll::Pending
        })
        .await
    }

    /// The writer wrote (flushed) `bytes` of what it took.
    pub(crate) fn written(&self, bytes: usize) {
        self.0.bytes.fetch_sub(bytes, Ordering::AcqRel);
        self.0.drained.wake();
    }

    /// A view of the byte count for another task.
    pub(crate) fn probe(&self) -> OutboxProbe<T> {
        OutboxProbe(self.0.clone())
    }

    fn try_take_all(&self, batch: &mut VecDeque<T>) -> bool {
        let mut state = self.0.lock();
        if state.items.is_empty() {
            return false;
        }
        std::mem::swap(&mut state.items, batch);
        true
    }
}

impl<T> Drop for OutboxReceiver<T> {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.closed = true;
        state.items.clear();
        self.0.bytes.store(0, Ordering::Release);
        self.0.drained.wake();
    }
}

/// A read-only view of a queue's byte count, for the reader that pauses on it.
pub(crate) struct OutboxProbe<T>(Arc<Shared<T>>);

impl<T> OutboxProbe<T> {
    /// Bytes pushed and not yet written.
    pub(crate) fn bytes(&self) -> usize {
        self.0.bytes.load(Ordering::Acquire)
    }

    /// Registers `waker` to be woken when bytes are reported written.
    pub(crate) fn register_drained(&self, waker: &std::task::Waker) {
        self.0.drained.register(waker);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt;
    use std::future::Future;

    #[test]
    fn takes_everything_queued_in_order_as_one_batch() {
        let (tx, mut rx) = outbox();
        for i in 0..5 {
            tx.push(i, 1).unwrap();
        }
        assert_eq!(tx.bytes(), 5);
        let mut batch = VecDeque::new();
        assert_eq!(rx.take_all(&mut batch).now_or_never(), Some(true));
        assert_eq!(batch, [0, 1, 2, 3, 4]);
        batch.clear();
        // Nothing left queued: pending.
        assert_eq!(rx.take_all(&mut batch).now_or_never(), None);
    }

    #[test]
    fn a_push_wakes_a_waiting_writer() {
        let (tx, mut rx) = outbox();
        let waker = futures_util::task::noop_waker();
        let mut batch = VecDeque::new();
        {
            let mut take = std::pin::pin!(rx.take_all(&mut batch));
            let mut cx = std::task::Context::from_waker(&waker);
            assert!(take.as_mut().poll(&mut cx).is_pending());
            tx.push("a", 1).unwrap();
            assert_eq!(take.as_mut().poll(&mut cx), Poll::Ready(true));
        }
        assert_eq!(batch, ["a"]);
    }

    #[test]
    fn the_writer_ends_after_the_sender_is_dropped_and_the_queue_drained() {
        let (tx, mut rx) = outbox();
        tx.push(1, 1).unwrap();
        drop(tx);
        let mut batch = VecDeque::new();
        assert_eq!(rx.take_all(&mut batch).now_or_never(), Some(true));
        batch.clear();
        assert_eq!(rx.take_all(&mut batch).now_or_never(), Some(false));
    }

    #[test]
    fn bytes_count_from_the_push_until_reported_written() {
        let (tx, mut rx) = outbox();
        tx.push("abc", 3).unwrap();
        tx.push("de", 2).unwrap();
        let mut batch = VecDeque::new();
        assert_eq!(rx.take_all(&mut batch).now_or_never(), Some(true));
        // Taken but not written yet: still counted.
        assert_eq!(tx.bytes(), 5);
        rx.written(5);
        assert_eq!(tx.bytes(), 0);
    }

    #[test]
    fn a_push_after_the_writer_is_gone_gives_the_item_back() {
        let (tx, rx) = outbox();
        drop(rx);
        assert_eq!(tx.push(7, 1), Err(7));
        assert_eq!(tx.bytes(), 0);
    }
}
