//! A secret shown once, when it is made (an API key, a webhook signing secret), with Copy.

use leptos::prelude::*;

use crate::components::ui::BUTTON_SECONDARY;

/// Writes `text` to the clipboard (in the browser; nothing during server rendering).
pub fn copy_to_clipboard(text: &str) {
    #[cfg(feature = "hydrate")]
    if let Some(w) = web_sys::window() {
        let _ = w.navigator().clipboard().write_text(text);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = text;
}

/// `message`, then `secret` in full (`data-testid=value_testid`, "secret" unless given) with a
/// copy button (`copy_label`, "Copy" unless given) and, with `on_done`, Done; the panel is
/// `data-testid=testid` when given.
#[component]
pub fn ShownOnce(
    message: String,
    secret: String,
    #[prop(optional)] testid: Option<&'static str>,
    #[prop(default = "secret")] value_testid: &'static str,
    #[prop(default = "Copy")] copy_label: &'static str,
    #[prop(optional)] on_done: Option<Callback<()>>,
) -> impl IntoView {
    let value = secret.clone();
    let copied = RwSignal::new(false);
    view! {
        <div class="mt-4 rounded-xl border border-emerald-300 bg-emerald-50 p-4" data-testid=testid>
            <p class="text-sm font-semibold text-emerald-900">{message}</p>
            <div class="mt-2 flex flex-col gap-2 sm:flex-row">
                <code
                    class="flex-1 break-all rounded-lg bg-white px-3 py-2 font-mono text-sm ring-1 ring-emerald-200"
                    data-testid=value_testid
                >
                    {secret}
                </code>
                <button
                    type="button"
                    class=BUTTON_SECONDARY
                    on:click=move |_| {
                        copy_to_clipboard(&value);
                        copied.set(true);
                    }
                >
                    {move || if copied.get() { "Copied" } else { copy_label }}
                </button>
                {on_done
                    .map(|done| {
                        view! {
                            <button type="button" class=BUTTON_SECONDARY on:click=move |_| done.run(())>
                                "Done"
                            </button>
                        }
                    })}
            </div>
        </div>
    }
}
