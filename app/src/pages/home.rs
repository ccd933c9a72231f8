//! `/`: the landing page for visitors, the dashboard for a signed-in user.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::bots::{get_dashboard_stats, list_bots};
use crate::api::infrastructure::{get_active_platforms, get_queue_stats};
use crate::app::Session;
use crate::components::badges::{PlatformLabel, StatusBadge};
use crate::components::live::{use_fleet_refresh, use_live, use_refresh, use_time_zone, Loaded};
use crate::components::ui::CARD;
use crate::model::bot::{Bot, BotFilter};
use crate::model::infrastructure::PlatformStatus;
use crate::model::user::CurrentUser;
use crate::pages::bots::DeployForm;
use crate::pages::infrastructure::health::{health_sentence, HealthBadge};

/// Chooses between landing page and dashboard.
#[component]
pub fn HomePage() -> impl IntoView {
    let session = expect_context::<Session>();
    move || match session.user.get() {
        Some(user) => view! { <Dashboard user /> }.into_any(),
        None => view! { <Landing /> }.into_any(),
    }
}

#[component]
fn Landing() -> impl IntoView {
    let features = [
        ("Every meeting platform", "Send bots into Zoom, Google Meet and Microsoft Teams calls from one API."),
        ("Your infrastructure", "Run each bot as a Kubernetes Job, an AWS ECS task or in a Coolify pool, in the order and within the limits you set, failing over when a platform fails."),
        ("Always accounted for", "Every bot's status, heartbeat, logs and screenshots, live, with a durable queue that shows each bot's place and expected start."),
    ];
    let plans = [
        ("Free", "5 bots per day", "$0"),
        ("Pro", "200 bots per day", "$29.99 / month"),
        ("Enterprise", "Unlimited bots", "Talk to us"),
    ];
    view! {
        <Title text="Meeting bots on your own infrastructure" />
        <section class="rounded-2xl bg-slate-900 px-6 py-16 text-center text-white shadow-xl sm:px-12">
            <h1 class="text-4xl font-bold tracking-tight sm:text-5xl">"Welcome to Meeboter"</h1>
            <p class="mx-auto mt-4 max-w-2xl text-lg text-slate-300">
                "Self-hosted meeting bots that join, record and report, on the platforms you already run."
            </p>
            <div class="mt-8 flex flex-col justify-center gap-3 sm:flex-row">
                <a
                    href="/auth/sign-up"
                    class="rounded-lg bg-indigo-500 px-5 py-3 font-semibold text-white hover:bg-indigo-400"
                >
                    "Get Started"
                </a>
                <a
                    href="/auth/sign-in"
                    class="rounded-lg bg-white/10 px-5 py-3 font-semibold text-white ring-1 ring-white/20 hover:bg-white/20"
                >
                    "Sign In"
                </a>
            </div>
        </section>
        <section class="mt-10 grid gap-4 sm:grid-cols-3">
            {features
                .into_iter()
                .map(|(title, text)| {
                    view! {
                        <div class="rounded-xl bg-white p-6 shadow-sm ring-1 ring-slate-200">
                            <h2 class="font-semibold text-slate-900">{title}</h2>
                            <p class="mt-2 text-sm text-slate-600">{text}</p>
                        </div>
                    }
                })
                .collect_view()}
        </section>
        <section class="mt-10">
            <h2 class="text-xl font-semibold">"Plans"</h2>
            <div class="mt-4 grid gap-4 sm:grid-cols-3">
                {plans
                    .into_iter()
                    .map(|(name, limit, price)| {
                        view! {
                            <div class="rounded-xl bg-white p-6 shadow-sm ring-1 ring-slate-200">
                                <h3 class="font-semibold">{name}</h3>
                                <p class="mt-1 text-2xl font-bold text-indigo-600">{price}</p>
                                <p class="mt-2 text-sm text-slate-600">{limit}</p>
                            </div>
                        }
                    })
                    .collect_view()}
            </div>
        </section>
    }
}

/// A new account is welcomed; a returning one is welcomed back.
fn greeting(user: &CurrentUser) -> String {
    if user.first_session {
        format!("Welcome to Meeboter, {}", user.name)
    } else {
        format!("Welcome back, {}", user.name)
    }
}

#[component]
fn Dashboard(user: CurrentUser) -> impl IntoView {
    let tick = use_refresh(5);
    let tz = use_time_zone();
    let refresh = RwSignal::new(0u32);
    let stats = use_live(move || (tz.get(), tick.get(), refresh.get()), |(tz, _, _)| get_dashboard_stats(Some(tz)));
    let recent = use_live(
        move || (tick.get(), refresh.get()),
        |_| list_bots(BotFilter { page_size: 8, ..BotFilter::default() }),
    );
    let deployed = RwSignal::new(None::<usize>);
    // The platform card and the queue badge follow everything the viewer may see of the fleet.
    let fleet = use_fleet_refresh(5);
    let platforms = use_live(move || fleet.get(), |_| get_active_platforms());
    let queue = use_live(move || fleet.get(), |_| get_queue_stats());
    view! {
        <Title text="Dashboard" />
        <div class="flex flex-col gap-1">
            <h1 class="text-2xl font-bold tracking-tight" data-testid="greeting">
                {greeting(&user)}
            </h1>
            <p class="text-sm text-slate-600">
                {format!("Signed in as {}", user.email)} {user.is_admin().then_some(" · administrator")}
            </p>
        </div>
        {move || {
            queue
                .get()
                .and_then(Result::ok)
                .filter(|q| q.total > 0)
                .map(|q| {
                    view! {
                        <a
                            href="/infrastructure#queue"
                            class="mt-4 inline-flex items-center gap-2 rounded-full bg-amber-100 px-3 py-1 text-sm font-medium text-amber-900 ring-1 ring-amber-200 hover:bg-amber-200"
                            data-testid="queue-badge"
                        >
                            {queue_badge(q.total)}
                        </a>
                    }
                })
        }}
        <div class="mt-6 grid gap-4 sm:grid-cols-3">
            <Loaded data=stats fallback=|| () let:loaded>
                {loaded
                    .map(|s| {
                        let pct = s.today.limit.filter(|l| *l > 0).map(|l| (s.today.usage * 100 / l).min(100));
                        view! {
                            <a href="/bots" class=format!("{CARD} hover:ring-indigo-300") data-testid="stat-active">
                                <p class="text-sm text-slate-500">"Active Bots"</p>
                                <p class="mt-1 text-3xl font-bold">{s.active_bots}</p>
                            </a>
                            <a href="/api-keys" class=format!("{CARD} hover:ring-indigo-300") data-testid="stat-keys">
                                <p class="text-sm text-slate-500">"API Keys"</p>
                                <p class="mt-1 text-3xl font-bold">{s.api_keys}</p>
                            </a>
                            <a href="/usage" class=format!("{CARD} hover:ring-indigo-300") data-testid="stat-usage">
                                <p class="text-sm text-slate-500">{format!("Today's Usage ({} plan)", s.plan)}</p>
                                <p class="mt-1 text-3xl font-bold">
                                    {match s.today.limit {
                                        Some(l) => format!("{}/{l}", s.today.usage),
                                        None => s.today.usage.to_string(),
                                    }}
                                </p>
                                <div class="mt-2 h-2 overflow-hidden rounded-full bg-slate-100">
                                    <div
                                        class="h-full rounded-full bg-indigo-500"
                                        style=format!("width: {}%", pct.unwrap_or(0))
                                    />
                                </div>
                                <p class="mt-1 text-xs text-slate-500">
                                    {match pct {
                                        Some(p) => format!("{p}% of daily limit"),
                                        None => "No daily limit".to_owned(),
                                    }}
                                </p>
                            </a>
                        }
                    })}
            </Loaded>
        </div>
        <PlatformCard platforms />
        <div class="mt-6 grid gap-6 lg:grid-cols-2">
            <section class=CARD>
                <h2 class="font-semibold">"Quick Deploy"</h2>
                <p class="mt-1 text-sm text-slate-600">"Send bots into a meeting now."</p>
                <div class="mt-4">
                    <DeployForm
                        stats
                        on_done=Callback::new(move |bots: Vec<Bot>| {
                            deployed.set(Some(bots.len()));
                            refresh.update(|n| *n += 1);
                        })
                    />
                </div>
                {move || {
                    deployed
                        .get()
                        .map(|n| {
                            view! {
                                <p role="status" class="mt-3 text-sm text-emerald-700">
                                    {format!("{n} bot(s) queued. ")}
                                    <a href="/bots" class="font-medium underline">
                                        "See them in Bots"
                                    </a>
                                </p>
                            }
                        })
                }}
            </section>
            <section class=CARD>
                <div class="flex items-center justify-between">
                    <h2 class="font-semibold">"Recent Bots"</h2>
                    <a href="/bots" class="text-sm font-medium text-indigo-600 hover:text-indigo-500">
                        "All bots"
                    </a>
                </div>
                <Loaded data=recent fallback=|| () let:loaded>
                    {match loaded {
                        Ok(page) if page.data.is_empty() => {
                            view! {
                                <p class="mt-4 text-sm text-slate-500">"No bots yet. Deploy one to see it here."</p>
                            }
                                .into_any()
                        }
                        Ok(page) => {
                            view! {
                                <ul class="mt-3 divide-y divide-slate-100" data-testid="recent-bots">
                                    {page
                                        .data
                                        .into_iter()
                                        .map(|b| {
                                            view! {
                                                <li class="flex items-center justify-between gap-3 py-2 text-sm">
                                                    <span class="truncate">
                                                        <PlatformLabel platform=b.meeting_platform />
                                                        <span class="ml-2 text-slate-500">
                                                            {format!("{} #{}", b.display_name, b.id)}
                                                        </span>
                                                    </span>
                                                    <StatusBadge status=b.status />
                                                </li>
                                            }
                                        })
                                        .collect_view()}
                                </ul>
                            }
                                .into_any()
                        }
                        Err(e) => {
                            view! {
                                <p role="alert" class="mt-4 text-sm text-red-700">
                                    {e.to_string()}
                                </p>
                            }
                                .into_any()
                        }
                    }}
                </Loaded>
            </section>
        </div>
    }
}

/// "Queue: 1 bot waiting", "Queue: 12 bots waiting".
pub fn queue_badge(total: i64) -> String {
    format!("Queue: {total} {} waiting", if total == 1 { "bot" } else { "bots" })
}

/// Every active platform with used/limit and health; expands to what each state means.
#[component]
fn PlatformCard(
    platforms: Signal<Option<Result<Vec<PlatformStatus>, crate::model::error::AppError>>>,
) -> impl IntoView {
    let expanded = RwSignal::new(false);
    view! {
        <section class=format!("{CARD} mt-6") data-testid="platform-card">
            <div class="flex items-center justify-between">
                <h2 class="font-semibold">"Platforms"</h2>
                <div class="flex items-center gap-3 text-sm">
                    <button
                        type="button"
                        class="font-medium text-indigo-600 hover:text-indigo-500"
                        aria-expanded=move || expanded.get().to_string()
                        on:click=move |_| expanded.update(|e| *e = !*e)
                    >
                        {move || if expanded.get() { "Less" } else { "Details" }}
                    </button>
                    <a href="/infrastructure" class="font-medium text-indigo-600 hover:text-indigo-500">
                        "Infrastructure"
                    </a>
                </div>
            </div>
            {move || match platforms.get() {
                None => view! { <p class="mt-3 text-sm text-slate-500">"Loading platforms…"</p> }.into_any(),
                Some(Err(e)) => {
                    view! {
                        <p role="alert" class="mt-3 text-sm text-red-700">
                            {e.to_string()}
                        </p>
                    }
                        .into_any()
                }
                Some(Ok(list)) if list.is_empty() => {
                    view! { <p class="mt-3 text-sm text-slate-500">"No platform is configured."</p> }.into_any()
                }
                Some(Ok(list)) => {
                    view! {
                        <ul class="mt-3 divide-y divide-slate-100">
                            {list
                                .into_iter()
                                .map(|p| {
                                    let sentence = health_sentence(&p.health, chrono::Utc::now());
                                    view! {
                                        <li class="py-2 text-sm" data-testid="platform-row">
                                            <div class="flex items-center gap-3">
                                                <span class="w-20 font-medium">{p.platform.label()}</span>
                                                <span class="h-2 flex-1 overflow-hidden rounded-full bg-slate-100">
                                                    <span
                                                        class="block h-full bg-indigo-500"
                                                        style=format!("width: {}%", p.percent())
                                                    />
                                                </span>
                                                <span class="w-16 text-right tabular-nums">
                                                    {format!("{}/{}", p.used, p.limit)}
                                                </span>
                                                <HealthBadge health=p.health.clone() />
                                            </div>
                                            <Show when=move || expanded.get()>
                                                <p class="mt-1 text-xs text-slate-500">{sentence.clone()}</p>
                                            </Show>
                                        </li>
                                    }
                                })
                                .collect_view()}
                        </ul>
                    }
                        .into_any()
                }
            }}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::queue_badge;

    #[test]
    fn the_queue_badge_counts_bots() {
        assert_eq!(queue_badge(1), "Queue: 1 bot waiting");
        assert_eq!(queue_badge(12), "Queue: 12 bots waiting");
    }
}
