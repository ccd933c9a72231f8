//! Human times: "3 min ago", "in 2 h", and short absolute dates.

use chrono::{DateTime, Utc};

/// "just now", "5 min ago", "2 h ago", "3 d ago", or "in 10 min" for future times.
pub fn relative(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - t).num_seconds();
    let (n, future) = if secs < 0 { (-secs, true) } else { (secs, false) };
    let text = if n < 45 {
        return "just now".to_owned();
    } else if n < 3600 {
        format!("{} min", (n + 30) / 60)
    } else if n < 86_400 {
        format!("{} h", n / 3600)
    } else {
        format!("{} d", n / 86_400)
    };
    if future {
        format!("in {text}")
    } else {
        format!("{text} ago")
    }
}

/// "2026-11-22 14:05 UTC".
pub fn short(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// The current time (the browser's clock after hydration).
pub fn now() -> DateTime<Utc> {
    Utc::now()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_times_read_naturally() {
        let now: DateTime<Utc> = "2026-11-22T12:00:00Z".parse().unwrap();
        let at = |s: &str| relative(s.parse().unwrap(), now);
        assert_eq!(at("2026-11-22T11:59:50Z"), "just now");
        assert_eq!(at("2026-11-22T11:55:00Z"), "5 min ago");
        assert_eq!(at("2026-11-22T09:00:00Z"), "3 h ago");
        assert_eq!(at("2026-11-19T12:00:00Z"), "3 d ago");
        assert_eq!(at("2026-11-22T12:10:00Z"), "in 10 min");
    }
}
