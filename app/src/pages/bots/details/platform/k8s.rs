//! The Platform tab of a bot on Kubernetes: the Job and pod cards, live CPU and memory against
//! the limits, and the last events.

use leptos::prelude::*;

use super::super::row;
use super::{error_text, failure, loading, when, HEADING, SECTION};
use crate::api::bots::k8s::{get_k8s_events, get_k8s_job, get_k8s_metrics};
use crate::components::live::{use_live, Loaded};
use crate::components::ui::{TD, TH};
use crate::model::platform_details::{K8sDetails, K8sEvent, K8sMetrics, ResourceUsage};

#[component]
pub(super) fn K8sView(id: i64, source: impl Fn() -> u64 + Copy + Send + Sync + 'static) -> impl IntoView {
    let job = use_live(source, move |_| get_k8s_job(id));
    let metrics = use_live(source, move |_| get_k8s_metrics(id));
    let events = use_live(source, move |_| get_k8s_events(id));
    view! {
        <Loaded data=job fallback=loading let:loaded>
            {match loaded {
                Ok(details) => job_cards(details).into_any(),
                Err(e) => failure(e),
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
