//! Deploying bots into one meeting: the form (dashboard quick deploy) and the dialog (bots page).
//! The platform is detected from the link as it is typed; the count is capped by what remains
//! of today's limit.

use leptos::prelude::*;

use crate::api::bots::DashboardStats;
use crate::api::bots::{deploy_bots, get_dashboard_stats};
use crate::components::dialog::Dialog;
use crate::components::live::{use_live, use_time_zone, Loaded};
use crate::components::ui::{ErrorText, BUTTON, INPUT};
use crate::model::bot::{Bot, CreateBot, MeetingPlatform};
use crate::model::error::AppError;

/// The most bots one deploy may create.
pub const MAX_COUNT: u32 = 256;

/// Today's plan and usage for the deploy form, in the browser's time zone.
pub fn use_deploy_stats() -> Signal<Option<Result<DashboardStats, AppError>>> {
    let tz = use_time_zone();
    use_live(move || tz.get(), |tz| get_dashboard_stats(Some(tz)))
}

/// Meeting link and number of bots; calls `on_done` with the created bots. `stats` caps the count
/// by what remains of today's limit (see [`use_deploy_stats`]); `on_done` is where the caller
/// reloads it.
#[component]
pub fn DeployForm(
    stats: Signal<Option<Result<DashboardStats, AppError>>>,
    on_done: Callback<Vec<Bot>>,
) -> impl IntoView {
    let url = RwSignal::new(String::new());
    let count = RwSignal::new(1u32);
    let detected = Memo::new(move |_| MeetingPlatform::detect(&url.get()));
    let deploy = Action::new(|(url, count): &(String, u32)| {
        let request = CreateBot { meeting_url: Some(url.clone()), ..CreateBot::default() };
        let count = *count;
        async move { deploy_bots(request, count).await }
    });
    Effect::new(move |_| {
        if let Some(Ok(bots)) = deploy.value().get() {
            url.set(String::new());
            count.set(1);
            on_done.run(bots);
        }
    });
    view! {
        <Loaded
            data=stats
            fallback=|| {
                view! { <p class="text-sm text-slate-500">"Loading your plan…"</p> }
            }
            let:loaded
        >
            {
                let stats = loaded.ok();
                let remaining = stats.as_ref().and_then(|s| s.today.remaining);
                let cap = remaining.map_or(MAX_COUNT, |r| (r.max(0) as u32).min(MAX_COUNT));
                let hint = match &stats {
                    Some(s) => {
                        match s.today.remaining {
                            Some(r) => format!("{} plan: {r} of {} left today.", s.plan, s.today.limit.unwrap_or(0)),
                            None => format!("{} plan: no daily limit.", s.plan),
                        }
                    }
                    None => String::new(),
                };
                let blocked = move || {
                    deploy.pending().get() || detected.get().is_none() || cap == 0 || count.get() > cap
                };
                view! {
                    <form
                        class="space-y-4"
                        on:submit=move |ev| {
                            ev.prevent_default();
                            deploy.dispatch((url.get_untracked(), count.get_untracked()));
                        }
                    >
                        <div>
                            <label for="meeting-url" class="block text-sm font-medium text-slate-700">
                                "Meeting URL"
                            </label>
                            <input
                                id="meeting-url"
                                type="url"
                                required=true
                                placeholder="https://meet.google.com/abc-defg-hij"
                                class=format!("mt-1 {INPUT}")
                                prop:value=move || url.get()
                                on:input=move |ev| url.set(event_target_value(&ev))
                            />
                            <p class="mt-1 text-xs text-slate-500" data-testid="detected-platform">
                                {move || match (detected.get(), url.get().trim().is_empty()) {
                                    (_, true) => "Google Meet, Microsoft Teams or Zoom.".to_owned(),
                                    (Some(p), _) => format!("Platform: {}", p.label()),
                                    (None, _) => "Not a Google Meet, Microsoft Teams or Zoom link.".to_owned(),
                                }}
                            </p>
                        </div>
                        <div>
                            <label for="bot-count" class="block text-sm font-medium text-slate-700">
                                "Number of Bots"
                            </label>
                            <input
                                id="bot-count"
                                type="number"
                                min="1"
                                max=cap.max(1).to_string()
                                class=format!("mt-1 {INPUT}")
                                prop:value=move || count.get().to_string()
                                on:input=move |ev| {
                                    count.set(event_target_value(&ev).parse::<u32>().unwrap_or(1).clamp(1, MAX_COUNT))
                                }
                            />
                            <p class="mt-1 text-xs text-slate-500">{hint}</p>
                        </div>
                        {move || {
                            deploy
                                .value()
                                .get()
                                .and_then(Result::err)
                                .map(|e| view! { <ErrorText message=e.to_string() /> })
                        }}
                        <button type="submit" class=BUTTON disabled=blocked>
                            {move || {
                                if deploy.pending().get() {
                                    "Deploying…".to_owned()
                                } else if count.get() == 1 {
                                    "Deploy bot".to_owned()
                                } else {
                                    format!("Deploy {} bots", count.get())
                                }
                            }}
                        </button>
                    </form>
                }
            }
        </Loaded>
    }
}

/// "Join Multiple Bots to Meeting".
#[component]
pub fn DeployDialog(on_close: Callback<()>, on_done: Callback<Vec<Bot>>) -> impl IntoView {
    view! {
        <Dialog title=Signal::stored("Join Multiple Bots to Meeting".to_owned()) on_close>
            <DeployForm stats=use_deploy_stats() on_done />
        </Dialog>
    }
}
