//! `/usage`: plan summary and a chart of bots used or active time (today by hour, this week or
//! this month by day) in the browser's time zone, drawn as SVG.

use leptos::prelude::*;

use crate::api::usage::get_usage;
use crate::components::live::{use_live, use_time_zone, Loaded};
use crate::components::protected::RequireUser;
use crate::components::ui::{ErrorText, PageHeader, CARD};
use crate::model::error::AppError;
use crate::model::usage::{DailyUsage, Subscription, UsageBucket, UsageRange};

type UsageData = Result<(Subscription, DailyUsage, Vec<UsageBucket>), AppError>;

/// `/usage`.
#[component]
pub fn UsagePage() -> impl IntoView {
    let tz = use_time_zone();
    let range = RwSignal::new(UsageRange::Today);
    let data = use_live(move || (range.get(), tz.get()), |(r, tz)| get_usage(r, Some(tz)));
    view! { <RequireUser children=move |_| view! { <UsageView tz range data /> } /> }
}

/// What the bars show.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Metric {
    Bots,
    Time,
}

/// Bar rectangles `(x, y, width, height)` for `values` in a `w`×`h` plot area.
pub fn bars(values: &[f64], w: f64, h: f64) -> Vec<(f64, f64, f64, f64)> {
    let max = values.iter().copied().fold(0.0_f64, f64::max);
    let n = values.len().max(1) as f64;
    let slot = w / n;
    let bar = (slot * 0.7).max(1.0);
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let height = if max > 0.0 { v / max * h } else { 0.0 };
            (i as f64 * slot + (slot - bar) / 2.0, h - height, bar, height)
        })
        .collect()
}

fn hours(ms: i64) -> String {
    let h = ms as f64 / 3_600_000.0;
    if h < 1.0 {
        format!("{} min", (ms / 60_000))
    } else {
        format!("{h:.1} h")
    }
}

#[component]
fn UsageView(tz: ReadSignal<String>, range: RwSignal<UsageRange>, data: Signal<Option<UsageData>>) -> impl IntoView {
    let metric = RwSignal::new(Metric::Bots);
    let toggle = |label: &'static str, active: Signal<bool>, on: Callback<()>| {
        view! {
            <button
                type="button"
                aria-pressed=move || active.get().to_string()
                class="rounded-md px-3 py-1.5 text-sm font-medium aria-[pressed=false]:text-slate-600 aria-[pressed=true]:bg-white aria-[pressed=true]:shadow-sm"
                on:click=move |_| on.run(())
            >
                {label}
            </button>
        }
    };
    view! {
        <PageHeader
            title="Usage"
            subtitle="Your plan, the bots created today (the daily limit counts them per UTC day, deleted ones included) and the history of your usage. Cost: $0.10 per bot-hour."
        />
        <Loaded
            data=data
            fallback=|| {
                view! { <p class="mt-4 text-sm text-slate-500">"Loading usage…"</p> }
            }
            let:loaded
        >
            {match loaded {
                Ok((sub, today, buckets)) => {
                    let cards = [
                        ("Current Plan", sub.current_plan.label().to_owned()),
                        (
                            "Daily Bot Limit",
                            sub.effective_daily_limit.map(|l| l.to_string()).unwrap_or_else(|| "Unlimited".into()),
                        ),
                        ("Created Today (UTC)", today.usage.to_string()),
                        (
                            "Remaining Today (UTC)",
                            today.remaining.map(|r| r.to_string()).unwrap_or_else(|| "Unlimited".into()),
                        ),
                    ];
                    view! {
                        <div class="mt-4 grid gap-4 sm:grid-cols-4">
                            {cards
                                .into_iter()
                                .map(|(k, v)| {
                                    view! {
                                        <div class=CARD>
                                            <p class="text-sm text-slate-500">{k}</p>
                                            <p class="mt-1 text-2xl font-bold">{v}</p>
                                        </div>
                                    }
                                })
                                .collect_view()}
                        </div>
                        <Chart buckets metric=metric.read_only() />
                    }
                        .into_any()
                }
                Err(e) => view! { <ErrorText message=e.to_string() /> }.into_any(),
            }}
        </Loaded>
        <div class="mt-4 flex flex-wrap gap-3">
            <div class="inline-flex rounded-lg bg-slate-100 p-1">
                {toggle(
                    "Today",
                    Signal::derive(move || range.get() == UsageRange::Today),
                    Callback::new(move |()| range.set(UsageRange::Today)),
                )}
                {toggle(
                    "Week",
                    Signal::derive(move || range.get() == UsageRange::Week),
                    Callback::new(move |()| range.set(UsageRange::Week)),
                )}
                {toggle(
                    "Month",
                    Signal::derive(move || range.get() == UsageRange::Month),
                    Callback::new(move |()| range.set(UsageRange::Month)),
                )}
            </div>
            <div class="inline-flex rounded-lg bg-slate-100 p-1">
                {toggle(
                    "Bots Used",
                    Signal::derive(move || metric.get() == Metric::Bots),
                    Callback::new(move |()| metric.set(Metric::Bots)),
                )}
                {toggle(
                    "Active Time",
                    Signal::derive(move || metric.get() == Metric::Time),
                    Callback::new(move |()| metric.set(Metric::Time)),
                )}
            </div>
            <span class="self-center text-xs text-slate-500">{move || format!("Times in {}", tz.get())}</span>
        </div>
    }
}

#[component]
fn Chart(buckets: Vec<UsageBucket>, metric: ReadSignal<Metric>) -> impl IntoView {
    const W: f64 = 720.0;
    const H: f64 = 220.0;
    let total_bots: i64 = buckets.iter().map(|b| b.bots_used).sum();
    let total_ms: i64 = buckets.iter().map(|b| b.ms_elapsed).sum();
    let total_cost: f64 = buckets.iter().map(|b| b.estimated_cost).sum();
    let buckets = StoredValue::new(buckets);
    view! {
        <section class=format!("{CARD} mt-4")>
            <div class="flex flex-wrap items-baseline justify-between gap-2">
                <h2 class="font-semibold">"Historical Usage"</h2>
                <p class="text-sm text-slate-600">
                    {format!("{total_bots} bot(s) · {} · ${total_cost:.2}", hours(total_ms))}
                </p>
            </div>
            <svg
                data-testid="usage-chart"
                role="img"
                aria-label="Usage chart"
                viewBox=format!("0 0 {W} {}", H + 24.0)
                class="mt-4 h-64 w-full"
                preserveAspectRatio="none"
            >
                <line x1="0" y1=H x2=W y2=H stroke="#cbd5e1" stroke-width="1" />
                {move || {
                    buckets
                        .with_value(|b| {
                            let values: Vec<f64> = b
                                .iter()
                                .map(|x| {
                                    if metric.get() == Metric::Bots { x.bots_used as f64 } else { x.ms_elapsed as f64 }
                                })
                                .collect();
                            let every = (b.len() / 12).max(1);
                            bars(&values, W, H)
                                .into_iter()
                                .zip(b.iter())
                                .enumerate()
                                .map(|(i, ((x, y, w, h), bucket))| {
                                    let tip = format!(
                                        "{}: {} bot(s), {}",
                                        bucket.label,
                                        bucket.bots_used,
                                        hours(bucket.ms_elapsed),
                                    );
                                    view! {
                                        <g>
                                            <rect x=x y=y width=w height=h rx="2" fill="#6366f1">
                                                <title>{tip}</title>
                                            </rect>
                                            {(i % every == 0)
                                                .then(|| {
                                                    view! {
                                                        <text
                                                            x=x + w / 2.0
                                                            y=H + 16.0
                                                            font-size="11"
                                                            text-anchor="middle"
                                                            fill="#64748b"
                                                        >
                                                            {bucket.label.clone()}
                                                        </text>
                                                    }
                                                })}
                                        </g>
                                    }
                                })
                                .collect_view()
                        })
                }}
            </svg>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_tallest_and_share_the_width() {
        let b = bars(&[1.0, 2.0, 0.0, 4.0], 400.0, 100.0);
        assert_eq!(b.len(), 4);
        assert_eq!(b[3].3, 100.0);
        assert_eq!(b[1].3, 50.0);
        assert_eq!(b[2].3, 0.0);
        assert!((b[1].0 - (100.0 + 15.0)).abs() < 1e-9);
        assert!(bars(&[0.0, 0.0], 10.0, 10.0).iter().all(|x| x.3 == 0.0));
    }
}
