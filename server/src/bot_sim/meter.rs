//! What simulated bots measure about the server while they run: heartbeats sent and their
//! latency, log lines sent or dropped, requests that failed. Lock-free, shared by every bot of a
//! fleet (one bot alone keeps its own and ignores it).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Latency buckets: 10 µs wide below 10 ms, then 1 ms wide up to 10 s (the rest in the last).
const FINE_BUCKETS: u64 = 1_000;
const FINE_WIDTH_US: u64 = 10;
const COARSE_BUCKETS: u64 = 10_000;
const COARSE_WIDTH_US: u64 = 1_000;

/// A fixed-bucket latency histogram (p50/p99 within one bucket; the maximum exact).
pub struct Histogram {
    buckets: Vec<AtomicU64>,
    count: AtomicU64,
    max_us: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            buckets: (0..FINE_BUCKETS + COARSE_BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            max_us: AtomicU64::new(0),
        }
    }
}

impl Histogram {
    pub fn record(&self, latency: Duration) {
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        let fine_limit = FINE_BUCKETS * FINE_WIDTH_US;
        let index = if us < fine_limit {
            us / FINE_WIDTH_US
        } else {
            FINE_BUCKETS + ((us - fine_limit) / COARSE_WIDTH_US).min(COARSE_BUCKETS - 1)
        };
        self.buckets[index as usize].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.max_us.fetch_max(us, Ordering::Relaxed);
    }

    /// The latency (ms) under which `q` (0..=1) of the samples fall: the upper edge of its
    /// bucket, never above the maximum. `None` without samples.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        let count = self.count.load(Ordering::Relaxed);
        if count == 0 {
            return None;
        }
        let rank = ((q * count as f64).ceil() as u64).clamp(1, count);
        let mut seen = 0;
        for (i, b) in self.buckets.iter().enumerate() {
            seen += b.load(Ordering::Relaxed);
            if seen >= rank {
                let i = i as u64;
                let upper_us = if i < FINE_BUCKETS {
                    (i + 1) * FINE_WIDTH_US
                } else {
                    FINE_BUCKETS * FINE_WIDTH_US + (i - FINE_BUCKETS + 1) * COARSE_WIDTH_US
                };
                let upper_us = upper_us.min(self.max_us.load(Ordering::Relaxed));
                return Some(upper_us as f64 / 1000.0);
            }
        }
        self.max_ms()
    }

    pub fn max_ms(&self) -> Option<f64> {
        (self.count.load(Ordering::Relaxed) > 0).then(|| self.max_us.load(Ordering::Relaxed) as f64 / 1000.0)
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Forgets every sample (a benchmark's measuring window starts after its ramp-up). Samples
    /// recorded while it runs may land on either side.
    pub fn reset(&self) {
        for b in &self.buckets {
            b.store(0, Ordering::Relaxed);
        }
        self.count.store(0, Ordering::Relaxed);
        self.max_us.store(0, Ordering::Relaxed);
    }
}

/// The counters every bot of a fleet adds to.
#[derive(Default)]
pub struct Meter {
    pub heartbeat_latency: Histogram,
    log_lines_sent: AtomicU64,
    log_lines_dropped: AtomicU64,
    failed_requests: AtomicU64,
}

/// A snapshot of a [`Meter`], as `/stats` shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MeterSnapshot {
    /// Heartbeats the server answered.
    pub heartbeats: u64,
    pub heartbeat_p50_ms: Option<f64>,
    pub heartbeat_p99_ms: Option<f64>,
    pub heartbeat_max_ms: Option<f64>,
    /// Log lines the server accepted.
    pub log_lines_sent: u64,
    /// Log lines a bot dropped because the server did not take them (its buffer overflowed).
    pub log_lines_dropped: u64,
    /// Requests to the server that failed (no answer, or an error status).
    pub failed_requests: u64,
}

impl Meter {
    pub fn heartbeat(&self, latency: Duration) {
        self.heartbeat_latency.record(latency);
    }

    pub fn log_lines_sent(&self, n: usize) {
        self.log_lines_sent.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub fn log_lines_dropped(&self, n: usize) {
        self.log_lines_dropped.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub fn request_failed(&self) {
        self.failed_requests.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> MeterSnapshot {
        let h = &self.heartbeat_latency;
        MeterSnapshot {
            heartbeats: h.count(),
            heartbeat_p50_ms: h.quantile_ms(0.5),
            heartbeat_p99_ms: h.quantile_ms(0.99),
            heartbeat_max_ms: h.max_ms(),
            log_lines_sent: self.log_lines_sent.load(Ordering::Relaxed),
            log_lines_dropped: self.log_lines_dropped.load(Ordering::Relaxed),
            failed_requests: self.failed_requests.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_fall_within_one_bucket_and_the_maximum_is_exact() {
        let h = Histogram::default();
        assert_eq!(h.quantile_ms(0.5), None);
        for ms in 1..=100u64 {
            h.record(Duration::from_millis(ms));
        }
        h.record(Duration::from_secs(30));
        let p50 = h.quantile_ms(0.5).unwrap();
        assert!((50.0..=52.0).contains(&p50), "{p50}");
        let p99 = h.quantile_ms(0.99).unwrap();
        assert!((99.0..=101.0).contains(&p99), "{p99}");
        assert_eq!(h.max_ms(), Some(30_000.0));
        assert_eq!(h.count(), 101);

        h.reset();
        assert_eq!((h.count(), h.quantile_ms(0.99), h.max_ms()), (0, None, None));
        h.record(Duration::from_millis(3));
        assert_eq!(h.max_ms(), Some(3.0), "a reset forgets the old maximum");

        let fine = Histogram::default();
        fine.record(Duration::from_micros(1_234));
        assert_eq!(fine.quantile_ms(0.99), Some(1.234), "capped at the exact maximum");
    }
}
