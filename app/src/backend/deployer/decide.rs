//! The deployer's decisions as pure functions of a queue row, the platforms' state and the time:
//! where a bot goes next ([`decide`]) and what a platform's error means for the bot and the
//! platform ([`react`]). The I/O around them is in `place.rs`.
//!
//! A bot walks the platforms in `PLATFORM_PRIORITY` order (its row's `platform_index`):
//! - a platform with room takes it;
//! - a full (or throttling) platform is waited on for its `*_QUEUE_TIMEOUT_MS`, counted from
//!   when the bot reached it (`platform_since`: queued, or the end of its wait on the platform
//!   before), whether or not a dispatcher looked at the bot meanwhile; then the next platform is
//!   tried;
//! - an unhealthy platform, or one that refused this bot, is skipped at once;
//! - past the last platform the bot is in the global queue: every usable platform is tried in
//!   priority order on each attempt, until the bot's queue timeout (its own `queueTimeoutMs`, or
//!   `GLOBAL_QUEUE_TIMEOUT_MS`), then the bot is FATAL with a sub-code naming that limit.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::backend::platforms::ErrorKind;
use crate::model::platform::DeploymentPlatform;

/// A queue row, as the decision needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueState {
    /// The platform (by priority position) the bot is walking; `slots.len()` or more is the
    /// global queue.
    pub platform_index: usize,
    /// When the bot reached the platform at `platform_index`.
    pub platform_since: DateTime<Utc>,
    pub timeout_at: DateTime<Utc>,
    /// Whether `timeout_at` came from the bot's own `queueTimeoutMs`.
    pub own_timeout: bool,
    /// Platforms that refused this bot for its own reasons.
    pub rejected_by: Vec<DeploymentPlatform>,
}

/// What the deployer knows about a platform's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Healthy,
    /// Failed recently: skipped until a probe succeeds (the probe is due at `retry_at`).
    Unhealthy {
        retry_at: DateTime<Utc>,
    },
    /// Asked us to slow down: not called before `until`.
    Throttled {
        until: DateTime<Utc>,
    },
    /// Answered that it is full (a quota): not tried again before `until`.
    Quota {
        until: DateTime<Utc>,
    },
}

impl Health {
    /// Until when a healthy platform holds off new bots (throttling or a quota).
    fn held_until(self) -> Option<DateTime<Utc>> {
        match self {
            Health::Throttled { until } | Health::Quota { until } => Some(until),
            Health::Healthy | Health::Unhealthy { .. } => None,
        }
    }
}

/// One platform of `PLATFORM_PRIORITY`, with its capacity now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotView {
    pub platform: DeploymentPlatform,
    pub limit: u32,
    /// Active bots on it (DEPLOYING through CALL_ENDED), counted under its lock.
    pub used: u32,
    pub queue_timeout: Duration,
    pub health: Health,
}

impl SlotView {
    fn has_room(&self) -> bool {
        self.used < self.limit
    }
}

/// Where a bot goes next.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Reserve capacity on `slots[slot]` and deploy there; the row moves to `platform_index`,
    /// reached at `platform_since`.
    Reserve { slot: usize, platform_index: usize, platform_since: DateTime<Utc> },
    /// Nothing can take the bot now: back to the queue until `retry_at`.
    /// `platform_since` is when the bot reached `platform_index`; `wait_until` when its wait
    /// there ends (in the global queue: none).
    Wait {
        platform_index: usize,
        platform_since: DateTime<Utc>,
        wait_until: Option<DateTime<Utc>>,
        retry_at: DateTime<Utc>,
        why: String,
    },
    /// The queue timeout passed: the bot is FATAL.
    Expire { sub_code: &'static str, reason: String },
    /// Every platform refused this bot for its own reasons: it can never be placed.
    Refused { reason: String },
}

/// Where the bot of `q` goes next, given the platforms in priority order. `retry` is how soon a
/// waiting bot looks again.
pub fn decide(q: &QueueState, slots: &[SlotView], now: DateTime<Utc>, retry: Duration) -> Decision {
    if !slots.is_empty() && slots.iter().all(|s| q.rejected_by.contains(&s.platform)) {
        let names: Vec<&str> = slots.iter().map(|s| s.platform.as_str()).collect();
        return Decision::Refused {
            reason: format!("Every platform refused this bot ({}); see the events before this one.", names.join(", ")),
        };
    }
    let walked = walk(q, slots, now, retry);
    if matches!(walked, Decision::Wait { .. }) && now >= q.timeout_at {
        // A bot with room is placed even at its timeout (a queueTimeoutMs of 0 means "do not
        // wait", not "never start"); one that would wait longer is over.
        return expire(q, slots);
    }
    walked
}

/// Where the walk over the platforms leads, ignoring the queue timeout.
fn walk(q: &QueueState, slots: &[SlotView], now: DateTime<Utc>, retry: Duration) -> Decision {
    let retry = chrono::Duration::from_std(retry).unwrap_or_else(|_| chrono::Duration::seconds(1));
    let soon = |until: Option<DateTime<Utc>>| {
        let mut at = (now + retry).min(q.timeout_at);
        if let Some(u) = until {
            at = at.min(u);
        }
        at.max(now)
    };
    let mut index = q.platform_index;
    let mut since = q.platform_since;
    while let Some(slot) = slots.get(index) {
        let skip = q.rejected_by.contains(&slot.platform) || matches!(slot.health, Health::Unhealthy { .. });
        if skip {
            index += 1;
            continue;
        }
        if slot.has_room() && slot.health.held_until().is_none() {
            return Decision::Reserve { slot: index, platform_index: index, platform_since: since };
        }
        let timeout = chrono::Duration::from_std(slot.queue_timeout).unwrap_or_else(|_| chrono::Duration::zero());
        let until = since + timeout;
        if now < until {
            let name = slot.platform.as_str();
            let retry_at = match slot.health.held_until() {
                Some(t) => t.min(until).min(q.timeout_at).max(now),
                None => soon(Some(until)),
            };
            let why = match slot.health {
                Health::Throttled { .. } => format!("{name} asked to slow down"),
                Health::Quota { .. } => format!("{name} is full (a quota)"),
                _ => format!("{name} is at its limit"),
            };
            return Decision::Wait {
                platform_index: index,
                platform_since: since,
                wait_until: Some(until),
                retry_at,
                why,
            };
        }
        // The wait here ended at `until`: the bot reached the next platform then.
        index += 1;
        since = until;
    }
    // The global queue: the first usable platform with room, in priority order.
    let usable = |s: &SlotView| !q.rejected_by.contains(&s.platform) && s.health == Health::Healthy;
    if let Some(slot) = slots.iter().position(|s| usable(s) && s.has_room()) {
        return Decision::Reserve { slot, platform_index: slots.len(), platform_since: since.min(now) };
    }
    Decision::Wait {
        platform_index: slots.len(),
        platform_since: since.min(now),
        wait_until: None,
        retry_at: soon(None),
        why: summary(q, slots),
    }
}

/// The queue timeout passed: FATAL, saying which limit ended it and what the platforms were doing.
fn expire(q: &QueueState, slots: &[SlotView]) -> Decision {
    let (sub_code, limit) = if q.own_timeout {
        ("BOT_QUEUE_TIMEOUT", "its own queue timeout (queueTimeoutMs)")
    } else {
        ("GLOBAL_QUEUE_TIMEOUT", "the global queue timeout (GLOBAL_QUEUE_TIMEOUT_MS)")
    };
    Decision::Expire {
        sub_code,
        reason: format!("No platform could take this bot within {limit}: {}.", summary(q, slots)),
    }
}

/// Why no platform can take the bot now, for the queue row and the owner ("k8s is at its limit,
/// aws is failing and skipped for now"). It never counts bots: the owner may not learn how many
/// bots other users run (the infrastructure page shows administrators the counts).
fn summary(q: &QueueState, slots: &[SlotView]) -> String {
    if slots.is_empty() {
        return "no platform is configured".to_owned();
    }
    let parts: Vec<String> = slots
        .iter()
        .map(|s| {
            let name = s.platform.as_str();
            if q.rejected_by.contains(&s.platform) {
                format!("{name} refused this bot")
            } else {
                match s.health {
                    Health::Unhealthy { .. } => format!("{name} is failing and skipped for now"),
                    Health::Throttled { .. } => format!("{name} asked to slow down"),
                    Health::Quota { .. } => format!("{name} is full (a quota)"),
                    Health::Healthy => format!("{name} is at its limit"),
                }
            }
        })
        .collect();
    parts.join(", ")
}

/// What a deploy error means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reaction {
    /// The platform failed (unreachable, unauthorised, misconfigured): mark it unhealthy and move
    /// the bot to the next platform at once.
    Failover,
    /// The platform refused this bot for the bot's own reasons (a bad image for its meeting
    /// platform): the bot moves on, the platform stays healthy.
    Rejected,
    /// The platform asked us to slow down: it is not called again before a back-off, and the bot
    /// waits for it as for a full platform.
    Throttled,
    /// The platform is full (a quota): the bot waits for it as for a platform at its limit.
    Full,
    /// A resource for this bot exists already (left by an interrupted placement): stop it and try
    /// again shortly.
    Leftover,
}

/// What a deploy error of `kind` means for the bot and the platform.
pub fn react(kind: ErrorKind) -> Reaction {
    match kind {
        ErrorKind::Capacity => Reaction::Full,
        ErrorKind::Throttled => Reaction::Throttled,
        ErrorKind::Rejected => Reaction::Rejected,
        ErrorKind::Conflict => Reaction::Leftover,
        ErrorKind::NotFound | ErrorKind::Unauthorised | ErrorKind::Unavailable | ErrorKind::Misconfigured => {
            Reaction::Failover
        }
    }
}

/// The back-off after the `n`-th failure in a row (1-based): `base`, doubling, at most `max`.
pub fn backoff(base: Duration, max: Duration, n: u32) -> Duration {
    let factor = 1u32.checked_shl(n.saturating_sub(1).min(30)).unwrap_or(u32::MAX);
    base.checked_mul(factor).unwrap_or(max).min(max)
}

/// `d` spread by up to a fifth either way, from `seed` (any number that differs between callers,
/// such as a bot id), so replicas and bots do not retry in step.
pub fn jitter(d: Duration, seed: u64) -> Duration {
    // splitmix64: a well-spread value from a sequential seed.
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    let unit = (z % 10_000) as f64 / 10_000.0; // 0 .. 1
    d.mul_f64(0.8 + 0.4 * unit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use DeploymentPlatform::{Aws, Coolify, K8s};

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-30T12:00:00Z").unwrap().with_timezone(&Utc)
    }

    fn secs(s: i64) -> chrono::Duration {
        chrono::Duration::seconds(s)
    }

    fn slot(platform: DeploymentPlatform, used: u32, limit: u32, timeout_s: u64) -> SlotView {
        SlotView { platform, limit, used, queue_timeout: Duration::from_secs(timeout_s), health: Health::Healthy }
    }

    fn fresh() -> QueueState {
        QueueState {
            platform_index: 0,
            platform_since: t0(),
            timeout_at: t0() + secs(600),
            own_timeout: false,
            rejected_by: Vec::new(),
        }
    }

    const RETRY: Duration = Duration::from_secs(1);

    #[test]
    fn the_first_platform_with_room_takes_the_bot() {
        let slots = [slot(K8s, 3, 30, 60), slot(Aws, 0, 50, 30)];
        assert_eq!(
            decide(&fresh(), &slots, t0(), RETRY),
            Decision::Reserve { slot: 0, platform_index: 0, platform_since: t0() }
        );
    }

    #[test]
    fn a_full_platform_is_waited_on_for_its_own_timeout_then_the_next_is_tried() {
        let slots = [slot(K8s, 30, 30, 60), slot(Aws, 0, 50, 30)];
        let d = decide(&fresh(), &slots, t0(), RETRY);
        let Decision::Wait { platform_index: 0, platform_since, wait_until: Some(until), retry_at, why } = d else {
            panic!("{d:?}")
        };
        assert_eq!((platform_since, until), (t0(), t0() + secs(60)));
        assert_eq!(retry_at, t0() + secs(1));
        assert_eq!(why, "k8s is at its limit");

        // Still within the wait: the clock runs from when the bot reached the platform.
        let d = decide(&fresh(), &slots, t0() + secs(59), RETRY);
        assert!(matches!(d, Decision::Wait { platform_index: 0, wait_until: Some(u), .. } if u == until), "{d:?}");

        // The wait is over: the next platform takes it.
        assert_eq!(
            decide(&fresh(), &slots, t0() + secs(60), RETRY),
            Decision::Reserve { slot: 1, platform_index: 1, platform_since: t0() + secs(60) }
        );
    }

    #[test]
    fn waits_are_counted_even_when_nobody_looked_at_the_bot() {
        // Queued at t0, first looked at after 100 s: k8s's 60 s wait ended at t0+60, so aws's
        // 30 s wait ended at t0+90, and coolify's runs from t0+90.
        let slots = [slot(K8s, 30, 30, 60), slot(Aws, 50, 50, 30), slot(Coolify, 10, 10, 300)];
        let d = decide(&fresh(), &slots, t0() + secs(100), RETRY);
        assert_eq!(
            d,
            Decision::Wait {
                platform_index: 2,
                platform_since: t0() + secs(90),
                wait_until: Some(t0() + secs(390)),
                retry_at: t0() + secs(101),
                why: "coolify is at its limit".into()
            }
        );
    }

    #[test]
    fn a_zero_queue_timeout_moves_on_at_once() {
        let slots = [slot(K8s, 30, 30, 0), slot(Aws, 0, 50, 30)];
        assert_eq!(
            decide(&fresh(), &slots, t0(), RETRY),
            Decision::Reserve { slot: 1, platform_index: 1, platform_since: t0() }
        );
    }

    #[test]
    fn the_next_platform_gets_its_own_wait_when_it_is_full_too() {
        let slots = [slot(K8s, 30, 30, 0), slot(Aws, 50, 50, 30), slot(Coolify, 0, 10, 300)];
        let d = decide(&fresh(), &slots, t0(), RETRY);
        assert!(
            matches!(d, Decision::Wait { platform_index: 1, wait_until: Some(u), .. } if u == t0() + secs(30)),
            "{d:?}"
        );
    }

    #[test]
    fn unhealthy_and_refusing_platforms_are_skipped_without_waiting() {
        let mut slots = [slot(K8s, 0, 30, 60), slot(Aws, 0, 50, 30), slot(Coolify, 0, 10, 300)];
        slots[0].health = Health::Unhealthy { retry_at: t0() + secs(5) };
        let q = QueueState { rejected_by: vec![Aws], ..fresh() };
        assert_eq!(
            decide(&q, &slots, t0(), RETRY),
            Decision::Reserve { slot: 2, platform_index: 2, platform_since: t0() }
        );
    }

    #[test]
    fn past_the_last_platform_any_usable_platform_with_room_takes_the_bot() {
        let mut slots = [slot(K8s, 30, 30, 60), slot(Aws, 49, 50, 30)];
        let q = QueueState { platform_index: 2, ..fresh() };
        assert_eq!(
            decide(&q, &slots, t0(), RETRY),
            Decision::Reserve { slot: 1, platform_index: 2, platform_since: t0() }
        );
        slots[1].used = 50;
        let d = decide(&q, &slots, t0(), RETRY);
        assert_eq!(
            d,
            Decision::Wait {
                platform_index: 2,
                platform_since: t0(),
                wait_until: None,
                retry_at: t0() + secs(1),
                why: "k8s is at its limit, aws is at its limit".into()
            }
        );
        // An unhealthy platform is not used from the global queue either.
        slots[1].used = 0;
        slots[1].health = Health::Unhealthy { retry_at: t0() + secs(5) };
        assert!(matches!(decide(&q, &slots, t0(), RETRY), Decision::Wait { .. }));
    }

    #[test]
    fn the_queue_timeout_ends_the_bot_with_the_limit_that_ended_it() {
        let slots = [slot(K8s, 30, 30, 60)];
        let q = QueueState { platform_index: 1, ..fresh() };
        let d = decide(&q, &slots, t0() + secs(600), RETRY);
        let Decision::Expire { sub_code, reason } = d else { panic!("{d:?}") };
        assert_eq!(sub_code, "GLOBAL_QUEUE_TIMEOUT");
        assert!(reason.contains("GLOBAL_QUEUE_TIMEOUT_MS") && reason.contains("k8s is at its limit"), "{reason}");

        let own = QueueState { own_timeout: true, timeout_at: t0() + secs(5), ..fresh() };
        let d = decide(&own, &slots, t0() + secs(5), RETRY);
        assert!(matches!(d, Decision::Expire { sub_code: "BOT_QUEUE_TIMEOUT", .. }), "{d:?}");
        // A wait never runs past the queue timeout.
        let d = decide(&own, &slots, t0() + chrono::Duration::milliseconds(4_500), RETRY);
        assert!(matches!(d, Decision::Wait { retry_at, .. } if retry_at == t0() + secs(5)), "{d:?}");
    }

    #[test]
    fn a_bot_at_its_timeout_still_takes_room_that_is_there() {
        let slots = [slot(K8s, 0, 30, 60)];
        let q = QueueState { own_timeout: true, timeout_at: t0(), ..fresh() };
        assert!(matches!(decide(&q, &slots, t0(), RETRY), Decision::Reserve { slot: 0, .. }));
    }

    #[test]
    fn a_platform_at_its_quota_is_waited_on_and_skipped_from_the_global_queue() {
        let mut slots = [slot(K8s, 0, 30, 60), slot(Aws, 0, 50, 30)];
        slots[0].health = Health::Quota { until: t0() + secs(5) };
        let d = decide(&fresh(), &slots, t0(), RETRY);
        assert!(
            matches!(&d, Decision::Wait { platform_index: 0, why, retry_at, .. } if why == "k8s is full (a quota)" && *retry_at == t0() + secs(5)),
            "{d:?}"
        );
        let q = QueueState { platform_index: 2, ..fresh() };
        assert!(matches!(decide(&q, &slots, t0(), RETRY), Decision::Reserve { slot: 1, .. }));
    }

    #[test]
    fn a_bot_every_platform_refused_is_refused_at_once() {
        let slots = [slot(K8s, 0, 30, 60), slot(Aws, 0, 50, 30)];
        let q = QueueState { rejected_by: vec![K8s, Aws], platform_index: 2, ..fresh() };
        assert!(matches!(decide(&q, &slots, t0(), RETRY), Decision::Refused { .. }));
    }

    #[test]
    fn a_throttling_platform_is_waited_on_until_its_back_off_ends() {
        let mut slots = [slot(K8s, 0, 30, 60), slot(Aws, 0, 50, 30)];
        slots[0].health = Health::Throttled { until: t0() + secs(4) };
        let d = decide(&fresh(), &slots, t0(), RETRY);
        assert_eq!(
            d,
            Decision::Wait {
                platform_index: 0,
                platform_since: t0(),
                wait_until: Some(t0() + secs(60)),
                retry_at: t0() + secs(4),
                why: "k8s asked to slow down".into()
            }
        );
    }

    #[test]
    fn each_error_kind_has_its_reaction() {
        assert_eq!(react(ErrorKind::Unavailable), Reaction::Failover);
        assert_eq!(react(ErrorKind::Unauthorised), Reaction::Failover);
        assert_eq!(react(ErrorKind::Misconfigured), Reaction::Failover);
        assert_eq!(react(ErrorKind::NotFound), Reaction::Failover);
        assert_eq!(react(ErrorKind::Rejected), Reaction::Rejected);
        assert_eq!(react(ErrorKind::Throttled), Reaction::Throttled);
        assert_eq!(react(ErrorKind::Capacity), Reaction::Full);
        assert_eq!(react(ErrorKind::Conflict), Reaction::Leftover);
    }

    #[test]
    fn the_back_off_doubles_up_to_its_maximum_and_jitter_stays_within_a_fifth() {
        let (base, max) = (Duration::from_secs(5), Duration::from_secs(300));
        let steps: Vec<u64> = (1..=9).map(|n| backoff(base, max, n).as_secs()).collect();
        assert_eq!(steps, [5, 10, 20, 40, 80, 160, 300, 300, 300]);
        assert_eq!(backoff(base, max, 0), base);
        assert_eq!(backoff(base, max, u32::MAX), max);
        let spread: Vec<Duration> = (0..1000).map(|s| jitter(Duration::from_secs(10), s)).collect();
        assert!(spread.iter().all(|d| *d >= Duration::from_secs(8) && *d <= Duration::from_secs(12)));
        assert!(spread.iter().any(|d| *d < Duration::from_millis(9_000)));
        assert!(spread.iter().any(|d| *d > Duration::from_millis(11_000)));
    }
}
