//! The reconnection backoff: the reference's formula, and its bounds under random input.

use std::time::Duration;

use proptest::prelude::*;
use socketio_protocol::backoff::Backoff;

fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}

#[test]
fn defaults_match_the_official_client() {
    let backoff = Backoff::default();
    assert_eq!(backoff.min, Duration::from_millis(1000));
    assert_eq!(backoff.max, Duration::from_millis(5000));
    assert_eq!(backoff.factor, 2);
    assert_eq!(backoff.jitter, 0.5);
    assert_eq!(backoff.attempts(), 0);
}

#[test]
fn without_jitter_the_delays_double_up_to_the_cap() {
    let mut backoff = Backoff::new(
        Duration::from_millis(100),
        Duration::from_millis(1000),
        2,
        0.0,
    );
    let delays: Vec<u64> = (0..6).map(|_| ms(backoff.duration(0.7))).collect();
    assert_eq!(delays, [100, 200, 400, 800, 1000, 1000]);
    assert_eq!(backoff.attempts(), 6);
    backoff.reset();
    assert_eq!(backoff.attempts(), 0);
    assert_eq!(ms(backoff.duration(0.7)), 100);
}

#[test]
fn jitter_direction_follows_the_parity_of_the_first_decimal() {
    // base 1000, jitter 0.5: deviation = floor(r * 500).
    for (rand, expected) in [
        (0.0, 1000),
        (0.05, 975),   // floor(0.5) = 0, even: down by 25
        (0.15, 1075),  // floor(1.5) = 1, odd: up by 75
        (0.25, 875),   // even: down by 125
        (0.35, 1175),  // odd: up by 175
        (0.999, 1499), // floor(9.99) = 9, odd: up by 499
    ] {
        let mut backoff = Backoff::default();
        assert_eq!(ms(backoff.duration(rand)), expected, "rand {rand}");
    }
}

#[test]
fn jitter_outside_zero_one_is_ignored() {
    for jitter in [0.0, -1.0, 1.5, f64::NAN] {
        let mut backoff = Backoff::new(
            Duration::from_millis(1000),
            Duration::from_secs(60),
            2,
            jitter,
        );
        assert_eq!(ms(backoff.duration(0.35)), 1000, "jitter {jitter}");
    }
}

#[test]
fn huge_attempt_counts_stay_at_the_cap() {
    let mut backoff = Backoff::default();
    for _ in 0..5000 {
        let _ = backoff.duration(0.5);
    }
    assert_eq!(ms(backoff.duration(0.35)), 5000);
    let mut flat = Backoff::new(Duration::from_millis(10), Duration::from_secs(1), 1, 0.0);
    for _ in 0..100 {
        assert_eq!(ms(flat.duration(0.2)), 10);
    }
}

proptest! {
    /// Every delay lies within `[base × (1 − j), base × (1 + j)]` capped at `max`, where the
    /// base grows by `factor` per attempt; resetting starts over.
    #[test]
    fn delays_stay_within_the_jitter_bounds(
        min in 1u64..5_000,
        max_extra in 0u64..100_000,
        factor in 1u32..5,
        jitter in 0.0f64..=1.0,
        rands in proptest::collection::vec(0.0f64..1.0, 1..40),
        reset_at in proptest::option::of(0usize..40),
    ) {
        let max = min + max_extra;
        let mut backoff = Backoff::new(Duration::from_millis(min), Duration::from_millis(max), factor, jitter);
        let mut attempt = 0u32;
        let mut last_base = 0.0f64;
        for (i, rand) in rands.into_iter().enumerate() {
            if reset_at == Some(i) {
                backoff.reset();
                attempt = 0;
                last_base = 0.0;
            }
            let base = backoff.base_millis(attempt);
            prop_assert!(base >= last_base, "base grows: {} then {}", last_base, base);
            let expected = min as f64 * f64::from(factor).powi(attempt as i32);
            prop_assert!((base - expected).abs() <= expected * 1e-12);
            last_base = base;
            let delay = backoff.duration(rand).as_millis() as f64;
            attempt += 1;
            prop_assert_eq!(backoff.attempts(), attempt);
            let j = if jitter > 0.0 { jitter } else { 0.0 };
            let low = (base * (1.0 - j)).min(max as f64).floor();
            let high = (base * (1.0 + j)).min(max as f64);
            prop_assert!(delay >= low - 1.0 && delay <= high,
                "delay {} outside [{}, {}] (base {}, rand {})", delay, low, high, base, rand);
            prop_assert!(delay <= max as f64);
        }
    }
}
