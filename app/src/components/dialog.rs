//! A modal dialog and a confirmation dialog.

use leptos::prelude::*;

/// A centred dialog over a dimmed page; `on_close` runs on the close button or the backdrop.
#[component]
pub fn Dialog(
    title: Signal<String>,
    on_close: Callback<()>,
    children: Children,
    #[prop(default = "max-w-lg")] width: &'static str,
) -> impl IntoView {
    view! {
        <div class="fixed inset-0 z-40 flex items-start justify-center overflow-y-auto bg-slate-900/50 p-4 sm:p-8">
            <div class="absolute inset-0" on:click=move |_| on_close.run(()) />
            <div
                role="dialog"
                aria-modal="true"
                aria-label=move || title.get()
                class=format!("relative z-50 w-full {width} rounded-2xl bg-white shadow-2xl ring-1 ring-slate-200")
            >
                <div class="flex items-center justify-between rounded-t-2xl bg-slate-900 px-5 py-3 text-white">
                    <h2 class="font-semibold">{move || title.get()}</h2>
                    <button
                        type="button"
                        aria-label="Close"
                        class="rounded px-2 text-slate-300 hover:bg-slate-800 hover:text-white"
                        on:click=move |_| on_close.run(())
                    >
                        "✕"
                    </button>
                </div>
                <div class="p-5">{children()}</div>
            </div>
        </div>
    }
}

/// Asks before doing something that cannot be undone.
#[component]
pub fn Confirm(
    title: String,
    message: String,
    confirm_label: String,
    on_confirm: Callback<()>,
    on_cancel: Callback<()>,
    #[prop(into)] pending: Signal<bool>,
) -> impl IntoView {
    view! {
        <Dialog title=Signal::stored(title) on_close=on_cancel>
            <p class="text-sm text-slate-700">{message}</p>
            <div class="mt-6 flex justify-end gap-2">
                <button type="button" class=crate::components::ui::BUTTON_SECONDARY on:click=move |_| on_cancel.run(())>
                    "Keep"
                </button>
                <button
                    type="button"
                    class=crate::components::ui::BUTTON_DANGER
                    disabled=move || pending.get()
                    on:click=move |_| on_confirm.run(())
                >
                    {confirm_label}
                </button>
            </div>
        </Dialog>
    }
}
