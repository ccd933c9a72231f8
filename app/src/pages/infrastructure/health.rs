//! A platform's health as a badge, with what it means in a sentence (shared with the
//! dashboard's platform card).

use chrono::{DateTime, Utc};
use leptos::prelude::*;

use crate::components::time::relative;
use crate::model::infrastructure::HealthState;

/// The badge's colours.
pub fn health_classes(h: &HealthState) -> &'static str {
    match h {
        HealthState::Healthy => "bg-emerald-100 text-emerald-800 ring-emerald-200",
        HealthState::Unhealthy { .. } => "bg-red-100 text-red-800 ring-red-200",
        HealthState::Throttled { .. } | HealthState::Full { .. } => "bg-amber-100 text-amber-900 ring-amber-200",
    }
}

/// What the state means for bots, at `now`.
pub fn health_sentence(h: &HealthState, now: DateTime<Utc>) -> String {
    match h {
        HealthState::Healthy => "Taking bots.".to_owned(),
        HealthState::Unhealthy { reason, since, retry_at } => {
            let probe = retry_at.map_or_else(String::new, |t| format!(" Next probe {}.", relative(t, now)));
            format!(
                "Unhealthy since {}: {reason}. Bots skip it and go to the next platform.{probe}",
                relative(*since, now)
            )
        }
        HealthState::Throttled { until } => {
            format!("Asked Meeboter to slow down; called again {}.", relative(*until, now))
        }
        HealthState::Full { until } => {
            format!("Answered it is full (a quota); bots wait for it and try again {}.", relative(*until, now))
        }
    }
}

/// "Healthy", "Unhealthy", "Throttled" or "Full", with the sentence on hover.
#[component]
pub fn HealthBadge(health: HealthState) -> impl IntoView {
    let title = health_sentence(&health, Utc::now());
    view! {
        <span
            class=format!(
                "rounded-full px-2 py-0.5 text-xs font-semibold ring-1 ring-inset {}",
                health_classes(&health),
            )
            title=title
            data-testid="health"
        >
            {health.label()}
        </span>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_state_says_what_bots_do() {
        let now: DateTime<Utc> = "2026-11-30T12:00:00Z".parse().unwrap();
        assert_eq!(health_sentence(&HealthState::Healthy, now), "Taking bots.");
        let h = HealthState::Unhealthy {
            reason: "the platform could not be reached or failed".into(),
            since: "2026-11-30T11:55:00Z".parse().unwrap(),
            retry_at: Some("2026-11-30T12:10:00Z".parse().unwrap()),
        };
        assert_eq!(
            health_sentence(&h, now),
            "Unhealthy since 5 min ago: the platform could not be reached or failed. Bots skip it and go to the next platform. Next probe in 10 min."
        );
        let h = HealthState::Full { until: "2026-11-30T12:10:00Z".parse().unwrap() };
        assert!(health_sentence(&h, now).ends_with("try again in 10 min."));
    }
}
