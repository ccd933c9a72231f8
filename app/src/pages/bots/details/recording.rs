//! The Recording tab: the recording in the browser's own player (video or audio), a download
//! link, and when the links stop working. Links are fetched when the tab opens and again when
//! asked, so an open tab never plays from a link that expired.

use leptos::prelude::*;

use crate::components::ui::ErrorText;

use crate::api::bots::get_recording_link;
use crate::components::live::{use_live, Loaded};
use crate::components::ui::BUTTON_SECONDARY;
use crate::model::error::AppError;

#[component]
pub(super) fn RecordingTab(id: i64) -> impl IntoView {
    let again = RwSignal::new(0u32);
    let link = use_live(move || again.get(), move |_| get_recording_link(id));
    view! {
        <Loaded
            data=link
            fallback=|| view! { <p class="text-sm text-slate-500">"Loading the recording…"</p> }
            let:loaded
        >
            {match loaded {
                Ok(link) => {
                    let expires = link.expires_at.format("%H:%M UTC").to_string();
                    let player = if link.is_video() {
                        view! {
                            <video
                                controls
                                preload="metadata"
                                data-testid="recording-player"
                                class="w-full rounded-lg bg-slate-950"
                                src=link.recording_url.clone()
                            />
                        }
                            .into_any()
                    } else {
                        view! {
                            <audio
                                controls
                                preload="metadata"
                                data-testid="recording-player"
                                class="w-full"
                                src=link.recording_url.clone()
                            />
                        }
                            .into_any()
                    };
                    view! {
                        <div class="space-y-3">
                            {player} <div class="flex flex-wrap items-center justify-between gap-2 text-sm">
                                <span class="font-mono text-xs text-slate-500">
                                    {format!("{} · {}", link.file_name, link.content_type)}
                                </span>
                                <div class="flex items-center gap-3">
                                    <span class="text-xs text-slate-500">{format!("Links work until {expires}")}</span>
                                    <a
                                        class=BUTTON_SECONDARY
                                        href=link.download_url.clone()
                                        download=link.file_name.clone()
                                        data-testid="recording-download"
                                    >
                                        "Download"
                                    </a>
                                </div>
                            </div>
                        </div>
                    }
                        .into_any()
                }
                Err(AppError::NotFound(why)) => {
                    view! {
                        <div class="rounded-xl border border-dashed border-slate-300 bg-white p-10 text-center">
                            <h2 class="font-semibold text-slate-900">"No recording to play"</h2>
                            <p class="mt-1 text-sm text-slate-500" data-testid="recording-missing">
                                {why}
                            </p>
                        </div>
                        <button
                            type="button"
                            class=format!("{BUTTON_SECONDARY} mt-3")
                            on:click=move |_| again.update(|n| *n += 1)
                        >
                            "Check again"
                        </button>
                    }
                        .into_any()
                }
                Err(e) => view! { <ErrorText message=e.to_string() /> }.into_any(),
            }}
        </Loaded>
    }
}
