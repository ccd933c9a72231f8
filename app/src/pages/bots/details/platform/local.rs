//! The Platform tab of a bot on this machine: its process.

use leptos::prelude::*;

use super::super::row;
use super::{failure, loading, HEADING, SECTION};
use crate::api::bots::platform::get_local_process;
use crate::components::live::{use_live, Loaded};
use crate::components::time::short;
use crate::model::platform_details::LocalProcess;

#[component]
pub(super) fn LocalView(id: i64, source: impl Fn() -> u64 + Copy + Send + Sync + 'static) -> impl IntoView {
    let process = use_live(source, move |_| get_local_process(id));
    view! {
        <Loaded data=process fallback=loading let:loaded>
            {match loaded {
                Ok(p) => local_card(p).into_any(),
                Err(e) => failure(e),
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
