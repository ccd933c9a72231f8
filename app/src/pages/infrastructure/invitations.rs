//! The administrator's invitations (for `SIGNUP_MODE=invite`): create one and copy its link,
//! see which were used, revoke open ones.

use leptos::prelude::*;

use crate::api::invitations::{create_invitation, list_invitations, revoke_invitation};
use crate::components::live::{use_live, Loaded};
use crate::components::shown_once::ShownOnce;
use crate::components::time::short;
use crate::components::ui::{ErrorText, BUTTON, BUTTON_SECONDARY, TD, TH};
use crate::model::error::AppError;
use crate::model::invitation::Invitation;

/// The invitations section of `/infrastructure`.
#[component]
pub fn Invitations() -> impl IntoView {
    let refresh = RwSignal::new(0u32);
    let list = use_live(move || refresh.get(), |_| list_invitations());
    let create = Action::new(|_: &()| create_invitation());
    let revoke = Action::new(|id: &i64| revoke_invitation(*id));
    Effect::new(move |_| {
        if create.value().get().is_some() || revoke.value().get().is_some() {
            refresh.update(|n| *n += 1);
        }
    });
    view! {
        <h2 class="mt-8 text-lg font-semibold">"Invitations"</h2>
        <p class="mt-1 text-sm text-slate-600">
            "When sign-up is by invitation (SIGNUP_MODE=invite), a new account needs a link from here. Each link works once, for 7 days."
        </p>
        <div class="mt-3 flex flex-wrap items-center gap-2">
            <button
                type="button"
                class=BUTTON
                disabled=move || create.pending().get()
                on:click=move |_| {
                    create.dispatch(());
                }
            >
                "Create invitation"
            </button>
        </div>
        {move || {
            create
                .value()
                .get()
                .map(|r| match r {
                    Ok(created) => view! { <NewLink link=created.link /> }.into_any(),
                    Err(e) => view! { <ErrorText message=e.to_string() /> }.into_any(),
                })
        }}
        {move || revoke.value().get().and_then(Result::err).map(|e| view! { <ErrorText message=e.to_string() /> })}
        <Loaded data=list fallback=|| () let:loaded>
            {match loaded {
                Ok(items) if items.is_empty() => {
                    view! { <p class="mt-3 text-sm text-slate-500">"No invitations yet."</p> }.into_any()
                }
                Ok(items) => {
                    view! {
                        <div class="mt-3 overflow-x-auto rounded-xl bg-white shadow-sm ring-1 ring-slate-200">
                            <table class="min-w-full" data-testid="invitations">
                                <thead class="bg-slate-50">
                                    <tr>
                                        <th class=TH>"Created"</th>
                                        <th class=TH>"Expires"</th>
                                        <th class=TH>"State"</th>
                                        <th class=TH>"Used by"</th>
                                        <th class=TH></th>
                                    </tr>
                                </thead>
                                <tbody>
                                    {items.into_iter().map(|i| view! { <Row invitation=i revoke /> }).collect_view()}
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
fn NewLink(link: String) -> impl IntoView {
    view! {
        <ShownOnce
            message="Send this link to the person you invite. It is shown only now.".to_owned()
            secret=link
            value_testid="invitation-link"
            copy_label="Copy link"
        />
    }
}

#[component]
fn Row(invitation: Invitation, revoke: Action<i64, Result<(), AppError>>) -> impl IntoView {
    let state = invitation.state(chrono::Utc::now());
    let id = invitation.id;
    view! {
        <tr class="border-t border-slate-100">
            <td class=TD>{short(invitation.created_at)}</td>
            <td class=TD>{short(invitation.expires_at)}</td>
            <td class=TD>{state}</td>
            <td class=TD>{invitation.used_by.unwrap_or_default()}</td>
            <td class=TD>
                {(state == "open")
                    .then(|| {
                        view! {
                            <button
                                type="button"
                                class=BUTTON_SECONDARY
                                on:click=move |_| {
                                    revoke.dispatch(id);
                                }
                            >
                                "Revoke"
                            </button>
                        }
                    })}
            </td>
        </tr>
    }
}
