//! The admin area: dashboard, users, settings. Shown inside the app shell for admins; every
//! server function it calls refuses non-admins on its own.
//!
//! Everything is fetched from the browser after hydration: the server renders the header and
//! a loading state.
//!
//! `dashboard` (the figures, live while on screen) with its `chart`, `users` (search, pages,
//! block, role, temporary passwords) and `settings` (live settings, each saved on its own).

mod chart;
mod dashboard;
mod settings;
mod users;

use crate::client::use_client;
use crate::domain::Role;
use crate::error::AppError;
use dashboard::DashboardPanel;
use leptos::prelude::*;
use settings::SettingsPanel;
use users::UsersPanel;

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
    let chat = use_client().chat;
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
        view! {
            <ServerWarnings />
            {children()}
        }
        .into_any()
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

/// What the admin must know about how this server runs, loaded after hydration.
#[component]
fn ServerWarnings() -> impl IntoView {
    let warnings = RwSignal::new(Vec::<String>::new());
    Effect::new(move |_| {
        leptos::task::spawn_local(async move {
            if let Ok(w) = crate::api::admin::admin_warnings().await {
                warnings.set(w);
            }
        });
    });
    move || {
        warnings
            .get()
            .into_iter()
            .map(|w| view! { <p class="banner warning" role="alert">{w}</p> })
            .collect_view()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{provide_client, Client};
    use crate::domain::User;

    fn rendered(view: impl FnOnce() -> AnyView) -> String {
        let owner = Owner::new();
        owner.with(|| view().to_html())
    }

    #[test]
    fn the_frame_marks_the_current_tab_and_refuses_non_admins() {
        let page = |role: Role| {
            rendered(move || {
                provide_client(Client::new(User {
                    id: "u1".into(),
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
