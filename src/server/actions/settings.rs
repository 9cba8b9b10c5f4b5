//! The admin's live settings: what can be changed while the server runs, and changing it.

use super::admin_only;
use crate::domain::admin::{SettingKind, SettingView, SETTINGS};
use crate::domain::User;
use crate::error::AppError;
use crate::server::config::Settings;
use crate::server::{moderation, now_ms, AppState};

/// The settings an admin can change, with the values in force (a secret shows as `set` or
/// empty, never itself) and whether each was changed here rather than in the file.
///
/// # Errors
/// [`AppError::Forbidden`] for anyone but an admin; the database.
#[tracing::instrument(skip_all, fields(user = %me.id))]
pub async fn list(state: &AppState, me: &User) -> Result<Vec<SettingView>, AppError> {
    admin_only(me)?;
    let stored = state.store.stored_settings().await?;
    Ok(setting_views(&state.settings(), &stored))
}

/// Changes one setting (`value` trimmed and cut to 4,096 characters). It is checked like
/// Leptos.toml would be, stored, and in force for the next request without a restart
/// (`AppState::settings_changed` moves the rates and tells open tabs of new limits); an
/// invalid value changes nothing and says why. Returns the settings as [`list`] does.
///
/// # Errors
/// [`AppError::Forbidden`] for anyone but an admin; [`AppError::Invalid`] (on the field
/// `key`) for an unknown key or a value refused, or on `demo_mode` when the demo accounts
/// are not there with the demo password (on) or the asker still has it (off); the
/// database.
#[tracing::instrument(skip_all, fields(user = %me.id, setting = %key))]
pub async fn update(
    state: &AppState,
    me: &User,
    key: &str,
    value: &str,
) -> Result<Vec<SettingView>, AppError> {
    admin_only(me)?;
    if !SETTINGS.iter().any(|(k, ..)| *k == key) {
        return Err(AppError::invalid("key", "There is no such setting."));
    }
    let value: String = value.trim().chars().take(4096).collect();
    if key == "demo_mode" && value == "true" {
        demo_accounts_ready(state).await?;
    }
    // Switching demo mode off ends the sessions of the accounts that still have its password
    // (found once, before the change, so the asker is not among them).
    let retiring = if key == "demo_mode" && value == "false" {
        demo_password_holders_but_me(state, me).await?
    } else {
        Vec::new()
    };
    let settings = state
        .config
        .change(
            &[(key, &value)],
            |next| async {
                state
                    .store
                    .store_setting(key, &value, &me.id, now_ms())
                    .await
                    .map_err(|e| SettingError::App(e.into()))?;
                Ok(next)
            },
            |before, next| state.settings_changed(before, next),
        )
        .await
        .map_err(|e| match e {
            SettingError::Invalid(message) => AppError::invalid(key, message),
            SettingError::App(e) => e,
        })?;
    tracing::info!(admin = %me.id, setting = %key, "setting changed");
    for user in retiring {
        state.store.delete_sessions_of(&user.id, None).await?;
        moderation::sessions_ended(state, &user.id, "session ended");
    }
    let stored = state.store.stored_settings().await?;
    Ok(setting_views(&settings, &stored))
}

/// Demo mode offers one-click logins with the demo password, so it may only be switched
/// on where every demo account exists with that password (they are made only in an empty
/// database): otherwise the buttons would try the password on someone's real account.
async fn demo_accounts_ready(state: &AppState) -> Result<(), AppError> {
    let password = state.settings().demo_password.clone();
    let holders = crate::server::demo::demo_password_holders(&*state.store, &password).await?;
    let missing: Vec<&str> = crate::server::demo::DEMO_USERNAMES
        .into_iter()
        .filter(|name| !holders.iter().any(|u| u.username == *name))
        .collect();
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

/// The accounts that still have the demo password, when `me` is not one of them: outside
/// demo mode that password stops working, so an admin who still has it would lock
/// themselves out by switching demo mode off.
async fn demo_password_holders_but_me(state: &AppState, me: &User) -> Result<Vec<User>, AppError> {
    let password = state.settings().demo_password.clone();
    let holders = crate::server::demo::demo_password_holders(&*state.store, &password).await?;
    if holders.iter().any(|u| u.id == me.id) {
        return Err(AppError::invalid(
            "demo_mode",
            "You still have the public demo password, which stops working when demo mode is \
             off. Change your password first.",
        ));
    }
    Ok(holders)
}

/// Why a setting was not changed: its value, or the server.
enum SettingError {
    Invalid(String),
    App(AppError),
}

impl From<crate::server::config::ConfigError> for SettingError {
    fn from(e: crate::server::config::ConfigError) -> Self {
        SettingError::Invalid(e.0)
    }
}

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

#[cfg(test)]
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
