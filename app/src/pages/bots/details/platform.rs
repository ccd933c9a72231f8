//! The Platform tab: where the bot runs, per platform (the Kubernetes Job, pod, live usage and
//! events; the ECS task; the Coolify pool slot; the local process), refreshed every 10 s while
//! the bot is active, with a Stop action.

mod aws;
mod coolify;
mod k8s;
mod local;

use leptos::prelude::*;

use super::{row, BotAndEvents};
use crate::api::bots::platform::stop_bot_resource;
use crate::components::live::{use_tick, Loaded};
use crate::components::time::short;
use crate::components::ui::{EmptyState, BUTTON_DANGER, BUTTON_SECONDARY};
use crate::model::bot::Bot;
use crate::model::error::AppError;
use crate::model::platform::DeploymentPlatform;

pub(super) const SECTION: &str = "rounded-lg bg-slate-50 p-4";
pub(super) const HEADING: &str = "text-sm font-semibold text-slate-900";

#[component]
pub fn PlatformTab(id: i64, data: Signal<Option<BotAndEvents>>) -> impl IntoView {
    view! {
        <Loaded data fallback=|| view! { <p class="text-sm text-slate-500">"Loading…"</p> } let:loaded>
            {match loaded {
                Err(e) => error_text(e).into_any(),
                Ok((bot, _)) => {
                    match bot.deployment_platform {
                        None => {
                            view! {
                                <EmptyState
                                    title="Not deployed yet"
                                    text="Once a platform starts this bot, its job, task, pool slot or process shows here."
                                />
                            }
                                .into_any()
                        }
                        Some(p) => view! { <Deployment id bot p data /> }.into_any(),
                    }
                }
            }}
        </Loaded>
    }
}

#[component]
fn Deployment(id: i64, bot: Bot, p: DeploymentPlatform, data: Signal<Option<BotAndEvents>>) -> impl IntoView {
    // Refresh every 10 s while the bot is active; a finished bot's view stays as it is.
    let active = Signal::derive(move || data.get().and_then(Result::ok).is_some_and(|(b, _)| !b.status.is_terminal()));
    let tick = use_tick(10);
    let source = move || if active.get() { tick.get() } else { 0 };
    let platform_view = match p {
        DeploymentPlatform::K8s => view! { <k8s::K8sView id source /> }.into_any(),
        DeploymentPlatform::Aws => view! { <aws::AwsView id source /> }.into_any(),
        DeploymentPlatform::Coolify => view! { <coolify::CoolifyView id source /> }.into_any(),
        DeploymentPlatform::Local => view! { <local::LocalView id source /> }.into_any(),
    };
    view! {
        <section class=SECTION>
            <div class="flex items-start justify-between gap-4">
                <h3 class=HEADING>{format!("{} deployment", p.label())}</h3>
                <StopAction id active />
            </div>
            <dl class="mt-2 divide-y divide-slate-200">
                {row("Platform", p.label())}
                {row("Identifier", bot.platform_identifier.clone().unwrap_or_else(|| "-".into()))}
            </dl>
        </section>
        {platform_view}
    }
}

pub(super) fn error_text(e: AppError) -> impl IntoView {
    view! {
        <p role="alert" class="mt-3 text-sm text-red-700">
            {e.to_string()}
        </p>
    }
}

/// Why a platform's view has nothing to show: a resource that is gone (a Job cleaned up after
/// its TTL, a task ECS forgot, a released slot, a process of another replica) is a note, not an
/// error; anything else is an error.
pub(super) fn failure(e: AppError) -> AnyView {
    match e {
        AppError::NotFound(message) => view! { <p class="mt-3 text-sm text-slate-500">{message}</p> }.into_any(),
        e => error_text(e).into_any(),
    }
}

pub(super) fn loading() -> impl IntoView {
    view! { <p class="mt-3 text-sm text-slate-500">"Loading…"</p> }
}

/// Stop (while the bot is active), after an inline confirmation: the bot ends and its resource
/// is deleted. The result stays shown after the bot has ended.
#[component]
fn StopAction(id: i64, active: Signal<bool>) -> impl IntoView {
    let asking = RwSignal::new(false);
    let stop = Action::new(move |_: &()| stop_bot_resource(id));
    let result = stop.value();
    view! {
        <div class="flex flex-col items-end gap-2">
            <Show
                when=move || asking.get() && active.get()
                fallback=move || {
                    view! {
                        <Show when=move || active.get()>
                            <button type="button" class=BUTTON_SECONDARY on:click=move |_| asking.set(true)>
                                "Stop"
                            </button>
                        </Show>
                    }
                }
            >
                <p class="text-sm text-slate-700">"Stop this bot now? It leaves the meeting and ends as FATAL."</p>
                <div class="flex gap-2">
                    <button type="button" class=BUTTON_SECONDARY on:click=move |_| asking.set(false)>
                        "Keep running"
                    </button>
                    <button
                        type="button"
                        class=BUTTON_DANGER
                        disabled=move || stop.pending().get()
                        on:click=move |_| {
                            asking.set(false);
                            stop.dispatch(());
                        }
                    >
                        "Stop now"
                    </button>
                </div>
            </Show>
            {move || match result.get() {
                Some(Ok(message)) => {
                    view! {
                        <p role="status" class="text-sm text-emerald-700">
                            {message}
                        </p>
                    }
                        .into_any()
                }
                Some(Err(e)) => error_text(e).into_any(),
                None => ().into_any(),
            }}
        </div>
    }
}

pub(super) fn when(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(short).unwrap_or_else(|| "-".to_owned())
}
