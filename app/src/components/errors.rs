//! What an error boundary shows, and the status code it sets on the server.

use leptos::prelude::*;

use crate::model::error::AppError;

/// Lists the errors caught by an `ErrorBoundary`; on the server also sets the HTTP status
/// (the error's own status for an `AppError`, 500 otherwise).
#[component]
pub fn ErrorView(errors: ArcRwSignal<Errors>) -> impl IntoView {
    let list = errors.get_untracked();
    let status = list
        .iter()
        .map(|(_, e)| e.downcast_ref::<AppError>().map(AppError::status).unwrap_or(500))
        .max()
        .unwrap_or(500);
    #[cfg(feature = "ssr")]
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
        res.set_status(http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR));
    }
    let messages: Vec<String> = list.into_iter().map(|(_, e)| e.to_string()).collect();
    view! {
        <div role="alert" class="mx-auto max-w-xl rounded-xl border border-red-200 bg-white p-6 shadow-sm">
            <h1 class="text-lg font-semibold text-red-700">
                {if status == 500 { "Something went wrong" } else { "This could not be shown" }}
            </h1>
            <ul class="mt-3 list-disc space-y-1 pl-5 text-sm text-slate-700">
                {messages.into_iter().map(|m| view! { <li>{m}</li> }).collect_view()}
            </ul>
            <a href="/" class="mt-4 inline-block text-sm font-medium text-indigo-600 hover:text-indigo-500">
                "Back to the dashboard"
            </a>
        </div>
    }
}
