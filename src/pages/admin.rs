//! The admin area: dashboard, users, settings. Shown inside the app shell for admins; every
//! server function it calls refuses non-admins on its own.
//!
//! Everything is fetched from the browser after hydration: the server renders the header and
//! a loading state.

use crate::admin::{AdminUser, CallOutcome, Dashboard, SettingKind, SettingView, UserPage};
use crate::api::admin::{
    admin_block_user, admin_dashboard, admin_set_admin, admin_set_temporary_password,
    admin_settings, admin_update_setting, admin_users,
};
use crate::error::AppError;
use crate::model::Role;
use crate::ui::chat_state::{ago, now_ms, Chat};
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::future::Future;
use std::time::Duration;

#[component]
pub fn AdminDashboard() -> impl IntoView {
    view! {
        <AdminFrame tab=Tab::Dashboard>
            <DashboardPanel />
        </AdminFrame>
    }
}

#[component]
pub fn AdminUsers() -> impl IntoView {
    view! {
        <AdminFrame tab=Tab::Users>
            <UsersPanel />
        </AdminFrame>
    }
}

#[component]
pub fn AdminSettings() -> impl IntoView {
    view! {
        <AdminFrame tab=Tab::Settings>
            <SettingsPanel />
        </AdminFrame>
    }
}

// ---------------------------------------------------------------------------------------
// The frame shared by the three pages
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tab {
    Dashboard,
    Users,
    Settings,
}

const TABS: [(Tab, &str, &str); 3] = [
    (Tab::Dashboard, "/admin", "Dashboard"),
    (Tab::Users, "/admin/users", "Users"),
    (Tab::Settings, "/admin/settings", "Settings"),
];

/// The heading, the tabs and the way back; the page itself only for admins.
#[component]
fn AdminFrame(tab: Tab, children: Children) -> impl IntoView {
    let chat = expect_context::<Chat>();
    let is_admin = chat.me.with_untracked(|me| me.role == Role::Admin);
    let tabs = TABS
        .iter()
        .map(|&(t, href, label)| {
            view! {
                <a class="admin-tab" href=href aria-current=(t == tab).then_some("page")>
                    {label}
                </a>
            }
        })
        .collect_view();
    let body = if is_admin {
        children().into_any()
    } else {
        view! { <p class="form-error" role="alert">{AppError::Forbidden.to_string()}</p> }
            .into_any()
    };
    view! {
        <div class="admin">
            <header class="admin-head">
                <div class="admin-title">
                    <h1>"Admin"</h1>
                    <a class="button secondary small" href="/">
                        "Back to chat"
                    </a>
                </div>
                <nav class="admin-tabs" aria-label="Admin">
                    {tabs}
                </nav>
            </header>
            {body}
        </div>
    }
}

/// An error message, announced when it appears.
#[component]
fn Alert(#[prop(into)] message: Signal<Option<String>>) -> impl IntoView {
    move || {
        message
            .get()
            .map(|m| view! { <p class="form-error" role="alert">{m}</p> })
    }
}

#[component]
fn Loading() -> impl IntoView {
    view! { <p class="admin-loading">"Loading…"</p> }
}

// ---------------------------------------------------------------------------------------
// Dashboard
// ---------------------------------------------------------------------------------------

/// Loads the figures once, then shows whatever the realtime connection pushes while the
/// page is open.
#[component]
fn DashboardPanel() -> impl IntoView {
    let chat = expect_context::<Chat>();
    let error = RwSignal::new(None::<String>);
    Effect::new(move |_| {
        chat.watch_admin.set(true);
        spawn_local(async move {
            match admin_dashboard().await {
                Ok(d) => {
                    error.set(None);
                    chat.dashboard.set(Some(d));
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    });
    on_cleanup(move || {
        chat.watch_admin.try_set(false);
        // Figures from an earlier visit are stale: the next visit loads them again.
        chat.dashboard.try_set(None);
    });

    view! {
        <Alert message=error />
        {move || match chat.dashboard.get() {
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

/// Hours and minutes of a moment, in the browser's time zone (UTC on the server).
fn local_clock(at_ms: i64) -> (u32, u32) {
    #[cfg(feature = "hydrate")]
    {
        let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(at_ms as f64));
        (d.get_hours(), d.get_minutes())
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let minutes = at_ms.rem_euclid(86_400_000) / 60_000;
        ((minutes / 60) as u32, (minutes % 60) as u32)
    }
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
fn MessagesChart(per_hour: Vec<i64>, last_hour_start: i64) -> impl IntoView {
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
            let from = local_clock(start);
            let until = local_clock(start + HOUR_MS);
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

// ---------------------------------------------------------------------------------------
// Users
// ---------------------------------------------------------------------------------------

/// The user list's state, shared by the search box, the pager and the rows.
#[derive(Clone, Copy)]
struct UserList {
    query: RwSignal<String>,
    /// From 0.
    page: RwSignal<i64>,
    data: RwSignal<Option<UserPage>>,
    /// Why the list could not be loaded.
    load_error: RwSignal<Option<String>>,
    /// Why the last action on a user failed.
    error: RwSignal<Option<String>>,
    /// What the last action did, when that is worth saying.
    notice: RwSignal<Option<String>>,
    busy: RwSignal<bool>,
    /// Counts loads, so that only the answer to the latest one is shown.
    generation: StoredValue<u64>,
}

impl UserList {
    fn new() -> Self {
        Self {
            query: RwSignal::new(String::new()),
            page: RwSignal::new(0),
            data: RwSignal::new(None),
            load_error: RwSignal::new(None),
            error: RwSignal::new(None),
            notice: RwSignal::new(None),
            busy: RwSignal::new(false),
            generation: StoredValue::new(0),
        }
    }

    /// Loads the current page for the current search.
    fn load(self) {
        let Some(generation) = self.generation.try_update_value(|g| {
            *g += 1;
            *g
        }) else {
            return;
        };
        let (Some(query), Some(page)) = (
            self.query.try_get_untracked(),
            self.page.try_get_untracked(),
        ) else {
            return;
        };
        spawn_local(async move {
            let result = admin_users(query, page).await;
            if self.generation.try_get_value() != Some(generation) {
                return;
            }
            match result {
                // Past the end (the list got shorter): show the last page instead.
                Ok(found)
                    if found.users.is_empty() && found.page > 0 && found.page >= found.pages =>
                {
                    self.page.set(found.pages - 1);
                    self.load();
                }
                Ok(found) => {
                    self.load_error.set(None);
                    self.data.set(Some(found));
                }
                Err(e) => self.load_error.set(Some(e.to_string())),
            }
        });
    }

    /// Runs an action on a user, says why if it failed, and loads the page again.
    fn act(self, call: impl Future<Output = Result<(), AppError>> + 'static) {
        self.error.set(None);
        self.notice.set(None);
        self.busy.set(true);
        spawn_local(async move {
            let result = call.await;
            self.busy.try_set(false);
            if let Err(e) = result {
                self.error.try_set(Some(e.to_string()));
            }
            self.load();
        });
    }

    fn go_to_page(self, page: i64) {
        self.page.set(page.max(0));
        self.load();
    }
}

#[component]
fn UsersPanel() -> impl IntoView {
    let list = UserList::new();
    Effect::new(move |_| list.load());
    // Whether the page holds anyone; the table stays in place (and keeps its rows) while
    // reloads change who is in it.
    let empty = Memo::new(move |_| list.data.with(|d| d.as_ref().map(|d| d.users.is_empty())));

    view! {
        <section class="admin-users" aria-label="Users">
            <UserSearch list />
            <Alert message=list.load_error />
            <Alert message=list.error />
            <p class="admin-notice" role="status">
                {move || list.notice.get()}
            </p>
            {move || {
                empty
                    .get()
                    .map(|empty| {
                        if empty {
                            view! { <p class="empty">"No users match."</p> }.into_any()
                        } else {
                            view! { <UserTable list /> }.into_any()
                        }
                    })
                    .unwrap_or_else(|| {
                        if list.load_error.with(Option::is_none) {
                            view! { <Loading /> }.into_any()
                        } else {
                            ().into_any()
                        }
                    })
            }}
            <Pager list />
        </section>
    }
}

/// The search box: the list follows what is typed, a moment after typing stops.
#[component]
fn UserSearch(list: UserList) -> impl IntoView {
    let timer = StoredValue::new(None::<TimeoutHandle>);
    let cancel = move || {
        if let Some(handle) = timer.try_get_value().flatten() {
            handle.clear();
        }
    };
    on_cleanup(cancel);
    let search_now = move || {
        cancel();
        list.go_to_page(0);
    };
    let on_input = move |ev| {
        list.query.set(event_target_value(&ev));
        cancel();
        let handle = set_timeout_with_handle(search_now, Duration::from_millis(250)).ok();
        timer.set_value(handle);
    };
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        search_now();
    };
    view! {
        <form class="admin-search" role="search" on:submit=on_submit>
            <label class="visually-hidden" for="admin-user-search">
                "Search users"
            </label>
            <input
                id="admin-user-search"
                type="search"
                placeholder="Search by name or username"
                autocomplete="off"
                spellcheck="false"
                prop:value=move || list.query.get()
                on:input=on_input
            />
        </form>
    }
}

/// "Page 1 of 3 · 57 users", with the buttons to move between pages.
#[component]
fn Pager(list: UserList) -> impl IntoView {
    let position = Memo::new(move |_| {
        list.data
            .with(|d| d.as_ref().map(|d| (d.page, d.pages, d.total)))
    });
    let text = move || {
        position.get().map(|(page, pages, total)| {
            let users = match total {
                1 => "1 user".to_string(),
                n => format!("{n} users"),
            };
            format!("Page {} of {pages} · {users}", page + 1)
        })
    };
    let no_previous = move || position.get().is_none_or(|(page, _, _)| page <= 0);
    let no_next = move || {
        position
            .get()
            .is_none_or(|(page, pages, _)| page + 1 >= pages)
    };
    let step = move |by: i64| {
        if let Some((page, _, _)) = position.get_untracked() {
            list.go_to_page(page + by);
        }
    };
    view! {
        <div class="pager">
            <button
                type="button"
                class="button secondary small"
                disabled=no_previous
                on:click=move |_| step(-1)
            >
                "Previous"
            </button>
            <span class="pager-text">{text}</span>
            <button
                type="button"
                class="button secondary small"
                disabled=no_next
                on:click=move |_| step(1)
            >
                "Next"
            </button>
        </div>
    }
}

/// Changes whenever anything a row shows changes, so that only such rows are drawn again
/// (a row's open password form survives reloads that leave it alone).
fn row_key(u: &AdminUser) -> String {
    format!(
        "{}|{}|{}|{}|{}|{}|{}|{:?}",
        u.user.id,
        u.user.username,
        u.user.display_name,
        u.user.role.as_str(),
        u.blocked,
        u.must_change_password,
        u.online,
        u.last_seen_at
    )
}

#[component]
fn UserTable(list: UserList) -> impl IntoView {
    let users = move || {
        list.data
            .with(|d| d.as_ref().map(|d| d.users.clone()).unwrap_or_default())
    };
    view! {
        <div class="table-wrap">
            <table class="user-table">
                <caption class="visually-hidden">"Users"</caption>
                <thead>
                    <tr>
                        <th scope="col">"User"</th>
                        <th scope="col">"Role"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col">"Actions"</th>
                    </tr>
                </thead>
                <tbody>
                    <For each=users key=row_key children=move |u| view! { <UserRow u list /> } />
                </tbody>
            </table>
        </div>
    }
}

/// "Blocked", "Online", "Last seen 5 min ago" or "Never", with a class to style it by.
fn status_of(u: &AdminUser) -> (&'static str, String) {
    if u.blocked {
        ("status blocked", "Blocked".to_string())
    } else if u.online {
        ("status online", "Online".to_string())
    } else {
        match u.last_seen_at {
            Some(at) => ("status", format!("Last seen {}", ago(at, now_ms()))),
            None => ("status", "Never".to_string()),
        }
    }
}

#[component]
fn UserRow(u: AdminUser, list: UserList) -> impl IntoView {
    let chat = expect_context::<Chat>();
    let is_me = chat.me.with_untracked(|me| me.id == u.user.id);
    let is_admin = u.user.role == Role::Admin;
    let (status_class, status) = status_of(&u);
    let username = u.user.username.clone();
    let display_name = u.user.display_name.clone();
    let must_change = u.must_change_password;
    view! {
        <tr data-username=username.clone()>
            <td class="user-cell">
                <span class="user-name">
                    {display_name}
                    {is_me.then(|| view! { <span class="user-you">" (you)"</span> })}
                </span>
                <span class="person-handle">"@" {username.clone()}</span>
                {must_change.then(|| view! { <span class="user-note">"Must change password"</span> })}
            </td>
            <td data-label="Role">
                {if is_admin {
                    view! { <span class="badge role-badge">"Admin"</span> }.into_any()
                } else {
                    view! { <span class="role-user">"User"</span> }.into_any()
                }}
            </td>
            <td data-label="Status">
                <span class=status_class>{status}</span>
            </td>
            <td class="user-actions-cell">
                <UserActions u list />
            </td>
        </tr>
    }
}

#[component]
fn UserActions(u: AdminUser, list: UserList) -> impl IntoView {
    let open = RwSignal::new(false);
    let (id, blocked) = (u.user.id.clone(), u.blocked);
    let is_admin = u.user.role == Role::Admin;
    let block = {
        let id = id.clone();
        move |_| list.act(admin_block_user(id.clone(), !blocked))
    };
    let role = {
        let id = id.clone();
        move |_| list.act(admin_set_admin(id.clone(), !is_admin))
    };
    let busy = move || list.busy.get();
    view! {
        <div class="user-actions">
            <button
                type="button"
                class=if blocked { "button secondary small" } else { "button small danger" }
                disabled=busy
                on:click=block
            >
                {if blocked { "Unblock" } else { "Block" }}
            </button>
            <button type="button" class="button secondary small" disabled=busy on:click=role>
                {if is_admin { "Remove admin" } else { "Make admin" }}
            </button>
            <button
                type="button"
                class="button secondary small"
                aria-expanded=move || open.get().to_string()
                on:click=move |_| open.update(|o| *o = !*o)
            >
                "Temporary password"
            </button>
        </div>
        <Show when=move || open.get()>
            <TemporaryPasswordForm
                user_id=id.clone()
                username=u.user.username.clone()
                open
                list
            />
        </Show>
    }
}

/// Sets a temporary password the admin passes on; its owner must replace it at next login.
#[component]
fn TemporaryPasswordForm(
    user_id: String,
    username: String,
    open: RwSignal<bool>,
    list: UserList,
) -> impl IntoView {
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let pending = RwSignal::new(false);
    let input_id = format!("temporary-password-{user_id}");
    let error_id = format!("{input_id}-error");
    let label = format!("Temporary password for {username}");
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let (user_id, username) = (user_id.clone(), username.clone());
        let value = password.get_untracked();
        pending.set(true);
        spawn_local(async move {
            let result = admin_set_temporary_password(user_id, value).await;
            pending.try_set(false);
            match result {
                Ok(()) => {
                    open.try_set(false);
                    list.error.try_set(None);
                    list.notice.try_set(Some(format!(
                        "Temporary password set. {username} must choose a new one at next login."
                    )));
                    list.load();
                }
                Err(e) => {
                    error.try_set(Some(e.field("password").unwrap_or_else(|| e.to_string())));
                }
            }
        });
    };
    let described_by = {
        let error_id = error_id.clone();
        move || error.with(Option::is_some).then(|| error_id.clone())
    };
    view! {
        <form class="temporary-password" novalidate=true on:submit=submit>
            <label for=input_id.clone()>{label}</label>
            <div class="temporary-password-row">
                <input
                    id=input_id
                    type="text"
                    autocomplete="off"
                    spellcheck="false"
                    aria-invalid=move || error.with(Option::is_some).then_some("true")
                    aria-describedby=described_by
                    prop:value=move || password.get()
                    on:input=move |ev| password.set(event_target_value(&ev))
                />
                <button type="submit" class="button primary small" disabled=move || pending.get()>
                    "Set"
                </button>
                <button type="button" class="button secondary small" on:click=move |_| open.set(false)>
                    "Cancel"
                </button>
            </div>
            {move || {
                error
                    .get()
                    .map(|m| {
                        view! {
                            <p class="field-error" id=error_id.clone() role="alert">
                                {m}
                            </p>
                        }
                    })
            }}
        </form>
    }
}

// ---------------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------------

type SettingList = RwSignal<Option<Vec<SettingView>>>;

#[component]
fn SettingsPanel() -> impl IntoView {
    let settings: SettingList = RwSignal::new(None);
    let error = RwSignal::new(None::<String>);
    Effect::new(move |_| {
        spawn_local(async move {
            match admin_settings().await {
                Ok(list) => {
                    error.set(None);
                    settings.set(Some(list));
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    });
    let all = move || settings.get().unwrap_or_default();
    view! {
        <section class="admin-settings" aria-label="Settings">
            <p class="hint">
                "Changes apply at once, without a restart, and override Leptos.toml and the environment."
            </p>
            <Alert message=error />
            {move || {
                (settings.with(Option::is_none) && error.with(Option::is_none))
                    .then(|| view! { <Loading /> })
            }}
            <div class="setting-list">
                <For
                    each=all
                    key=|s| s.key.clone()
                    children=move |s| view! { <SettingRow initial=s settings /> }
                />
            </div>
        </section>
    }
}

/// How the last save of a setting went.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Saved {
    Yes,
    Failed(String),
}

/// What a setting's input starts with: its value, except a secret, which is never shown.
fn draft_of(s: &SettingView) -> String {
    match s.kind {
        SettingKind::Secret => String::new(),
        _ => s.value.clone(),
    }
}

/// One setting, saved on its own. Label, help and kind never change; the value in force is
/// read from the list, which every save replaces.
#[component]
fn SettingRow(initial: SettingView, settings: SettingList) -> impl IntoView {
    let key = initial.key.clone();
    let current = {
        let key = key.clone();
        Memo::new(move |_| {
            settings.with(|list| {
                list.as_ref()
                    .and_then(|l| l.iter().find(|s| s.key == key))
                    .map(|s| (s.value.clone(), s.changed_here))
            })
        })
    };
    let draft = RwSignal::new(draft_of(&initial));
    let saved = RwSignal::new(None::<Saved>);
    let pending = RwSignal::new(false);
    let ids = SettingIds::new(&key);

    let submit = {
        let key = key.clone();
        move |ev: SubmitEvent| {
            ev.prevent_default();
            let key = key.clone();
            let value = draft.get_untracked();
            pending.set(true);
            saved.set(None);
            spawn_local(async move {
                let result = admin_update_setting(key.clone(), value).await;
                pending.try_set(false);
                match result {
                    Ok(list) => {
                        if let Some(s) = list.iter().find(|s| s.key == key) {
                            draft.try_set(draft_of(s));
                        }
                        settings.try_set(Some(list));
                        saved.try_set(Some(Saved::Yes));
                    }
                    Err(e) => {
                        let message = e.field(&key).unwrap_or_else(|| e.to_string());
                        saved.try_set(Some(Saved::Failed(message)));
                    }
                }
            });
        }
    };
    let failed = Signal::derive(move || matches!(saved.get(), Some(Saved::Failed(_))));
    let changed_here = move || current.with(|c| c.as_ref().is_some_and(|c| c.1));
    let is_switch = initial.kind == SettingKind::Switch;

    view! {
        <form class="setting" data-key=key novalidate=true on:submit=submit>
            <div class="setting-text">
                <div class="setting-head">
                {if is_switch {
                    view! {
                        <label class="setting-label setting-check" for=ids.input.clone()>
                            <SettingControl kind=initial.kind ids=ids.clone() draft current saved failed />
                            {initial.label.clone()}
                        </label>
                    }
                        .into_any()
                } else {
                    view! {
                        <label class="setting-label" for=ids.input.clone()>
                            {initial.label.clone()}
                        </label>
                    }
                        .into_any()
                }}
                {move || changed_here().then(|| view! { <span class="setting-note">"changed here"</span> })}
                </div>
                <p class="hint" id=ids.help.clone()>
                    {initial.help.clone()}
                </p>
            </div>
            <div class="setting-control">
                {(!is_switch)
                    .then(|| {
                        view! { <SettingControl kind=initial.kind ids=ids.clone() draft current saved failed /> }
                    })}
                <button type="submit" class="button primary small" disabled=move || pending.get()>
                    "Save"
                </button>
            </div>
            <SettingOutcome saved error_id=ids.error.clone() />
        </form>
    }
}

/// The element ids of one setting's row.
#[derive(Debug, Clone)]
struct SettingIds {
    input: String,
    help: String,
    error: String,
}

impl SettingIds {
    fn new(key: &str) -> Self {
        Self {
            input: format!("setting-{key}"),
            help: format!("setting-{key}-help"),
            error: format!("setting-{key}-error"),
        }
    }
}

/// The input that edits a setting, by its kind.
#[component]
fn SettingControl(
    kind: SettingKind,
    ids: SettingIds,
    draft: RwSignal<String>,
    current: Memo<Option<(String, bool)>>,
    saved: RwSignal<Option<Saved>>,
    failed: Signal<bool>,
) -> impl IntoView {
    let described_by = {
        let SettingIds { help, error, .. } = ids.clone();
        move || {
            if failed.get() {
                format!("{help} {error}")
            } else {
                help.clone()
            }
        }
    };
    let invalid = move || failed.get().then_some("true");
    let edited = move |value: String| {
        draft.set(value);
        saved.set(None);
    };
    match kind {
        SettingKind::Switch => view! {
            <input
                id=ids.input
                type="checkbox"
                aria-describedby=described_by
                prop:checked=move || draft.with(|d| d == "true")
                on:change=move |ev| edited(event_target_checked(&ev).to_string())
            />
        }
        .into_any(),
        SettingKind::Number | SettingKind::List => {
            let (input_type, mode) = match kind {
                SettingKind::Number => ("number", "numeric"),
                _ => ("text", "text"),
            };
            view! {
                <input
                    id=ids.input
                    type=input_type
                    inputmode=mode
                    autocomplete="off"
                    spellcheck="false"
                    aria-invalid=invalid
                    aria-describedby=described_by
                    prop:value=move || draft.get()
                    on:input=move |ev| edited(event_target_value(&ev))
                />
            }
            .into_any()
        }
        SettingKind::Secret => {
            let placeholder = move || {
                if current.with(|c| c.as_ref().is_some_and(|c| !c.0.is_empty())) {
                    "set"
                } else {
                    "not set"
                }
            };
            view! {
                <input
                    id=ids.input
                    type="password"
                    autocomplete="new-password"
                    placeholder=placeholder
                    aria-invalid=invalid
                    aria-describedby=described_by
                    prop:value=move || draft.get()
                    on:input=move |ev| edited(event_target_value(&ev))
                />
            }
            .into_any()
        }
    }
}

/// "Saved." or why not, under the setting.
#[component]
fn SettingOutcome(saved: RwSignal<Option<Saved>>, error_id: String) -> impl IntoView {
    let message = move || match saved.get() {
        Some(Saved::Failed(m)) => Some(m),
        _ => None,
    };
    view! {
        <p class="setting-saved" role="status">
            {move || (saved.get() == Some(Saved::Yes)).then_some("Saved.")}
        </p>
        {move || {
            message()
                .map(|m| {
                    view! {
                        <p class="form-error setting-error" id=error_id.clone() role="alert">
                            {m}
                        </p>
                    }
                })
        }}
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;
    use crate::model::User;

    fn rendered(view: impl FnOnce() -> AnyView) -> String {
        let owner = Owner::new();
        owner.with(|| view().to_html())
    }

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

    #[test]
    fn the_frame_marks_the_current_tab_and_refuses_non_admins() {
        let page = |role: Role| {
            rendered(move || {
                provide_context(Chat::new(User {
                    id: "u1".to_string(),
                    username: "ann".to_string(),
                    display_name: "Ann".to_string(),
                    role,
                }));
                view! {
                    <AdminFrame tab=Tab::Users>
                        <p>"inside"</p>
                    </AdminFrame>
                }
                .into_any()
            })
        };
        let admin = page(Role::Admin);
        assert!(admin.contains("href=\"/admin/users\" aria-current=\"page\""));
        assert_eq!(admin.matches("aria-current").count(), 1);
        assert!(admin.contains("inside"));
        let user = page(Role::User);
        assert!(user.contains("You are not allowed to do that."));
        assert!(!user.contains("inside"));
    }
}
