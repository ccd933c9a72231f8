//! Bar charts as plain SVG built in Rust (no chart library, nothing from a CDN): the geometry
//! is a pure function ([`grouped_bars`]) with unit tests; [`BarChart`] draws it.

use leptos::prelude::*;

/// The drawing's size in SVG units (it scales to the container's width).
pub const WIDTH: f64 = 600.0;
pub const HEIGHT: f64 = 160.0;

/// One series: its name and its Tailwind fill and swatch classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Series {
    pub name: &'static str,
    pub fill: &'static str,
    pub swatch: &'static str,
}

/// A bar to draw.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bar {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    /// Which series it belongs to.
    pub series: usize,
    /// Which group (bucket) it belongs to.
    pub group: usize,
    pub value: f64,
}

/// The smallest "round" number (1, 2 or 5 times a power of ten) at or above `v`; 1 for nothing.
pub fn nice_max(v: f64) -> f64 {
    if !v.is_finite() || v <= 0.0 {
        return 1.0;
    }
    let magnitude = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * magnitude).find(|m| *m >= v - 1e-12).unwrap_or(10.0 * magnitude)
}

/// Bars for `groups` (each a value per series) side by side in `width` × `height`, scaled so
/// that `nice_max` of the largest value reaches the top. Zero values get no bar.
pub fn grouped_bars(groups: &[Vec<f64>], width: f64, height: f64) -> (Vec<Bar>, f64) {
    let max = nice_max(groups.iter().flatten().copied().fold(0.0, f64::max));
    if groups.is_empty() {
        return (Vec::new(), max);
    }
    let slot = width / groups.len() as f64;
    let gap = (slot * 0.2).min(8.0);
    let mut bars = Vec::new();
    for (g, values) in groups.iter().enumerate() {
        if values.is_empty() {
            continue;
        }
        let bar_w = (slot - gap) / values.len() as f64;
        for (s, v) in values.iter().enumerate() {
            if *v <= 0.0 || !v.is_finite() {
                continue;
            }
            let h = (v / max * height).min(height);
            bars.push(Bar {
                x: g as f64 * slot + gap / 2.0 + s as f64 * bar_w,
                y: height - h,
                width: bar_w,
                height: h,
                series: s,
                group: g,
                value: *v,
            });
        }
    }
    (bars, max)
}

/// A grouped bar chart with a legend, the scale's top value and the first and last labels.
#[component]
pub fn BarChart(
    title: &'static str,
    series: &'static [Series],
    groups: Vec<Vec<f64>>,
    labels: Vec<String>,
    #[prop(into)] format: Callback<f64, String>,
    test_id: &'static str,
) -> impl IntoView {
    let (bars, max) = grouped_bars(&groups, WIDTH, HEIGHT);
    let first = labels.first().cloned().unwrap_or_default();
    let last = labels.last().cloned().unwrap_or_default();
    let rects = bars
        .into_iter()
        .map(|b| {
            let tip = format!(
                "{}: {} {}",
                labels.get(b.group).cloned().unwrap_or_default(),
                format.run(b.value),
                series[b.series].name
            );
            view! {
                <rect
                    x=format!("{:.1}", b.x)
                    y=format!("{:.1}", b.y)
                    width=format!("{:.1}", b.width)
                    height=format!("{:.1}", b.height)
                    rx="1.5"
                    class=series[b.series].fill
                >
                    <title>{tip}</title>
                </rect>
            }
        })
        .collect_view();
    view! {
        <figure data-testid=test_id>
            <figcaption class="flex flex-wrap items-center gap-3 text-xs text-slate-600">
                <span class="font-medium text-slate-800">{title}</span>
                {series
                    .iter()
                    .map(|s| {
                        view! {
                            <span class="inline-flex items-center gap-1">
                                <span class=format!("inline-block h-2.5 w-2.5 rounded-sm {}", s.swatch) />
                                {s.name}
                            </span>
                        }
                    })
                    .collect_view()}
                <span class="ml-auto">{format!("scale: {}", format.run(max))}</span>
            </figcaption>
            <svg
                viewBox=format!("0 0 {WIDTH} {HEIGHT}")
                preserveAspectRatio="none"
                role="img"
                aria-label=title
                class="mt-2 h-40 w-full rounded-lg bg-slate-50"
            >
                <line x1="0" y1=HEIGHT x2=WIDTH y2=HEIGHT class="stroke-slate-300" stroke-width="1" />
                {rects}
            </svg>
            <div class="mt-1 flex justify-between text-[11px] text-slate-500">
                <span>{first}</span>
                <span>{last}</span>
            </div>
        </figure>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scale_rounds_up_to_one_two_or_five() {
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(1.0), 1.0);
        assert_eq!(nice_max(3.0), 5.0);
        assert_eq!(nice_max(7.0), 10.0);
        assert_eq!(nice_max(12.0), 20.0);
        assert!((nice_max(0.034) - 0.05).abs() < 1e-12);
        assert_eq!(nice_max(f64::NAN), 1.0);
    }

    #[test]
    fn bars_sit_side_by_side_in_their_group_and_scale_to_the_top() {
        let (bars, max) = grouped_bars(&[vec![5.0, 0.0], vec![10.0, 2.5]], 100.0, 50.0);
        assert_eq!(max, 10.0);
        // The zero gets no bar.
        assert_eq!(bars.len(), 3);
        let tallest = bars.iter().find(|b| b.value == 10.0).unwrap();
        assert_eq!((tallest.y, tallest.height), (0.0, 50.0));
        assert_eq!(tallest.group, 1);
        let half = bars.iter().find(|b| b.value == 5.0).unwrap();
        assert_eq!((half.y, half.height), (25.0, 25.0));
        // Group 1 starts in the second half; its second bar sits right of its first.
        let second = bars.iter().find(|b| b.value == 2.5).unwrap();
        assert!(tallest.x >= 50.0 && second.x > tallest.x);
        assert!((second.x - tallest.x - tallest.width).abs() < 1e-9);
        assert!(bars.iter().all(|b| b.x + b.width <= 100.0 + 1e-9));
    }

    #[test]
    fn no_groups_draw_nothing() {
        assert_eq!(grouped_bars(&[], 100.0, 50.0), (Vec::new(), 1.0));
    }
}
