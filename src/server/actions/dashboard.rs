//! The admin's dashboard: the server at a glance. While any admin has it open,
//! [`crate::server::moderation::push_dashboard`] pushes it on `admin:dashboard` when its
//! figures change.

use super::admin_only;
use crate::domain::admin::Dashboard;
use crate::domain::User;
use crate::error::AppError;
use crate::server::{moderation, AppState};

/// The figures as they are now (people online and open connections from this process).
///
/// # Errors
/// [`AppError::Forbidden`] for anyone but an admin; the database.
#[tracing::instrument(skip_all, fields(user = %me.id))]
pub async fn show(state: &AppState, me: &User) -> Result<Dashboard, AppError> {
    admin_only(me)?;
    Ok(moderation::dashboard(&*state.store, &state.hub, &state.presence).await?)
}
