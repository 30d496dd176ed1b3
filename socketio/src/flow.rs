//! Backpressure: a connection's outgoing bytes and incoming backlog, and the limits that turn a
//! burst into a pause of that connection's reading rather than a disconnection.
//!
//! - Outgoing frames are counted in bytes from the moment they are queued until the writer has
//!   flushed them (WebSocket), or until a GET has taken them (polling).
//! - Incoming events are counted from the moment they are read until their handler starts
//!   (for the Engine.IO-only [`EngineServer`](crate::engine::EngineServer): messages, until
//!   [`EngineSocket::recv`](crate::engine::EngineSocket::recv) takes them).
//! - While the outgoing bytes are above [`Backpressure::high_water`] or the backlog above
//!   [`Backpressure::max_backlog`], the connection's reading pauses: the WebSocket reader stops
//!   reading frames, a polling POST is answered only once the pause ends (the official client
//!   sends its next POST after the answer). An echoing handler thus slows its own client down.
//! - Only a peer whose outgoing queue passes [`Backpressure::limit`], or stays above the high
//!   water mark for [`Backpressure::slow_consumer_timeout`], is a slow consumer: it is
//!   disconnected with `transport error` (recoverable with connection state recovery).
//!   Volatile packets are dropped first: one is not queued while anything waits.

use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::Poll;

use futures_util::task::AtomicWaker;

/// The limits; the policy (when to pause, when a peer is a slow consumer) is the protocol
/// core's.
pub use socketio_protocol::flow::Backpressure;

/// One engine session's incoming side: events read but not started, and the waker of
/// whoever paused reading (the WebSocket reader or a polling POST).
#[derive(Default)]
pub(crate) struct Gate {
    backlog: AtomicUsize,
    closed: AtomicBool,
    waker: AtomicWaker,
}

impl Gate {
    /// An event was read (queued for its handler).
    pub(crate) fn queued(&self) {
        self.backlog.fetch_add(1, Ordering::AcqRel);
    }

    /// An event's handler started.
    pub(crate) fn started(&self) {
        self.backlog.fetch_sub(1, Ordering::AcqRel);
        self.waker.wake();
    }

    /// Events read but not started.
    pub(crate) fn backlog(&self) -> usize {
        self.backlog.load(Ordering::Acquire)
    }

    /// Something the paused party waits for changed (a GET drained the polling buffer).
    pub(crate) fn wake(&self) {
        self.waker.wake();
    }

    /// The session ended: every wait returns.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.waker.wake();
    }

    /// Waits until `ready` holds (evaluated after registering, so no wake is lost) or the
    /// session ended. `extra` registers the waker with another source of wakes too.
    pub(crate) async fn wait(
        &self,
        mut extra: impl FnMut(&std::task::Waker),
        mut ready: impl FnMut(&Gate) -> bool,
    ) {
        poll_fn(|cx| {
            self.waker.register(cx.waker());
            extra(cx.waker());
            if self.closed.load(Ordering::Acquire) || ready(self) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await
    }
}

/// Backpressure over polling, once a request of a session with `gate` has its answer: a GET
/// took the session's buffer, so a POST paused on it may go on; a POST is answered only once
/// the bytes waiting for a GET (`buffered`) and the backlog are below `limits`' marks (the
/// client sends its next POST after the answer, so its sending pauses meanwhile). Shared by
/// both servers.
pub(crate) async fn after_poll(
    limits: Backpressure,
    post: bool,
    gate: &Gate,
    buffered: impl Fn() -> usize,
) {
    if !post {
        gate.wake();
        return;
    }
    if !limits.must_pause(buffered(), gate.backlog()) {
        return;
    }
    gate.wait(|_| {}, |gate| limits.may_resume(buffered(), gate.backlog()))
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt;

    #[test]
    fn a_wait_ends_when_the_backlog_drains_or_the_session_closes() {
        let gate = std::sync::Arc::new(Gate::default());
        for _ in 0..4 {
            gate.queued();
        }
        let waiting = gate.clone();
        let mut wait = Box::pin(async move { waiting.wait(|_| {}, |g| g.backlog() <= 1).await });
        assert!(wait.as_mut().now_or_never().is_none());
        gate.started();
        gate.started();
        assert!(wait.as_mut().now_or_never().is_none());
        gate.started();
        assert!(wait.as_mut().now_or_never().is_some());

        let mut wait = Box::pin(gate.wait(|_| {}, |_| false));
        assert!(wait.as_mut().now_or_never().is_none());
        gate.close();
        assert!(wait.as_mut().now_or_never().is_some());
    }
}
