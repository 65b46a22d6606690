//! Per-plugin call metrics: calls, errors, panics, and a latency distribution.
//!
//! Every call is counted; latency is timed on the first 64 calls and then on one call in
//! [`SAMPLE_EVERY`], so the clock reads do not double the cost of a cheap call. The distribution is a histogram of
//! power-of-two buckets in nanoseconds, from which percentiles are estimated.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use serde::Serialize;

/// After the first 64 calls, one call in this many is timed.
pub const SAMPLE_EVERY: u64 = 128;

const BUCKETS: usize = 40;

#[derive(Debug)]
pub(crate) struct Metrics {
    pub calls: AtomicU64,
    pub errors: AtomicU64,
    pub panics: AtomicU64,
    buckets: [AtomicU64; BUCKETS],
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            calls: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            panics: AtomicU64::new(0),
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl Metrics {
    /// Counts a call; true when this call should be timed.
    #[inline]
    pub fn start_call(&self) -> bool {
        let n = self.calls.fetch_add(1, Ordering::Relaxed);
        n < 64 || n % SAMPLE_EVERY == 0
    }

    pub fn record_latency(&self, elapsed: Duration) {
        let nanos = elapsed.as_nanos().max(1) as u64;
        let bucket = (63 - nanos.leading_zeros() as usize).min(BUCKETS - 1);
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> MetricsSnapshot {
        let counts: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        let sampled: u64 = counts.iter().sum();
        let percentile = |p: f64| -> Option<u64> {
            if sampled == 0 {
                return None;
            }
            let rank = ((sampled as f64) * p).ceil().max(1.0) as u64;
            let mut seen = 0;
            for (bucket, count) in counts.iter().enumerate() {
                seen += count;
                if seen >= rank {
                    // The bucket's upper bound: an estimate that never understates.
                    return Some((1u64 << (bucket + 1)) - 1);
                }
            }
            None
        };
        MetricsSnapshot {
            calls: self.calls.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            panics: self.panics.load(Ordering::Relaxed),
            sampled_calls: sampled,
            p50_ns: percentile(0.50),
            p90_ns: percentile(0.90),
            p99_ns: percentile(0.99),
            max_ns: counts
                .iter()
                .rposition(|&c| c > 0)
                .map(|b| (1u64 << (b + 1)) - 1),
        }
    }
}

/// A plugin's metrics at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MetricsSnapshot {
    /// Calls made (every capability call and instance creation).
    pub calls: u64,
    /// Calls that returned an error (panics included).
    pub errors: u64,
    /// Panics contained.
    pub panics: u64,
    /// Calls whose latency was timed.
    pub sampled_calls: u64,
    /// Median latency, upper bound of its power-of-two bucket, in nanoseconds.
    pub p50_ns: Option<u64>,
    /// 90th percentile latency (same estimate).
    pub p90_ns: Option<u64>,
    /// 99th percentile latency (same estimate).
    pub p99_ns: Option<u64>,
    /// Highest latency bucket seen.
    pub max_ns: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_the_histogram() {
        let m = Metrics::default();
        for _ in 0..90 {
            m.record_latency(Duration::from_nanos(100)); // bucket 6: 64..127
        }
        for _ in 0..10 {
            m.record_latency(Duration::from_micros(50)); // bucket 15: 32768..65535
        }
        let s = m.snapshot();
        assert_eq!(
            (s.sampled_calls, s.p50_ns, s.p90_ns, s.p99_ns),
            (100, Some(127), Some(127), Some(65_535))
        );
        let timed = (0..64 + 2 * SAMPLE_EVERY)
            .filter(|_| m.start_call())
            .count();
        assert_eq!(timed as u64, 64 + 2);
    }
}
