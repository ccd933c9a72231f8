//! Form pieces: labelled inputs and the error banner of a server action.

use leptos::prelude::*;

use crate::model::error::AppError;

/// A labelled input whose name matches a server function argument.
#[component]
pub fn Field(
    name: &'static str,
    label: &'static str,
    #[prop(default = "text")] kind: &'static str,
    #[prop(optional)] autocomplete: &'static str,
    #[prop(optional)] placeholder: &'static str,
    #[prop(optional)] hint: &'static str,
) -> impl IntoView {
    view! {
        <div>
            <label for=name class="block text-sm font-medium text-slate-700">
                {label}
            </label>
            <input
                id=name
                name=name
                type=kind
                required=true
                autocomplete=autocomplete
                placeholder=placeholder
                class="mt-1 block w-full rounded-lg border border-slate-300 bg-white px-3 py-2 text-sm shadow-sm placeholder:text-slate-400 focus:border-indigo-500 focus:ring-2 focus:ring-indigo-500/30 focus:outline-none"
            />
            {(!hint.is_empty()).then(|| view! { <p class="mt-1 text-xs text-slate-500">{hint}</p> })}
        </div>
    }
}

/// The error of the last submission of an action, if it failed.
#[component]
pub fn ActionError(error: Signal<Option<AppError>>) -> impl IntoView {
    move || {
        error.get().map(|e| {
            view! {
                <div
                    role="alert"
                    data-testid="form-error"
                    class="rounded-lg border border-red-200 bg-red-50 px-3 py-2 text-sm text-red-700"
                >
                    {e.to_string()}
                </div>
            }
        })
    }
}
