//! What the admin area shows, shared by the server and the browser: the dashboard's
//! figures, the user list, and the settings an admin can change while the server runs.

use crate::model::User;
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

/// Labels, help and kinds of the settings in the admin area, in the order shown.
pub const SETTINGS: &[(&str, &str, &str, SettingKind)] = &[
    (
        "registration_open",
        "Registration open",
        "New people can create accounts. Existing accounts log in either way.",
        SettingKind::Switch,
    ),
    (
        "demo_mode",
        "Demo mode",
        "The login page lists the demo accounts and their password.",
        SettingKind::Switch,
    ),
    (
        "calls_enabled",
        "Calls",
        "People can make audio and video calls.",
        SettingKind::Switch,
    ),
    (
        "call_ring_timeout_secs",
        "Ring timeout (seconds)",
        "How long a call rings before it counts as missed.",
        SettingKind::Number,
    ),
    (
        "stun_urls",
        "STUN servers",
        "Comma-separated, like stun:stun.example.com:3478. Empty: calls work on loopback and LANs.",
        SettingKind::List,
    ),
    (
        "turn_urls",
        "TURN servers",
        "Comma-separated, like turn:turn.example.com:3478. Needs the TURN shared secret.",
        SettingKind::List,
    ),
    (
        "turn_secret",
        "TURN shared secret",
        "The TURN server's use-auth-secret; each caller gets time-limited credentials made with it. Never shown here; saving an empty box removes it.",
        SettingKind::Secret,
    ),
    (
        "turn_credential_ttl_secs",
        "TURN credential lifetime (seconds)",
        "How long handed-out TURN credentials stay valid.",
        SettingKind::Number,
    ),
    (
        "max_message_chars",
        "Longest message (characters)",
        "Longer messages are refused, and the sender keeps the text.",
        SettingKind::Number,
    ),
    (
        "messages_per_minute",
        "Messages per minute",
        "Per person, over all their tabs: the sustained rate and the largest burst.",
        SettingKind::Number,
    ),
    (
        "typing_per_minute",
        "Typing updates per minute",
        "Per person, over all their tabs.",
        SettingKind::Number,
    ),
    (
        "calls_per_minute",
        "Calls per minute",
        "Calls one person may start a minute; each rings every tab of the person called.",
        SettingKind::Number,
    ),
    (
        "signups_per_hour",
        "Sign-ups per hour",
        "From one address: each makes an account and costs a password hash.",
        SettingKind::Number,
    ),
];
