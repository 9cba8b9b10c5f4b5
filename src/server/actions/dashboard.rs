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

/// What an admin must know about how this server runs, one sentence each: today, that
/// demo mode is on (the demo password is public) while the server listens on an address
/// other computers reach. Empty when all is well.
///
/// # Errors
/// [`AppError::Forbidden`] for anyone but an admin.
#[tracing::instrument(skip_all, fields(user = %me.id))]
pub async fn warnings(state: &AppState, me: &User) -> Result<Vec<String>, AppError> {
    admin_only(me)?;
    Ok(server_warnings(
        &state.settings(),
        state.leptos_options.site_addr,
    ))
}

/// The warnings of [`warnings`] for a server with `settings` listening on `addr`; also
/// what the server says at start.
pub fn server_warnings(
    settings: &crate::server::config::Settings,
    addr: std::net::SocketAddr,
) -> Vec<String> {
    let mut warnings = Vec::new();
    if settings.demo_mode && !addr.ip().is_loopback() {
        warnings.push(format!(
            "Demo mode is on and Natter listens on {addr}, beyond this machine: anyone who \
             reaches it can log in as admin with the public demo password. Turn demo mode \
             off in Settings, and give the demo accounts new passwords."
        ));
    }
    warnings
}
