//! A person's own account, from Settings: password, display name, sessions, deletion.

use crate::domain::{SessionInfo, User};
use crate::error::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use {
    super::support::{answer_account, client_ip, request_headers, set_cookie},
    crate::server::actions::own_account::{self, Asker},
    crate::server::{auth, AppState},
};

/// Who asks: the signed-in user, the session of this page (its token's hash) and the
/// client's address.
#[cfg(feature = "ssr")]
struct Asking {
    state: AppState,
    user: User,
    session: String,
    address: std::net::IpAddr,
}

#[cfg(feature = "ssr")]
impl Asking {
    async fn now() -> Result<Asking, AppError> {
        let state = AppState::current()?;
        let found =
            auth::session_from_headers(&*state.store, &state.settings(), &request_headers())
                .await?;
        let (user, session) = found.ok_or(AppError::Unauthorized)?;
        Ok(Asking {
            state,
            user,
            session,
            address: client_ip().await,
        })
    }

    fn asker(&self) -> Asker<'_> {
        Asker {
            user: &self.user,
            session: &self.session,
            address: self.address,
        }
    }
}

/// Replaces the asker's password (checking the current one); their other sessions end.
#[server(endpoint = "account/password")]
#[cfg_attr(
    feature = "ssr",
    tracing::instrument(name = "change_password", skip_all)
)]
pub async fn change_password(
    current_password: String,
    new_password: String,
) -> Result<(), AppError> {
    answer_account(
        async move {
            let a = Asking::now().await?;
            own_account::change_password(&a.state, &a.asker(), current_password, new_password).await
        }
        .await,
    )
}

/// Changes the name other people see; returns the account as it is now.
#[server(endpoint = "account/display_name")]
#[cfg_attr(
    feature = "ssr",
    tracing::instrument(name = "change_display_name", skip_all)
)]
pub async fn change_display_name(display_name: String) -> Result<User, AppError> {
    answer_account(
        async move {
            let a = Asking::now().await?;
            own_account::change_display_name(&a.state, &a.user, &display_name).await
        }
        .await,
    )
}

/// The asker's live sessions, the asking one marked `current`.
#[server(endpoint = "account/sessions")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "my_sessions", skip_all))]
pub async fn my_sessions() -> Result<Vec<SessionInfo>, AppError> {
    answer_account(
        async move {
            let a = Asking::now().await?;
            own_account::sessions(&a.state, &a.asker()).await
        }
        .await,
    )
}

/// Ends one of the asker's sessions by its id.
#[server(endpoint = "account/log_out_session")]
#[cfg_attr(
    feature = "ssr",
    tracing::instrument(name = "log_out_session", skip_all)
)]
pub async fn log_out_session(id: String) -> Result<(), AppError> {
    answer_account(
        async move {
            let a = Asking::now().await?;
            own_account::log_out_session(&a.state, &a.asker(), &id).await
        }
        .await,
    )
}

/// Ends every session of the asker but this one; returns how many ended.
#[server(endpoint = "account/log_out_others")]
#[cfg_attr(
    feature = "ssr",
    tracing::instrument(name = "log_out_others", skip_all)
)]
pub async fn log_out_other_sessions() -> Result<u64, AppError> {
    answer_account(
        async move {
            let a = Asking::now().await?;
            own_account::log_out_others(&a.state, &a.asker()).await
        }
        .await,
    )
}

/// Deletes the asker's account (checking their password) and clears the session cookie.
#[server(endpoint = "account/delete")]
#[cfg_attr(
    feature = "ssr",
    tracing::instrument(name = "delete_account", skip_all)
)]
pub async fn delete_account(password: String) -> Result<(), AppError> {
    answer_account(
        async move {
            let a = Asking::now().await?;
            own_account::delete_account(&a.state, &a.asker(), password).await?;
            set_cookie(auth::session_cookie(
                None,
                0,
                &a.state.settings(),
                &request_headers(),
            ));
            Ok(())
        }
        .await,
    )
}
