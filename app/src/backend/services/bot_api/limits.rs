//! Per-bot rate limits on what a bot sends in bulk: screenshots and log lines. A token bucket
//! per bot and kind, in this process's memory (each replica limits what it receives; a bot
//! talks to whichever replica its requests reach, so the limit a bot sees is at most the
//! replica count times these rates). Exceeding one is 429 with how long to wait.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use crate::model::error::AppError;

/// What is limited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Screenshots,
    LogLines,
}

impl Kind {
    /// (burst, sustained per second).
    fn rate(self) -> (f64, f64) {
        match self {
            // Bots take a screenshot on errors and state changes: 60 at once, then 12 a minute.
            Kind::Screenshots => (60.0, 12.0 / 60.0),
            // Bots send 100 lines at a time: 5,000 at once, then 100 a second.
            Kind::LogLines => (5_000.0, 100.0),
        }
    }

    fn what(self) -> &'static str {
        match self {
            Kind::Screenshots => "screenshots",
            Kind::LogLines => "log lines",
        }
    }
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Buckets beyond this many are pruned (full ones first) so memory stays bounded.
const MAX_BUCKETS: usize = 100_000;

/// The per-bot buckets of this process.
#[derive(Default)]
pub struct BotLimits {
    buckets: Mutex<HashMap<(i64, Kind), Bucket>>,
}

impl BotLimits {
    /// Takes `n` units for `bot_id`, or answers 429 saying how long to wait.
    pub fn take(&self, bot_id: i64, kind: Kind, n: usize) -> Result<(), AppError> {
        self.take_at(bot_id, kind, n, Instant::now())
    }

    fn take_at(&self, bot_id: i64, kind: Kind, n: usize, now: Instant) -> Result<(), AppError> {
        let (burst, per_sec) = kind.rate();
        let mut map = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_BUCKETS {
            map.retain(|(_, k), b| b.tokens + now.duration_since(b.at).as_secs_f64() * k.rate().1 < k.rate().0);
        }
        let b = map.entry((bot_id, kind)).or_insert(Bucket { tokens: burst, at: now });
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * per_sec).min(burst);
        b.at = now;
        let n = n as f64;
        if n <= b.tokens {
            b.tokens -= n;
            return Ok(());
        }
        let wait = if n > burst { None } else { Some(((n - b.tokens) / per_sec).ceil().max(1.0)) };
        Err(AppError::TooManyRequests(match wait {
            Some(secs) => format!(
                "Bot {bot_id} is sending {} faster than allowed ({burst:.0} at once, {:.0} a minute); retry in {secs:.0} s.",
                kind.what(),
                per_sec * 60.0
            ),
            None => format!("Send at most {burst:.0} {} at a time.", kind.what()),
        }))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_burst_passes_then_the_rate_holds_and_refills() {
        let l = BotLimits::default();
        let t = Instant::now();
        for _ in 0..60 {
            l.take_at(1, Kind::Screenshots, 1, t).unwrap();
        }
        let e = l.take_at(1, Kind::Screenshots, 1, t).unwrap_err();
        assert_eq!(e.status(), 429);
        assert!(e.to_string().contains("retry in 5 s"), "{e}");
        // Another bot and another kind have their own buckets.
        l.take_at(2, Kind::Screenshots, 1, t).unwrap();
        l.take_at(1, Kind::LogLines, 100, t).unwrap();
        // Five seconds later, one more screenshot.
        l.take_at(1, Kind::Screenshots, 1, t + Duration::from_secs(5)).unwrap();
        assert!(l.take_at(1, Kind::Screenshots, 1, t + Duration::from_secs(5)).is_err());
    }

    #[test]
    fn log_lines_are_counted_per_line() {
        let l = BotLimits::default();
        let t = Instant::now();
        for _ in 0..50 {
            l.take_at(1, Kind::LogLines, 100, t).unwrap();
        }
        assert!(l.take_at(1, Kind::LogLines, 100, t).is_err());
        l.take_at(1, Kind::LogLines, 100, t + Duration::from_secs(1)).unwrap();
    }
}
