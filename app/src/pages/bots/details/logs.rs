//! The Logs tab: the live tail of a bot's log.

use leptos::prelude::*;

use crate::api::bots::get_bot_logs;
use crate::components::live::use_tick;
use crate::model::bot::BotLogLine;

/// Most lines the tab keeps (older ones scroll away; the download has what is kept).
const MAX_LINES: usize = 5_000;

fn level_class(level: &str) -> &'static str {
    match level {
        "ERROR" | "FATAL" => "text-red-400",
        "WARN" => "text-amber-300",
        "DEBUG" | "TRACE" => "text-slate-400",
        _ => "text-emerald-300",
    }
}

fn encode_uri_component(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The live tail of a bot's log: new lines every 2 s unless paused, a search, a level filter
/// and a download of what is shown.
#[component]
pub(super) fn LogsTab(id: i64) -> impl IntoView {
    let lines = RwSignal::new(Vec::<BotLogLine>::new());
    let loaded = RwSignal::new(false);
    let failed = RwSignal::new(None::<String>);
    let paused = RwSignal::new(false);
    let search = RwSignal::new(String::new());
    let level = RwSignal::new(String::new());
    let tick = use_tick(2);
    let busy = StoredValue::new(false);
    Effect::new(move |_| {
        tick.track();
        if paused.get() || busy.get_value() {
            return;
        }
        busy.set_value(true);
        let after = lines.with_untracked(|l| l.last().map_or(0, |l| l.seq));
        leptos::task::spawn_local(async move {
            match get_bot_logs(id, after).await {
                Ok(new) => {
                    failed.set(None);
                    if !new.is_empty() {
                        lines.update(|l| {
                            l.extend(new);
                            let extra = l.len().saturating_sub(MAX_LINES);
                            l.drain(..extra);
                        });
                    }
                }
                Err(e) => failed.set(Some(e.to_string())),
            }
            loaded.set(true);
            busy.set_value(false);
        });
    });
    let shown = Memo::new(move |_| {
        let needle = search.get().to_lowercase();
        let level = level.get();
        lines.with(|l| {
            l.iter()
                .filter(|x| level.is_empty() || x.level == level)
                .filter(|x| needle.is_empty() || x.message.to_lowercase().contains(&needle))
                .cloned()
                .collect::<Vec<_>>()
        })
    });
    let download = move || {
        let text: String = shown.with(|s| {
            s.iter().map(|l| format!("{} {:<5} {}\n", l.timestamp.to_rfc3339(), l.level, l.message)).collect()
        });
        format!("data:text/plain;charset=utf-8,{}", encode_uri_component(&text))
    };
    view! {
        <div class="flex flex-wrap items-center gap-2">
            <input
                type="search"
                aria-label="Search logs"
                placeholder="Search…"
                class=format!("{} w-48", crate::components::ui::INPUT)
                on:input=move |ev| search.set(event_target_value(&ev))
            />
            <select
                aria-label="Level"
                class=crate::components::ui::INPUT
                on:change=move |ev| level.set(event_target_value(&ev))
            >
                <option value="">"All levels"</option>
                {["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"]
                    .into_iter()
                    .map(|l| view! { <option value=l>{l}</option> })
                    .collect_view()}
            </select>
            <button
                type="button"
                class=crate::components::ui::BUTTON_SECONDARY
                on:click=move |_| paused.update(|p| *p = !*p)
            >
                {move || if paused.get() { "Resume" } else { "Pause" }}
            </button>
            <a class=crate::components::ui::BUTTON_SECONDARY href=download download=format!("bot-{id}-logs.txt")>
                "Download"
            </a>
            <span class="ml-auto text-xs text-slate-500" data-testid="log-count">
                {move || {
                    format!(
                        "{} of {} lines{}",
                        shown.with(Vec::len),
                        lines.with(Vec::len),
                        if paused.get() { " · paused" } else { "" },
                    )
                }}
            </span>
        </div>
        {move || {
            failed
                .get()
                .map(|e| {
                    view! {
                        <p role="alert" class="mt-2 text-sm text-red-700">
                            {e}
                        </p>
                    }
                })
        }}
        <div
            class="mt-3 h-80 overflow-y-auto rounded-lg bg-slate-950 p-3 font-mono text-xs leading-5 text-slate-100"
            data-testid="log-lines"
        >
            {move || {
                if !loaded.get() {
                    return view! { <p class="text-slate-400">"Loading logs…"</p> }.into_any();
                }
                if lines.with(Vec::is_empty) {
                    return view! {
                        <p class="text-slate-400">"No log lines yet. A running bot streams them here, live."</p>
                    }
                        .into_any();
                }
                shown
                    .get()
                    .into_iter()
                    .map(|l| {
                        view! {
                            <div class="whitespace-pre-wrap break-words">
                                <span class="text-slate-500">{l.timestamp.format("%H:%M:%S%.3f").to_string()}</span>
                                " "
                                <span class=level_class(&l.level)>{format!("{:<5}", l.level)}</span>
                                " "
                                {l.message}
                            </div>
                        }
                    })
                    .collect_view()
                    .into_any()
            }}
        </div>
    }
}
