//! What the product does, one module per noun. Each action takes the state and the person
//! asking, and does one thing end to end: **validate** (the input, the asker's rights, their
//! rate) -> **write** (through the store) -> **publish** (on the hub, only after the write
//! has committed). Server functions (`src/api/`) call them after finding who asks, the
//! WebSocket frame handler (`super::realtime::handler`) calls them for the frames that do
//! the same thing, and tests call them directly.
//!
//! | module | what |
//! |---|---|
//! | [`messages`] | send (rate, ordering, writer or broadcast-only), history pages, read marks |
//! | [`conversations`] | the list, people search, direct conversations, groups and their members, mute |
//! | [`typing`] | a connection says its user is (or stopped) typing |
//! | [`presence`] | tabs open, close, hide and show; who hears of it, and when |
//! | [`calls`] | start, answer, end, signal; tabs opening and closing during calls |
//! | [`blocks`] | personal blocks |
//! | [`notifications`] | the bell: list, mark read, mark everything read |
//! | [`own_account`] | a person's own password, display name, sessions, deleting the account |
//! | [`accounts`] | the admin's user list, account blocks, roles, temporary passwords |
//! | [`settings`] | the admin's live settings |
//! | [`dashboard`] | the admin's figures, and what the admin must know (demo mode exposed) |
//!
//! Actions hold no database types: they speak to [`super::store::Store`], and every
//! [`super::store::StoreError`] becomes an [`AppError`](crate::error::AppError) by `?`.

pub mod accounts;
pub mod blocks;
pub mod calls;
pub mod conversations;
pub mod dashboard;
pub mod messages;
pub mod notifications;
pub mod own_account;
pub mod presence;
pub mod settings;
pub mod typing;

use crate::domain::{Role, User};
use crate::error::AppError;
use crate::server::INVITATIONS_PER_MINUTE;

/// Admin-only actions start here: the role is the one read with the session, so a demoted
/// admin is refused at once.
///
/// # Errors
/// [`AppError::Forbidden`] for anyone but an admin.
pub fn admin_only(me: &User) -> Result<(), AppError> {
    if me.role == Role::Admin {
        Ok(())
    } else {
        tracing::warn!(user = %me.id, "a non-admin called an admin function");
        Err(AppError::Forbidden)
    }
}

/// Takes one of the asker's invitation tokens ([`INVITATIONS_PER_MINUTE`]): opening
/// conversations, creating groups, adding members, blocking and unblocking all put something
/// in other people's lists. `doing` names it: "starting conversations".
///
/// # Errors
/// [`AppError::RateLimited`] with how many seconds to wait.
fn within_invitation_rate(
    state: &crate::server::AppState,
    me: &User,
    doing: &str,
) -> Result<(), AppError> {
    crate::server::within_rate(&state.rates.invitations, me.id.as_str(), || {
        format!(
            "You are {doing} too fast (at most {} a minute).",
            INVITATIONS_PER_MINUTE
        )
    })
}
