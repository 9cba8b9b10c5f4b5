//! Messages per hour over the last 24 hours, as an SVG bar chart.

use crate::client::time::clock_of;
use leptos::prelude::*;

/// The chart's size in SVG units; it scales to the width of its box.
const CHART_W: f64 = 720.0;
const CHART_H: f64 = 240.0;
/// Room above the bars for their counts, and below for the hours.
const CHART_TOP: f64 = 30.0;
const CHART_BOTTOM: f64 = 34.0;
const CHART_SIDE: f64 = 4.0;
const HOUR_MS: i64 = 3_600_000;

/// A number for an SVG attribute.
fn svg_num(v: f64) -> String {
    format!("{v:.1}")
}

fn clock_text((h, m): (u32, u32)) -> String {
    format!("{h:02}:{m:02}")
}

fn messages_text(n: i64) -> String {
    match n {
        1 => "1 message".to_string(),
        n => format!("{n} messages"),
    }
}

/// Messages per hour as bars, each with its count above it and the hour below every third.
#[component]
pub(super) fn MessagesChart(per_hour: Vec<i64>, last_hour_start: i64) -> impl IntoView {
    let hours = per_hour.len();
    let total: i64 = per_hour.iter().sum();
    let peak = per_hour.iter().copied().max().unwrap_or(0).max(1);
    let plot_h = CHART_H - CHART_TOP - CHART_BOTTOM;
    let base_y = CHART_H - CHART_BOTTOM;
    let slot = (CHART_W - 2.0 * CHART_SIDE) / hours.max(1) as f64;
    let bar_w = slot * 0.64;
    let summary = format!(
        "Messages per hour, last 24 hours: {} in total, at most {} in one hour.",
        messages_text(total),
        per_hour.iter().copied().max().unwrap_or(0)
    );

    let bars = per_hour
        .iter()
        .enumerate()
        .map(|(i, &count)| {
            let start = last_hour_start - (hours - 1 - i) as i64 * HOUR_MS;
            let from = clock_of(start);
            let until = clock_of(start + HOUR_MS);
            let cx = CHART_SIDE + slot * (i as f64 + 0.5);
            let height = match count {
                0 => 0.0,
                n => (n as f64 / peak as f64 * plot_h).max(2.0),
            };
            let so_far = if i + 1 == hours { " (so far)" } else { "" };
            let title = format!(
                "{}–{}{so_far}: {}",
                clock_text(from),
                clock_text(until),
                messages_text(count)
            );
            let count_label = (count > 0).then(|| {
                let class = if count >= 100 { "bar-count long" } else { "bar-count" };
                view! {
                    <text class=class x=svg_num(cx) y=svg_num(base_y - height - 6.0) text-anchor="middle">
                        {count}
                    </text>
                }
            });
            let hour_label = from.0.is_multiple_of(3).then(|| {
                let class = if from.0.is_multiple_of(6) { "axis-label" } else { "axis-label minor" };
                view! {
                    <text class=class x=svg_num(cx) y=svg_num(CHART_H - 10.0) text-anchor="middle">
                        {clock_text(from)}
                    </text>
                }
            });
            let fill_class = if so_far.is_empty() { "bar-fill" } else { "bar-fill now" };
            view! {
                <g class="bar">
                    <title>{title}</title>
                    <rect
                        class="bar-hit"
                        x=svg_num(cx - slot / 2.0)
                        y=svg_num(CHART_TOP)
                        width=svg_num(slot)
                        height=svg_num(plot_h)
                    />
                    <rect
                        class=fill_class
                        x=svg_num(cx - bar_w / 2.0)
                        y=svg_num(base_y - height)
                        width=svg_num(bar_w)
                        height=svg_num(height)
                        rx="2"
                    />
                    {count_label}
                    {hour_label}
                </g>
            }
        })
        .collect_view();

    view! {
        <section class="chart-card" aria-labelledby="chart-title">
            <h2 id="chart-title">"Messages per hour, last 24 hours"</h2>
            <svg
                class="chart"
                viewBox=format!("0 0 {CHART_W} {CHART_H}")
                preserveAspectRatio="xMidYMid meet"
                role="img"
                aria-label=summary
            >
                {bars}
                <line
                    class="baseline"
                    x1=svg_num(CHART_SIDE)
                    y1=svg_num(base_y)
                    x2=svg_num(CHART_W - CHART_SIDE)
                    y2=svg_num(base_y)
                />
            </svg>
            <p class="hint">"Hours in your time zone; the last bar is the hour so far."</p>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered(view: impl FnOnce() -> AnyView) -> String {
        let owner = Owner::new();
        owner.with(|| view().to_html())
    }

    #[test]
    fn the_chart_has_a_bar_per_hour_with_counts_and_a_summary() {
        let mut per_hour = vec![0; 24];
        per_hour[23] = 5;
        per_hour[10] = 120;
        let html = rendered(|| {
            view! { <MessagesChart per_hour last_hour_start=23 * HOUR_MS /> }.into_any()
        });
        assert_eq!(html.matches("<title>").count(), 24);
        assert!(html.contains("role=\"img\""));
        assert!(html.contains("125 messages in total"));
        assert!(html.contains("class=\"bar-count long\""));
        assert!(html.contains(">00:00<"));
        assert!(html.contains("23:00–00:00 (so far): 5 messages"));
        assert!(html.contains("viewBox=\"0 0 720 240\""));
    }
}
