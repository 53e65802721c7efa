//! What the maildrop benches share: timing a closure, the median of its rounds, one report
//! line. (Each bench is its own crate and uses part of it.)
#![allow(dead_code)]

use std::time::{Duration, Instant};

/// Rounds per measurement; the median is reported.
pub(crate) const ROUNDS: usize = 5;

/// How long `f` takes, once.
pub(crate) fn time(f: impl FnOnce()) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}

/// The median of [`ROUNDS`] runs of `round`.
pub(crate) fn median(mut round: impl FnMut() -> Duration) -> Duration {
    let mut samples: Vec<Duration> = (0..ROUNDS).map(|_| round()).collect();
    samples.sort();
    samples[ROUNDS / 2]
}

/// `name   12.345 ms   1.23x reference`, the ratio against `(reference, its time)` if given.
pub(crate) fn report(name: &str, value: Duration, against: Option<(&str, Duration)>) {
    let ms = value.as_secs_f64() * 1e3;
    match against {
        Some((reference, base)) => println!(
            "{name:<58} {ms:>9.3} ms   {:>6.3}x {reference}",
            value.as_secs_f64() / base.as_secs_f64().max(1e-9)
        ),
        None => println!("{name:<58} {ms:>9.3} ms"),
    }
}
