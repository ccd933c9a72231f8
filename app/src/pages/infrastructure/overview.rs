//! The cost overview (today, this week, this month per platform, from the configured unit
//! prices) and the deploy activity chart (deployments, failures, failovers; 24 h or 30 days).

use leptos::prelude::*;

use super::charts::{BarChart, Series};
use crate::api::infrastructure::{get_infrastructure_activity, get_infrastructure_cost};
use crate::components::live::{use_live, use_time_zone, Loaded};
use crate::components::ui::{ErrorText, CARD};
use crate::model::infrastructure::{ActivityBucket, ActivityRange, CostReport};

const COST_SERIES: &[Series] = &[
    Series { name: "today", fill: "fill-indigo-300", swatch: "bg-indigo-300" },
    Series { name: "this week", fill: "fill-indigo-500", swatch: "bg-indigo-500" },
    Series { name: "this month", fill: "fill-indigo-800", swatch: "bg-indigo-800" },
];

const ACTIVITY_SERIES: &[Series] = &[
    Series { name: "deployments", fill: "fill-emerald-500", swatch: "bg-emerald-500" },
    Series { name: "failures", fill: "fill-red-500", swatch: "bg-red-500" },
    Series { name: "failovers", fill: "fill-amber-500", swatch: "bg-amber-500" },
];

/// "$0.05", "$12.40", "<$0.01" for a positive amount below a cent.
pub fn usd(v: f64) -> String {
    if v > 0.0 && v < 0.005 {
        "<$0.01".to_owned()
    } else {
        format!("${v:.2}")
    }
}

/// The bucket labels: "15:00" for hours, "30 Nov" for days.
pub fn bucket_labels(range: ActivityRange, buckets: &[ActivityBucket]) -> Vec<String> {
    let fmt = match range {
        ActivityRange::Day => "%H:00",
        ActivityRange::Month => "%-d %b",
    };
    buckets.iter().map(|b| b.start.format(fmt).to_string()).collect()
}

/// Cost and activity side by side.
#[component]
pub fn Overview(tick: Signal<u64>) -> impl IntoView {
    let tz = use_time_zone();
    let cost = use_live(move || (tz.get(), tick.get() / 2), |(tz, _)| get_infrastructure_cost(Some(tz)));
    let range = RwSignal::new(ActivityRange::Day);
    let activity = use_live(move || (range.get(), tick.get() / 2), |(r, _)| get_infrastructure_activity(r));
    view! {
        <div class="mt-6 grid gap-4 lg:grid-cols-2">
            <section class=CARD data-testid="cost">
                <h2 class="font-semibold">"Estimated cost"</h2>
                <Loaded
                    data=cost
                    fallback=|| view! { <p class="mt-2 text-sm text-slate-500">"Loading cost…"</p> }
                    let:loaded
                >
                    {match loaded {
                        Ok(report) => view! { <CostView report /> }.into_any(),
                        Err(e) => view! { <ErrorText message=e.to_string() /> }.into_any(),
                    }}
                </Loaded>
            </section>
            <section class=CARD data-testid="activity">
                <div class="flex items-center justify-between">
                    <h2 class="font-semibold">"Activity"</h2>
                    <div class="flex gap-1 text-xs">
                        {[(ActivityRange::Day, "24 hours"), (ActivityRange::Month, "30 days")]
                            .into_iter()
                            .map(|(r, label)| {
                                view! {
                                    <button
                                        type="button"
                                        class=move || {
                                            if range.get() == r {
                                                "rounded px-2 py-1 bg-slate-900 text-white"
                                            } else {
                                                "rounded px-2 py-1 text-slate-600 hover:bg-slate-100"
                                            }
                                        }
                                        on:click=move |_| range.set(r)
                                    >
                                        {label}
                                    </button>
                                }
                            })
                            .collect_view()}
                    </div>
                </div>
                <Loaded
                    data=activity
                    fallback=|| view! { <p class="mt-2 text-sm text-slate-500">"Loading activity…"</p> }
                    let:loaded
                >
                    {match loaded {
                        Ok(buckets) if buckets.iter().all(|b| b.deployments + b.failures + b.failovers == 0) => {
                            view! {
                                <p class="mt-4 text-sm text-slate-500">
                                    "No deployments, failures or failovers in this period."
                                </p>
                            }
                                .into_any()
                        }
                        Ok(buckets) => {
                            let labels = bucket_labels(range.get_untracked(), &buckets);
                            let groups = buckets
                                .iter()
                                .map(|b| vec![b.deployments as f64, b.failures as f64, b.failovers as f64])
                                .collect();
                            view! {
                                <div class="mt-3">
                                    <BarChart
                                        title="Deploy activity (UTC)"
                                        series=ACTIVITY_SERIES
                                        groups
                                        labels
                                        format=|v: f64| format!("{v:.0}")
                                        test_id="activity-chart"
                                    />
                                </div>
                            }
                                .into_any()
                        }
                        Err(e) => view! { <ErrorText message=e.to_string() /> }.into_any(),
                    }}
                </Loaded>
            </section>
        </div>
    }
}

#[component]
fn CostView(report: CostReport) -> impl IntoView {
    let labels = report.platforms.iter().map(|p| p.platform.label().to_owned()).collect();
    let groups = report.platforms.iter().map(|p| vec![p.today_usd, p.week_usd, p.month_usd]).collect();
    view! {
        <div class="mt-3 grid grid-cols-3 gap-2 text-center">
            {[("Today", report.today_usd), ("This week", report.week_usd), ("This month", report.month_usd)]
                .into_iter()
                .map(|(label, v)| {
                    view! {
                        <div class="rounded-lg bg-slate-50 p-2">
                            <p class="text-xs text-slate-500">{label}</p>
                            <p class="text-lg font-bold" data-testid="cost-total">
                                {usd(v)}
                            </p>
                        </div>
                    }
                })
                .collect_view()}
        </div>
        <div class="mt-3">
            <BarChart
                title="Per platform"
                series=COST_SERIES
                groups
                labels
                format=|v: f64| usd(v)
                test_id="cost-chart"
            />
        </div>
        <p class="mt-2 text-xs text-slate-500">
            {report
                .platforms
                .iter()
                .map(|p| format!("{} ${:.4}/h", p.platform.label(), p.hourly_usd))
                .collect::<Vec<_>>()
                .join(" · ")} ". Estimates from bots' run time and the COST_* unit prices, not a bill."
        </p>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dollars_round_to_cents_and_tiny_amounts_say_so() {
        assert_eq!(usd(0.0), "$0.00");
        assert_eq!(usd(0.004), "<$0.01");
        assert_eq!(usd(12.404), "$12.40");
    }

    #[test]
    fn labels_are_hours_or_days() {
        let b = ActivityBucket {
            start: "2026-11-30T15:00:00Z".parse().unwrap(),
            deployments: 0,
            failures: 0,
            failovers: 0,
        };
        assert_eq!(bucket_labels(ActivityRange::Day, &[b]), ["15:00"]);
        assert_eq!(bucket_labels(ActivityRange::Month, &[b]), ["30 Nov"]);
    }
}
