//! The admin area. Every action these call starts with `actions::admin_only`: the role is
//! read from the database with the session, so a demoted admin is refused at once, and
//! hiding the links in the page is never the only guard.

use crate::domain::admin::{Dashboard, SettingView, UserPage};
use crate::domain::UserId;
use crate::error::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use {
    super::chat::signed_in,
    super::support::answer,
    crate::server::actions::{accounts, dashboard, settings},
};

/// The server at a glance; afterwards the dashboard is pushed over the WebSocket.
#[server(endpoint = "admin/dashboard")]
#[cfg_attr(
    feature = "ssr",
    tracing::instrument(name = "admin_dashboard", skip_all)
)]
pub async fn admin_dashboard() -> Result<Dashboard, AppError> {
    answer(
        async move {
            let (state, me) = signed_in().await?;
            dashboard::show(&state, &me).await
        }
        .await,
    )
}

/// What an admin must know about how this server runs (demo mode on a public address),
/// one sentence each; empty when all is well.
#[server(endpoint = "admin/warnings")]
#[cfg_attr(
    feature = "ssr",
    tracing::instrument(name = "admin_warnings", skip_all)
)]
pub async fn admin_warnings() -> Result<Vec<String>, AppError> {
    answer(
        async move {
            let (state, me) = signed_in().await?;
            dashboard::warnings(&state, &me).await
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
            let (state, me) = signed_in().await?;
            accounts::users(&state, &me, &query, page).await
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
pub async fn admin_block_user(user_id: UserId, blocked: bool) -> Result<(), AppError> {
    answer(
        async move {
            let (state, me) = signed_in().await?;
            accounts::set_blocked(&state, &me, &user_id, blocked).await
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
pub async fn admin_set_admin(user_id: UserId, admin: bool) -> Result<(), AppError> {
    answer(
        async move {
            let (state, me) = signed_in().await?;
            accounts::set_admin(&state, &me, &user_id, admin).await
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
    user_id: UserId,
    password: String,
) -> Result<(), AppError> {
    answer(
        async move {
            let (state, me) = signed_in().await?;
            accounts::set_temporary_password(&state, &me, &user_id, password).await
        }
        .await,
    )
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
            let (state, me) = signed_in().await?;
            settings::list(&state, &me).await
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
            let (state, me) = signed_in().await?;
            settings::update(&state, &me, &key, &value).await
        }
        .await,
    )
}
