//! Accounts: sign up, log in, log out, who am I.

use crate::domain::{DemoAccountList, User};
use crate::error::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use {
    super::support::{answer, answer_account, client_ip, request_headers, set_cookie},
    crate::domain::{check_login_input, normalize_username, NewAccount, Role},
    crate::server::{auth as session, AppState},
};

/// What someone who tries to sign up is told while registration is closed.
pub const REGISTRATION_CLOSED: &str =
    "This server is not taking new accounts. Ask its admin to open registration.";

#[server(endpoint = "signup")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "signup", skip_all))]
pub async fn signup(
    username: String,
    display_name: String,
    password: String,
) -> Result<User, AppError> {
    answer_account(
        async move {
            let state = AppState::current()?;
            if !state.settings().registration_open {
                return Err(AppError::Refused(REGISTRATION_CLOSED.into()));
            }
            let taken = || AppError::invalid("username", "That username is taken.");
            let account = match NewAccount::parse(&username, &display_name, &password) {
                Ok(a) => a,
                Err(AppError::Invalid(mut errors)) => {
                    // Say that the name is taken together with the other problems.
                    if errors.iter().all(|e| e.field != "username")
                        && state.store.login_record(&username).await?.is_some()
                    {
                        errors.extend(match taken() {
                            AppError::Invalid(e) => e,
                            _ => Vec::new(),
                        });
                    }
                    return Err(AppError::Invalid(errors));
                }
                Err(other) => return Err(other),
            };
            // Reserved before the hash: sign-ups sent together cannot all pass.
            let addr = client_ip().await;
            let network = crate::server::throttle::network_of(addr);
            crate::server::within_rate(&state.rates.signups, &network, || {
                format!(
                    "Too many new accounts from your address (at most {} an hour).",
                    state.settings().signups_per_hour
                )
            })?;
            session::not_the_demo_password(&state.settings(), account.password(), "password")?;
            let headers = request_headers();
            let hash = session::hash_password(account.password().to_string()).await?;
            let (token, token_hash) = session::new_token();
            let (created_at, expires_at) = session::session_times(&state.settings());
            let ua = session::user_agent(&headers);
            let user = state
                .store
                .create_user(
                    account.username(),
                    account.display_name(),
                    &hash,
                    Role::User,
                    Some(crate::server::store::NewSession {
                        token_hash: &token_hash,
                        created_at,
                        expires_at,
                        user_agent: ua.as_deref(),
                        address: Some(&addr.to_string()),
                    }),
                    created_at,
                )
                .await?;
            set_cookie(session::session_cookie(
                Some(&token),
                (expires_at - created_at) / 1000,
                &state.settings(),
                &headers,
            ));
            tracing::info!(user = %user.id, "account created");
            Ok(user)
        }
        .await,
    )
}

/// The account behind a username and password, checked as a login checks it: throttled
/// per account and address, one answer for a wrong name or password, refused if blocked.
#[cfg(feature = "ssr")]
async fn checked_login(
    state: &AppState,
    username: &str,
    password: String,
) -> Result<crate::server::store::LoginRecord, AppError> {
    use crate::server::metrics::{self, LoginFailure};
    use std::time::Instant;
    check_login_input(username, &password)?;
    let addr = client_ip().await;
    let account = normalize_username(username);
    // Counted as a failure from here until the password is found right.
    let attempt = match state.login_throttle.begin(&account, addr, Instant::now()) {
        Ok(attempt) => attempt,
        Err(wait) => {
            return Err(AppError::TooManyAttempts {
                retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
            })
        }
    };
    let record = state.store.login_record(username).await?;
    let stored = record.as_ref().map(|r| r.password_hash.clone());
    let demo_password = session::demo_password_refused(&state.settings(), &password);
    let ok = session::verify_password(password, stored).await?;
    let Some(record) = record.filter(|_| ok) else {
        metrics::login_failed(LoginFailure::WrongCredentials);
        return Err(AppError::WrongCredentials);
    };
    if record.blocked {
        metrics::login_failed(LoginFailure::AccountBlocked);
        return Err(AppError::AccountBlocked);
    }
    if demo_password {
        return Err(AppError::Refused(format!(
            "This account still has the public demo password, and demo mode is off. Ask an \
             admin for a temporary password (on the server: natter admin reset-password {}).",
            record.user.username
        )));
    }
    attempt.succeeded(&state.login_throttle);
    Ok(record)
}

/// Starts a session for `user` in this browser: the cookie goes with the answer.
#[cfg(feature = "ssr")]
async fn log_in(state: &AppState, user: &crate::domain::UserId) -> Result<(), AppError> {
    let cookie = session::start_session(
        &*state.store,
        &state.settings(),
        user,
        &request_headers(),
        client_ip().await,
    )
    .await?;
    set_cookie(cookie);
    Ok(())
}

#[server(endpoint = "login")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "login", skip_all))]
pub async fn login(username: String, password: String) -> Result<User, AppError> {
    answer_account(
        async move {
            let state = AppState::current()?;
            let record = checked_login(&state, &username, password).await?;
            if record.must_change_password {
                return Err(AppError::PasswordChangeRequired);
            }
            log_in(&state, &record.user.id).await?;
            Ok(record.user)
        }
        .await,
    )
}

/// Logs in with a temporary password from an admin, replacing it with a new one.
#[server(endpoint = "change_temporary_password")]
#[cfg_attr(
    feature = "ssr",
    tracing::instrument(name = "change_temporary_password", skip_all)
)]
pub async fn change_temporary_password(
    username: String,
    password: String,
    new_password: String,
) -> Result<User, AppError> {
    answer_account(
        async move {
            check_login_input(&username, &password)?;
            crate::domain::check_chosen_password(&new_password, "new_password")?;
            if new_password == password {
                return Err(AppError::invalid(
                    "new_password",
                    "Choose a password other than the temporary one.",
                ));
            }
            let state = AppState::current()?;
            session::not_the_demo_password(&state.settings(), &new_password, "new_password")?;
            let record = checked_login(&state, &username, password).await?;
            if !record.must_change_password {
                return Err(AppError::Refused(
                    "This password is not a temporary one: log in as usual.".into(),
                ));
            }
            let hash = session::hash_password(new_password).await?;
            let replaced = state
                .store
                .replace_password(&record.user.id, &record.password_hash, &hash, None)
                .await?;
            if !replaced {
                return Err(AppError::Refused(
                    "The password was changed meanwhile; log in again.".into(),
                ));
            }
            log_in(&state, &record.user.id).await?;
            tracing::info!(user = %record.user.id, "temporary password replaced");
            Ok(record.user)
        }
        .await,
    )
}

#[server(endpoint = "logout")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "logout", skip_all))]
pub async fn logout() -> Result<(), AppError> {
    answer_account(
        async move {
            let state = AppState::current()?;
            let headers = request_headers();
            if let Some(token) = session::session_token(&headers, &state.settings()) {
                let hash = session::token_hash(&token);
                state.store.delete_session(&hash).await?;
                // The tabs of this session stop at once; the user's other sessions stay.
                for conn in state.hub.connections_of_session(&hash) {
                    conn.close(crate::protocol::CLOSE_SESSION_ENDED, "logged out");
                }
            }
            set_cookie(session::session_cookie(
                None,
                0,
                &state.settings(),
                &headers,
            ));
            Ok(())
        }
        .await,
    )
}

/// The signed-in user, or `None` for a visitor.
#[server(endpoint = "current_user")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "current_user", skip_all))]
pub async fn current_user() -> Result<Option<User>, AppError> {
    answer_account(
        async move {
            let state = AppState::current()?;
            session::user_from_headers(&*state.store, &state.settings(), &request_headers()).await
        }
        .await,
    )
}

/// Whether this server takes new accounts now.
#[server(endpoint = "registration_open")]
#[cfg_attr(
    feature = "ssr",
    tracing::instrument(name = "registration_open", skip_all)
)]
pub async fn registration_open() -> Result<bool, AppError> {
    answer(Ok(AppState::current()?.settings().registration_open))
}

/// The demo accounts and their password, in demo mode only.
#[server(endpoint = "demo_accounts")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "demo_accounts", skip_all))]
pub async fn demo_accounts() -> Result<Option<DemoAccountList>, AppError> {
    answer_account(
        async move {
            let state = AppState::current()?;
            if !state.settings().demo_mode {
                return Ok(None);
            }
            let users = state
                .store
                .users_by_username(&crate::server::demo::DEMO_USERNAMES)
                .await?;
            Ok(Some(DemoAccountList {
                password: state.settings().demo_password.clone(),
                users: users
                    .into_iter()
                    .map(|u| crate::domain::DemoUser {
                        username: u.username,
                        display_name: u.display_name,
                    })
                    .collect(),
            }))
        }
        .await,
    )
}
