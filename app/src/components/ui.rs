//! Shared class lists and small pieces: buttons, cards, headers, empty states.

use leptos::prelude::*;
use leptos_meta::Title;

pub const BUTTON: &str = "inline-flex items-center justify-center gap-2 rounded-lg bg-indigo-600 px-3.5 py-2 text-sm font-semibold text-white shadow-sm hover:bg-indigo-500 disabled:cursor-not-allowed disabled:opacity-50";
pub const BUTTON_SECONDARY: &str = "inline-flex items-center justify-center gap-2 rounded-lg bg-white px-3.5 py-2 text-sm font-semibold text-slate-700 shadow-sm ring-1 ring-inset ring-slate-300 hover:bg-slate-50 disabled:opacity-50";
pub const BUTTON_DANGER: &str = "inline-flex items-center justify-center gap-2 rounded-lg bg-red-600 px-3.5 py-2 text-sm font-semibold text-white shadow-sm hover:bg-red-500 disabled:opacity-50";
pub const INPUT: &str = "block w-full rounded-lg border border-slate-300 bg-white px-3 py-2 text-sm shadow-sm placeholder:text-slate-400 focus:border-indigo-500 focus:outline-none focus:ring-2 focus:ring-indigo-500/30";
pub const CARD: &str = "rounded-xl bg-white p-5 shadow-sm ring-1 ring-slate-200";
pub const TH: &str = "px-3 py-2 text-left text-xs font-semibold uppercase tracking-wide text-slate-500";
pub const TD: &str = "px-3 py-2.5 text-sm text-slate-700";

/// A page title with an optional right-hand side.
#[component]
pub fn PageHeader(
    title: &'static str,
    subtitle: &'static str,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    view! {
        <Title text=title />
        <div class="flex flex-col gap-3 border-b border-slate-200 pb-4 sm:flex-row sm:items-end sm:justify-between">
            <div>
                <h1 class="text-2xl font-bold tracking-tight">{title}</h1>
                <p class="mt-1 text-sm text-slate-600">{subtitle}</p>
            </div>
            <div class="flex flex-wrap items-center gap-2">{children.map(|c| c())}</div>
        </div>
    }
}

/// A dashed box saying there is nothing yet, and what will appear.
#[component]
pub fn EmptyState(title: &'static str, text: &'static str) -> impl IntoView {
    view! {
        <div class="rounded-xl border border-dashed border-slate-300 bg-white p-10 text-center">
            <h2 class="font-semibold text-slate-900">{title}</h2>
            <p class="mx-auto mt-2 max-w-md text-sm text-slate-600">{text}</p>
        </div>
    }
}

/// An inline error message.
#[component]
pub fn ErrorText(message: String) -> impl IntoView {
    view! {
        <p role="alert" class="rounded-lg border border-red-200 bg-red-50 px-3 py-2 text-sm text-red-700">
            {message}
        </p>
    }
}
