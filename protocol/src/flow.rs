//! Backpressure policy: when a connection's reading pauses and when its peer is a slow
//! consumer. Pure decisions over byte counts and instants; the async layer keeps the counters
//! (bytes queued until written, events read until their handlers start) and does the waiting.
//!
//! - While a connection's outgoing bytes are above [`Backpressure::high_water`] or its
//!   backlog of incoming events above [`Backpressure::max_backlog`], its reading pauses; it
//!   resumes once both are back at half ([`Backpressure::must_pause`],
//!   [`Backpressure::may_resume`]). A burst thus slows its own sender down.
//! - Only a peer whose outgoing queue would pass [`Backpressure::limit`], or stays above the
//!   high water mark for [`Backpressure::slow_consumer_timeout`], is a slow consumer
//!   ([`OutgoingWatch::admit`]).
//!
//! ```
//! use core::time::Duration;
//! use socketio_protocol::Instant;
//! use socketio_protocol::flow::{Backpressure, OutgoingWatch};
//!
//! let limits = Backpressure { high_water: 100, limit: 1_000, ..Backpressure::default() };
//! let mut watch = OutgoingWatch::default();
//! let t0 = Instant::from_millis(0);
//! assert!(watch.admit(t0, 500, 10, &limits)); // above the mark: reading pauses, no verdict
//! assert!(limits.must_pause(500, 0));
//! assert!(!watch.admit(t0, 995, 10, &limits)); // past the limit: a slow consumer
//! assert!(OutgoingWatch::default().admit(t0, 0, 2_000, &limits)); // nothing waits: it goes
//! // Above the mark for the whole timeout: a slow consumer.
//! assert!(!watch.admit(t0 + Duration::from_secs(30), 500, 10, &limits));
//! ```

use core::time::Duration;

use crate::Instant;

/// The backpressure limits of a server's connections (see the [module docs](self)). The
/// reference has no bound at all; these defaults let a burst of any size through at the speed
/// the client reads, and bound what a client that never reads can cost.
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
    /// Incoming events read but not yet taken by the application (started by their
    /// handlers, or received) above which the connection's reading pauses (256); it resumes
    /// at half of it.
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
    pub fn must_pause(&self, queued: usize, backlog: usize) -> bool {
        queued > self.high_water || backlog > self.max_backlog
    }

    /// Whether a paused reading may resume.
    pub fn may_resume(&self, queued: usize, backlog: usize) -> bool {
        queued <= self.high_water / 2 && backlog <= self.max_backlog / 2
    }
}

/// Watches one connection's outgoing queue for a slow consumer: since when it has been above
/// the high water mark.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutgoingWatch {
    above_since: Option<Instant>,
}

impl OutgoingWatch {
    /// Whether a frame of `len` bytes may be queued at `now` behind `queued` bytes; `false`:
    /// the peer is a slow consumer (the queue would pass the limit, or has been above the
    /// high water mark for the timeout), and the connection should be aborted.
    pub fn admit(
        &mut self,
        now: Instant,
        queued: usize,
        len: usize,
        limits: &Backpressure,
    ) -> bool {
        let over_limit = queued > 0 && queued.saturating_add(len) > limits.limit;
        let stuck = if queued > limits.high_water {
            let since = *self.above_since.get_or_insert(now);
            now.saturating_duration_since(since) >= limits.slow_consumer_timeout
        } else {
            self.above_since = None;
            false
        };
        !(over_limit || stuck)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn the_time_limit_counts_from_when_the_queue_went_above_the_mark() {
        let limits = Backpressure {
            high_water: 100,
            slow_consumer_timeout: Duration::from_secs(10),
            ..Backpressure::default()
        };
        let at = |s: u64| Instant::from_millis(s * 1000);
        let mut watch = OutgoingWatch::default();
        assert!(watch.admit(at(0), 200, 1, &limits));
        assert!(watch.admit(at(9), 200, 1, &limits));
        // Back under the mark: the clock starts again.
        assert!(watch.admit(at(9), 50, 1, &limits));
        assert!(watch.admit(at(12), 200, 1, &limits));
        assert!(watch.admit(at(21), 200, 1, &limits));
        assert!(!watch.admit(at(22), 200, 1, &limits));
    }
}
