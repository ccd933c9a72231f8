//! `/account`: the signed-in user's own account: change the password, sign out everywhere.

use leptos::prelude::*;

use crate::api::account::{ChangePassword, SignOutEverywhere};
use crate::components::form::{ActionError, Field};
use crate::components::protected::RequireUser;
use crate::components::ui::{PageHeader, BUTTON, BUTTON_DANGER, CARD};
use crate::model::account::MIN_PASSWORD_LEN;

/// `/account`.
#[component]
pub fn AccountPage() -> impl IntoView {
    view! { <RequireUser children=|user| view! { <AccountView email=user.email /> } /> }
}

#[component]
fn AccountView(email: String) -> impl IntoView {
    let change = ServerAction::<ChangePassword>::new();
    let everywhere = ServerAction::<SignOutEverywhere>::new();
    let changed = move || matches!(change.value().get(), Some(Ok(())));
    view! {
        <PageHeader title="Account" subtitle="Your password and where you are signed in." />
        <div class="mt-6 grid gap-6 lg:grid-cols-2">
            <section class=CARD>
                <h2 class="text-lg font-semibold">"Change password"</h2>
                <p class="mt-1 text-sm text-slate-600">
                    {format!("Signed in as {email}. Changing the password signs you out on every other device.")}
                </p>
                <ActionForm action=change attr:class="mt-4 space-y-4">
                    <Field
                        name="current_password"
                        label="Current password"
                        kind="password"
                        autocomplete="current-password"
                    />
                    <Field
                        name="new_password"
                        label="New password"
                        kind="password"
                        autocomplete="new-password"
                        hint=PASSWORD_HINT
                    />
                    <Field
                        name="confirm_password"
                        label="Confirm new password"
                        kind="password"
                        autocomplete="new-password"
                    />
                    <ActionError error=Signal::derive(move || change.value().get().and_then(Result::err)) />
                    {move || {
                        changed()
                            .then(|| {
                                view! {
                                    <p
                                        role="status"
                                        data-testid="password-changed"
                                        class="rounded-lg border border-emerald-200 bg-emerald-50 px-3 py-2 text-sm text-emerald-800"
                                    >
                                        "Your password was changed. Every other session was signed out."
                                    </p>
                                }
                            })
                    }}
                    <button type="submit" class=BUTTON disabled=move || change.pending().get()>
                        "Change password"
                    </button>
                </ActionForm>
            </section>
            <section class=CARD>
                <h2 class="text-lg font-semibold">"Sign out everywhere"</h2>
                <p class="mt-1 text-sm text-slate-600">
                    "Ends every session of this account, on this device and all others. Use it when a device was lost or shared."
                </p>
                <ActionForm action=everywhere attr:class="mt-4">
                    <ActionError error=Signal::derive(move || everywhere.value().get().and_then(Result::err)) />
                    <button type="submit" class=BUTTON_DANGER disabled=move || everywhere.pending().get()>
                        "Sign out everywhere"
                    </button>
                </ActionForm>
            </section>
        </div>
    }
}

/// Kept in step with `MIN_PASSWORD_LEN` by the assertion below.
const PASSWORD_HINT: &str = "At least 10 characters.";
const _: () = assert!(MIN_PASSWORD_LEN == 10);
