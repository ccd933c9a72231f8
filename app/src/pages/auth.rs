//! `/auth/sign-in` and `/auth/sign-up`. Both forms work before the page hydrates (plain form
//! posts) and after (server actions, errors shown inline).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::app::Session;
use crate::components::form::{ActionError, Field};
use crate::model::account::MIN_PASSWORD_LEN;
use crate::model::error::AppError;

fn query_param(name: &'static str) -> Memo<String> {
    let query = use_query_map();
    Memo::new(move |_| query.read().get(name).unwrap_or_default())
}

fn next_param() -> Memo<String> {
    query_param("next")
}

fn last_error<T: 'static>(
    value: impl Get<Value = Option<Result<T, AppError>>> + Send + Sync + 'static,
) -> Signal<Option<AppError>> {
    Signal::derive(move || value.get().and_then(Result::err))
}

const BUTTON: &str = "w-full rounded-lg bg-indigo-600 px-4 py-2.5 text-sm font-semibold text-white shadow-sm hover:bg-indigo-500 disabled:opacity-60";

#[component]
fn AuthCard(title: &'static str, children: Children) -> impl IntoView {
    view! {
        <div class="mx-auto mt-6 w-full max-w-md rounded-2xl bg-white p-8 shadow-sm ring-1 ring-slate-200">
            <h1 class="text-2xl font-bold tracking-tight">{title}</h1>
            {children()}
        </div>
    }
}

/// The sign-in form.
#[component]
pub fn SignInPage() -> impl IntoView {
    let session = expect_context::<Session>();
    let action = session.sign_in;
    let next = next_param();
    view! {
        <Title text="Sign In" />
        <AuthCard title="Sign in to Meeboter">
            <ActionForm action attr:class="mt-6 space-y-4">
                <input type="hidden" name="next" prop:value=move || next.get() />
                <Field name="email" label="Email" kind="email" autocomplete="email" placeholder="you@company.com" />
                <Field name="password" label="Password" kind="password" autocomplete="current-password" />
                <ActionError error=last_error(action.value()) />
                <button type="submit" class=BUTTON disabled=move || action.pending().get()>
                    "Sign In"
                </button>
            </ActionForm>
            <p class="mt-6 text-center text-sm text-slate-600">
                "No account yet? " <a href="/auth/sign-up" class="font-medium text-indigo-600 hover:text-indigo-500">
                    "Sign up"
                </a>
            </p>
        </AuthCard>
    }
}

/// The sign-up form.
#[component]
pub fn SignUpPage() -> impl IntoView {
    let session = expect_context::<Session>();
    let action = session.sign_up;
    let next = next_param();
    let invite = query_param("invite");
    view! {
        <Title text="Sign Up" />
        <AuthCard title="Create your account">
            {move || {
                (!invite.get().is_empty())
                    .then(|| {
                        view! {
                            <p class="mt-2 text-sm text-slate-600" data-testid="invited">
                                "You were invited to this Meeboter server."
                            </p>
                        }
                    })
            }} <ActionForm action attr:class="mt-6 space-y-4">
                <input type="hidden" name="next" prop:value=move || next.get() />
                <input type="hidden" name="invite" value=move || invite.get() />
                <Field name="name" label="Name" autocomplete="name" placeholder="Ada Lovelace" />
                <Field name="email" label="Email" kind="email" autocomplete="email" placeholder="you@company.com" />
                <Field
                    name="password"
                    label="Password"
                    kind="password"
                    autocomplete="new-password"
                    hint=PASSWORD_HINT
                />
                <Field name="confirm_password" label="Confirm Password" kind="password" autocomplete="new-password" />
                <ActionError error=last_error(action.value()) />
                <button type="submit" class=BUTTON disabled=move || action.pending().get()>
                    "Sign Up"
                </button>
            </ActionForm>
            <p class="mt-6 text-center text-sm text-slate-600">
                "Already have an account? "
                <a href="/auth/sign-in" class="font-medium text-indigo-600 hover:text-indigo-500">
                    "Sign in"
                </a>
            </p>
        </AuthCard>
    }
}

/// Kept in step with `MIN_PASSWORD_LEN` by the assertion below.
const PASSWORD_HINT: &str = "At least 10 characters.";
const _: () = assert!(MIN_PASSWORD_LEN == 10);
