//! A platform's resource table (Kubernetes Jobs, ECS tasks, Coolify slots, local processes):
//! each resource with its bot, states and age, paginated, with Stop for administrators behind a
//! confirmation dialog.

use leptos::prelude::*;

use crate::api::infrastructure::{list_platform_resources, stop_platform_resource};
use crate::components::badges::StatusBadge;
use crate::components::dialog::Confirm;
use crate::components::live::{use_live, Loaded};
use crate::components::time::{now, relative};
use crate::components::ui::{ErrorText, BUTTON_SECONDARY, TD, TH};
use crate::model::infrastructure::{ResourcePage, ResourceRow, ResourceState};
use crate::model::platform::DeploymentPlatform;

/// What the platform calls its resources.
pub fn resource_title(p: DeploymentPlatform) -> &'static str {
    match p {
        DeploymentPlatform::K8s => "Kubernetes Jobs",
        DeploymentPlatform::Aws => "ECS tasks",
        DeploymentPlatform::Coolify => "Pool slots",
        DeploymentPlatform::Local => "Local processes",
    }
}

/// How many pages `total` rows fill, at least one (the pager says "page 1 of 1" when empty).
pub fn page_count(total: i64, page_size: i64) -> i64 {
    crate::model::paging::page_count(total, page_size).max(1)
}

/// "`summary` · page N of M" with Previous and Next, for the infrastructure page's tables.
#[component]
pub fn PageButtons(summary: String, total: i64, page_size: i64, at: i64, current: RwSignal<i64>) -> impl IntoView {
    let pages = page_count(total, page_size);
    // Comparisons are bound first: `a >= b` inside `view!` would close the tag.
    let (on_first, on_last) = (at <= 1, at >= pages);
    view! {
        <div class="mt-2 flex items-center justify-end gap-2 text-xs text-slate-600">
            <span>{format!("{summary} · page {at} of {pages}")}</span>
            <button
                type="button"
                class=BUTTON_SECONDARY
                disabled=on_first
                on:click=move |_| current.set((at - 1).max(1))
            >
                "Previous"
            </button>
            <button type="button" class=BUTTON_SECONDARY disabled=on_last on:click=move |_| current.set(at + 1)>
                "Next"
            </button>
        </div>
    }
}

/// The table of one platform.
#[component]
pub fn ResourceTable(platform: DeploymentPlatform, admin: bool, tick: Signal<u64>) -> impl IntoView {
    let page = RwSignal::new(1i64);
    let refresh = RwSignal::new(0u32);
    let data = use_live(
        move || (tick.get(), page.get(), refresh.get()),
        move |(_, p, _)| list_platform_resources(platform, p),
    );
    let confirming = RwSignal::new(None::<String>);
    let stop = Action::new(move |identifier: &String| stop_platform_resource(platform, identifier.clone()));
    Effect::new(move |_| {
        if stop.value().get().is_some() {
            confirming.set(None);
            refresh.update(|n| *n += 1);
        }
    });
    view! {
        <h3 class="mt-5 text-sm font-semibold text-slate-800">{resource_title(platform)}</h3>
        {move || {
            stop.value()
                .get()
                .map(|r| match r {
                    Ok(message) => {
                        view! {
                            <p role="status" class="mt-2 text-sm text-emerald-700">
                                {message}
                            </p>
                        }
                            .into_any()
                    }
                    Err(e) => view! { <ErrorText message=e.to_string() /> }.into_any(),
                })
        }}
        <Loaded data fallback=|| view! { <p class="mt-2 text-sm text-slate-500">"Loading resources…"</p> } let:loaded>
            {match loaded {
                Ok(p) if p.rows.is_empty() => {
                    view! {
                        <p class="mt-2 text-sm text-slate-500" data-testid="resources-empty">
                            {format!("No {} right now.", resource_title(platform).to_lowercase())}
                            {(!p.sees_every_replica)
                                .then_some(" This list shows the processes this server replica started.")}
                        </p>
                    }
                        .into_any()
                }
                Ok(p) => view! { <Rows page=p admin confirming current=page /> }.into_any(),
                Err(e) => view! { <ErrorText message=e.to_string() /> }.into_any(),
            }}
        </Loaded>
        {move || {
            confirming
                .get()
                .map(|identifier| {
                    let target = identifier.clone();
                    view! {
                        <Confirm
                            title=format!("Stop {identifier}?")
                            message=format!(
                                "{} stops {identifier} now. A bot running there ends FATAL (stopped by an administrator) and leaves its meeting.",
                                platform.label(),
                            )
                            confirm_label="Stop resource".to_owned()
                            on_confirm=Callback::new(move |_| {
                                stop.dispatch(target.clone());
                            })
                            on_cancel=Callback::new(move |_| confirming.set(None))
                            pending=stop.pending()
                        />
                    }
                })
        }}
    }
}

#[component]
fn Rows(
    page: ResourcePage,
    admin: bool,
    confirming: RwSignal<Option<String>>,
    current: RwSignal<i64>,
) -> impl IntoView {
    let (total, page_size, at) = (page.total, page.page_size, page.page);
    view! {
        <div class="mt-2 overflow-x-auto rounded-lg ring-1 ring-slate-200">
            <table class="min-w-full" data-testid=format!("resources-{}", page.platform.as_str())>
                <thead class="bg-slate-50">
                    <tr>
                        <th class=TH>"Resource"</th>
                        <th class=TH>"Bot"</th>
                        <th class=TH>"Bot status"</th>
                        <th class=TH>"State"</th>
                        <th class=TH>"Age"</th>
                        {admin.then(|| view! { <th class=TH></th> })}
                    </tr>
                </thead>
                <tbody>{page.rows.into_iter().map(|r| view! { <Row row=r admin confirming /> }).collect_view()}</tbody>
            </table>
        </div>
        <PageButtons summary=format!("{total} resource(s)") total page_size at current />
    }
}

#[component]
fn Row(row: ResourceRow, admin: bool, confirming: RwSignal<Option<String>>) -> impl IntoView {
    let identifier = row.identifier.clone();
    let running = row.state == ResourceState::Running;
    view! {
        <tr class="border-t border-slate-100" data-testid="resource-row">
            <td class=format!("{TD} font-mono text-xs")>{row.identifier.clone()}</td>
            <td class=TD>
                {match (row.bot_id, row.bot_name) {
                    (Some(id), Some(name)) => {
                        view! {
                            <a href=format!("/bots/{id}") class="text-indigo-600 hover:underline">
                                {format!("#{id} {name}")}
                            </a>
                        }
                            .into_any()
                    }
                    _ => view! { <span class="text-amber-700">"No bot (orphan)"</span> }.into_any(),
                }}
            </td>
            <td class=TD>{row.bot_status.map(|s| view! { <StatusBadge status=s /> })}</td>
            <td class=TD>{row.state.label()}</td>
            <td class=TD>{row.started_at.map_or_else(|| "–".to_owned(), |t| relative(t, now()))}</td>
            {admin
                .then(|| {
                    view! {
                        <td class=TD>
                            <button
                                type="button"
                                class="text-sm font-medium text-red-700 hover:underline disabled:opacity-40"
                                disabled=!running
                                on:click=move |_| confirming.set(Some(identifier.clone()))
                            >
                                "Stop"
                            </button>
                        </td>
                    }
                })}
        </tr>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_round_up_and_an_empty_list_is_one_page() {
        assert_eq!(page_count(0, 20), 1);
        assert_eq!(page_count(20, 20), 1);
        assert_eq!(page_count(21, 20), 2);
        assert_eq!(page_count(5, 0), 1);
    }
}
