//! The bot details dialog: Overview (meeting, status, log level, speakers, events, chat), and
//! the Recording, Logs, Platform and Screenshots tabs.

use leptos::prelude::*;

use crate::components::ui::ErrorText;

mod logs;
mod overview;
mod platform;
mod recording;
mod screenshots;
use logs::LogsTab;
use overview::Overview;
use platform::PlatformTab;
use recording::RecordingTab;
use screenshots::ScreenshotsTab;

use crate::api::bots::get_bot;
use crate::components::dialog::Dialog;
use crate::components::live::{use_bot_refresh, use_live, Loaded};
use crate::model::bot::{Bot, BotEvent};
use crate::model::error::AppError;

/// What the dialog refreshes: the bot and its events.
pub(super) type BotAndEvents = Result<(Bot, Vec<BotEvent>), AppError>;

/// A tab of the dialog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DetailsTab {
    Overview,
    Recording,
    Logs,
    Platform,
    Screenshots,
}

/// Which bot's dialog is open, and on which tab (the table's row, its menu and its Recording
/// column open it).
#[derive(Clone, Copy)]
pub struct DetailsOpener {
    pub bot: RwSignal<Option<i64>>,
    pub tab: RwSignal<DetailsTab>,
}

impl DetailsOpener {
    pub fn new() -> Self {
        DetailsOpener { bot: RwSignal::new(None), tab: RwSignal::new(DetailsTab::Overview) }
    }

    /// Opens bot `id`'s dialog on `tab`.
    pub fn open(&self, id: i64, tab: DetailsTab) {
        self.tab.set(tab);
        self.bot.set(Some(id));
    }
}

impl Default for DetailsOpener {
    fn default() -> Self {
        Self::new()
    }
}

/// [`BotDetails`] whose code is a wasm module of its own (split build), fetched when a dialog
/// first opens: the table needs none of it to show and hydrate. Only ever opened in the browser.
#[component]
pub fn LazyBotDetails(id: i64, tab: DetailsTab, on_close: Callback<()>) -> impl IntoView {
    Suspend::new(async move { details_dialog(id, tab, on_close).await })
}

#[lazy]
fn details_dialog(id: i64, tab: DetailsTab, on_close: Callback<()>) -> AnyView {
    view! { <BotDetails id tab on_close /> }.into_any()
}

/// Details of one bot, refreshed when it changes (every 5 s while the live stream is down),
/// opened on `tab`.
#[component]
pub fn BotDetails(id: i64, on_close: Callback<()>, #[prop(optional)] tab: Option<DetailsTab>) -> impl IntoView {
    let tick = use_bot_refresh(id, 5);
    let data = use_live(move || tick.get(), move |_| get_bot(id));
    let tab = RwSignal::new(tab.unwrap_or(DetailsTab::Overview));
    let title = Signal::derive(move || {
        data.get()
            .and_then(Result::ok)
            .map(|(b, _)| format!("{} #{}", b.display_name, b.id))
            .unwrap_or(format!("Bot #{id}"))
    });
    let tab_button = move |t: DetailsTab, label: &'static str| {
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
            <div role="tablist" class="-mt-2 mb-4 flex gap-1 overflow-x-auto border-b border-slate-200">
                {tab_button(DetailsTab::Overview, "Overview")}
                {tab_button(DetailsTab::Recording, "Recording")}
                {tab_button(DetailsTab::Logs, "Logs")}
                {tab_button(DetailsTab::Platform, "Platform")}
                {tab_button(DetailsTab::Screenshots, "Screenshots")}
            </div>
            // The Logs, Recording and Screenshots tabs keep their own state, outside the refreshing
            // details (a player must not restart when the bot changes).
            {move || match tab.get() {
                DetailsTab::Logs => Some(view! { <LogsTab id /> }.into_any()),
                DetailsTab::Screenshots => Some(view! { <ScreenshotsTab id /> }.into_any()),
                DetailsTab::Platform => Some(view! { <PlatformTab id data /> }.into_any()),
                DetailsTab::Recording => Some(view! { <RecordingTab id /> }.into_any()),
                DetailsTab::Overview => None,
            }}
            <Show when=move || tab.get() == DetailsTab::Overview>
                <Loaded
                    data=data
                    fallback=|| {
                        view! { <p class="text-sm text-slate-500">"Loading…"</p> }
                    }
                    let:loaded
                >
                    {match loaded {
                        Ok((bot, events)) => view! { <Overview bot events tab /> }.into_any(),
                        Err(e) => view! { <ErrorText message=e.to_string() /> }.into_any(),
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
