//! `/infrastructure`, for every signed-in user: one collapsible section per configured platform
//! in priority order (capacity, health, four stat cards, its resources), the deployment queue,
//! then the cost and deploy activity. An administrator sees the whole fleet (and
//! may stop resources), and below it users' plans and invitations; anyone else sees their own
//! bots' share only.

mod charts;
pub(crate) mod health;
mod invitations;
mod overview;
mod platform;
mod queue;
mod resources;
mod users;

use leptos::prelude::*;

use self::invitations::Invitations;
use self::overview::Overview;
use self::platform::PlatformSection;
use self::queue::QueueSection;
use self::users::UsersAndPlans;
use crate::api::infrastructure::{get_active_platforms, get_platform_stats};
use crate::components::live::{use_fleet_refresh, use_live, use_time_zone};
use crate::components::protected::RequireUser;
use crate::components::ui::{EmptyState, ErrorText, PageHeader};
use crate::model::platform::DeploymentPlatform;
use crate::model::user::CurrentUser;

/// `/infrastructure`.
#[component]
pub fn InfrastructurePage() -> impl IntoView {
    view! { <RequireUser children=|user| view! { <InfrastructureView user /> } /> }
}

#[component]
fn InfrastructureView(user: CurrentUser) -> impl IntoView {
    let admin = user.is_admin();
    let tick = use_fleet_refresh(5);
    let tz = use_time_zone();
    let platforms = use_live(move || tick.get(), |_| get_active_platforms());
    let stats = use_live(move || (tick.get(), tz.get()), |(_, tz)| get_platform_stats(None, Some(tz)));
    let order = Memo::new(move |_| {
        platforms
            .get()
            .and_then(Result::ok)
            .map(|l| l.iter().map(|p| p.platform).collect::<Vec<_>>())
            .unwrap_or_default()
    });
    let status_of = move |p: DeploymentPlatform| {
        platforms.get().and_then(Result::ok).and_then(|l| l.into_iter().find(|s| s.platform == p))
    };
    let subtitle = if admin {
        "Where the fleet runs: each platform's capacity and health, its resources, the queue, cost and activity."
    } else {
        "Where your bots run: your share of each platform, your resources, your queued bots, cost and activity."
    };
    view! {
        <PageHeader title="Infrastructure" subtitle=subtitle />
        {move || match platforms.get() {
            None => view! { <p class="mt-6 text-sm text-slate-500">"Loading platforms…"</p> }.into_any(),
            Some(Err(e)) => {
                view! {
                    <div class="mt-6">
                        <ErrorText message=e.to_string() />
                    </div>
                }
                    .into_any()
            }
            Some(Ok(list)) if list.is_empty() => {
                view! {
                    <div class="mt-6">
                        <EmptyState
                            title="No platform is configured"
                            text="Set PLATFORM_PRIORITY and each platform's *_BOT_LIMIT (see .env.example); bots wait in the queue until a platform can take them."
                        />
                    </div>
                }
                    .into_any()
            }
            Some(Ok(list)) => {
                view! {
                    <p class="mt-6 text-sm text-slate-600">
                        {format!(
                            "Priority order: {}. A bot takes the first healthy platform with room.",
                            list.iter().map(|p| p.platform.label()).collect::<Vec<_>>().join(" → "),
                        )}
                    </p>
                }
                    .into_any()
            }
        }}
        <For each=move || order.get() key=|p| *p let:platform>
            <PlatformSection
                platform
                status=Signal::derive(move || status_of(platform))
                stats=Signal::derive(move || {
                    stats.get().and_then(Result::ok).and_then(|l| l.into_iter().find(|s| s.platform == platform))
                })
                last=Signal::derive(move || order.get().last() == Some(&platform))
                admin
                tick
            />
        </For>
        <QueueSection tick />
        <Overview tick />
        {admin
            .then(|| {
                view! {
                    <UsersAndPlans />
                    <Invitations />
                }
            })}
    }
}
