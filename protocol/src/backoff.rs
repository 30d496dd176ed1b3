//! Exponential backoff with jitter, as the official client computes its reconnection delays.
//!
//! The `n`-th delay (counting from 0) is `base = min × factorⁿ`; with a jitter `j`, one random
//! number `r ∈ [0, 1)` moves it by `deviation = ⌊r × j × base⌋`, down when `⌊r × 10⌋` is even and
//! up when it is odd. The result is capped at `max` and truncated to whole milliseconds.
//! [`Backoff::reset`] starts over after a success.
//!
//! Randomness is injected: the caller passes `r` to [`Backoff::duration`].
//!
//! ```
//! use core::time::Duration;
//! use socketio_protocol::backoff::Backoff;
//!
//! let mut backoff = Backoff::default(); // 1 s, ×2, capped at 5 s, jitter 0.5
//! assert_eq!(backoff.duration(0.0), Duration::from_millis(1000));
//! assert_eq!(backoff.duration(0.15), Duration::from_millis(2150)); // odd ⌊1.5⌋: + ⌊0.15×0.5×2000⌋
//! assert_eq!(backoff.duration(0.0), Duration::from_millis(4000));
//! assert_eq!(backoff.duration(0.0), Duration::from_millis(5000)); // capped
//! assert_eq!(backoff.attempts(), 4);
//! backoff.reset();
//! assert_eq!(backoff.duration(0.0), Duration::from_millis(1000));
//! ```

use core::time::Duration;

/// Exponential backoff state: the parameters and the number of delays handed out so far.
#[derive(Debug, Clone, PartialEq)]
pub struct Backoff {
    /// The first delay (`reconnectionDelay`, 1000 ms by default).
    pub min: Duration,
    /// The largest delay (`reconnectionDelayMax`, 5000 ms by default).
    pub max: Duration,
    /// The growth factor per attempt (2).
    pub factor: u32,
    /// The randomization factor in `(0, 1]`; anything outside means no jitter (0.5 by default).
    pub jitter: f64,
    attempts: u32,
}

impl Default for Backoff {
    /// The official client's reconnection defaults: 1 s, ×2, at most 5 s, jitter 0.5.
    fn default() -> Self {
        Backoff::new(
            Duration::from_millis(1000),
            Duration::from_millis(5000),
            2,
            0.5,
        )
    }
}

impl Backoff {
    /// A backoff starting at `min`, growing by `factor`, capped at `max`, with `jitter`.
    pub fn new(min: Duration, max: Duration, factor: u32, jitter: f64) -> Self {
        Backoff {
            min,
            max,
            factor,
            jitter,
            attempts: 0,
        }
    }

    /// How many delays were handed out since the last [`reset`](Self::reset).
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Starts over: the next delay is `min` again (± jitter).
    pub fn reset(&mut self) {
        self.attempts = 0;
    }

    /// The delay before the next attempt, given a random number `rand` in `[0, 1)` (values
    /// outside are clamped), and counts the attempt.
    pub fn duration(&mut self, rand: f64) -> Duration {
        let rand = if rand.is_nan() {
            0.0
        } else {
            rand.clamp(0.0, 1.0)
        };
        let base = self.base_millis(self.attempts);
        self.attempts = self.attempts.saturating_add(1);
        let mut ms = base;
        if self.jitter > 0.0 && self.jitter <= 1.0 {
            let deviation = floor(rand * self.jitter * ms);
            let odd = (floor(rand * 10.0) as u64) & 1 == 1;
            ms = if odd { ms + deviation } else { ms - deviation };
        }
        let max = self.max.as_millis() as f64;
        let ms = if ms < max { ms } else { max };
        // A `Duration` of whole milliseconds, as the reference's `| 0`.
        Duration::from_millis(if ms > 0.0 { ms as u64 } else { 0 })
    }

    /// The delay before jitter for the attempt numbered `attempt` (from 0), in milliseconds,
    /// uncapped (it saturates at infinity).
    pub fn base_millis(&self, attempt: u32) -> f64 {
        let ms = self.min.as_millis() as f64;
        let factor = f64::from(self.factor);
        if attempt == 0 || self.factor == 1 {
            return ms;
        }
        if self.factor == 0 {
            return 0.0;
        }
        // `min × factor^attempt` as the reference computes it (`Math.pow` is exact here).
        let mut power = 1.0f64;
        for _ in 0..attempt {
            power *= factor;
            if power > 1e300 {
                return f64::INFINITY;
            }
        }
        ms * power
    }
}

/// `f64::floor` for non-negative values without `std`.
fn floor(value: f64) -> f64 {
    if !(0.0..9.0e15).contains(&value) {
        return value;
    }
    (value as u64) as f64
}
