//! An endpoint's delivery log: status, attempts, next try, the last answer's code or error, and
//! "Resend", polled while open.

use leptos::prelude::*;

use crate::api::webhooks::{list_webhook_deliveries, resend_webhook};
use crate::components::dialog::Dialog;
use crate::components::live::{use_live, use_tick, Loaded};
use crate::components::time::{now, relative};
use crate::components::toast::use_toasts;
use crate::components::ui::{ErrorText, BUTTON_SECONDARY, TD, TH};
use crate::model::error::AppError;
use crate::model::webhook::{WebhookDelivery, WebhookEndpoint};

fn status_badge(status: &str) -> impl IntoView {
    let class = match status {
        "DELIVERED" => "bg-emerald-50 text-emerald-800 ring-emerald-300",
        "FAILED" => "bg-red-50 text-red-700 ring-red-300",
        _ => "bg-amber-50 text-amber-800 ring-amber-300",
    };
    view! {
        <span
            class=format!("rounded-full px-2 py-0.5 text-xs font-medium ring-1 ring-inset {class}")
            data-testid="delivery-status"
        >
            {status.to_owned()}
        </span>
    }
}

/// An endpoint's deliveries, live, with "Resend".
#[component]
pub(super) fn DeliveryLog(endpoint: WebhookEndpoint, on_close: Callback<()>) -> impl IntoView {
    let id = endpoint.id;
    let page = RwSignal::new(1i64);
    let refresh = RwSignal::new(0u32);
    // Attempts happen on the server's own schedule: the open log polls.
    let tick = use_tick(2);
    let deliveries =
        use_live(move || (page.get(), refresh.get(), tick.get()), move |(p, _, _)| list_webhook_deliveries(id, p));
    let toasts = use_toasts();
    let resend = Action::new(|id: &i64| resend_webhook(*id));
    Effect::new(move |_| match resend.value().get() {
        Some(Ok(d)) => {
            toasts.success(format!("{} queued again", d.event_id));
            refresh.update(|n| *n += 1);
        }
        Some(Err(e)) => toasts.error(e.to_string()),
        None => {}
    });
    let open = RwSignal::new(None::<i64>);
    view! {
        <Dialog title=Signal::stored(format!("Deliveries: {}", endpoint.label())) on_close width="max-w-5xl">
            <Loaded data=deliveries fallback=|| view! { <p class="text-sm text-slate-500">"Loading…"</p> } let:loaded>
                {match loaded {
                    Ok(p) if p.data.is_empty() => {
                        view! {
                            <p class="text-sm text-slate-500" data-testid="no-deliveries">
                                "No deliveries yet. Each bot status change sends one."
                            </p>
                        }
                            .into_any()
                    }
                    Ok(p) => {
                        let n = now();
                        let (has_prev, has_next, page_count) = (p.has_previous_page, p.has_next_page, p.page_count);
                        view! {
                            <div class="overflow-x-auto">
                                <table class="min-w-full">
                                    <thead class="bg-slate-50">
                                        <tr>
                                            <th class=TH>"Event"</th>
                                            <th class=TH>"Bot"</th>
                                            <th class=TH>"Status"</th>
                                            <th class=TH>"Attempts"</th>
                                            <th class=TH>"Next try"</th>
                                            <th class=TH>"Response"</th>
                                            <th class=TH>"Created"</th>
                                            <th class=TH></th>
                                        </tr>
                                    </thead>
                                    <tbody>
                                        {p
                                            .data
                                            .into_iter()
                                            .map(|d| view! { <DeliveryRow d n open resend /> })
                                            .collect_view()}
                                    </tbody>
                                </table>
                            </div>
                            <div class="mt-3 flex items-center justify-end gap-2 text-sm text-slate-500">
                                <span>{move || format!("Page {} of {}", page.get(), page_count.max(1))}</span>
                                <button
                                    type="button"
                                    class=BUTTON_SECONDARY
                                    disabled=!has_prev
                                    on:click=move |_| page.update(|p| *p -= 1)
                                >
                                    "Previous"
                                </button>
                                <button
                                    type="button"
                                    class=BUTTON_SECONDARY
                                    disabled=!has_next
                                    on:click=move |_| page.update(|p| *p += 1)
                                >
                                    "Next"
                                </button>
                            </div>
                        }
                            .into_any()
                    }
                    Err(e) => view! { <ErrorText message=e.to_string() /> }.into_any(),
                }}
            </Loaded>
        </Dialog>
    }
}

#[component]
fn DeliveryRow(
    d: WebhookDelivery,
    n: chrono::DateTime<chrono::Utc>,
    open: RwSignal<Option<i64>>,
    resend: Action<i64, Result<WebhookDelivery, AppError>>,
) -> impl IntoView {
    let id = d.id;
    let response = match (d.last_status_code, &d.last_error) {
        (Some(code), None) => code.to_string(),
        (Some(code), Some(_)) => code.to_string(),
        (None, Some(e)) => e.clone(),
        (None, None) => "—".to_owned(),
    };
    let next = d.next_attempt_at.map(|t| relative(t, n)).unwrap_or_else(|| "—".into());
    let details = format!(
        "{}\n\nLast error: {}\nResponse body: {}",
        d.body,
        d.last_error.clone().unwrap_or_else(|| "none".into()),
        d.last_response.clone().unwrap_or_else(|| "none".into())
    );
    view! {
        <tr class="border-t border-slate-100 align-top" data-testid="delivery-row" data-event-type=d.event_type.clone()>
            <td class=TD>
                <button
                    type="button"
                    class="text-left font-mono text-xs text-indigo-700 hover:underline"
                    title="Show the body and the last answer"
                    on:click=move |_| open.update(|o| *o = if *o == Some(id) { None } else { Some(id) })
                >
                    {d.event_type.clone()}
                    <br />
                    <span class="text-slate-500">{d.event_id.clone()}</span>
                </button>
                <Show when=move || open.get() == Some(id)>
                    <pre class="mt-2 max-w-md whitespace-pre-wrap break-all rounded bg-slate-50 p-2 text-xs text-slate-700">
                        {details.clone()}
                    </pre>
                </Show>
            </td>
            <td class=TD>{format!("#{}", d.bot_id)}</td>
            <td class=TD>{status_badge(&d.status)}</td>
            <td class=TD data-testid="delivery-attempts">
                {d.attempts}
            </td>
            <td class=TD>{next}</td>
            <td class=format!("{TD} max-w-xs break-words") data-testid="delivery-response">
                {response}
            </td>
            <td class=TD title=d.created_at.to_rfc3339()>
                {relative(d.created_at, n)}
            </td>
            <td class=TD>
                <button
                    type="button"
                    class="text-sm font-medium text-indigo-600 hover:text-indigo-500"
                    on:click=move |_| {
                        resend.dispatch(id);
                    }
                >
                    "Resend"
                </button>
            </td>
        </tr>
    }
}
