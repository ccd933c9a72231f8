//! The Platform tab of a bot on AWS ECS: the task card (statuses, task definition, placement,
//! size, times, why it stopped) and its containers.

use leptos::prelude::*;

use super::super::row;
use super::{failure, loading, when, HEADING, SECTION};
use crate::api::bots::aws::get_aws_task;
use crate::components::live::{use_live, Loaded};
use crate::components::ui::{TD, TH};
use crate::model::platform_details::AwsTask;

#[component]
pub(super) fn AwsView(id: i64, source: impl Fn() -> u64 + Copy + Send + Sync + 'static) -> impl IntoView {
    let task = use_live(source, move |_| get_aws_task(id));
    view! {
        <Loaded data=task fallback=loading let:loaded>
            {match loaded {
                Ok(t) => task_cards(t).into_any(),
                Err(e) => failure(e),
            }}
        </Loaded>
    }
}

/// CPU units as vCPU (`512` → `0.5 vCPU`) and memory in MiB, as the ECS console shows them.
fn size(cpu: Option<String>, memory: Option<String>) -> String {
    let cpu = cpu.and_then(|c| c.parse::<f64>().ok()).map(|c| format!("{} vCPU", c / 1024.0));
    let memory = memory.map(|m| format!("{m} MiB"));
    match (cpu, memory) {
        (Some(c), Some(m)) => format!("{c}, {m}"),
        (Some(x), None) | (None, Some(x)) => x,
        (None, None) => "-".to_owned(),
    }
}

fn task_cards(t: AwsTask) -> impl IntoView {
    let placement = match (&t.capacity_provider, &t.launch_type) {
        (Some(cp), _) => format!("capacity provider {cp}"),
        (None, Some(lt)) => format!("launch type {lt}"),
        (None, None) => "-".to_owned(),
    };
    let stopped = t.stopped_reason.clone().map(|r| match &t.stop_code {
        Some(code) => format!("{r} ({code})"),
        None => r,
    });
    view! {
        <section class=format!("mt-3 {SECTION}") data-testid="aws-task">
            <h3 class=HEADING>"ECS task"</h3>
            <dl class="mt-2 divide-y divide-slate-200">
                {row("Task ID", t.task_id)} {row("Status", format!("{} (desired {})", t.last_status, t.desired_status))}
                {row("Task definition", t.task_definition)} {row("Cluster", t.cluster)} {row("Placement", placement)}
                {row("Size", size(t.cpu, t.memory))} {row("Created", when(t.created_at))}
                {row("Started", when(t.started_at))} {row("Stopped", when(t.stopped_at))}
                {stopped.map(|r| row("Stopped reason", r))} {row("Task ARN", t.task_arn)}
            </dl>
        </section>
        <section class=format!("mt-3 {SECTION}")>
            <h3 class=HEADING>"Containers"</h3>
            {if t.containers.is_empty() {
                view! { <p class="mt-2 text-sm text-slate-500">"ECS reports no containers for this task yet."</p> }
                    .into_any()
            } else {
                view! {
                    <table class="mt-2 min-w-full divide-y divide-slate-200" data-testid="aws-containers">
                        <thead>
                            <tr>
                                <th class=TH>"Name"</th>
                                <th class=TH>"Status"</th>
                                <th class=TH>"Exit code"</th>
                                <th class=TH>"Reason"</th>
                            </tr>
                        </thead>
                        <tbody class="divide-y divide-slate-100">
                            {t
                                .containers
                                .into_iter()
                                .map(|c| {
                                    view! {
                                        <tr>
                                            <td class=TD>{c.name}</td>
                                            <td class=TD>{c.last_status.unwrap_or_else(|| "-".into())}</td>
                                            <td class=TD>
                                                {c.exit_code.map_or_else(|| "-".into(), |e| e.to_string())}
                                            </td>
                                            <td class=TD>{c.reason.unwrap_or_else(|| "-".into())}</td>
                                        </tr>
                                    }
                                })
                                .collect_view()}
                        </tbody>
                    </table>
                }
                    .into_any()
            }}
        </section>
    }
}
