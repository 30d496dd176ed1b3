//! Bookkeeping for a broadcast that expects an acknowledgement from every recipient.
//!
//! The reference server (`BroadcastOperator.emit` with an ack) sends one packet with one ack id
//! to every selected socket, then waits until every server of the cluster has reported how many
//! clients it reached and that many responses have arrived — or until the timeout, when the
//! callback gets an error and the responses gathered so far. [`BroadcastAck`] is that state,
//! pure and shared by nothing: the async layer feeds it the recipient counts
//! ([`BroadcastAck::add_clients`]), the responses its connections report
//! ([`BroadcastAck::record`]) and the time ([`BroadcastAck::poll`]).
//!
//! ```
//! use socketio_protocol::Instant;
//! use socketio_protocol::socket::ack::{BroadcastAck, BroadcastAckStatus};
//!
//! // One server (this one), two recipients, 5 s to answer.
//! let mut ack = BroadcastAck::local(Instant::from_millis(5_000), 2);
//! ack.record("first");
//! assert_eq!(ack.poll(Instant::from_millis(1_000)), BroadcastAckStatus::Pending);
//! assert_eq!(ack.poll_timeout(), Some(Instant::from_millis(5_000)));
//! // The second recipient never answers: the deadline gives the partial responses.
//! assert_eq!(
//!     ack.poll(Instant::from_millis(5_000)),
//!     BroadcastAckStatus::TimedOut(vec!["first"]),
//! );
//! ```

use alloc::vec::Vec;

use crate::Instant;

/// What [`BroadcastAck::poll`] found.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum BroadcastAckStatus<T> {
    /// Still waiting for counts or responses.
    Pending,
    /// Every expected response arrived in time (reported once).
    Complete(Vec<T>),
    /// The deadline passed first: the responses gathered so far (reported once).
    TimedOut(Vec<T>),
    /// The outcome was already reported.
    Finished,
}

/// One broadcast-with-ack: expected recipients, responses gathered, deadline.
///
/// Complete when the number of servers that reported a client count equals the expected
/// server count and the number of responses equals the sum of those counts, as the reference
/// `checkCompleteness` does. Completion is checked before the deadline, so a response that
/// arrives at the deadline's instant still counts.
#[derive(Debug, Clone, PartialEq)]
pub struct BroadcastAck<T> {
    deadline: Instant,
    expected_servers: Option<usize>,
    reported_servers: usize,
    expected_clients: usize,
    responses: Vec<T>,
    finished: bool,
}

impl<T> BroadcastAck<T> {
    /// A broadcast whose outcome is due at `deadline`; server count still unknown.
    pub fn new(deadline: Instant) -> Self {
        BroadcastAck {
            deadline,
            expected_servers: None,
            reported_servers: 0,
            expected_clients: 0,
            responses: Vec::new(),
            finished: false,
        }
    }

    /// A single-server broadcast that reached `clients` sockets.
    pub fn local(deadline: Instant, clients: usize) -> Self {
        let mut ack = BroadcastAck::new(deadline);
        ack.set_server_count(1);
        ack.add_clients(clients);
        ack
    }

    /// Sets how many servers will report a client count (`serverCount()` in the reference).
    pub fn set_server_count(&mut self, servers: usize) {
        self.expected_servers = Some(servers);
    }

    /// One server reports that it sent the packet to `clients` sockets.
    pub fn add_clients(&mut self, clients: usize) {
        self.expected_clients = self.expected_clients.saturating_add(clients);
        self.reported_servers = self.reported_servers.saturating_add(1);
    }

    /// Records one recipient's response (ignored once the outcome was reported).
    pub fn record(&mut self, response: T) {
        if !self.finished {
            self.responses.push(response);
        }
    }

    /// How many responses arrived so far.
    pub fn response_count(&self) -> usize {
        self.responses.len()
    }

    /// How many responses are expected from the servers that reported so far.
    pub fn expected_count(&self) -> usize {
        self.expected_clients
    }

    /// True when every server reported and every expected response arrived.
    pub fn is_complete(&self) -> bool {
        self.expected_servers == Some(self.reported_servers)
            && self.responses.len() >= self.expected_clients
    }

    /// The deadline, while the outcome is not yet reported.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        (!self.finished).then_some(self.deadline)
    }

    /// The outcome at `now`: complete, timed out (at `now >= deadline`), or still pending.
    #[must_use]
    pub fn poll(&mut self, now: Instant) -> BroadcastAckStatus<T> {
        if self.finished {
            return BroadcastAckStatus::Finished;
        }
        if self.is_complete() {
            self.finished = true;
            return BroadcastAckStatus::Complete(core::mem::take(&mut self.responses));
        }
        if now >= self.deadline {
            self.finished = true;
            return BroadcastAckStatus::TimedOut(core::mem::take(&mut self.responses));
        }
        BroadcastAckStatus::Pending
    }
}
