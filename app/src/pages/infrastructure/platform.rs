//! One platform's collapsible section: the header with its capacity badge ("K8s (25/30)") and
//! health, what happens when it is full, four stat cards and its resource table.

use leptos::prelude::*;

use super::health::{health_sentence, HealthBadge};
use super::resources::ResourceTable;
use crate::components::ui::CARD;
use crate::model::infrastructure::{PlatformStats, PlatformStatus};
use crate::model::platform::DeploymentPlatform;

/// "45 s", "5 min", "3 h": a configured duration.
pub fn duration_words(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..=119 => format!("{s} s"),
        120..=7199 => format!("{} min", s / 60),
        _ => format!("{} h", s / 3600),
    }
}

/// What a full platform means for a bot, in words (docs/ARCHITECTURE.md, "The hybrid deployer").
pub fn when_full(status: &PlatformStatus, last: bool) -> String {
    let wait = duration_words(status.queue_timeout_ms);
    if last {
        format!(
            "When full, a bot waits up to {wait} for room here (counted from when it reached this platform), then waits in the global queue for the first platform with room, until its queue timeout."
        )
    } else {
        format!(
            "When full, a bot waits up to {wait} for room here (counted from when it reached this platform), then moves on to the next platform in priority order."
        )
    }
}

/// "p50 1.2 s · p95 3.4 s over 12 deploys in the last hour", or that there were none.
pub fn latency_line(status: &PlatformStatus) -> String {
    let secs = |ms: u64| if ms < 1000 { format!("{ms} ms") } else { format!("{:.1} s", ms as f64 / 1000.0) };
    match (status.deploy_p50_ms, status.deploy_p95_ms) {
        (Some(p50), Some(p95)) => format!(
            "Deploy latency p50 {} · p95 {} over {} deploy(s) in the last hour.",
            secs(p50),
            secs(p95),
            status.deploys_last_hour
        ),
        _ => "No deploys in the last hour.".to_owned(),
    }
}

/// The section of one platform; `status` and `stats` change with each refresh while the
/// section (its open state, its table's page, a confirmation) stays.
#[component]
pub fn PlatformSection(
    platform: DeploymentPlatform,
    #[prop(into)] status: Signal<Option<PlatformStatus>>,
    #[prop(into)] stats: Signal<Option<PlatformStats>>,
    #[prop(into)] last: Signal<bool>,
    admin: bool,
    tick: Signal<u64>,
) -> impl IntoView {
    let open = RwSignal::new(true);
    let header = move || {
        status.get().map(|s| {
            let bar = if s.health.is_healthy() { "bg-indigo-500" } else { "bg-amber-500" };
            view! {
                <h2 class="text-lg font-semibold" data-testid="platform-header">
                    {s.badge()}
                </h2>
                <HealthBadge health=s.health.clone() />
                <span class="ml-auto hidden h-2 w-40 overflow-hidden rounded-full bg-slate-100 sm:block">
                    <span class=format!("block h-full {bar}") style=format!("width: {}%", s.percent()) />
                </span>
            }
        })
    };
    let notes = move || {
        status.get().map(|s| {
            view! {
                <p class="mt-3 text-sm text-slate-700">{health_sentence(&s.health, chrono::Utc::now())}</p>
                <p class="mt-1 text-xs text-slate-500">{when_full(&s, last.get())}</p>
                <p class="mt-1 text-xs text-slate-500">{latency_line(&s)}</p>
            }
        })
    };
    let cards = move || match stats.get() {
        Some(s) => [
            ("Deploying", s.deploying, "text-sky-700"),
            ("Active", s.active, "text-emerald-700"),
            ("Finished today", s.finished_today, "text-slate-900"),
            ("Failed today", s.failed_today, "text-red-700"),
        ]
        .into_iter()
        .map(|(label, n, colour)| {
            view! {
                <div class=format!("{CARD} p-3")>
                    <p class="text-xs text-slate-500">{label}</p>
                    <p class=format!("mt-1 text-2xl font-bold {colour}") data-testid="stat">
                        {n}
                    </p>
                </div>
            }
        })
        .collect_view()
        .into_any(),
        None => view! { <p class="col-span-full text-sm text-slate-500">"Loading statistics…"</p> }.into_any(),
    };
    view! {
        <section
            class="mt-4 rounded-xl bg-white shadow-sm ring-1 ring-slate-200"
            data-testid=format!("platform-{}", platform.as_str())
        >
            <button
                type="button"
                class="flex w-full flex-wrap items-center gap-3 px-5 py-4 text-left"
                aria-expanded=move || open.get().to_string()
                on:click=move |_| open.update(|o| *o = !*o)
            >
                <span class="text-slate-400">{move || if open.get() { "▾" } else { "▸" }}</span>
                {header}
            </button>
            <Show when=move || open.get()>
                <div class="border-t border-slate-100 px-5 pb-5">
                    {notes} <div class="mt-4 grid grid-cols-2 gap-3 sm:grid-cols-4">{cards}</div>
                    <ResourceTable platform admin tick />
                </div>
            </Show>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::infrastructure::HealthState;

    fn status() -> PlatformStatus {
        PlatformStatus {
            platform: DeploymentPlatform::K8s,
            used: 1,
            limit: 2,
            queue_timeout_ms: 60_000,
            health: HealthState::Healthy,
            deploys_last_hour: 3,
            deploy_p50_ms: Some(1_200),
            deploy_p95_ms: Some(3_450),
        }
    }

    #[test]
    fn a_full_platform_is_described_as_the_deployer_treats_it() {
        let text = when_full(&status(), false);
        assert!(text.contains("waits up to 60 s") && text.contains("moves on to the next platform"), "{text}");
        assert!(when_full(&status(), true).contains("global queue"));
    }

    #[test]
    fn durations_read_in_the_largest_whole_unit() {
        assert_eq!(duration_words(30_000), "30 s");
        assert_eq!(duration_words(300_000), "5 min");
        assert_eq!(duration_words(10_800_000), "3 h");
    }

    #[test]
    fn latency_reads_in_seconds_or_says_there_was_none() {
        assert_eq!(latency_line(&status()), "Deploy latency p50 1.2 s · p95 3.5 s over 3 deploy(s) in the last hour.");
        let fast = PlatformStatus { deploy_p50_ms: Some(12), ..status() };
        assert!(latency_line(&fast).starts_with("Deploy latency p50 12 ms · p95 3.5 s"));
        let none = PlatformStatus { deploy_p50_ms: None, deploy_p95_ms: None, ..status() };
        assert_eq!(latency_line(&none), "No deploys in the last hour.");
    }
}
