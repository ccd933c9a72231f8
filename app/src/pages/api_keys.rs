//! `/api-keys`: create (the secret is shown once, with a copy button), list, revoke with
//! confirmation, and each key's request log.

use leptos::prelude::*;

use crate::components::live::{use_live, Loaded};

use crate::api::keys::{create_api_key, get_api_key_logs, list_api_keys, revoke_api_key};
use crate::components::dialog::{Confirm, Dialog};
use crate::components::protected::RequireUser;
use crate::components::shown_once::ShownOnce;
use crate::components::time::{now, relative, short};
use crate::components::ui::{EmptyState, ErrorText, PageHeader, BUTTON, INPUT, TD, TH};
use crate::model::bot::Page;
use crate::model::error::AppError;
use crate::model::keys::{ApiKey, CreatedApiKey, KeyStatus};

/// `/api-keys`.
#[component]
pub fn ApiKeysPage() -> impl IntoView {
    let refresh = RwSignal::new(0u32);
    let keys = use_live(move || refresh.get(), |_| list_api_keys(1));
    view! { <RequireUser children=move |_| view! { <ApiKeysView refresh keys /> } /> }
}

#[component]
fn ApiKeysView(refresh: RwSignal<u32>, keys: Signal<Option<Result<Page<ApiKey>, AppError>>>) -> impl IntoView {
    let creating = RwSignal::new(false);
    let created = RwSignal::new(None::<CreatedApiKey>);
    let revoking = RwSignal::new(None::<ApiKey>);
    let logs_of = RwSignal::new(None::<ApiKey>);
    let revoke = Action::new(|id: &i64| revoke_api_key(*id));
    Effect::new(move |_| {
        if revoke.value().get().is_some() {
            revoking.set(None);
            refresh.update(|n| *n += 1);
        }
    });
    view! {
        <PageHeader
            title="API Keys"
            subtitle="Keys for programs that use the Meeboter API. Meeboter stores only their hashes."
        >
            <button type="button" class=BUTTON on:click=move |_| creating.set(true)>
                "Create API Key"
            </button>
        </PageHeader>
        <Show when=move || {
            created.with(Option::is_some)
        }>
            {move || {
                created
                    .get()
                    .map(|c| {
                        view! {
                            <ShownOnce
                                message=format!(
                                    "Your new key \"{}\". Copy it now: it will not be shown again.",
                                    c.key.name,
                                )
                                secret=c.secret
                                testid="new-key"
                                on_done=Callback::new(move |()| created.set(None))
                            />
                        }
                    })
            }}
        </Show>
        <div class="mt-4">
            <Loaded
                data=keys
                fallback=|| {
                    view! { <p class="text-sm text-slate-500">"Loading keys…"</p> }
                }
                let:loaded
            >
                {match loaded {
                    Ok(page) => view! { <KeysTable keys=page.data revoking logs_of /> }.into_any(),
                    Err(e) => view! { <ErrorText message=e.to_string() /> }.into_any(),
                }}
            </Loaded>
        </div>
        <Show when=move || creating.get()>
            <CreateKeyDialog
                on_close=Callback::new(move |()| creating.set(false))
                on_created=Callback::new(move |c: CreatedApiKey| {
                    creating.set(false);
                    created.set(Some(c));
                    refresh.update(|n| *n += 1);
                })
            />
        </Show>
        {move || {
            revoking
                .get()
                .map(|k| {
                    let id = k.id;
                    view! {
                        <Confirm
                            title="Revoke API key".to_owned()
                            message=format!(
                                "Revoke \"{}\" ({}…)? Programs using it will get 401 at once. This cannot be undone.",
                                k.name,
                                k.prefix,
                            )
                            confirm_label="Revoke key".to_owned()
                            pending=revoke.pending()
                            on_confirm=Callback::new(move |()| {
                                revoke.dispatch(id);
                            })
                            on_cancel=Callback::new(move |()| revoking.set(None))
                        />
                    }
                })
        }}
        {move || {
            logs_of.get().map(|k| view! { <KeyLogsDialog key=k on_close=Callback::new(move |()| logs_of.set(None)) /> })
        }}
    }
}

fn status_badge(s: KeyStatus) -> impl IntoView {
    let (label, class) = match s {
        KeyStatus::Active => ("Active", "bg-emerald-50 text-emerald-800 ring-emerald-300"),
        KeyStatus::Revoked => ("Revoked", "bg-red-50 text-red-700 ring-red-300"),
        KeyStatus::Expired => ("Expired", "bg-slate-100 text-slate-600 ring-slate-300"),
    };
    view! {
        <span
            class=format!("rounded-full px-2 py-0.5 text-xs font-medium ring-1 ring-inset {class}")
            data-testid="key-status"
        >
            {label}
        </span>
    }
}

#[component]
fn KeysTable(
    keys: Vec<ApiKey>,
    revoking: RwSignal<Option<ApiKey>>,
    logs_of: RwSignal<Option<ApiKey>>,
) -> impl IntoView {
    if keys.is_empty() {
        return view! {
            <EmptyState
                title="No API keys yet"
                text="Create a key to call the API from your own programs. Its secret is shown once."
            />
        }
        .into_any();
    }
    let n = now();
    view! {
        <div class="overflow-x-auto rounded-xl bg-white shadow-sm ring-1 ring-slate-200">
            <table class="min-w-full">
                <thead class="bg-slate-50">
                    <tr>
                        <th class=TH>"Name"</th>
                        <th class=TH>"Prefix"</th>
                        <th class=TH>"Created"</th>
                        <th class=TH>"Expires"</th>
                        <th class=TH>"Last used"</th>
                        <th class=TH>"Status"</th>
                        <th class=TH>"Actions"</th>
                    </tr>
                </thead>
                <tbody>
                    {keys
                        .into_iter()
                        .map(|k| {
                            let active = k.status == KeyStatus::Active;
                            let for_revoke = k.clone();
                            let for_logs = k.clone();
                            view! {
                                <tr
                                    class="border-t border-slate-100"
                                    data-testid="key-row"
                                    data-key-name=k.name.clone()
                                >
                                    <td class=format!("{TD} font-medium text-slate-900")>{k.name.clone()}</td>
                                    <td class=format!("{TD} font-mono text-xs")>{format!("{}…", k.prefix)}</td>
                                    <td class=TD title=k.created_at.to_rfc3339()>
                                        {relative(k.created_at, n)}
                                    </td>
                                    <td class=TD>{short(k.expires_at)}</td>
                                    <td class=TD>
                                        {k.last_used_at.map(|t| relative(t, n)).unwrap_or_else(|| "Never".into())}
                                    </td>
                                    <td class=TD>{status_badge(k.status)}</td>
                                    <td class=format!("{TD} space-x-3 whitespace-nowrap")>
                                        <button
                                            type="button"
                                            class="text-sm font-medium text-indigo-600 hover:text-indigo-500"
                                            on:click=move |_| logs_of.set(Some(for_logs.clone()))
                                        >
                                            "Logs"
                                        </button>
                                        <Show when=move || active>
                                            <button
                                                type="button"
                                                class="text-sm font-medium text-red-600 hover:text-red-500"
                                                on:click={
                                                    let k = for_revoke.clone();
                                                    move |_| revoking.set(Some(k.clone()))
                                                }
                                            >
                                                "Revoke"
                                            </button>
                                        </Show>
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
fn CreateKeyDialog(on_close: Callback<()>, on_created: Callback<CreatedApiKey>) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let expires = RwSignal::new(String::new());
    let create = Action::new(|(name, expires): &(String, String)| {
        let (name, expires) = (name.clone(), expires.clone());
        async move { create_api_key(name, Some(expires)).await }
    });
    Effect::new(move |_| {
        if let Some(Ok(c)) = create.value().get() {
            on_created.run(c);
        }
    });
    view! {
        <Dialog title=Signal::stored("Create API Key".to_owned()) on_close>
            <form
                class="space-y-4"
                on:submit=move |ev| {
                    ev.prevent_default();
                    create.dispatch((name.get_untracked(), expires.get_untracked()));
                }
            >
                <div>
                    <label for="key-name" class="block text-sm font-medium text-slate-700">
                        "Name"
                    </label>
                    <input
                        id="key-name"
                        required=true
                        maxlength="100"
                        placeholder="Production API Key"
                        class=format!("mt-1 {INPUT}")
                        on:input=move |ev| name.set(event_target_value(&ev))
                    />
                </div>
                <div>
                    <label for="key-expiry" class="block text-sm font-medium text-slate-700">
                        "Expiration Date"
                    </label>
                    <input
                        id="key-expiry"
                        type="date"
                        class=format!("mt-1 {INPUT}")
                        on:input=move |ev| expires.set(event_target_value(&ev))
                    />
                    <p class="mt-1 text-xs text-slate-500">"Leave empty for 6 months from today."</p>
                </div>
                {move || {
                    create.value().get().and_then(Result::err).map(|e| view! { <ErrorText message=e.to_string() /> })
                }}
                <div class="flex justify-end">
                    <button type="submit" class=BUTTON disabled=move || create.pending().get()>
                        "Create key"
                    </button>
                </div>
            </form>
        </Dialog>
    }
}

#[component]
fn KeyLogsDialog(key: ApiKey, on_close: Callback<()>) -> impl IntoView {
    let id = key.id;
    let logs = use_live(|| (), move |_| get_api_key_logs(id, 1));
    view! {
        <Dialog title=Signal::stored(format!("API Key Logs: {}", key.name)) on_close width="max-w-2xl">
            <Loaded
                data=logs
                fallback=|| {
                    view! { <p class="text-sm text-slate-500">"Loading…"</p> }
                }
                let:loaded
            >
                {match loaded {
                    Ok(page) if page.data.is_empty() => {
                        view! { <p class="text-sm text-slate-500">"No requests with this key yet."</p> }.into_any()
                    }
                    Ok(page) => {
                        let n = now();
                        view! {
                            <table class="min-w-full">
                                <thead class="bg-slate-50">
                                    <tr>
                                        <th class=TH>"Method"</th>
                                        <th class=TH>"Path"</th>
                                        <th class=TH>"Status"</th>
                                        <th class=TH>"Duration"</th>
                                        <th class=TH>"Time"</th>
                                    </tr>
                                </thead>
                                <tbody>
                                    {page
                                        .data
                                        .into_iter()
                                        .map(|l| {
                                            view! {
                                                <tr class="border-t border-slate-100">
                                                    <td class=format!("{TD} font-mono text-xs")>{l.method}</td>
                                                    <td class=format!("{TD} font-mono text-xs")>{l.path}</td>
                                                    <td class=TD>{l.status_code}</td>
                                                    <td class=TD>{format!("{} ms", l.duration_ms)}</td>
                                                    <td class=TD>{relative(l.created_at, n)}</td>
                                                </tr>
                                            }
                                        })
                                        .collect_view()}
                                </tbody>
                            </table>
                        }
                            .into_any()
                    }
                    Err(e) => view! { <ErrorText message=e.to_string() /> }.into_any(),
                }}
            </Loaded>
        </Dialog>
    }
}
