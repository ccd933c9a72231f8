//! The Platform tab of a bot in the Coolify pool: its slot (name, state in the pool, whether it
//! still holds this bot, the application, its live status, image and limits, recoveries).

use leptos::prelude::*;

use super::super::row;
use super::{failure, loading, when, HEADING, SECTION};
use crate::api::bots::coolify::get_coolify_slot;
use crate::components::live::{use_live, Loaded};
use crate::model::platform_details::CoolifySlot;

#[component]
pub(super) fn CoolifyView(id: i64, source: impl Fn() -> u64 + Copy + Send + Sync + 'static) -> impl IntoView {
    let slot = use_live(source, move |_| get_coolify_slot(id));
    view! {
        <Loaded data=slot fallback=loading let:loaded>
            {match loaded {
                Ok(s) => slot_card(s).into_any(),
                Err(e) => failure(e),
            }}
        </Loaded>
    }
}

fn slot_card(s: CoolifySlot) -> impl IntoView {
    let live = match (s.app_status, s.live_error) {
        (Some(status), _) => status,
        (None, Some(e)) => format!("unknown ({e})"),
        (None, None) => "-".to_owned(),
    };
    let limits = match (s.limits_cpus, s.limits_memory) {
        (Some(c), Some(m)) => format!("{c} CPU, {m}"),
        (Some(x), None) | (None, Some(x)) => x,
        (None, None) => "-".to_owned(),
    };
    view! {
        <section class=format!("mt-3 {SECTION}") data-testid="coolify-slot">
            <h3 class=HEADING>"Pool slot"</h3>
            <dl class="mt-2 divide-y divide-slate-200">
                {row("Slot", s.slot_name)}
                {row(
                    "Slot status",
                    format!("{} ({})", s.status, if s.assigned { "in use by this bot" } else { "released" }),
                )} {row("Application UUID", s.application_uuid)}
                <div class="flex justify-between gap-4 py-1.5 text-sm" data-testid="coolify-app-status">
                    <dt class="text-slate-500">"Application status"</dt>
                    <dd class="text-right text-slate-900">{live}</dd>
                </div> {row("Image", s.image.unwrap_or_else(|| "-".into()))} {row("Limits", limits)}
                {row("Last used", when(s.last_used_at))} {row("Recoveries", s.recovery_attempts.to_string())}
                {s.error_message.map(|e| row("Last error", e))}
            </dl>
        </section>
    }
}
