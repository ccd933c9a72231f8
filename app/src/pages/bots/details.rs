//! The bot details dialog: Overview (meeting, status, heartbeat, events), and the Logs, Platform
//! and Screenshots tabs.

use leptos::prelude::*;

mod logs;
mod platform;
use logs::LogsTab;
use platform::PlatformTab;

use crate::api::bots::{get_bot, get_bot_logs, get_bot_screenshots};
use crate::components::badges::{approx_wait, InfraBadge, PlatformLabel, StatusBadge};
use crate::components::dialog::Dialog;
use crate::components::live::{use_bot_refresh, use_live, Loaded};
use crate::components::time::{now, relative, short};
use crate::components::ui::{EmptyState, TD, TH};
use crate::model::bot::{Bot, BotEvent, BotLogLine, QueueInfo, Screenshot};
use crate::model::error::AppError;

/// What the dialog refreshes: the bot and its events.
pub(super) type BotAndEvents = Result<(Bot, Vec<BotEvent>), AppError>;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Tab {
    Overview,
    Logs,
    Platform,
    Screenshots,
}

/// Details of one bot, refreshed when it changes (every 5 s while the live stream is down).
#[component]
pub fn BotDetails(id: i64, on_close: Callback<()>) -> impl IntoView {
    let tick = use_bot_refresh(id, 5);
    let data = use_live(move || tick.get(), move |_| get_bot(id));
    let tab = RwSignal::new(Tab::Overview);
    let title = Signal::derive(move || {
        data.get()
            .and_then(Result::ok)
            .map(|(b, _)| format!("{} #{}", b.display_name, b.id))
            .unwrap_or(format!("Bot #{id}"))
    });
    let tab_button = move |t: Tab, label: &'static str| {
        view! {
            <button
                type="button"
                role="tab"
                aria-selected=move || (tab.get() == t).to_string()
                class="border-b-2 px-3 py-2 text-sm font-medium aria-[selected=false]:border-transparent aria-[selected=false]:text-slate-500 aria-[selected=true]:border-indigo-600 aria-[selected=true]:text-indigo-700"
                on:click=move |_| tab.set(t)
            >
                {label}
            </button>
        }
    };
    view! {
        <Dialog title on_close width="max-w-3xl">
            <div role="tablist" class="-mt-2 mb-4 flex gap-1 border-b border-slate-200">
                {tab_button(Tab::Overview, "Overview")}
                {tab_button(Tab::Logs, "Logs")}
                {tab_button(Tab::Platform, "Platform")}
                {tab_button(Tab::Screenshots, "Screenshots")}
            </div>
            // The Logs and Screenshots tabs keep their own live state, outside the refreshing details.
            {move || match tab.get() {
                Tab::Logs => Some(view! { <LogsTab id /> }.into_any()),
                Tab::Screenshots => Some(view! { <ScreenshotsTab id /> }.into_any()),
                Tab::Platform => Some(view! { <PlatformTab id data /> }.into_any()),
                Tab::Overview => None,
            }}
            <Show when=move || tab.get() == Tab::Overview>
                <Loaded
                    data=data
                    fallback=|| {
                        view! { <p class="text-sm text-slate-500">"Loading…"</p> }
                    }
                    let:loaded
                >
                    {match loaded {
                        Ok((bot, events)) => {
                            match tab.get() {
                                Tab::Overview => view! { <Overview bot events /> }.into_any(),
                                Tab::Logs => ().into_any(),
                                Tab::Platform => ().into_any(),
                                Tab::Screenshots => ().into_any(),
                            }
                        }
                        Err(e) => {
                            view! {
                                <p role="alert" class="text-sm text-red-700">
                                    {e.to_string()}
                                </p>
                            }
                                .into_any()
                        }
                    }}
                </Loaded>
            </Show>
        </Dialog>
    }
}

pub(super) fn row(label: &'static str, value: impl IntoView + 'static) -> impl IntoView {
    view! {
        <div class="flex justify-between gap-4 py-1.5 text-sm">
            <dt class="text-slate-500">{label}</dt>
            <dd class="text-right text-slate-900">{value}</dd>
        </div>
    }
}

/// The queue rows of a QUEUED bot: its position, when it is expected to start, and why it waits.
fn queue_row(queue: Option<QueueInfo>) -> impl IntoView {
    queue.map(|q| {
        let start = match (q.estimated_wait_ms, q.estimated_start_at) {
            (Some(ms), Some(at)) => format!("in {} ({})", approx_wait(ms), at.format("%H:%M:%S UTC")),
            _ => "no estimate yet (no measured deploys)".to_owned(),
        };
        view! {
            {row(
                "Queue position",
                view! { <span data-testid="queue-position-detail">{format!("#{}", q.position)}</span> },
            )}
            {row("Expected start", view! { <span data-testid="queue-eta">{start}</span> })}
            {q.waiting_on.map(|why| row("Waiting on", why))}
        }
    })
}

#[component]
fn Overview(bot: Bot, events: Vec<BotEvent>) -> impl IntoView {
    let n = now();
    let heartbeat = bot.last_heartbeat.map(|t| relative(t, n)).unwrap_or_else(|| "Never".to_owned());
    let event_count = events.len();
    view! {
        <div class="grid gap-4 sm:grid-cols-2">
            <section class="rounded-lg bg-slate-50 p-4">
                <h3 class="text-sm font-semibold text-slate-900">"Meeting Information"</h3>
                <dl class="mt-2 divide-y divide-slate-200">
                    {row("Platform", view! { <PlatformLabel platform=bot.meeting_platform /> })}
                    {row(
                        "Link",
                        view! {
                            <span class="break-all font-mono text-xs">
                                {bot.meeting.meeting_url.clone().unwrap_or_else(|| "-".into())}
                            </span>
                        },
                    )} {row("Scheduled", short(bot.start_time))} {row("Ends by", short(bot.end_time))}
                    {row("Recording", if bot.recording_enabled { "On" } else { "Off" })}
                </dl>
            </section>
            <section class="rounded-lg bg-slate-50 p-4">
                <h3 class="text-sm font-semibold text-slate-900">"Bot Status"</h3>
                <dl class="mt-2 divide-y divide-slate-200">
                    {row("Status", view! { <StatusBadge status=bot.status /> })} {queue_row(bot.queue.clone())}
                    {row("Infra", view! { <InfraBadge platform=bot.deployment_platform /> })}
                    {row("Last Heartbeat", heartbeat)} {row("Events", event_count.to_string())}
                    {row("Created", relative(bot.created_at, n))}
                </dl>
            </section>
        </div>
        <h3 class="mt-5 text-sm font-semibold text-slate-900">"Events"</h3>
        <div class="mt-2 max-h-72 overflow-y-auto rounded-lg ring-1 ring-slate-200">
            <table class="min-w-full" data-testid="events">
                <thead class="sticky top-0 bg-slate-50">
                    <tr>
                        <th class=TH>"Time"</th>
                        <th class=TH>"Event"</th>
                        <th class=TH>"Details"</th>
                    </tr>
                </thead>
                <tbody>
                    {events
                        .into_iter()
                        .map(|e| {
                            let details = e
                                .data
                                .as_ref()
                                .and_then(|d| {
                                    d.get("description")
                                        .or(d.get("message"))
                                        .and_then(|v| v.as_str())
                                        .map(str::to_owned)
                                })
                                .unwrap_or(e.description.clone());
                            view! {
                                <tr class="border-t border-slate-100">
                                    <td class=format!("{TD} whitespace-nowrap") title=e.event_time.to_rfc3339()>
                                        {relative(e.event_time, n)}
                                    </td>
                                    <td class=TD>
                                        <span class="rounded bg-slate-100 px-1.5 py-0.5 font-mono text-xs">
                                            {e.event_type}
                                        </span>
                                    </td>
                                    <td class=TD>{details}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
}

/// The bot's screenshots (newest first, refreshed when the bot changes): thumbnails with type, state,
/// trigger and time; a click shows one large.
#[component]
fn ScreenshotsTab(id: i64) -> impl IntoView {
    let tick = use_bot_refresh(id, 5);
    let shots = use_live(move || tick.get(), move |_| get_bot_screenshots(id));
    let open = RwSignal::new(None::<Screenshot>);
    view! {
        <Loaded
            data=shots
            fallback=|| view! { <p class="text-sm text-slate-500">"Loading screenshots…"</p> }
            let:loaded
        >
            {match loaded {
                Ok(list) if list.is_empty() => {
                    view! {
                        <EmptyState
                            title="No screenshots yet"
                            text="Screenshots a bot takes when its state changes or something fails appear here."
                        />
                    }
                        .into_any()
                }
                Ok(list) => {
                    view! {
                        <div class="grid grid-cols-2 gap-3 sm:grid-cols-3" data-testid="screenshots">
                            {list
                                .into_iter()
                                .map(|s| {
                                    let shown = s.clone();
                                    view! {
                                        <button
                                            type="button"
                                            class="overflow-hidden rounded-lg text-left ring-1 ring-slate-200 hover:ring-indigo-400"
                                            on:click=move |_| open.set(Some(shown.clone()))
                                        >
                                            <img
                                                src=s.url.clone()
                                                alt=format!("{} screenshot", s.kind)
                                                class="h-28 w-full bg-slate-100 object-contain"
                                            />
                                            <div class="p-2 text-xs">
                                                <p class="font-medium">{format!("{} · {}", s.kind, s.state)}</p>
                                                <p class="text-slate-500">{s.trigger.clone().unwrap_or_default()}</p>
                                                <p class="text-slate-500">{short(s.captured_at)}</p>
                                            </div>
                                        </button>
                                    }
                                })
                                .collect_view()}
                        </div>
                    }
                        .into_any()
                }
                Err(e) => {
                    view! {
                        <p role="alert" class="text-sm text-red-700">
                            {e.to_string()}
                        </p>
                    }
                        .into_any()
                }
            }}
        </Loaded>
        {move || {
            open.get()
                .map(|s| {
                    view! {
                        <figure class="mt-4 rounded-lg bg-slate-950 p-3" data-testid="screenshot-viewer">
                            <img src=s.url.clone() alt="Screenshot" class="mx-auto max-h-96" />
                            <figcaption class="mt-2 flex justify-between text-xs text-slate-300">
                                <span>
                                    {format!(
                                        "{} · {}{}",
                                        s.kind,
                                        s.state,
                                        s.trigger.map(|t| format!(" · {t}")).unwrap_or_default(),
                                    )}
                                </span>
                                <button type="button" class="underline" on:click=move |_| open.set(None)>
                                    "Hide"
                                </button>
                            </figcaption>
                        </figure>
                    }
                })
        }}
    }
}
