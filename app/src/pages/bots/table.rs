//! The bots table: select, name, platform, status, infra, recording ("View" opens the player),
//! created, and the row menu. At narrow widths it scrolls sideways inside its card, never the
//! page.

use leptos::prelude::*;

use crate::components::badges::{InfraBadge, PlatformLabel, QueueNote, StatusBadge};
use crate::components::time::{now, relative};
use crate::components::ui::{EmptyState, TD, TH};
use crate::model::bot::{Bot, BotStatus};
use crate::model::recording::RecordingState;

use super::details::{DetailsOpener, DetailsTab};
use super::row_menu::{RowMenuButton, RowMenus};

/// One page of bots; a row opens the details dialog.
#[component]
pub fn BotsTable(
    bots: Vec<Bot>,
    selected: RwSignal<Vec<(i64, BotStatus)>>,
    details: DetailsOpener,
    menus: RowMenus,
) -> impl IntoView {
    if bots.is_empty() {
        return view! {
            <EmptyState
                title="No bots here"
                text="Deploy a bot from the dashboard, the Deploy Bots button or the API, and it appears here with its status."
            />
        }
        .into_any();
    }
    let all: Vec<(i64, BotStatus)> = bots.iter().map(|b| (b.id, b.status)).collect();
    let all_for_check = all.clone();
    let all_selected = move || {
        let sel = selected.get();
        !all_for_check.is_empty() && all_for_check.iter().all(|(id, _)| sel.iter().any(|(s, _)| s == id))
    };
    let rows = bots
        .into_iter()
        .map(|bot| {
            let (id, status, recording) = (bot.id, bot.status, bot.recording_state);
            let checked = move || selected.get().iter().any(|(s, _)| *s == id);
            view! {
                <tr
                    class="cursor-pointer border-t border-slate-100 hover:bg-slate-50"
                    data-testid="bot-row"
                    data-bot-id=id
                    on:click=move |_| details.open(id, DetailsTab::Overview)
                >
                    <td class=TD on:click=|ev| ev.stop_propagation()>
                        <input
                            type="checkbox"
                            aria-label=format!("Select bot {id}")
                            prop:checked=checked
                            on:change=move |ev| {
                                let on = event_target_checked(&ev);
                                selected
                                    .update(|s| {
                                        s.retain(|(x, _)| *x != id);
                                        if on {
                                            s.push((id, status));
                                        }
                                    });
                            }
                        />
                    </td>
                    <td class=format!(
                        "{TD} font-medium text-slate-900",
                    )>
                        {bot.display_name.clone()} <span class="ml-1 text-xs text-slate-400">{format!("#{id}")}</span>
                    </td>
                    <td class=TD>
                        <PlatformLabel platform=bot.meeting_platform />
                    </td>
                    <td class=TD>
                        <StatusBadge status=bot.status />
                        <QueueNote queue=bot.queue.clone() />
                    </td>
                    <td class=TD>
                        <InfraBadge platform=bot.deployment_platform />
                    </td>
                    <td class=TD on:click=|ev| ev.stop_propagation() data-testid="recording-cell">
                        {if recording == RecordingState::Ready {
                            view! {
                                <button
                                    type="button"
                                    class="text-sm font-medium text-indigo-600 hover:text-indigo-500"
                                    on:click=move |_| details.open(id, DetailsTab::Recording)
                                >
                                    "View"
                                </button>
                            }
                                .into_any()
                        } else {
                            view! { <span class="text-sm text-slate-500">{recording.label()}</span> }.into_any()
                        }}
                    </td>
                    <td class=format!("{TD} whitespace-nowrap") title=bot.created_at.to_rfc3339()>
                        {relative(bot.created_at, now())}
                    </td>
                    <td class=format!("{TD} text-right") on:click=|ev| ev.stop_propagation()>
                        <RowMenuButton id status recording menus />
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div
            class="w-full max-w-full overflow-x-auto rounded-xl bg-white shadow-sm ring-1 ring-slate-200"
            data-testid="bots-table"
        >
            <table class="min-w-full">
                <thead class="bg-slate-50">
                    <tr>
                        <th class=TH>
                            <input
                                type="checkbox"
                                aria-label="Select all bots on this page"
                                prop:checked=all_selected
                                on:change=move |ev| {
                                    let on = event_target_checked(&ev);
                                    selected
                                        .update(|s| {
                                            s.retain(|(x, _)| !all.iter().any(|(a, _)| a == x));
                                            if on {
                                                s.extend(all.iter().copied());
                                            }
                                        });
                                }
                            />
                        </th>
                        <th class=TH>"Bot Name"</th>
                        <th class=TH>"Platform"</th>
                        <th class=TH>"Status"</th>
                        <th class=TH>"Infra"</th>
                        <th class=TH>"Recording"</th>
                        <th class=TH>"Created"</th>
                        <th class=format!("{TH} text-right")>"Actions"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}
