//! Toasts: short notices of what an action did ("Bot #12 removed from the call"), in a polite
//! live region at the bottom right; each goes away after a few seconds or when closed.

use std::time::Duration;

use leptos::prelude::*;

/// How long a toast stays.
const SHOWN_FOR: Duration = Duration::from_secs(6);

#[derive(Debug, Clone, PartialEq, Eq)]
struct Toast {
    id: u64,
    text: String,
    failed: bool,
}

/// The toasts of the page (a context, provided once by the app).
#[derive(Clone, Copy)]
pub struct Toasts {
    list: RwSignal<Vec<Toast>>,
    next: StoredValue<u64>,
}

impl Toasts {
    /// Shows a notice that something worked.
    pub fn success(&self, text: impl Into<String>) {
        self.push(text.into(), false);
    }

    /// Shows a notice that something failed.
    pub fn error(&self, text: impl Into<String>) {
        self.push(text.into(), true);
    }

    fn push(&self, text: String, failed: bool) {
        let id = self.next.get_value();
        self.next.set_value(id + 1);
        self.list.update(|l| l.push(Toast { id, text, failed }));
        let list = self.list;
        set_timeout(move || list.update(|l| l.retain(|t| t.id != id)), SHOWN_FOR);
    }
}

/// Provides [`Toasts`] to everything below.
pub fn provide_toasts() {
    provide_context(Toasts { list: RwSignal::new(Vec::new()), next: StoredValue::new(0) });
}

/// The page's toasts.
pub fn use_toasts() -> Toasts {
    expect_context::<Toasts>()
}

/// Where toasts appear.
#[component]
pub fn ToastRegion() -> impl IntoView {
    let toasts = use_toasts();
    view! {
        <div
            aria-live="polite"
            class="pointer-events-none fixed bottom-4 right-4 z-[60] flex w-80 max-w-[calc(100vw-2rem)] flex-col gap-2"
        >
            <For each=move || toasts.list.get() key=|t| t.id let:toast>
                <div
                    role=if toast.failed { "alert" } else { "status" }
                    data-testid="toast"
                    class=if toast.failed {
                        "pointer-events-auto flex items-start justify-between gap-3 rounded-lg bg-red-50 px-4 py-3 text-sm text-red-800 shadow-lg ring-1 ring-red-200"
                    } else {
                        "pointer-events-auto flex items-start justify-between gap-3 rounded-lg bg-white px-4 py-3 text-sm text-slate-800 shadow-lg ring-1 ring-slate-200"
                    }
                >
                    <span>{toast.text.clone()}</span>
                    <button
                        type="button"
                        aria-label="Dismiss"
                        class="text-slate-400 hover:text-slate-600"
                        on:click=move |_| toasts.list.update(|l| l.retain(|t| t.id != toast.id))
                    >
                        "×"
                    </button>
                </div>
            </For>
        </div>
    }
}
