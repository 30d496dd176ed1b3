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
use std::time::Duration;

use futures_util::task::AtomicWaker;

/// The backpressure limits of a server's connections (see the [module docs](self)). The
/// reference has no bound at all; these defaults let a burst of any size through at the
/// speed the client reads, and bound what a client that never reads can cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backpressure {
    /// Outgoing bytes above which the connection's reading pauses (1 MiB); it resumes at
    /// half of it.
    pub high_water: usize,
    /// Outgoing bytes beyond which the peer is a slow consumer (16 MiB). A single frame
    /// larger than this still goes out when nothing else waits.
    pub limit: usize,
    /// How long the outgoing bytes may stay above `high_water` before the peer is a slow
    /// consumer (30 s).
    pub slow_consumer_timeout: Duration,
    /// Incoming events read but not yet started by their handlers above which the
    /// connection's reading pauses (256); it resumes at half of it. For an
    /// [`EngineServer`](crate::engine::EngineServer), messages not yet taken by
    /// [`EngineSocket::recv`](crate::engine::EngineSocket::recv), unless
    /// [`EngineBuilder::incoming_queue`](crate::engine::EngineBuilder::incoming_queue) sets
    /// another mark.
    pub max_backlog: usize,
}

impl Default for Backpressure {
    fn default() -> Self {
        Backpressure {
            high_water: 1 << 20,
            limit: 16 << 20,
            slow_consumer_timeout: Duration::from_secs(30),
            max_backlog: 256,
        }
    }
}

impl Backpressure {
    /// Whether reading must pause with `queued` outgoing bytes and `backlog` events pending.
    pub(crate) fn must_pause(&self, queued: usize, backlog: usize) -> bool {
        queued > self.high_water || backlog > self.max_backlog
    }

    /// Whether a paused reading may resume.
    pub(crate) fn may_resume(&self, queued: usize, backlog: usize) -> bool {
        queued <= self.high_water / 2 && backlog <= self.max_backlog / 2
    }
}

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
    fn pauses_above_the_marks_and_resumes_at_half() {
        let limits = Backpressure::default();
        assert!(!limits.must_pause(limits.high_water, 0));
        assert!(limits.must_pause(limits.high_water + 1, 0));
        assert!(limits.must_pause(0, limits.max_backlog + 1));
        assert!(!limits.may_resume(limits.high_water / 2 + 1, 0));
        assert!(limits.may_resume(limits.high_water / 2, limits.max_backlog / 2));
    }

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
