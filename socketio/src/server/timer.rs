//! The timer: one task per server sleeps until the earliest deadline of every core (the
//! engine's heartbeats and timeouts, each connection's, each broadcast with acks), handles
//! what is due, and is woken by `with_state` when a deadline comes earlier.
//!
//! ```text
//! loop { with_state(on_timer; pump; next_deadline) → sleep until it, or until woken }
//! ```

use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures_channel::mpsc;
use futures_util::StreamExt;
use socketio_protocol::Instant;

use super::state::State;
use super::{Inner, NO_CTX};
use crate::namespace::lock;

pub(super) async fn timer_task(inner: Arc<Inner>, mut wake: mpsc::Receiver<()>) {
    loop {
        let target = inner.with_state(NO_CTX, |st, now, inner| {
            st.on_timer(inner, now);
            st.pump(inner, now, NO_CTX);
            let next = st.next_deadline();
            st.timer_target = next;
            next
        });
        if inner.shut_down.load(Ordering::Acquire) && lock(&inner.wake).is_none() {
            break;
        }
        let woken = match target {
            None => wake.next().await.is_some(),
            Some(at) => {
                let wait = at.saturating_duration_since(inner.now());
                let sleep = inner.runtime.sleep(wait);
                match futures_util::future::select(sleep, wake.next()).await {
                    futures_util::future::Either::Left(_) => true,
                    futures_util::future::Either::Right((woken, _)) => woken.is_some(),
                }
            }
        };
        if !woken {
            break;
        }
    }
    inner.timer_running.store(false, Ordering::Release);
}

impl State {
    /// The earliest deadline of every core.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        [
            self.engine.poll_timeout(),
            self.conn_timers.first().map(|(at, _)| *at),
            self.broadcast_timers.first().map(|(at, _, _)| *at),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Handles what is due at `now`: the engine's deadlines, each connection's, and the
    /// broadcasts with acks whose time is up.
    fn on_timer(&mut self, _inner: &Inner, now: Instant) {
        if self.engine.poll_timeout().is_some_and(|at| at <= now) {
            self.engine.handle_timeout(now);
        }
        while let Some((at, sid)) = self.conn_timers.first().cloned() {
            if at > now {
                break;
            }
            self.conn_timers.pop_first();
            if let Some(conn) = self.conns.get_mut(&sid) {
                conn.armed = None;
                conn.core.handle_timeout(now);
                self.dirty.push(sid);
            }
        }
        while let Some((at, nsp, id)) = self.broadcast_timers.first().cloned() {
            if at > now {
                break;
            }
            self.broadcast_timers.pop_first();
            self.check_broadcast(now, &nsp, id);
        }
    }
}
