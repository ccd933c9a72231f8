//! `/webhooks`: the bots' callback URLs and the account's endpoints, each with its signing
//! secret (shown once, when made), a notice when Meeboter disabled it after a long run of
//! failures, and its delivery log (status, attempts, next try, response code) with "Resend".

mod deliveries;

use leptos::prelude::*;

use crate::api::webhooks::{
    create_webhook_endpoint, delete_webhook_endpoint, list_webhook_endpoints, rotate_webhook_secret,
    set_webhook_enabled,
};
use crate::components::dialog::{Confirm, Dialog};
use crate::components::live::{use_live, use_refresh, Loaded};
use crate::components::protected::RequireUser;
use crate::components::shown_once::ShownOnce;
use crate::components::time::{now, relative};
use crate::components::toast::use_toasts;
use crate::components::ui::{ErrorText, PageHeader, BUTTON, BUTTON_SECONDARY, CARD, INPUT};
use crate::model::error::AppError;
use crate::model::webhook::{EndpointSecret, WebhookEndpoint};
use deliveries::DeliveryLog;

/// `/webhooks`.
#[component]
pub fn WebhooksPage() -> impl IntoView {
    let refresh = RwSignal::new(0u32);
    // Bots' changes make deliveries: the counts follow them.
    let changes = use_refresh(10);
    let endpoints = use_live(move || (refresh.get(), changes.get()), |_| list_webhook_endpoints());
    view! { <RequireUser children=move |_| view! { <WebhooksView refresh endpoints /> } /> }
}

#[component]
fn WebhooksView(
    refresh: RwSignal<u32>,
    endpoints: Signal<Option<Result<Vec<WebhookEndpoint>, AppError>>>,
) -> impl IntoView {
    let adding = RwSignal::new(false);
    let secret = RwSignal::new(None::<EndpointSecret>);
    let log_of = RwSignal::new(None::<WebhookEndpoint>);
    let deleting = RwSignal::new(None::<WebhookEndpoint>);
    let toasts = use_toasts();
    let bump = move || refresh.update(|n| *n += 1);
    let delete = Action::new(|id: &i64| delete_webhook_endpoint(*id));
    Effect::new(move |_| match delete.value().get() {
        Some(Ok(())) => {
            deleting.set(None);
            toasts.success("Endpoint deleted");
            bump();
        }
        Some(Err(e)) => toasts.error(e.to_string()),
        None => {}
    });
    view! {
        <PageHeader
            title="Webhooks"
            subtitle="Meeboter POSTs every status change and recording of your bots, signed the Standard Webhooks way, retrying for a day."
        >
            <button type="button" class=BUTTON on:click=move |_| adding.set(true)>
                "Add endpoint"
            </button>
        </PageHeader>
        {move || {
            secret
                .get()
                .map(|s| {
                    view! {
                        <ShownOnce
                            message=format!(
                                "The signing secret of {}. Copy it now: it will not be shown again.",
                                s.endpoint.label(),
                            )
                            secret=s.secret
                            testid="new-secret"
                            on_done=Callback::new(move |()| secret.set(None))
                        />
                    }
                })
        }}
        <Loaded
            data=endpoints
            fallback=|| view! { <p class="mt-4 text-sm text-slate-500">"Loading endpoints…"</p> }
            let:loaded
        >
            {match loaded {
                Ok(list) => {
                    view! {
                        <Notices list=list.clone() refresh />
                        <div class="mt-4 space-y-3">
                            {list
                                .into_iter()
                                .map(|e| view! { <EndpointCard endpoint=e refresh secret log_of deleting /> })
                                .collect_view()}
                        </div>
                    }
                        .into_any()
                }
                Err(e) => view! { <ErrorText message=e.to_string() /> }.into_any(),
            }}
        </Loaded>
        <Show when=move || adding.get()>
            <AddEndpointDialog
                on_close=Callback::new(move |()| adding.set(false))
                on_added=Callback::new(move |s: EndpointSecret| {
                    adding.set(false);
                    secret.set(Some(s));
                    bump();
                })
            />
        </Show>
        {move || {
            log_of
                .get()
                .map(|e| view! { <DeliveryLog endpoint=e on_close=Callback::new(move |()| log_of.set(None)) /> })
        }}
        {move || {
            deleting
                .get()
                .map(|e| {
                    let id = e.id;
                    view! {
                        <Confirm
                            title="Delete endpoint".to_owned()
                            message=format!(
                                "Delete {}? Its deliveries, sent or waiting, are deleted with it. This cannot be undone.",
                                e.label(),
                            )
                            confirm_label="Delete endpoint".to_owned()
                            pending=delete.pending()
                            on_confirm=Callback::new(move |()| {
                                delete.dispatch(id);
                            })
                            on_cancel=Callback::new(move |()| deleting.set(None))
                        />
                    }
                })
        }}
    }
}

/// Endpoints Meeboter disabled, with why and a way back.
#[component]
fn Notices(list: Vec<WebhookEndpoint>, refresh: RwSignal<u32>) -> impl IntoView {
    let enable = Action::new(|id: &i64| set_webhook_enabled(*id, true));
    Effect::new(move |_| {
        if enable.value().get().is_some() {
            refresh.update(|n| *n += 1);
        }
    });
    list.into_iter()
        .filter(|e| !e.enabled && e.disabled_reason.is_some())
        .map(|e| {
            let id = e.id;
            view! {
                <div
                    class="mt-4 rounded-xl border border-amber-300 bg-amber-50 p-4"
                    role="alert"
                    data-testid="disabled-notice"
                >
                    <p class="text-sm font-semibold text-amber-900">
                        {format!("{} was disabled: its deliveries kept failing.", e.label())}
                    </p>
                    <p class="mt-1 text-sm text-amber-800">{e.disabled_reason.clone()}</p>
                    <p class="mt-1 text-sm text-amber-800">
                        "Its events wait; enable it once the receiver works again and they are sent in order."
                    </p>
                    <button
                        type="button"
                        class=format!("mt-2 {BUTTON_SECONDARY}")
                        on:click=move |_| {
                            enable.dispatch(id);
                        }
                    >
                        "Enable again"
                    </button>
                </div>
            }
        })
        .collect_view()
}

#[component]
fn EndpointCard(
    endpoint: WebhookEndpoint,
    refresh: RwSignal<u32>,
    secret: RwSignal<Option<EndpointSecret>>,
    log_of: RwSignal<Option<WebhookEndpoint>>,
    deleting: RwSignal<Option<WebhookEndpoint>>,
) -> impl IntoView {
    let toasts = use_toasts();
    let id = endpoint.id;
    let enabled = endpoint.enabled;
    let rotate = Action::new(move |_: &()| rotate_webhook_secret(id));
    let toggle = Action::new(move |on: &bool| set_webhook_enabled(id, *on));
    Effect::new(move |_| match rotate.value().get() {
        Some(Ok(s)) => {
            secret.set(Some(s));
            refresh.update(|n| *n += 1);
        }
        Some(Err(e)) => toasts.error(e.to_string()),
        None => {}
    });
    Effect::new(move |_| match toggle.value().get() {
        Some(Ok(e)) => {
            toasts.success(if e.enabled { "Endpoint enabled" } else { "Endpoint disabled" });
            refresh.update(|n| *n += 1);
        }
        Some(Err(e)) => toasts.error(e.to_string()),
        None => {}
    });
    let n = now();
    let callback = endpoint.is_callback();
    let (badge, badge_class) = if enabled {
        ("Enabled", "bg-emerald-50 text-emerald-800 ring-emerald-300")
    } else {
        ("Disabled", "bg-slate-100 text-slate-600 ring-slate-300")
    };
    let description = if callback {
        "Each bot's own callbackUrl, signed with this secret.".to_owned()
    } else {
        endpoint.description.clone()
    };
    let for_log = endpoint.clone();
    let for_delete = endpoint.clone();
    view! {
        <div class=CARD data-testid="webhook-endpoint" data-kind=endpoint.kind.clone()>
            <div class="flex flex-wrap items-start justify-between gap-3">
                <div class="min-w-0">
                    <p class="break-all font-mono text-sm font-semibold text-slate-900" data-testid="endpoint-url">
                        {endpoint.label()}
                    </p>
                    <p class="mt-0.5 text-sm text-slate-500">{description}</p>
                    <p class="mt-2 text-xs text-slate-500">
                        <span class=format!(
                            "rounded-full px-2 py-0.5 font-medium ring-1 ring-inset {badge_class}",
                        )>{badge}</span>
                        <span class="ml-2">
                            "Secret " <code class="font-mono">{endpoint.secret_hint.clone()}</code>
                        </span>
                        <span class="ml-2" data-testid="endpoint-pending">
                            {format!("{} waiting", endpoint.pending)}
                        </span>
                        <span class="ml-2">
                            {endpoint
                                .last_delivered_at
                                .map(|t| format!("last delivered {}", relative(t, n)))
                                .unwrap_or_else(|| "nothing delivered yet".into())}
                        </span>
                        {(endpoint.consecutive_failures > 0)
                            .then(|| {
                                view! {
                                    <span class="ml-2 text-red-700">
                                        {format!("{} failed attempts in a row", endpoint.consecutive_failures)}
                                    </span>
                                }
                            })}
                    </p>
                </div>
                <div class="flex flex-wrap gap-2">
                    <button type="button" class=BUTTON_SECONDARY on:click=move |_| log_of.set(Some(for_log.clone()))>
                        "Deliveries"
                    </button>
                    <button
                        type="button"
                        class=BUTTON_SECONDARY
                        title="Make a new signing secret and show it once; the old one stops working at once"
                        disabled=move || rotate.pending().get()
                        on:click=move |_| {
                            rotate.dispatch(());
                        }
                    >
                        "New secret"
                    </button>
                    <button
                        type="button"
                        class=BUTTON_SECONDARY
                        disabled=move || toggle.pending().get()
                        on:click=move |_| {
                            toggle.dispatch(!enabled);
                        }
                    >
                        {if enabled { "Disable" } else { "Enable" }}
                    </button>
                    <Show when=move || !callback>
                        <button
                            type="button"
                            class="text-sm font-medium text-red-600 hover:text-red-500"
                            on:click={
                                let e = for_delete.clone();
                                move |_| deleting.set(Some(e.clone()))
                            }
                        >
                            "Delete"
                        </button>
                    </Show>
                </div>
            </div>
        </div>
    }
}

#[component]
fn AddEndpointDialog(on_close: Callback<()>, on_added: Callback<EndpointSecret>) -> impl IntoView {
    let url = RwSignal::new(String::new());
    let description = RwSignal::new(String::new());
    let create = Action::new(|(url, description): &(String, String)| {
        let (url, description) = (url.clone(), description.clone());
        async move { create_webhook_endpoint(url, description).await }
    });
    Effect::new(move |_| {
        if let Some(Ok(s)) = create.value().get() {
            on_added.run(s);
        }
    });
    view! {
        <Dialog title=Signal::stored("Add endpoint".to_owned()) on_close>
            <form
                class="space-y-4"
                on:submit=move |ev| {
                    ev.prevent_default();
                    create.dispatch((url.get_untracked(), description.get_untracked()));
                }
            >
                <div>
                    <label for="webhook-url" class="block text-sm font-medium text-slate-700">
                        "URL"
                    </label>
                    <input
                        id="webhook-url"
                        type="url"
                        required=true
                        maxlength="2048"
                        placeholder="https://example.com/meeboter/events"
                        class=format!("mt-1 {INPUT}")
                        on:input=move |ev| url.set(event_target_value(&ev))
                    />
                    <p class="mt-1 text-xs text-slate-500">
                        "Every bot event of this account is POSTed here, as JSON."
                    </p>
                </div>
                <div>
                    <label for="webhook-description" class="block text-sm font-medium text-slate-700">
                        "Description"
                    </label>
                    <input
                        id="webhook-description"
                        maxlength="200"
                        placeholder="Production event consumer"
                        class=format!("mt-1 {INPUT}")
                        on:input=move |ev| description.set(event_target_value(&ev))
                    />
                </div>
                {move || {
                    create.value().get().and_then(Result::err).map(|e| view! { <ErrorText message=e.to_string() /> })
                }}
                <div class="flex justify-end">
                    <button type="submit" class=BUTTON disabled=move || create.pending().get()>
                        "Add endpoint"
                    </button>
                </div>
            </form>
        </Dialog>
    }
}
