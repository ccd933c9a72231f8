//! The row menu of the bots table ("Bot #id"): View details, View recording, Remove from call,
//! Cancel deployment and Delete, each shown only when it applies to the bot's state; each says
//! how it went in a toast. Delete asks first. The rows draw only their buttons; the menu, the
//! confirmation and the actions belong to the page ([`RowMenus`]), so a live update that
//! re-renders the table never closes an open menu nor loses a toast.

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

/// What an action on one bot answered: the bot, the action and the result.
type Outcome = (i64, RowAction, Result<BulkResult, AppError>);

/// An open menu: whose, what it offers, where.
#[derive(Debug, Clone, PartialEq)]
struct OpenMenu {
    id: i64,
    actions: Vec<RowAction>,
    place: Place,
}

/// The state of every row's menu, kept by the page rather than the rows: the table re-renders its
/// rows whenever a bot changes, and an open menu, a pending confirmation or an action's toast
/// must outlive that.
#[derive(Clone, Copy)]
pub struct RowMenus {
    open: RwSignal<Option<OpenMenu>>,
    confirm_delete: RwSignal<Option<i64>>,
    act: Action<(i64, RowAction), Outcome>,
    details: DetailsOpener,
}

impl RowMenus {
    /// The menus of a page whose dialog is `details`; `refresh` is bumped after each action.
    pub fn new(details: DetailsOpener, refresh: RwSignal<u32>) -> Self {
        let toasts = use_toasts();
        let act = Action::new(move |(id, a): &(i64, RowAction)| {
            let (id, a) = (*id, *a);
            async move {
                let r = match a {
                    RowAction::RemoveFromCall => remove_bots_from_call(vec![id]).await,
                    RowAction::CancelDeployment => cancel_deployments(vec![id]).await,
                    RowAction::Delete => delete_bots(vec![id]).await,
                    RowAction::Details | RowAction::Recording => Ok(BulkResult::default()),
                };
                (id, a, r)
            }
        });
        let confirm_delete = RwSignal::new(None::<i64>);
        Effect::new(move |_| {
            let Some((id, a, r)) = act.value().get() else { return };
            confirm_delete.set(None);
            match r {
                Ok(r) if r.failed.is_empty() => toasts.success(a.done(id)),
                Ok(r) => toasts.error(r.failed.into_iter().map(|f| f.reason).collect::<Vec<_>>().join(" ")),
                Err(e) => toasts.error(format!("{} failed: {e}", a.label())),
            }
            refresh.update(|n| *n += 1);
        });
        RowMenus { open: RwSignal::new(None), confirm_delete, act, details }
    }

    fn choose(&self, id: i64, a: RowAction) {
        self.open.set(None);
        match a {
            RowAction::Details => self.details.open(id, DetailsTab::Overview),
            RowAction::Recording => self.details.open(id, DetailsTab::Recording),
            RowAction::Delete => self.confirm_delete.set(Some(id)),
            RowAction::RemoveFromCall | RowAction::CancelDeployment => {
                self.act.dispatch((id, a));
            }
        }
    }
}

/// The "…" button of a row: opens (or closes) its menu.
#[component]
pub fn RowMenuButton(id: i64, status: BotStatus, recording: RecordingState, menus: RowMenus) -> impl IntoView {
    let open = menus.open;
    view! {
        <button
            type="button"
            aria-label=format!("Actions for bot #{id}")
            aria-haspopup="menu"
            aria-expanded=move || open.with(|o| o.as_ref().is_some_and(|m| m.id == id)).to_string()
            data-testid="row-menu"
            class="rounded-md px-2 py-1 text-lg leading-none text-slate-500 hover:bg-slate-100 hover:text-slate-900"
            on:click=move |ev| {
                ev.stop_propagation();
                let was_open = open.with_untracked(|o| o.as_ref().is_some_and(|m| m.id == id));
                open.set(
                    (!was_open)
                        .then(|| OpenMenu {
                            id,
                            actions: RowAction::for_bot(status, recording),
                            place: place_of(&ev),
                        }),
                );
            }
        >
            "⋯"
        </button>
    }
}

/// The open menu and the delete confirmation, drawn once for the page.
#[component]
pub fn RowMenuLayer(menus: RowMenus) -> impl IntoView {
    let (open, confirm_delete, act) = (menus.open, menus.confirm_delete, menus.act);
    view! {
        {move || {
            open.get()
                .map(|m| {
                    let id = m.id;
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
                            style=format!("top:{}px;right:{}px", m.place.top, m.place.right)
                            on:click=|ev| ev.stop_propagation()
                            on:keydown=move |ev| {
                                if ev.key() == "Escape" {
                                    open.set(None);
                                }
                            }
                        >
                            <p class="px-3 py-1.5 text-xs font-semibold text-slate-500">{format!("Bot #{id}")}</p>
                            {m
                                .actions
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
                                            on:click=move |_| menus.choose(id, a)
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
        {move || {
            confirm_delete
                .get()
                .map(|id| {
                    view! {
                        <Confirm
                            title=format!("Delete bot #{id}")
                            message="Delete this bot with its recording, logs and screenshots? This cannot be undone."
                                .to_owned()
                            confirm_label="Delete bot".to_owned()
                            pending=act.pending()
                            on_confirm=Callback::new(move |()| {
                                act.dispatch((id, RowAction::Delete));
                            })
                            on_cancel=Callback::new(move |()| confirm_delete.set(None))
                        />
                    }
                })
        }}
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
