//! `/bots`: the bots table with filters and pagination (by cursor) in the URL, live status, bulk cancel and
//! remove-from-call with confirmation, a row menu per bot, a multi-bot deploy dialog and the details
//! dialog.

mod deploy;
mod details;
mod pager;
mod row_menu;
mod table;

pub use deploy::{use_deploy_stats, DeployDialog, DeployForm};
pub use details::{DetailsOpener, DetailsTab, LazyBotDetails};

use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};

use crate::api::bots::{cancel_deployments, list_bots, remove_bots_from_call};
use crate::components::dialog::Confirm;
use crate::components::live::{use_live, use_refresh, Loaded};
use crate::components::protected::RequireUser;
use crate::components::ui::{PageHeader, BUTTON, BUTTON_DANGER, BUTTON_SECONDARY, INPUT};
use crate::model::bot::{BotStatus, BulkResult, MeetingPlatform};
use crate::model::error::AppError;
use crate::model::paging::BotPage;
use pager::{BotsQuery, Pager};

/// `/bots`.
#[component]
pub fn BotsPage() -> impl IntoView {
    let params = use_query_map();
    let query = Memo::new(move |_| {
        let params = params.read();
        BotsQuery::from_params(|name| params.get(name))
    });
    let tick = use_refresh(5);
    let refresh = RwSignal::new(0u32);
    let bots = use_live(move || (query.get(), tick.get(), refresh.get()), |(query, _, _)| list_bots(query.filter()));
    view! { <RequireUser children=move |_| view! { <BotsView query refresh bots /> } /> }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Bulk {
    Cancel,
    Remove,
}

#[component]
fn BotsView(
    query: Memo<BotsQuery>,
    refresh: RwSignal<u32>,
    bots: Signal<Option<Result<BotPage, AppError>>>,
) -> impl IntoView {
    let status = Memo::new(move |_| query.read().status.clone());
    let platform = Memo::new(move |_| query.read().platform);
    let selected = RwSignal::new(Vec::<(i64, BotStatus)>::new());
    let details = DetailsOpener::new();
    let menus = row_menu::RowMenus::new(details, refresh);
    let confirm = RwSignal::new(None::<Bulk>);
    let deploy_open = RwSignal::new(false);
    let outcome = RwSignal::new(None::<Result<BulkResult, AppError>>);
    let bulk = Action::new(move |(kind, ids): &(Bulk, Vec<i64>)| {
        let (kind, ids) = (*kind, ids.clone());
        async move {
            match kind {
                Bulk::Cancel => cancel_deployments(ids).await,
                Bulk::Remove => remove_bots_from_call(ids).await,
            }
        }
    });
    Effect::new(move |_| {
        if let Some(r) = bulk.value().get() {
            outcome.set(Some(r));
            confirm.set(None);
            selected.set(Vec::new());
            refresh.update(|n| *n += 1);
        }
    });
    let cancellable =
        move || selected.get().iter().filter(|(_, s)| s.can_cancel()).map(|(id, _)| *id).collect::<Vec<_>>();
    let removable =
        move || selected.get().iter().filter(|(_, s)| s.can_remove_from_call()).map(|(id, _)| *id).collect::<Vec<_>>();
    let navigate = use_navigate();
    let go = StoredValue::new(move |href: String| navigate(&href, Default::default()));
    let filter_to = move |status: Option<String>, platform: Option<String>| {
        go.with_value(|go| go(query.get_untracked().with_filters(status, platform).href()))
    };

    view! {
        <PageHeader title="Bots" subtitle="Every bot you sent into a meeting, live.">
            <span class="inline-flex items-center gap-1.5 text-xs text-emerald-700">
                <span class="h-2 w-2 animate-pulse rounded-full bg-emerald-500" />
                "Live"
            </span>
            <button type="button" class=BUTTON on:click=move |_| deploy_open.set(true)>
                "Deploy Bots"
            </button>
        </PageHeader>
        <div class="mt-4 flex flex-wrap items-center gap-2">
            <select
                aria-label="Status filter"
                class=format!("{INPUT} w-auto")
                on:change=move |ev| {
                    filter_to(Some(event_target_value(&ev)), platform.get().map(|p| p.as_str().to_owned()))
                }
                prop:value=move || status.get().unwrap_or_default()
            >
                <option value="">"All statuses"</option>
                {BotStatus::ALL
                    .into_iter()
                    .map(|s| view! { <option value=s.as_str()>{s.label()}</option> })
                    .collect_view()}
            </select>
            <select
                aria-label="Platform filter"
                class=format!("{INPUT} w-auto")
                on:change=move |ev| filter_to(status.get(), Some(event_target_value(&ev)))
                prop:value=move || platform.get().map(|p| p.as_str().to_owned()).unwrap_or_default()
            >
                <option value="">"All platforms"</option>
                {MeetingPlatform::ALL
                    .into_iter()
                    .map(|p| view! { <option value=p.as_str()>{p.label()}</option> })
                    .collect_view()}
            </select>
        </div>
        <Show when=move || !selected.get().is_empty()>
            <div class="mt-4 flex flex-wrap items-center gap-2 rounded-lg bg-indigo-50 px-3 py-2 text-sm ring-1 ring-indigo-200">
                <span class="font-medium text-indigo-900">
                    {move || format!("{} bot(s) selected", selected.get().len())}
                </span>
                <button type="button" class=BUTTON_SECONDARY on:click=move |_| selected.set(Vec::new())>
                    "Clear"
                </button>
                <button
                    type="button"
                    class=BUTTON_DANGER
                    disabled=move || cancellable().is_empty()
                    on:click=move |_| confirm.set(Some(Bulk::Cancel))
                >
                    {move || format!("Cancel Deployments ({})", cancellable().len())}
                </button>
                <button
                    type="button"
                    class=BUTTON_DANGER
                    disabled=move || removable().is_empty()
                    on:click=move |_| confirm.set(Some(Bulk::Remove))
                >
                    {move || format!("Remove from Call ({})", removable().len())}
                </button>
            </div>
        </Show>
        {move || {
            outcome
                .get()
                .map(|r| match r {
                    Ok(r) => {
                        let text = format!(
                            "{} succeeded{}",
                            r.succeeded.len(),
                            if r.failed.is_empty() {
                                String::new()
                            } else {
                                format!(
                                    ", {} failed: {}",
                                    r.failed.len(),
                                    r.failed.iter().map(|f| f.reason.clone()).collect::<Vec<_>>().join(" "),
                                )
                            },
                        );
                        view! {
                            <p role="status" class="mt-3 text-sm text-slate-700">
                                {text}
                            </p>
                        }
                            .into_any()
                    }
                    Err(e) => {
                        view! {
                            <p role="alert" class="mt-3 text-sm text-red-700">
                                {e.to_string()}
                            </p>
                        }
                            .into_any()
                    }
                })
        }}
        <div class="mt-4">
            <Loaded
                data=bots
                fallback=|| {
                    view! { <p class="text-sm text-slate-500">"Loading bots…"</p> }
                }
                let:loaded
            >
                {match loaded {
                    Ok(page_data) => {
                        let pager = Pager::new(&query.get_untracked(), &page_data);
                        let (no_previous, no_next) = (pager.previous.is_none(), pager.next.is_none());
                        let (previous, next) = (pager.previous.unwrap_or_default(), pager.next.unwrap_or_default());
                        view! {
                            <table::BotsTable bots=page_data.data selected details menus />
                            <nav
                                aria-label="Bots pages"
                                class="mt-3 flex flex-wrap items-center justify-between gap-2 text-sm text-slate-600"
                            >
                                <span data-testid="page-label">{pager.label}</span>
                                <span data-testid="bots-total" class="text-slate-500">
                                    {pager.total}
                                </span>
                                <div class="flex gap-2">
                                    <button
                                        type="button"
                                        class=BUTTON_SECONDARY
                                        disabled=no_previous
                                        on:click=move |_| go.with_value(|go| go(previous.clone()))
                                    >
                                        "Previous"
                                    </button>
                                    <button
                                        type="button"
                                        class=BUTTON_SECONDARY
                                        disabled=no_next
                                        on:click=move |_| go.with_value(|go| go(next.clone()))
                                    >
                                        "Next"
                                    </button>
                                </div>
                            </nav>
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
        </div>
        {move || {
            confirm
                .get()
                .map(|kind| {
                    let ids = if kind == Bulk::Cancel { cancellable() } else { removable() };
                    let (title, message, label) = match kind {
                        Bulk::Cancel => {
                            (
                                "Cancel deployments",
                                format!(
                                    "Cancel the deployment of {} bot(s)? They will not join their meetings.",
                                    ids.len(),
                                ),
                                format!("Cancel {} deployment(s)", ids.len()),
                            )
                        }
                        Bulk::Remove => {
                            (
                                "Remove from call",
                                format!("Ask {} bot(s) to leave their calls now?", ids.len()),
                                format!("Remove {} bot(s)", ids.len()),
                            )
                        }
                    };
                    view! {
                        <Confirm
                            title=title.to_owned()
                            message
                            confirm_label=label
                            pending=bulk.pending()
                            on_confirm=Callback::new(move |()| {
                                bulk.dispatch((kind, ids.clone()));
                            })
                            on_cancel=Callback::new(move |()| confirm.set(None))
                        />
                    }
                })
        }}
        <Show when=move || deploy_open.get()>
            <DeployDialog
                on_close=Callback::new(move |()| deploy_open.set(false))
                on_done=Callback::new(move |_| {
                    deploy_open.set(false);
                    refresh.update(|n| *n += 1);
                })
            />
        </Show>
        <row_menu::RowMenuLayer menus />
        {move || {
            details
                .bot
                .get()
                .map(|id| {
                    view! {
                        <LazyBotDetails
                            id
                            tab=details.tab.get_untracked()
                            on_close=Callback::new(move |()| details.bot.set(None))
                        />
                    }
                })
        }}
    }
}
