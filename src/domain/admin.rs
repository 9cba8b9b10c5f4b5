//! What the admin area shows, shared by the server and the browser: the dashboard's
//! figures, the user list, and the settings an admin can change while the server runs.

use crate::domain::User;
use serde::{Deserialize, Serialize};

/// Hours the dashboard's chart covers.
pub const CHART_HOURS: usize = 24;
/// Users on one page of the admin user list.
pub const USERS_PER_PAGE: i64 = 25;

/// The server at a glance. "Today" is the current UTC day.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dashboard {
    pub users: i64,
    pub blocked_users: i64,
    /// People with at least one tab connected now.
    pub online_now: i64,
    pub conversations: i64,
    pub messages_today: i64,
    pub calls_today: i64,
    /// Today's calls by how they went, busiest first.
    pub call_outcomes: Vec<CallOutcome>,
    /// Open WebSockets (tabs) now.
    pub connections: i64,
    /// Messages in each of the last 24 hours, oldest first; the last is the hour so far.
    pub messages_per_hour: Vec<i64>,
    /// The start of the newest hour in the chart (Unix ms).
    pub last_hour_start: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallOutcome {
    /// answered, missed, declined, cancelled, busy, or live (ringing or talking now).
    pub outcome: String,
    pub count: i64,
}

/// A user as the admin list shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminUser {
    pub user: User,
    pub blocked: bool,
    /// Holds a temporary password and must choose a new one at the next login.
    pub must_change_password: bool,
    pub created_at: i64,
    pub last_seen_at: Option<i64>,
    pub online: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserPage {
    pub users: Vec<AdminUser>,
    /// How many users match the search, over all pages.
    pub total: i64,
    /// From 0.
    pub page: i64,
    pub pages: i64,
}

/// How a setting is edited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SettingKind {
    Switch,
    Number,
    /// Comma-separated URLs.
    List,
    /// Never shown back; only whether it is set.
    Secret,
}

/// One editable setting: what it is and what is in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingView {
    pub key: String,
    pub label: String,
    pub help: String,
    pub kind: SettingKind,
    /// The value in force, as text ("true", "4000", "stun:a, stun:b"); a secret is "" when
    /// unset and "set" when set.
    pub value: String,
    /// Set in the admin area (rather than by Leptos.toml or the environment).
    pub changed_here: bool,
}

/// Builds [`SETTINGS`] from the live entries of the settings table.
macro_rules! admin_settings {
    ($(
        $(#[$doc:meta])*
        $key:ident: $ty:ty {
            default: $default:expr,
            expected: $expected:literal,
            valid: $valid:expr,
            $(admin: ($kind:ident, $label:literal, $help:literal $(,)?),)?
        }
    )*) => {
        /// Keys, labels, help and kinds of the settings in the admin area, in the order
        /// shown: the entries of `src/domain/settings.rs` that have `admin`.
        pub const SETTINGS: &[(&str, &str, &str, SettingKind)] = &[
            $($((stringify!($key), $label, $help, SettingKind::$kind),)?)*
        ];
    };
}

crate::domain::settings::settings_table!(admin_settings);
