//! What a person does to their own account in Settings: a new password, a new display
//! name, their sessions (browsers they are logged in with), and deleting the account.
//! Each acts on the asker's own account only: the store queries take the asker's id.

use crate::domain::{check_name, SessionInfo, User, DISPLAY_NAME_MAX_CHARS};
use crate::error::AppError;
use crate::protocol::{Event, Topic};
use crate::server::{auth, moderation, now_ms, within_rate, AppState};
use std::net::IpAddr;
use std::time::Instant;

/// The session a request came with (the hash of its token), as the actions here need it.
pub struct Asker<'a> {
    pub user: &'a User,
    /// The hash of the session token of the asking page.
    pub session: &'a str,
    /// The client's address.
    pub address: IpAddr,
}

/// Checks the asker's current password, throttled like a login (per account and
/// address), so that a page left open cannot be used to guess it.
async fn check_password(
    state: &AppState,
    asker: &Asker<'_>,
    password: String,
    field: &'static str,
) -> Result<String, AppError> {
    let attempt = state
        .login_throttle
        .begin(&asker.user.username, asker.address, Instant::now())
        .map_err(|wait| AppError::TooManyAttempts {
            retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
        })?;
    let record = state
        .store
        .login_record(&asker.user.username)
        .await?
        .filter(|r| r.user.id == asker.user.id)
        .ok_or(AppError::Unauthorized)?;
    let hash = record.password_hash.clone();
    if !auth::verify_password(password, Some(record.password_hash)).await? {
        return Err(AppError::invalid(
            field,
            "That is not your current password.",
        ));
    }
    attempt.succeeded(&state.login_throttle);
    Ok(hash)
}

/// Replaces the asker's password; every other session of theirs ends (their tabs close),
/// the asking page stays logged in.
///
/// # Errors
/// [`AppError::Invalid`] on `current_password` (wrong) or `new_password` (the rules,
/// the demo password, the same as before); [`AppError::TooManyAttempts`] after too many
/// wrong ones; [`AppError::Refused`] when it changed meanwhile; the database.
#[tracing::instrument(skip_all, fields(user = %asker.user.id))]
pub async fn change_password(
    state: &AppState,
    asker: &Asker<'_>,
    current: String,
    new: String,
) -> Result<(), AppError> {
    crate::domain::check_chosen_password(&new, "new_password")?;
    auth::not_the_demo_password(&state.settings(), &new, "new_password")?;
    if new == current {
        return Err(AppError::invalid(
            "new_password",
            "Choose a password other than the current one.",
        ));
    }
    let checked = check_password(state, asker, current, "current_password").await?;
    let hash = auth::hash_password(new).await?;
    let replaced = state
        .store
        .replace_password(&asker.user.id, &checked, &hash, Some(asker.session))
        .await?;
    if !replaced {
        return Err(AppError::Refused(
            "Your password was changed meanwhile; try again.".into(),
        ));
    }
    close_other_sessions(state, asker);
    tracing::info!(user = %asker.user.id, "password changed");
    Ok(())
}

/// Closes the open tabs of the asker's sessions other than the asking one.
fn close_other_sessions(state: &AppState, asker: &Asker<'_>) {
    for conn in state.hub.connections_of(&asker.user.id) {
        if conn.session != asker.session {
            conn.close(crate::protocol::CLOSE_SESSION_ENDED, "session ended");
        }
    }
}

/// Changes the name other people see (the rules of sign-up). Everyone who shares a
/// conversation with the asker sees it at once (their lists reload), and the asker's own
/// tabs show it. Rated with the invitations (30 a minute): each change reaches every
/// contact.
///
/// # Errors
/// [`AppError::Invalid`] on `display_name`; [`AppError::RateLimited`]; the database.
#[tracing::instrument(skip_all, fields(user = %me.id))]
pub async fn change_display_name(
    state: &AppState,
    me: &User,
    display_name: &str,
) -> Result<User, AppError> {
    let display_name = display_name.trim();
    check_name(display_name, "Display name", DISPLAY_NAME_MAX_CHARS)
        .map_err(|message| AppError::invalid("display_name", message))?;
    if display_name == me.display_name {
        return Ok(me.clone());
    }
    within_rate(&state.rates.invitations, me.id.as_str(), || {
        "Too many changes at once.".to_string()
    })?;
    let user = state.store.set_display_name(&me.id, display_name).await?;
    for contact in state.store.contacts_of(&me.id).await? {
        state
            .hub
            .publish(&Topic::User(contact), Event::ConversationsChanged);
    }
    state
        .hub
        .publish(&Topic::User(me.id.clone()), Event::AccountChanged);
    tracing::info!(user = %me.id, "display name changed");
    Ok(user)
}

/// The asker's live sessions, the asking one marked `current`.
///
/// # Errors
/// The database.
pub async fn sessions(state: &AppState, asker: &Asker<'_>) -> Result<Vec<SessionInfo>, AppError> {
    let mut list = state.store.sessions_of(&asker.user.id, now_ms()).await?;
    for s in &mut list {
        s.current = s.id == asker.session;
    }
    Ok(list)
}

/// Ends one of the asker's sessions (its tabs close); a session of someone else is "not
/// found", as is one already gone.
///
/// # Errors
/// [`AppError::NotFound`]; the database.
#[tracing::instrument(skip_all, fields(user = %asker.user.id))]
pub async fn log_out_session(
    state: &AppState,
    asker: &Asker<'_>,
    session: &str,
) -> Result<(), AppError> {
    if !state
        .store
        .delete_session_of(&asker.user.id, session)
        .await?
    {
        return Err(AppError::NotFound);
    }
    for conn in state.hub.connections_of_session(session) {
        conn.close(crate::protocol::CLOSE_SESSION_ENDED, "logged out");
    }
    Ok(())
}

/// Ends every session of the asker but the asking one. Returns how many ended.
///
/// # Errors
/// The database.
#[tracing::instrument(skip_all, fields(user = %asker.user.id))]
pub async fn log_out_others(state: &AppState, asker: &Asker<'_>) -> Result<u64, AppError> {
    let ended = state
        .store
        .delete_sessions_of(&asker.user.id, Some(asker.session))
        .await?;
    close_other_sessions(state, asker);
    Ok(ended)
}

/// Deletes the asker's account after checking their password: their messages stay as
/// "Deleted user", everything else of theirs goes, their tabs close, and the people they
/// talked with see the change.
///
/// # Errors
/// [`AppError::Invalid`] on `password`; [`AppError::TooManyAttempts`];
/// [`AppError::Refused`] for the last admin; the database.
#[tracing::instrument(skip_all, fields(user = %asker.user.id))]
pub async fn delete_account(
    state: &AppState,
    asker: &Asker<'_>,
    password: String,
) -> Result<(), AppError> {
    check_password(state, asker, password, "password").await?;
    let contacts = state.store.contacts_of(&asker.user.id).await?;
    state.store.delete_account(&asker.user.id, now_ms()).await?;
    state.blocks.forget(&asker.user.id);
    moderation::sessions_ended(state, &asker.user.id, "account deleted");
    for contact in contacts {
        state
            .hub
            .publish(&Topic::User(contact), Event::ConversationsChanged);
    }
    tracing::info!(user = %asker.user.id, "account deleted");
    Ok(())
}
