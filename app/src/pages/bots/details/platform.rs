//! The Platform tab: where the bot runs, per platform (the Kubernetes Job, pod, live usage and
//! events; the local process), refreshed every 10 s while the bot is active, with a Stop action.

use leptos::prelude::*;

use super::{row, BotAndEvents};
use crate::api::bots::k8s::{get_k8s_events, get_k8s_job, get_k8s_metrics};
use crate::api::bots::platform::{get_local_process, stop_bot_resource};
use crate::components::live::{use_live, use_tick, Loaded};
use crate::components::time::short;
use crate::components::ui::{EmptyState, BUTTON_DANGER, BUTTON_SECONDARY, TD, TH};
use crate::model::bot::Bot;
use crate::model::error::AppError;
use crate::model::platform::DeploymentPlatform;
use crate::model::platform_details::{K8sDetails, K8sEvent, K8sMetrics, LocalProcess, ResourceUsage};

const SECTION: &str = "rounded-lg bg-slate-50 p-4";
const HEADING: &str = "text-sm font-semibold text-slate-900";

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
        DeploymentPlatform::K8s => view! { <K8sView id source /> }.into_any(),
        DeploymentPlatform::Local => view! { <LocalView id source /> }.into_any(),
        DeploymentPlatform::Aws | DeploymentPlatform::Coolify => ().into_any(),
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

fn error_text(e: AppError) -> impl IntoView {
    view! {
        <p role="alert" class="mt-3 text-sm text-red-700">
            {e.to_string()}
        </p>
    }
}

fn loading() -> impl IntoView {
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

#[component]
fn K8sView(id: i64, source: impl Fn() -> u64 + Copy + Send + Sync + 'static) -> impl IntoView {
    let job = use_live(source, move |_| get_k8s_job(id));
    let metrics = use_live(source, move |_| get_k8s_metrics(id));
    let events = use_live(source, move |_| get_k8s_events(id));
    view! {
        <Loaded data=job fallback=loading let:loaded>
            {match loaded {
                Ok(details) => job_cards(details).into_any(),
                Err(AppError::NotFound(message)) => {
                    // A finished Job is cleaned up after its TTL: not an error.
                    view! { <p class="mt-3 text-sm text-slate-500">{message}</p> }
                        .into_any()
                }
                Err(e) => error_text(e).into_any(),
            }}
        </Loaded>
        <section class=format!("mt-3 {SECTION}")>
            <h3 class=HEADING>"Resource usage"</h3>
            <Loaded data=metrics fallback=loading let:loaded>
                {match loaded {
                    Ok(K8sMetrics::Available { cpu, memory }) => {
                        view! {
                            <div class="mt-2 space-y-3">
                                {usage_bar("CPU", "k8s-cpu", cpu)} {usage_bar("Memory", "k8s-memory", memory)}
                            </div>
                        }
                            .into_any()
                    }
                    Ok(K8sMetrics::Absent { reason }) => {
                        view! {
                            <p data-testid="k8s-metrics-absent" class="mt-2 text-sm text-slate-500">
                                {reason}
                            </p>
                        }
                            .into_any()
                    }
                    Err(e) => error_text(e).into_any(),
                }}
            </Loaded>
        </section>
        <section class=format!("mt-3 {SECTION}")>
            <h3 class=HEADING>"Kubernetes events (last 10)"</h3>
            <Loaded data=events fallback=loading let:loaded>
                {match loaded {
                    Ok(list) if list.is_empty() => {
                        view! { <p class="mt-2 text-sm text-slate-500">"No events for this Job or its pod."</p> }
                            .into_any()
                    }
                    Ok(list) => events_table(list).into_any(),
                    Err(e) => error_text(e).into_any(),
                }}
            </Loaded>
        </section>
    }
}

fn when(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(short).unwrap_or_else(|| "-".to_owned())
}

fn job_cards(d: K8sDetails) -> impl IntoView {
    let job = d.job;
    let failure = job.failure.clone();
    view! {
        <div class="mt-3 grid gap-3 sm:grid-cols-2">
            <section class=SECTION data-testid="k8s-job">
                <h3 class=HEADING>"Job"</h3>
                <dl class="mt-2 divide-y divide-slate-200">
                    {row("Job name", job.name)} {row("Status", job.status)} {failure.map(|f| row("Failure", f))}
                    {row("Start time", when(job.start_time))} {row("Completion time", when(job.completion_time))}
                    {row("Node", job.node.unwrap_or_else(|| "-".into()))}
                </dl>
            </section>
            <section class=SECTION data-testid="k8s-pod">
                <h3 class=HEADING>"Pod"</h3>
                {match d.pod {
                    Some(pod) => {
                        view! {
                            <dl class="mt-2 divide-y divide-slate-200">
                                {row("Pod name", pod.name)} {row("Phase", pod.phase)}
                                {row("Node", pod.node.unwrap_or_else(|| "-".into()))}
                                {row("Container", format!("bot ({})", pod.container_state))}
                                {row("Restarts", pod.restarts.to_string())}
                            </dl>
                        }
                            .into_any()
                    }
                    None => view! { <p class="mt-2 text-sm text-slate-500">"The Job has no pod yet."</p> }.into_any(),
                }}
            </section>
        </div>
    }
}

fn usage_bar(label: &'static str, testid: &'static str, u: ResourceUsage) -> impl IntoView {
    let text = match (&u.limit, u.percent) {
        (Some(limit), Some(p)) => format!("{} / {limit} ({p}%)", u.usage),
        _ => format!("{} (no limit)", u.usage),
    };
    let width = u.percent.unwrap_or(0).min(100);
    let color = match width {
        90.. => "bg-red-600",
        70..=89 => "bg-amber-500",
        _ => "bg-indigo-600",
    };
    view! {
        <div data-testid=testid>
            <div class="flex justify-between text-sm">
                <span class="text-slate-500">{label}</span>
                <span class="text-slate-900">{text}</span>
            </div>
            <div
                class="mt-1 h-2 w-full rounded bg-slate-200"
                role="progressbar"
                aria-label=label
                aria-valuemin="0"
                aria-valuemax="100"
                aria-valuenow=width.to_string()
            >
                <div class=format!("h-2 rounded {color}") style=format!("width: {width}%")></div>
            </div>
        </div>
    }
}

fn events_table(list: Vec<K8sEvent>) -> impl IntoView {
    view! {
        <table class="mt-2 min-w-full divide-y divide-slate-200" data-testid="k8s-events">
            <thead>
                <tr>
                    <th class=TH>"Time"</th>
                    <th class=TH>"Type"</th>
                    <th class=TH>"Reason"</th>
                    <th class=TH>"Message"</th>
                </tr>
            </thead>
            <tbody class="divide-y divide-slate-100">
                {list
                    .into_iter()
                    .map(|e| {
                        let warn = e.kind == "Warning";
                        view! {
                            <tr title=e.object.clone()>
                                <td class=TD>{when(e.time)}</td>
                                <td class=TD>
                                    <span class=if warn { "text-amber-700" } else { "text-slate-700" }>{e.kind}</span>
                                </td>
                                <td class=TD>{e.reason}</td>
                                <td class=TD>
                                    {if e.count > 1 { format!("{} (×{})", e.message, e.count) } else { e.message }}
                                </td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn LocalView(id: i64, source: impl Fn() -> u64 + Copy + Send + Sync + 'static) -> impl IntoView {
    let process = use_live(source, move |_| get_local_process(id));
    view! {
        <Loaded data=process fallback=loading let:loaded>
            {match loaded {
                Ok(p) => local_card(p).into_any(),
                Err(AppError::NotFound(message)) => {
                    view! { <p class="mt-3 text-sm text-slate-500">{message}</p> }.into_any()
                }
                Err(e) => error_text(e).into_any(),
            }}
        </Loaded>
    }
}

fn local_card(p: LocalProcess) -> impl IntoView {
    let state = match (p.state.as_str(), p.exit_code) {
        ("running", _) => "Running".to_owned(),
        ("exited", Some(code)) => format!("Exited (code {code})"),
        ("exited", None) => "Exited (killed)".to_owned(),
        _ => "Gone".to_owned(),
    };
    let rss = p.rss_bytes.map_or_else(|| "-".to_owned(), |b| format!("{:.1} MiB", b as f64 / 1_048_576.0));
    let cpu = p.cpu_percent.map_or_else(|| "-".to_owned(), |c| format!("{c:.1} %"));
    view! {
        <section class=format!("mt-3 {SECTION}") data-testid="local-process">
            <h3 class=HEADING>"Local process"</h3>
            <dl class="mt-2 divide-y divide-slate-200">
                {row("PID", p.pid.to_string())} {row("Status", state)} {row("Memory (RSS)", rss)} {row("CPU", cpu)}
                {row("Uptime", format!("{} s", p.uptime_secs))} {row("Started", short(p.started_at))}
            </dl>
        </section>
    }
}
