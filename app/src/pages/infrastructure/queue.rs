//! The deployment queue section (`#queue`, the dashboard's badge links here): how many bots
//! wait, the oldest and the average wait, and the queued bots with their position, timeout and
//! estimated start.

use leptos::prelude::*;

use crate::api::infrastructure::{get_queue_stats, list_queued_bots};
use crate::components::badges::PlatformLabel;
use crate::components::live::{use_live, Loaded};
use crate::components::time::{now, relative};
use crate::components::ui::{ErrorText, CARD, TD, TH};
use crate::model::infrastructure::{QueuePage, QueuedBot};
use crate::pages::infrastructure::resources::PageButtons;

/// The queue section.
#[component]
pub fn QueueSection(tick: Signal<u64>) -> impl IntoView {
    let page = RwSignal::new(1i64);
    let stats = use_live(move || tick.get(), |_| get_queue_stats());
    let bots = use_live(move || (tick.get(), page.get()), |(_, p)| list_queued_bots(p));
    view! {
        <section id="queue" class="mt-8 scroll-mt-4" data-testid="queue-section">
            <h2 class="text-lg font-semibold">"Deployment queue"</h2>
            <p class="mt-1 text-sm text-slate-600">
                "Bots waiting for room on a platform, in the order they will be placed."
            </p>
            <div class="mt-3 grid gap-3 sm:grid-cols-3">
                <Loaded
                    data=stats
                    fallback=|| view! { <p class="text-sm text-slate-500">"Loading the queue…"</p> }
                    let:loaded
                >
                    {match loaded {
                        Ok(s) => {
                            view! {
                                <div class=CARD>
                                    <p class="text-xs text-slate-500">"Waiting"</p>
                                    <p class="mt-1 text-2xl font-bold" data-testid="queue-total">
                                        {s.total}
                                    </p>
                                </div>
                                <div class=CARD>
                                    <p class="text-xs text-slate-500">"Oldest"</p>
                                    <p class="mt-1 text-2xl font-bold">
                                        {s.oldest_queued_at.map_or_else(|| "–".to_owned(), |t| relative(t, now()))}
                                    </p>
                                </div>
                                <div class=CARD>
                                    <p class="text-xs text-slate-500">"Average wait so far"</p>
                                    <p class="mt-1 text-2xl font-bold">
                                        {s
                                            .average_wait_ms
                                            .map_or_else(|| "–".to_owned(), |ms| format!("{} s", ms.div_ceil(1000)))}
                                    </p>
                                </div>
                            }
                                .into_any()
                        }
                        Err(e) => view! { <ErrorText message=e.to_string() /> }.into_any(),
                    }}
                </Loaded>
            </div>
            <Loaded data=bots fallback=|| () let:loaded>
                {match loaded {
                    Ok(p) if p.bots.is_empty() => {
                        view! {
                            <p class="mt-3 text-sm text-slate-500" data-testid="queue-empty">
                                "No bots are waiting: every bot found room on a platform."
                            </p>
                        }
                            .into_any()
                    }
                    Ok(p) => view! { <QueueTable page=p current=page /> }.into_any(),
                    Err(e) => view! { <ErrorText message=e.to_string() /> }.into_any(),
                }}
            </Loaded>
        </section>
    }
}

/// "in 40 s", or "expired" once the timeout has passed.
pub fn timeout_words(bot: &QueuedBot, now: chrono::DateTime<chrono::Utc>) -> String {
    if bot.timeout_at <= now {
        "expired".to_owned()
    } else {
        relative(bot.timeout_at, now)
    }
}

#[component]
fn QueueTable(page: QueuePage, current: RwSignal<i64>) -> impl IntoView {
    let (total, page_size, at) = (page.total, page.page_size, page.page);
    view! {
        <div class="mt-3 overflow-x-auto rounded-xl bg-white shadow-sm ring-1 ring-slate-200">
            <table class="min-w-full" data-testid="queue-table">
                <thead class="bg-slate-50">
                    <tr>
                        <th class=TH>"#"</th>
                        <th class=TH>"Bot"</th>
                        <th class=TH>"Meeting"</th>
                        <th class=TH>"Queued"</th>
                        <th class=TH>"Times out"</th>
                        <th class=TH>"Estimated start"</th>
                    </tr>
                </thead>
                <tbody>
                    {page
                        .bots
                        .into_iter()
                        .map(|b| {
                            let t = now();
                            view! {
                                <tr
                                    class="border-t border-slate-100"
                                    data-testid="queued-bot"
                                    title=b.waiting_on.clone()
                                >
                                    <td class=TD>{b.position.map_or_else(|| "–".to_owned(), |p| p.to_string())}</td>
                                    <td class=TD>
                                        <a href=format!("/bots/{}", b.bot_id) class="text-indigo-600 hover:underline">
                                            {format!("#{} {}", b.bot_id, b.bot_name)}
                                        </a>
                                    </td>
                                    <td class=TD>
                                        <PlatformLabel platform=b.meeting_platform />
                                    </td>
                                    <td class=TD>{relative(b.queued_at, t)}</td>
                                    <td class=TD>{timeout_words(&b, t)}</td>
                                    <td class=TD>
                                        {b
                                            .estimated_start_at
                                            .map_or_else(|| "no estimate yet".to_owned(), |s| relative(s, t))}
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
        <PageButtons summary=format!("{total} waiting") total page_size at current />
    }
}
