//! The row menu of the bots table ("Bot #id"): View details, View recording, Remove from call,
//! Cancel deployment and Delete, each shown only when it applies to the bot's state; each says
//! how it went in a toast. Delete asks first.

use leptos::prelude::*;

use super::details::{DetailsOpener, DetailsTab};
use crate::api::bots::{cancel_deployments, delete_bots, remove_bots_from_call};
use crate::components::dialog::Confirm;
use crate::components::toast::use_toasts;
use crate::model::bot::{BotStatus, BulkResult};
use crate::model::error::AppError;
use crate::model::recording::RecordingState;

/// What the menu can do to a bot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowAction {
    Details,
    Recording,
    RemoveFromCall,
    CancelDeployment,
    Delete,
}

impl RowAction {
    /// The actions that apply to a bot in `status` with its recording in `recording`, in the
    /// menu's order.
    pub fn for_bot(status: BotStatus, recording: RecordingState) -> Vec<RowAction> {
        let mut actions = vec![RowAction::Details];
        if recording == RecordingState::Ready {
            actions.push(RowAction::Recording);
        }
        if status.can_remove_from_call() {
            actions.push(RowAction::RemoveFromCall);
        }
        if status.can_cancel() {
            actions.push(RowAction::CancelDeployment);
        }
        if status.is_terminal() {
            actions.push(RowAction::Delete);
        }
        actions
    }

    pub fn label(self) -> &'static str {
        match self {
            RowAction::Details => "View details",
            RowAction::Recording => "View recording",
            RowAction::RemoveFromCall => "Remove from call",
            RowAction::CancelDeployment => "Cancel deployment",
            RowAction::Delete => "Delete",
        }
    }

    /// What the toast says when it worked.
    fn done(self, id: i64) -> String {
        match self {
            RowAction::RemoveFromCall => format!("Bot #{id} was asked to leave the call."),
            RowAction::CancelDeployment => format!("The deployment of bot #{id} was cancelled."),
            RowAction::Delete => format!("Bot #{id} was deleted, with its recording, logs and screenshots."),
            RowAction::Details | RowAction::Recording => String::new(),
        }
    }
}

/// Where the open menu sits (fixed, under its button, so the table's own scrolling never cuts
/// it off).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Place {
    top: f64,
    right: f64,
}

#[cfg(feature = "hydrate")]
fn place_of(ev: &leptos::ev::MouseEvent) -> Place {
    use leptos::wasm_bindgen::JsCast;
    let width = web_sys::window().and_then(|w| w.inner_width().ok()).and_then(|w| w.as_f64()).unwrap_or(1024.0);
    ev.current_target()
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        .map(|el| {
            let r = el.get_bounding_client_rect();
            Place { top: r.bottom() + 4.0, right: (width - r.right()).max(8.0) }
        })
        .unwrap_or(Place { top: f64::from(ev.client_y()) + 8.0, right: 16.0 })
}

#[cfg(not(feature = "hydrate"))]
fn place_of(_: &leptos::ev::MouseEvent) -> Place {
    Place { top: 0.0, right: 0.0 }
}

/// The "…" button of a row and its menu.
#[component]
pub fn RowMenu(
    id: i64,
    status: BotStatus,
    recording: RecordingState,
    details: DetailsOpener,
    refresh: RwSignal<u32>,
) -> impl IntoView {
    let toasts = use_toasts();
    let open = RwSignal::new(None::<Place>);
    let confirm_delete = RwSignal::new(false);
    let act = Action::new(move |a: &RowAction| {
        let a = *a;
        async move {
            let r: Result<BulkResult, AppError> = match a {
                RowAction::RemoveFromCall => remove_bots_from_call(vec![id]).await,
                RowAction::CancelDeployment => cancel_deployments(vec![id]).await,
                RowAction::Delete => delete_bots(vec![id]).await,
                RowAction::Details | RowAction::Recording => Ok(BulkResult::default()),
            };
            (a, r)
        }
    });
    Effect::new(move |_| {
        let Some((a, r)) = act.value().get() else { return };
        confirm_delete.set(false);
        match r {
            Ok(r) if r.failed.is_empty() => toasts.success(a.done(id)),
            Ok(r) => toasts.error(r.failed.into_iter().map(|f| f.reason).collect::<Vec<_>>().join(" ")),
            Err(e) => toasts.error(format!("{} failed: {e}", a.label())),
        }
        refresh.update(|n| *n += 1);
    });
    let choose = move |a: RowAction| {
        open.set(None);
        match a {
            RowAction::Details => details.open(id, DetailsTab::Overview),
            RowAction::Recording => details.open(id, DetailsTab::Recording),
            RowAction::Delete => confirm_delete.set(true),
            RowAction::RemoveFromCall | RowAction::CancelDeployment => {
                act.dispatch(a);
            }
        }
    };
    let actions = RowAction::for_bot(status, recording);
    view! {
        <button
            type="button"
            aria-label=format!("Actions for bot #{id}")
            aria-haspopup="menu"
            aria-expanded=move || open.get().is_some().to_string()
            data-testid="row-menu"
            class="rounded-md px-2 py-1 text-lg leading-none text-slate-500 hover:bg-slate-100 hover:text-slate-900"
            on:click=move |ev| {
                ev.stop_propagation();
                open.set(if open.get_untracked().is_some() { None } else { Some(place_of(&ev)) });
            }
        >
            "⋯"
        </button>
        {move || {
            open.get()
                .map(|place| {
                    let actions = actions.clone();
                    view! {
                        // A click anywhere else closes the menu.
                        <div
                            class="fixed inset-0 z-40"
                            on:click=move |ev| {
                                ev.stop_propagation();
                                open.set(None);
                            }
                        />
                        <div
                            role="menu"
                            aria-label=format!("Bot #{id}")
                            class="fixed z-50 w-52 rounded-lg bg-white py-1 text-left shadow-lg ring-1 ring-slate-200"
                            style=format!("top:{}px;right:{}px", place.top, place.right)
                            on:click=|ev| ev.stop_propagation()
                            on:keydown=move |ev| {
                                if ev.key() == "Escape" {
                                    open.set(None);
                                }
                            }
                        >
                            <p class="px-3 py-1.5 text-xs font-semibold text-slate-500">{format!("Bot #{id}")}</p>
                            {actions
                                .into_iter()
                                .map(|a| {
                                    let danger = matches!(
                                        a,
                                        RowAction::Delete | RowAction::RemoveFromCall | RowAction::CancelDeployment
                                    );
                                    view! {
                                        <button
                                            type="button"
                                            role="menuitem"
                                            class=if danger {
                                                "block w-full px-3 py-1.5 text-left text-sm text-red-700 hover:bg-red-50"
                                            } else {
                                                "block w-full px-3 py-1.5 text-left text-sm text-slate-700 hover:bg-slate-50"
                                            }
                                            on:click=move |_| choose(a)
                                        >
                                            {a.label()}
                                        </button>
                                    }
                                })
                                .collect_view()}
                        </div>
                    }
                })
        }}
        <Show when=move || confirm_delete.get()>
            <Confirm
                title=format!("Delete bot #{id}")
                message="Delete this bot with its recording, logs and screenshots? This cannot be undone.".to_owned()
                confirm_label="Delete bot".to_owned()
                pending=act.pending()
                on_confirm=Callback::new(move |()| {
                    act.dispatch(RowAction::Delete);
                })
                on_cancel=Callback::new(move |()| confirm_delete.set(false))
            />
        </Show>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RowAction::*;

    #[test]
    fn each_action_is_offered_only_when_it_applies() {
        assert_eq!(RowAction::for_bot(BotStatus::Queued, RecordingState::Pending), [Details, CancelDeployment]);
        assert_eq!(RowAction::for_bot(BotStatus::InCall, RecordingState::Pending), [Details, RemoveFromCall]);
        assert_eq!(RowAction::for_bot(BotStatus::Done, RecordingState::Ready), [Details, Recording, Delete]);
        assert_eq!(RowAction::for_bot(BotStatus::Fatal, RecordingState::Off), [Details, Delete]);
        assert_eq!(RowAction::for_bot(BotStatus::Leaving, RecordingState::Pending), [Details]);
    }
}
