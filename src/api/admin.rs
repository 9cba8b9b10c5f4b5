//! The admin area. Every function here starts with `signed_in_admin`: the role is read
//! from the database with the session, so a demoted admin is refused at once, and hiding
//! the links in the page is never the only guard.

use crate::admin::{Dashboard, SettingView, UserPage};
use crate::error::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use {
    super::chat::signed_in,
    super::support::answer,
    crate::admin::{SettingKind, SETTINGS, USERS_PER_PAGE},
    crate::model::{Role, User},
    crate::protocol::{PresenceState, Topic},
    crate::server::AppState,
    crate::server::{auth, config::Settings, moderation, now_ms},
};

#[cfg(feature = "ssr")]
async fn signed_in_admin() -> Result<(AppState, User), AppError> {
    let (state, me) = signed_in().await?;
    if me.role != Role::Admin {
        tracing::warn!(user = %me.id, "a non-admin called an admin function");
        return Err(AppError::Forbidden);
    }
    Ok((state, me))
}

/// The server at a glance; afterwards the dashboard is pushed over the WebSocket.
#[server(endpoint = "admin/dashboard")]
#[cfg_attr(
    feature = "ssr",
    tracing::instrument(name = "admin_dashboard", skip_all)
)]
pub async fn admin_dashboard() -> Result<Dashboard, AppError> {
    answer(
        async move {
            let (state, _) = signed_in_admin().await?;
            moderation::dashboard(&*state.store, &state.hub, &state.presence)
                .await
                .map_err(AppError::from)
        }
        .await,
    )
}

/// A page of users whose username or display name contains `query`.
#[server(endpoint = "admin/users")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "admin_users", skip_all))]
pub async fn admin_users(query: String, page: i64) -> Result<UserPage, AppError> {
    answer(
        async move {
            let (state, _) = signed_in_admin().await?;
            let query: String = query.trim().chars().take(64).collect();
            let page = page.clamp(0, 1_000_000);
            let (mut users, total) = state
                .store
                .admin_users(&query, page * USERS_PER_PAGE, USERS_PER_PAGE)
                .await?;
            for u in &mut users {
                u.online = state.presence.state_of(&u.user.id) != PresenceState::Offline;
            }
            Ok(UserPage {
                users,
                total,
                page,
                pages: ((total + USERS_PER_PAGE - 1) / USERS_PER_PAGE).max(1),
            })
        }
        .await,
    )
}

/// Blocks an account (its sessions end and its open tabs close at once) or unblocks it.
#[server(endpoint = "admin/block")]
#[cfg_attr(
    feature = "ssr",
    tracing::instrument(name = "admin_block_user", skip_all)
)]
pub async fn admin_block_user(user_id: String, blocked: bool) -> Result<(), AppError> {
    answer(
        async move {
            let (state, me) = signed_in_admin().await?;
            state
                .store
                .set_account_blocked(&me.id, &user_id, blocked, now_ms())
                .await?;
            if blocked {
                moderation::sessions_ended(&state, &user_id, crate::protocol::BLOCKED_REASON);
            }
            tracing::info!(admin = %me.id, user = %user_id, blocked, "account block changed");
            Ok(())
        }
        .await,
    )
}

/// Makes an account an admin or takes the role away (never from the last admin).
#[server(endpoint = "admin/role")]
#[cfg_attr(
    feature = "ssr",
    tracing::instrument(name = "admin_set_admin", skip_all)
)]
pub async fn admin_set_admin(user_id: String, admin: bool) -> Result<(), AppError> {
    answer(
        async move {
            let (state, me) = signed_in_admin().await?;
            let role = if admin { Role::Admin } else { Role::User };
            state.store.set_role(&user_id, role).await?;
            if !admin {
                // Their open dashboards stop receiving at once.
                state.hub.unsubscribe_user(&Topic::Admin, &user_id);
            }
            state.hub.publish(
                &Topic::User(user_id.clone()),
                crate::protocol::Event::AccountChanged,
            );
            tracing::info!(admin = %me.id, user = %user_id, role = role.as_str(), "role changed");
            Ok(())
        }
        .await,
    )
}

/// Gives an account a temporary password: its sessions end, and at the next login its
/// owner must choose a new password before getting in.
#[server(endpoint = "admin/temporary_password")]
#[cfg_attr(
    feature = "ssr",
    tracing::instrument(name = "admin_set_temporary_password", skip_all)
)]
pub async fn admin_set_temporary_password(
    user_id: String,
    password: String,
) -> Result<(), AppError> {
    answer(
        async move {
            let (state, me) = signed_in_admin().await?;
            crate::model::check_new_password(&password)?;
            let hash = auth::hash_password(password).await?;
            state.store.set_temporary_password(&user_id, &hash).await?;
            moderation::sessions_ended(&state, &user_id, "session ended");
            tracing::info!(admin = %me.id, user = %user_id, "temporary password set");
            Ok(())
        }
        .await,
    )
}

/// Demo mode offers one-click logins with the demo password, so it may only be switched
/// on where every demo account exists with that password (they are made only in an empty
/// database): otherwise the buttons would try the password on someone's real account.
#[cfg(feature = "ssr")]
async fn demo_accounts_ready(state: &AppState) -> Result<(), AppError> {
    let password = state.settings().demo_password.clone();
    let mut missing = Vec::new();
    for name in crate::api::auth::DEMO_USERNAMES {
        let record = state.store.login_record(name).await?;
        let hash = record.map(|r| r.password_hash);
        if !auth::verify_password(password.clone(), hash).await? {
            missing.push(name);
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    Err(AppError::invalid(
        "demo_mode",
        format!(
            "Demo mode needs the demo accounts with the demo password, which Natter makes only \
             in an empty database; here {} {} not.",
            missing.join(", "),
            if missing.len() == 1 { "is" } else { "are" }
        ),
    ))
}

/// Why a setting was not changed: its value, or the server.
#[cfg(feature = "ssr")]
enum SettingError {
    Invalid(String),
    App(AppError),
}

#[cfg(feature = "ssr")]
impl From<crate::server::config::ConfigError> for SettingError {
    fn from(e: crate::server::config::ConfigError) -> Self {
        SettingError::Invalid(e.0)
    }
}

#[cfg(feature = "ssr")]
fn setting_views(settings: &Settings, stored: &[(String, String)]) -> Vec<SettingView> {
    SETTINGS
        .iter()
        .map(|(key, label, help, kind)| {
            let value = settings.editable_text(key).unwrap_or_default();
            SettingView {
                key: key.to_string(),
                label: label.to_string(),
                help: help.to_string(),
                kind: *kind,
                value: match kind {
                    SettingKind::Secret if value.is_empty() => String::new(),
                    SettingKind::Secret => "set".to_string(),
                    _ => value,
                },
                changed_here: stored.iter().any(|(k, _)| k == key),
            }
        })
        .collect()
}

/// The settings an admin can change, with the values in force.
#[server(endpoint = "admin/settings")]
#[cfg_attr(
    feature = "ssr",
    tracing::instrument(name = "admin_settings", skip_all)
)]
pub async fn admin_settings() -> Result<Vec<SettingView>, AppError> {
    answer(
        async move {
            let (state, _) = signed_in_admin().await?;
            let stored = state.store.stored_settings().await?;
            Ok(setting_views(&state.settings(), &stored))
        }
        .await,
    )
}

/// Changes one setting. It is checked like Leptos.toml would be, stored, and in force for
/// the next request, without a restart; an invalid value changes nothing and says why.
#[server(endpoint = "admin/update_setting")]
#[cfg_attr(
    feature = "ssr",
    tracing::instrument(name = "admin_update_setting", skip_all)
)]
pub async fn admin_update_setting(
    key: String,
    value: String,
) -> Result<Vec<SettingView>, AppError> {
    answer(
        async move {
            let (state, me) = signed_in_admin().await?;
            if !SETTINGS.iter().any(|(k, ..)| *k == key) {
                return Err(AppError::invalid("key", "There is no such setting."));
            }
            let value: String = value.trim().chars().take(4096).collect();
            if key == "demo_mode" && value == "true" {
                demo_accounts_ready(&state).await?;
            }
            let field = key.clone();
            let settings = state
                .config
                .change(
                    &[(&key, &value)],
                    |next| async {
                        state
                            .store
                            .store_setting(&key, &value, &me.id, now_ms())
                            .await
                            .map_err(|e| SettingError::App(e.into()))?;
                        Ok(next)
                    },
                    |before, next| state.settings_changed(before, next),
                )
                .await
                .map_err(|e| match e {
                    SettingError::Invalid(message) => AppError::invalid(&field, message),
                    SettingError::App(e) => e,
                })?;
            tracing::info!(admin = %me.id, setting = %key, "setting changed");
            let stored = state.store.stored_settings().await?;
            Ok(setting_views(&settings, &stored))
        }
        .await,
    )
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;

    #[test]
    fn the_turn_secret_is_never_shown_back() {
        let settings = Settings::load("t", None, &|_| None).unwrap();
        let unset = setting_views(&settings, &[]);
        let secret = |views: &[SettingView]| {
            views
                .iter()
                .find(|v| v.key == "turn_secret")
                .map(|v| v.value.clone())
        };
        assert_eq!(secret(&unset).as_deref(), Some(""));
        let with = settings
            .with_changes(&[("turn_secret", "hunter2-long-secret")])
            .unwrap();
        let views = setting_views(&with, &[("turn_secret".into(), "x".into())]);
        assert_eq!(secret(&views).as_deref(), Some("set"));
        assert!(views.iter().all(|v| !v.value.contains("hunter2")));
        assert!(views
            .iter()
            .any(|v| v.key == "turn_secret" && v.changed_here));
    }
}
