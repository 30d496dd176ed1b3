//! A small interleaved timing loop.
//!
//! The machine the benchmarks run on is shared and noisy, and what matters is the *ratio*
//! between implementations. So, for one operation, every contender is calibrated to a batch
//! of about the same wall time, then the batches are run round-robin (ours, theirs, ours,
//! theirs, ... with the starting contender rotating each round) and each contender's ns/op
//! is the median of its batches. A burst of noise then hits every contender alike instead
//! of one of them.

use std::hint::black_box;
use std::time::{Duration, Instant};

/// One implementation of an operation. The closure returns something derived from its output
/// (a length, a count) so the work cannot be optimized away.
pub struct Contender<'a> {
    /// `ours`, `socketioxide`, ...
    pub name: &'static str,
    /// Runs the operation once.
    pub run: Box<dyn FnMut() -> usize + 'a>,
}

impl<'a> Contender<'a> {
    /// A contender named `name` running `run`.
    pub fn new(name: &'static str, run: impl FnMut() -> usize + 'a) -> Self {
        Contender {
            name,
            run: Box::new(run),
        }
    }
}

/// How long to measure.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// Target wall time of one batch.
    pub batch: Duration,
    /// Batches per contender (the median is reported).
    pub rounds: usize,
}

impl Config {
    /// The default: 20 ms batches, 15 rounds (about 0.6 s per operation and pair).
    pub const FULL: Config = Config {
        batch: Duration::from_millis(20),
        rounds: 15,
    };
    /// A smoke run: 2 ms batches, 3 rounds.
    pub const QUICK: Config = Config {
        batch: Duration::from_millis(2),
        rounds: 3,
    };
}

/// The result for one contender.
#[derive(Debug, Clone)]
pub struct Measurement {
    /// The contender's name.
    pub name: &'static str,
    /// Median ns per operation over the rounds.
    pub median_ns: f64,
    /// Fastest round's ns per operation.
    pub min_ns: f64,
    /// Operations per batch.
    pub iters: u64,
}

fn time_batch(run: &mut (dyn FnMut() -> usize + '_), iters: u64) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        black_box(run());
    }
    start.elapsed()
}

/// Finds how many iterations fill `batch`, warming the code and caches up on the way.
fn calibrate(run: &mut (dyn FnMut() -> usize + '_), batch: Duration) -> u64 {
    let mut iters: u64 = 1;
    loop {
        let elapsed = time_batch(run, iters);
        if elapsed >= batch / 4 || iters >= 1 << 40 {
            let per_op = elapsed.as_nanos().max(1) as f64 / iters as f64;
            return ((batch.as_nanos() as f64 / per_op) as u64).max(1);
        }
        iters *= 2;
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

/// Measures every contender, interleaved; returns one [`Measurement`] per contender, in order.
pub fn measure(contenders: &mut [Contender<'_>], config: Config) -> Vec<Measurement> {
    let iters: Vec<u64> = contenders
        .iter_mut()
        .map(|c| calibrate(c.run.as_mut(), config.batch))
        .collect();
    let mut samples: Vec<Vec<f64>> = vec![Vec::with_capacity(config.rounds); contenders.len()];
    let n = contenders.len();
    for round in 0..config.rounds.max(1) {
        for k in 0..n {
            let i = (round + k) % n;
            let elapsed = time_batch(contenders[i].run.as_mut(), iters[i]);
            samples[i].push(elapsed.as_nanos() as f64 / iters[i] as f64);
        }
    }
    contenders
        .iter()
        .zip(samples.iter_mut())
        .zip(&iters)
        .map(|((c, s), &iters)| Measurement {
            name: c.name,
            min_ns: s.iter().copied().fold(f64::INFINITY, f64::min),
            median_ns: median(s),
            iters,
        })
        .collect()
}
