//! The Overview tab: the meeting (when, how long in the call, the recording), the bot's status
//! and log level, who spoke when, the events with their sub-codes, and the chat messages sent
//! to the bot with their delivery state.

use chrono::{DateTime, Utc};
use leptos::prelude::*;

use crate::components::ui::ErrorText;

use super::{row, DetailsTab};
use crate::api::bots::{get_bot_chat, set_bot_log_level};
use crate::components::badges::{approx_wait, InfraBadge, PlatformLabel, StatusBadge};
use crate::components::live::{use_bot_refresh, use_live, use_tick, Loaded};
use crate::components::time::{now, relative, short};
use crate::components::toast::use_toasts;
use crate::components::ui::{TD, TH};
use crate::model::bot::{Bot, BotEvent, BotStatus, LogLevel, QueueInfo};
use crate::model::recording::{RecordingState, SpeakerTimeframe};

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

/// How long the bot was in the call: from its first IN_CALL event to the first CALL_ENDED,
/// LEAVING, DONE or FATAL after it (or `now` while it is still there). `events` newest first.
pub fn call_duration(events: &[BotEvent], status: BotStatus, now: DateTime<Utc>) -> Option<chrono::Duration> {
    let joined = events.iter().filter(|e| e.event_type == "IN_CALL").map(|e| e.event_time).min()?;
    let left = events
        .iter()
        .filter(|e| matches!(e.event_type.as_str(), "CALL_ENDED" | "LEAVING" | "DONE" | "FATAL"))
        .map(|e| e.event_time)
        .filter(|t| *t >= joined)
        .min();
    match left {
        Some(left) => Some(left - joined),
        None if status == BotStatus::InCall => Some(now - joined),
        None => None,
    }
}

/// "1 h 4 min", "4 min 12 s", "9 s".
pub fn human_duration(d: chrono::Duration) -> String {
    let s = d.num_seconds().max(0);
    match (s / 3600, (s % 3600) / 60, s % 60) {
        (0, 0, s) => format!("{s} s"),
        (0, m, s) => format!("{m} min {s} s"),
        (h, m, _) => format!("{h} h {m} min"),
    }
}

/// One speaker's row of the timeline: their bars as (left, width) in per cent of the whole.
#[derive(Debug, Clone, PartialEq)]
pub struct SpeakerRow {
    pub name: String,
    pub bars: Vec<(f64, f64)>,
    pub spoke_ms: f64,
}

/// The timeline of `frames`: a row per speaker in the order they first spoke, scaled to the
/// latest end.
pub fn timeline(frames: &[SpeakerTimeframe]) -> Vec<SpeakerRow> {
    let total = frames.iter().map(|f| f.end).fold(0.0_f64, f64::max);
    if total <= 0.0 {
        return Vec::new();
    }
    let mut rows: Vec<SpeakerRow> = Vec::new();
    for f in frames {
        let bar = (f.start / total * 100.0, ((f.end - f.start) / total * 100.0).max(0.5));
        match rows.iter_mut().find(|r| r.name == f.speaker_name) {
            Some(r) => {
                r.bars.push(bar);
                r.spoke_ms += f.end - f.start;
            }
            None => rows.push(SpeakerRow { name: f.speaker_name.clone(), bars: vec![bar], spoke_ms: f.end - f.start }),
        }
    }
    rows
}

#[component]
pub(super) fn Overview(bot: Bot, events: Vec<BotEvent>, tab: RwSignal<DetailsTab>) -> impl IntoView {
    let n = now();
    let heartbeat = bot.last_heartbeat.map(|t| relative(t, n)).unwrap_or_else(|| "Never".to_owned());
    let event_count = events.len();
    let duration = call_duration(&events, bot.status, n).map(human_duration).unwrap_or_else(|| "-".to_owned());
    let recording = match bot.recording_state {
        RecordingState::Ready => view! {
            <button
                type="button"
                data-testid="overview-recording"
                class="font-medium text-indigo-600 hover:text-indigo-500"
                on:click=move |_| tab.set(DetailsTab::Recording)
            >
                "Ready: play"
            </button>
        }
        .into_any(),
        state => view! {
            <span data-testid="overview-recording">
                {match state {
                    RecordingState::Off => "Off",
                    RecordingState::Pending => "On (uploaded when the bot leaves)",
                    RecordingState::Missing => "None (the bot ended without one)",
                    RecordingState::Deleted => "Deleted after the retention period",
                    RecordingState::Ready => "Ready",
                }}
            </span>
        }
        .into_any(),
    };
    let id = bot.id;
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
                    {row("In the call for", view! { <span data-testid="call-duration">{duration}</span> })}
                    {row("Recording", recording)}
                </dl>
            </section>
            <section class="rounded-lg bg-slate-50 p-4">
                <h3 class="text-sm font-semibold text-slate-900">"Bot Status"</h3>
                <dl class="mt-2 divide-y divide-slate-200">
                    {row("Status", view! { <StatusBadge status=bot.status /> })} {queue_row(bot.queue.clone())}
                    {row("Infra", view! { <InfraBadge platform=bot.deployment_platform /> })}
                    {row("Last Heartbeat", heartbeat)} {row("Events", event_count.to_string())}
                    {row("Created", relative(bot.created_at, n))}
                    {row("Log level", view! { <LogLevelControl id current=bot.log_level live=bot.status.is_live() /> })}
                </dl>
            </section>
        </div>
        <Speakers frames=bot.speaker_timeframes.clone() />
        <h3 class="mt-5 text-sm font-semibold text-slate-900">"Events"</h3>
        <div class="mt-2 max-h-72 overflow-y-auto rounded-lg ring-1 ring-slate-200">
            <table class="min-w-full" data-testid="events">
                <thead class="sticky top-0 bg-slate-50">
                    <tr>
                        <th class=TH>"Time"</th>
                        <th class=TH>"Event"</th>
                        <th class=TH>"Sub-code"</th>
                        <th class=TH>"Details"</th>
                    </tr>
                </thead>
                <tbody>{events.into_iter().map(|e| event_row(e, n)).collect_view()}</tbody>
            </table>
        </div>
        <ChatMessages id />
    }
}

fn event_row(e: BotEvent, n: DateTime<Utc>) -> impl IntoView {
    let text = |key: &str| e.data.as_ref().and_then(|d| d.get(key)).and_then(|v| v.as_str()).map(str::to_owned);
    let details = text("description").or_else(|| text("message")).unwrap_or(e.description.clone());
    let sub_code = text("sub_code").or_else(|| text("subCode"));
    view! {
        <tr class="border-t border-slate-100">
            <td class=format!("{TD} whitespace-nowrap") title=e.event_time.to_rfc3339()>
                {relative(e.event_time, n)}
            </td>
            <td class=TD>
                <span class="rounded bg-slate-100 px-1.5 py-0.5 font-mono text-xs">{e.event_type}</span>
            </td>
            <td class=TD>
                {sub_code
                    .map(|c| {
                        view! {
                            <span class="rounded bg-red-50 px-1.5 py-0.5 font-mono text-xs text-red-700">{c}</span>
                        }
                    })}
            </td>
            <td class=TD>{details}</td>
        </tr>
    }
}

/// The log level the bot runs at (it applies it at its next heartbeat); a toast says how it went.
#[component]
fn LogLevelControl(id: i64, current: LogLevel, live: bool) -> impl IntoView {
    let toasts = use_toasts();
    let level = RwSignal::new(current);
    let set = Action::new(move |l: &LogLevel| {
        let l = *l;
        async move { (l, set_bot_log_level(id, l).await) }
    });
    Effect::new(move |_| match set.value().get() {
        Some((l, Ok(()))) => toasts.success(format!("Bot #{id} now logs at {} (from its next heartbeat).", l.as_str())),
        Some((_, Err(e))) => {
            level.set(current);
            toasts.error(format!("The log level was not changed: {e}"));
        }
        None => {}
    });
    view! {
        <select
            aria-label="Log level"
            data-testid="log-level"
            class="rounded-md border-0 bg-white py-0.5 pl-2 pr-7 text-sm ring-1 ring-slate-300"
            disabled=!live
            title=if live { "The bot applies it at its next heartbeat." } else { "The bot has finished." }
            prop:value=move || level.get().as_str()
            on:change=move |ev| {
                if let Some(l) = LogLevel::parse(&event_target_value(&ev)) {
                    level.set(l);
                    set.dispatch(l);
                }
            }
        >
            {LogLevel::ALL.into_iter().map(|l| view! { <option value=l.as_str()>{l.as_str()}</option> }).collect_view()}
        </select>
    }
}

/// Who spoke when, a row per speaker.
#[component]
fn Speakers(frames: Vec<SpeakerTimeframe>) -> impl IntoView {
    let rows = timeline(&frames);
    (!rows.is_empty()).then(|| {
        view! {
            <h3 class="mt-5 text-sm font-semibold text-slate-900">"Speakers"</h3>
            <div class="mt-2 space-y-2 rounded-lg bg-slate-50 p-4" data-testid="speaker-timeline">
                {rows
                    .into_iter()
                    .map(|r| {
                        let spoke = human_duration(chrono::Duration::milliseconds(r.spoke_ms as i64));
                        view! {
                            <div class="flex items-center gap-3 text-xs">
                                <span class="w-32 truncate text-slate-700" title=r.name.clone()>
                                    {r.name.clone()}
                                </span>
                                <div class="relative h-3 flex-1 rounded bg-slate-200">
                                    {r
                                        .bars
                                        .into_iter()
                                        .map(|(left, width)| {
                                            view! {
                                                <span
                                                    class="absolute inset-y-0 rounded bg-indigo-500"
                                                    style=format!("left:{left:.2}%;width:{width:.2}%")
                                                />
                                            }
                                        })
                                        .collect_view()}
                                </div>
                                <span class="w-16 text-right text-slate-500">{spoke}</span>
                            </div>
                        }
                    })
                    .collect_view()}
            </div>
        }
    })
}

/// The chat messages sent to the bot, with their delivery state.
#[component]
fn ChatMessages(id: i64) -> impl IntoView {
    // Delivery does not change the bot, so the live stream does not announce it: while a
    // message is still queued the list is read again every 3 s.
    let tick = use_bot_refresh(id, 10);
    let fast = use_tick(3);
    let waiting = RwSignal::new(false);
    let chat = use_live(move || (tick.get(), if waiting.get() { fast.get() } else { 0 }), move |_| get_bot_chat(id));
    Effect::new(move |_| {
        if let Some(Ok(list)) = chat.get() {
            waiting.set(list.iter().any(|m| m.status == "queued"));
        }
    });
    view! {
        <h3 class="mt-5 text-sm font-semibold text-slate-900">"Chat messages"</h3>
        <Loaded data=chat fallback=|| view! { <p class="mt-2 text-sm text-slate-500">"Loading…"</p> } let:loaded>
            {match loaded {
                Ok(list) if list.is_empty() => {
                    view! {
                        <p class="mt-2 text-sm text-slate-500">
                            "No chat messages were sent to this bot. Send them from the API (POST /api/v1/chat/send)."
                        </p>
                    }
                        .into_any()
                }
                Ok(list) => {
                    view! {
                        <ul
                            class="mt-2 divide-y divide-slate-100 rounded-lg ring-1 ring-slate-200"
                            data-testid="chat-messages"
                        >
                            {list
                                .into_iter()
                                .map(|m| {
                                    let state = match (m.status.as_str(), m.delivered_at, m.error.clone()) {
                                        ("sent", Some(at), _) => format!("Sent {}", short(at)),
                                        ("failed", _, Some(e)) => format!("Failed: {e}"),
                                        ("failed", _, None) => "Failed".to_owned(),
                                        ("queued", _, _) => "Queued (the bot posts it at its next check)".to_owned(),
                                        (other, _, _) => other.to_owned(),
                                    };
                                    view! {
                                        <li class="flex items-start justify-between gap-4 px-3 py-2 text-sm">
                                            <span class="text-slate-900">{m.message_text}</span>
                                            <span class="shrink-0 text-xs text-slate-500" title=m.sent_at.to_rfc3339()>
                                                {state}
                                            </span>
                                        </li>
                                    }
                                })
                                .collect_view()}
                        </ul>
                    }
                        .into_any()
                }
                Err(e) => view! { <ErrorText message=e.to_string() /> }.into_any(),
            }}
        </Loaded>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn event(kind: &str, secs: i64) -> BotEvent {
        BotEvent {
            id: secs,
            bot_id: 1,
            event_type: kind.to_owned(),
            event_time: Utc.timestamp_opt(1_800_000_000 + secs, 0).unwrap(),
            data: None,
            description: String::new(),
        }
    }

    #[test]
    fn the_call_lasts_from_in_call_to_the_first_end() {
        let now = Utc.timestamp_opt(1_800_000_000 + 1000, 0).unwrap();
        let events = vec![event("DONE", 300), event("CALL_ENDED", 250), event("IN_CALL", 10), event("JOINING_CALL", 0)];
        assert_eq!(call_duration(&events, BotStatus::Done, now), Some(chrono::Duration::seconds(240)));
        let live = vec![event("IN_CALL", 10)];
        assert_eq!(call_duration(&live, BotStatus::InCall, now), Some(chrono::Duration::seconds(990)));
        assert_eq!(call_duration(&[event("FATAL", 5)], BotStatus::Fatal, now), None);
        assert_eq!(human_duration(chrono::Duration::seconds(252)), "4 min 12 s");
        assert_eq!(human_duration(chrono::Duration::seconds(3840)), "1 h 4 min");
        assert_eq!(human_duration(chrono::Duration::seconds(9)), "9 s");
    }

    #[test]
    fn the_timeline_has_a_row_per_speaker_scaled_to_the_end() {
        let f = |n: &str, s: f64, e: f64| SpeakerTimeframe { speaker_name: n.to_owned(), start: s, end: e };
        let rows = timeline(&[f("Ada", 0.0, 1000.0), f("Bo", 1000.0, 3000.0), f("Ada", 3000.0, 4000.0)]);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].name, "Ada");
        assert_eq!(rows[0].bars, vec![(0.0, 25.0), (75.0, 25.0)]);
        assert_eq!(rows[0].spoke_ms, 2000.0);
        assert_eq!(rows[1].bars, vec![(25.0, 50.0)]);
        assert!(timeline(&[]).is_empty());
    }
}
