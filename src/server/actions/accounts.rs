//! The admin's side of accounts: the user list, blocking an account, the admin role and
//! temporary passwords. Every action here starts with [`admin_only`].

use super::admin_only;
use crate::domain::admin::{UserPage, USERS_PER_PAGE};
use crate::domain::PresenceState;
use crate::domain::{Role, User, UserId};
use crate::error::AppError;
use crate::protocol::{Event, Topic, BLOCKED_REASON};
use crate::server::{auth, moderation, now_ms, AppState};

/// Page `page` (from 0, clamped to a million) of the users whose username or display name
/// contains `query` (cut to 64 characters), [`USERS_PER_PAGE`] a page, each marked online
/// or not.
///
/// # Errors
/// [`AppError::Forbidden`] for anyone but an admin; the database.
#[tracing::instrument(skip_all, fields(user = %me.id, page))]
pub async fn users(
    state: &AppState,
    me: &User,
    query: &str,
    page: i64,
) -> Result<UserPage, AppError> {
    admin_only(me)?;
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

/// Blocks an account (its sessions end and its open tabs close at once, with 4001 and
/// `account blocked`) or unblocks it.
///
/// # Errors
/// [`AppError::Forbidden`] for anyone but an admin; a refusal from the store (an admin
/// blocking themselves, say); [`AppError::NotFound`] for nobody.
#[tracing::instrument(skip_all, fields(user = %me.id, account = %user_id, blocked))]
pub async fn set_blocked(
    state: &AppState,
    me: &User,
    user_id: &UserId,
    blocked: bool,
) -> Result<(), AppError> {
    admin_only(me)?;
    state
        .store
        .set_account_blocked(&me.id, user_id, blocked, now_ms())
        .await?;
    if blocked {
        moderation::sessions_ended(state, user_id, BLOCKED_REASON);
    }
    tracing::info!(admin = %me.id, user = %user_id, blocked, "account block changed");
    Ok(())
}

/// Makes an account an admin or takes the role away (never from the last admin). A
/// demoted admin's open dashboards stop receiving at once; the account's tabs hear
/// `AccountChanged`.
///
/// # Errors
/// [`AppError::Forbidden`] for anyone but an admin; a refusal from the store (the last
/// admin); [`AppError::NotFound`] for nobody.
#[tracing::instrument(skip_all, fields(user = %me.id, account = %user_id, admin))]
pub async fn set_admin(
    state: &AppState,
    me: &User,
    user_id: &UserId,
    admin: bool,
) -> Result<(), AppError> {
    admin_only(me)?;
    let role = if admin { Role::Admin } else { Role::User };
    state.store.set_role(user_id, role).await?;
    if !admin {
        state.hub.unsubscribe_user(&Topic::Admin, user_id);
    }
    state
        .hub
        .publish(&Topic::User(user_id.clone()), Event::AccountChanged);
    tracing::info!(admin = %me.id, user = %user_id, role = role.as_str(), "role changed");
    Ok(())
}

/// Gives an account a temporary password: its sessions end, and at the next login its
/// owner must choose a new password before getting in.
///
/// # Errors
/// [`AppError::Forbidden`] for anyone but an admin; [`AppError::Invalid`] for a password
/// the rules refuse; [`AppError::NotFound`] for nobody.
#[tracing::instrument(skip_all, fields(user = %me.id, account = %user_id))]
pub async fn set_temporary_password(
    state: &AppState,
    me: &User,
    user_id: &UserId,
    password: String,
) -> Result<(), AppError> {
    admin_only(me)?;
    crate::domain::check_new_password(&password)?;
    auth::not_the_demo_password(&state.settings(), &password, "password")?;
    let hash = auth::hash_password(password).await?;
    state.store.set_temporary_password(user_id, &hash).await?;
    moderation::sessions_ended(state, user_id, "session ended");
    tracing::info!(admin = %me.id, user = %user_id, "temporary password set");
    Ok(())
}
