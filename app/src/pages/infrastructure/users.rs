//! The administrator's "Users and plans" section of `/infrastructure`: every user's plan and
//! daily override, changed in place.

use leptos::prelude::*;

use crate::api::admin::{list_users, set_user_plan, UserSummary};
use crate::components::live::{use_live, Loaded};
use crate::components::ui::{ErrorText, BUTTON_SECONDARY, INPUT, TD, TH};
use crate::model::usage::Plan;

/// Users and their plans.
#[component]
pub fn UsersAndPlans() -> impl IntoView {
    let refresh = RwSignal::new(0u32);
    let users = use_live(move || refresh.get(), |_| list_users());
    view! {
        <h2 class="mt-8 text-lg font-semibold">"Users and plans"</h2>
        <Loaded data=users fallback=|| () let:loaded>
            {match loaded {
                Ok(list) => {
                    view! {
                        <div class="mt-2 overflow-x-auto rounded-xl bg-white shadow-sm ring-1 ring-slate-200">
                            <table class="min-w-full">
                                <thead class="bg-slate-50">
                                    <tr>
                                        <th class=TH>"User"</th>
                                        <th class=TH>"Role"</th>
                                        <th class=TH>"Plan"</th>
                                        <th class=TH>"Daily override"</th>
                                        <th class=TH></th>
                                    </tr>
                                </thead>
                                <tbody>
                                    {list.into_iter().map(|u| view! { <UserRow user=u refresh /> }).collect_view()}
                                </tbody>
                            </table>
                        </div>
                    }
                        .into_any()
                }
                Err(e) => view! { <ErrorText message=e.to_string() /> }.into_any(),
            }}
        </Loaded>
    }
}

#[component]
fn UserRow(user: UserSummary, refresh: RwSignal<u32>) -> impl IntoView {
    let plan = RwSignal::new(user.plan);
    let limit = RwSignal::new(user.custom_daily_bot_limit.map(|l| l.to_string()).unwrap_or_default());
    let save = Action::new(move |(p, l): &(Plan, Option<i32>)| set_user_plan(user.id, *p, *l));
    Effect::new(move |_| {
        if let Some(Ok(())) = save.value().get() {
            refresh.update(|n| *n += 1);
        }
    });
    view! {
        <tr class="border-t border-slate-100">
            <td class=TD>
                <span class="font-medium text-slate-900">{user.name}</span>
                <span class="block text-xs text-slate-500">{user.email}</span>
            </td>
            <td class=TD>{user.role}</td>
            <td class=TD>
                <select
                    aria-label="Plan"
                    class=format!("{INPUT} w-auto")
                    on:change=move |ev| plan.set(Plan::parse(&event_target_value(&ev)).unwrap_or(Plan::Free))
                >
                    {Plan::ALL
                        .into_iter()
                        .map(|p| {
                            view! {
                                <option value=p.as_str() selected=p == user.plan>
                                    {p.label()}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
            </td>
            <td class=TD>
                <input
                    aria-label="Daily override"
                    type="number"
                    min="0"
                    placeholder="plan default"
                    class=format!("{INPUT} w-32")
                    prop:value=move || limit.get()
                    on:input=move |ev| limit.set(event_target_value(&ev))
                />
            </td>
            <td class=TD>
                <button
                    type="button"
                    class=BUTTON_SECONDARY
                    disabled=move || save.pending().get()
                    on:click=move |_| {
                        save.dispatch((plan.get_untracked(), limit.get_untracked().trim().parse::<i32>().ok()));
                    }
                >
                    "Save"
                </button>
                {move || {
                    save.value()
                        .get()
                        .and_then(Result::err)
                        .map(|e| view! { <span class="ml-2 text-xs text-red-700">{e.to_string()}</span> })
                }}
            </td>
        </tr>
    }
}
