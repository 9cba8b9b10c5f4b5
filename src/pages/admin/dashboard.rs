//! The dashboard: the figures, loaded once, then whatever the realtime connection pushes
//! while the page is open.

use super::chart::MessagesChart;
use super::{Alert, Loading};
use crate::api::admin::admin_dashboard;
use crate::client::use_client;
use crate::domain::admin::{CallOutcome, Dashboard};
use leptos::prelude::*;
use leptos::task::spawn_local;

/// Loads the figures once, then shows whatever the realtime connection pushes while the
/// page is open.
#[component]
pub(super) fn DashboardPanel() -> impl IntoView {
    let admin = use_client().admin;
    let error = RwSignal::new(None::<String>);
    Effect::new(move |_| {
        admin.watch();
        spawn_local(async move {
            match admin_dashboard().await {
                Ok(d) => {
                    error.set(None);
                    admin.dashboard.set(Some(d));
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    });
    on_cleanup(move || admin.unwatch());

    view! {
        <Alert message=error />
        {move || match admin.dashboard.get() {
            Some(d) => view! { <Figures d /> }.into_any(),
            None if error.with(Option::is_none) => view! { <Loading /> }.into_any(),
            None => ().into_any(),
        }}
    }
}

#[component]
fn Figures(d: Dashboard) -> impl IntoView {
    let blocked = format!("{} blocked", d.blocked_users);
    let calls = outcomes_text(&d.call_outcomes);
    view! {
        <section class="stats" aria-label="Figures">
            <Stat key="users" label="Users" value=d.users note=Some(blocked) />
            <Stat key="online_now" label="Online now" value=d.online_now />
            <Stat key="conversations" label="Conversations" value=d.conversations />
            <Stat key="messages_today" label="Messages today" value=d.messages_today />
            <Stat key="calls_today" label="Calls today" value=d.calls_today note=calls />
            <Stat key="connections" label="Connections" value=d.connections />
        </section>
        <p class="hint">"“Today” starts at midnight UTC."</p>
        <MessagesChart per_hour=d.messages_per_hour last_hour_start=d.last_hour_start />
    }
}

/// "3 answered · 1 missed"; `None` when there were no calls.
fn outcomes_text(outcomes: &[CallOutcome]) -> Option<String> {
    (!outcomes.is_empty()).then(|| {
        outcomes
            .iter()
            .map(|o| format!("{} {}", o.count, o.outcome))
            .collect::<Vec<_>>()
            .join(" · ")
    })
}

#[component]
fn Stat(
    key: &'static str,
    label: &'static str,
    value: i64,
    #[prop(default = None)] note: Option<String>,
) -> impl IntoView {
    view! {
        <div class="stat" data-stat=key>
            <p class="stat-label">{label}</p>
            <p class="stat-value">{value}</p>
            {note.map(|n| view! { <p class="stat-note">{n}</p> })}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_read_as_outcomes_and_counts() {
        let outcomes = vec![
            CallOutcome {
                outcome: "answered".to_string(),
                count: 3,
            },
            CallOutcome {
                outcome: "missed".to_string(),
                count: 1,
            },
        ];
        assert_eq!(
            outcomes_text(&outcomes).as_deref(),
            Some("3 answered · 1 missed")
        );
        assert_eq!(outcomes_text(&[]), None);
    }
}
