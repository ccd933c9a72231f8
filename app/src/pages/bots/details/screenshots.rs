//! The Screenshots tab.

use leptos::prelude::*;

use crate::components::ui::ErrorText;

use crate::api::bots::get_bot_screenshots;
use crate::components::live::{use_bot_refresh, use_live, Loaded};
use crate::components::time::short;
use crate::components::ui::EmptyState;
use crate::model::bot::Screenshot;

/// The bot's screenshots (newest first, refreshed when the bot changes): thumbnails with type, state,
/// trigger and time; a click shows one large.
#[component]
pub(super) fn ScreenshotsTab(id: i64) -> impl IntoView {
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
                Err(e) => view! { <ErrorText message=e.to_string() /> }.into_any(),
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
