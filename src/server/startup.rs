//! Builds the server from its configuration: store, demo data, the request body limit.

use super::config::Settings;
use super::demo::DEMO_USERNAMES;
use super::store::Store;
use super::{auth, now_ms, AppState};
use crate::domain::Role;
use leptos::config::LeptosOptions;

/// Why the server could not start; `main` prints it and exits non-zero.
#[derive(Debug)]
pub struct StartError(pub String);

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<super::store::StoreError> for StartError {
    fn from(e: super::store::StoreError) -> Self {
        StartError(e.to_string())
    }
}

/// Seeds the demo accounts, and their conversations (see `demo`), into a database that
/// has no users yet.
pub async fn seed_demo(store: &dyn Store, settings: &Settings) -> Result<bool, StartError> {
    if !settings.demo_mode || store.user_count().await? > 0 {
        return Ok(false);
    }
    let hash = auth::hash_password(settings.demo_password.clone())
        .await
        .map_err(|e| StartError(e.to_string()))?;
    for username in DEMO_USERNAMES {
        let mut display = username.to_string();
        if let Some(first) = display.get_mut(0..1) {
            first.make_ascii_uppercase();
        }
        let role = if username == "admin" {
            Role::Admin
        } else {
            Role::User
        };
        store
            .create_user(username, &display, &hash, role, None, now_ms())
            .await?;
    }
    super::demo::seed_conversations(store, settings, now_ms()).await?;
    Ok(true)
}

pub async fn build_state(
    leptos_options: LeptosOptions,
    settings: Settings,
) -> Result<AppState, StartError> {
    let store = super::store::open(&settings.database_url)
        .await
        .map_err(|e| {
            StartError(format!(
                "cannot open the database {}: {e}",
                settings.database_url
            ))
        })?;
    if seed_demo(&*store, &settings).await? {
        tracing::info!("seeded demo users {}", DEMO_USERNAMES.join(", "));
    }
    let abandoned = super::calls::abandon_stale(&*store).await?;
    if abandoned > 0 {
        tracing::info!("ended {abandoned} calls that were live when the server stopped");
    }
    let removed = store.delete_expired_sessions(now_ms()).await?;
    if removed > 0 {
        tracing::info!("removed {removed} expired sessions");
    }
    let settings = with_stored_settings(&*store, settings).await?;
    let retired = super::demo::end_demo_password_sessions(&*store, &settings)
        .await
        .map_err(|e| StartError(e.to_string()))?;
    for user in retired {
        tracing::warn!(
            "the account {name} still has the public demo password, so it cannot log in while \
             demo mode is off (its sessions have ended); give it a new one with \
             `natter admin reset-password {name}`",
            name = user.username
        );
    }
    let state = AppState::new(leptos_options, store, settings);
    state.blocks.load(state.store.all_blocks().await?);
    Ok(state)
}

/// The settings of the file and the environment, with what admins changed in the admin
/// area on top. A stored value that is no longer valid is skipped with a warning.
async fn with_stored_settings(
    store: &dyn Store,
    settings: Settings,
) -> Result<Settings, StartError> {
    let mut settings = settings;
    for (key, value) in store.stored_settings().await? {
        match settings.with_changes(&[(&key, &value)]) {
            Ok(changed) => settings = changed,
            Err(e) => tracing::warn!("ignoring the stored setting {key} = {value:?}: {e}"),
        }
    }
    Ok(settings)
}

/// Largest UTF-8 encoding of one character (RFC 3629), in bytes.
const UTF8_MAX_BYTES: usize = 4;
/// A byte of a server function's form body may be percent-encoded as three (RFC 3986).
const PERCENT_ENCODED: usize = 3;
/// Room for the other fields of a send (ids, names) beside the message body, in bytes.
const FORM_OVERHEAD_BYTES: usize = 1024;

/// The largest request body accepted now, in bytes: `max_body_bytes`, or more when the
/// longest message allowed needs more (a message of `max_message_chars` characters, each
/// as large as UTF-8 and percent-encoding can make it), so that every message the limits
/// promise can be sent. It follows live changes of `max_message_chars`.
pub fn body_limit(settings: &Settings) -> usize {
    let longest_message = settings.max_message_chars * UTF8_MAX_BYTES * PERCENT_ENCODED;
    settings
        .max_body_bytes
        .max(longest_message + FORM_OVERHEAD_BYTES)
}

/// Refuses request bodies over [`body_limit`] with 413, as an error a server function's
/// caller can show.
pub(crate) async fn limit_body(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let limit = body_limit(&state.settings());
    let declared = request
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        let refused = http::StatusCode::PAYLOAD_TOO_LARGE.into_response();
        return explain_too_large(refused, limit);
    }
    // A body without a length (or lying about it) stops being read at the limit.
    let request =
        request.map(|body| axum::body::Body::new(http_body_util::Limited::new(body, limit)));
    explain_too_large(next.run(request).await, limit)
}

/// A body over the limit is answered 413 with plain text; a server function's caller gets
/// it as an error it can show, naming the limit.
fn explain_too_large(
    response: axum::response::Response,
    limit_bytes: usize,
) -> axum::response::Response {
    use axum::http::{header, StatusCode};
    use axum::response::IntoResponse;
    use leptos::server_fn::error::FromServerFnError;
    if response.status() != StatusCode::PAYLOAD_TOO_LARGE {
        return response;
    }
    (
        StatusCode::PAYLOAD_TOO_LARGE,
        [(header::CONTENT_TYPE, "application/json")],
        crate::error::AppError::TooLarge { limit_bytes }.ser(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::store::tests::fresh_store;
    use axum::body::Body;
    use tower::ServiceExt;

    /// A send of `chars` copies of 😀 as the browser encodes it (a URL-encoded form).
    fn send_of(chars: usize) -> http::Request<Body> {
        let body = format!(
            "conversation_id=c&client_msg_id=m&body={}",
            "%F0%9F%98%80".repeat(chars)
        );
        http::Request::post("/api/send_message")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("content-length", body.len())
            .body(Body::from(body))
            .unwrap()
    }

    #[tokio::test]
    async fn every_message_the_character_limit_allows_fits_the_body_limit() {
        let (store, _dir) = fresh_store().await;
        let settings = Settings::load("t", None, &|_| None).unwrap();
        let options = LeptosOptions::builder().output_name("natter").build();
        let state = AppState::new(options, store, settings);
        state
            .config
            .change(
                &[("max_message_chars", "16000")],
                |s| async move { Ok::<_, crate::server::config::ConfigError>(s) },
                |_, _| {},
            )
            .await
            .unwrap();
        let app = axum::Router::new()
            .route(
                "/api/send_message",
                axum::routing::post(|| async { "sent" }),
            )
            .layer(axum::middleware::from_fn_with_state(
                state.clone(),
                limit_body,
            ));
        let answer = app.clone().oneshot(send_of(16_000)).await.unwrap();
        assert_eq!(
            answer.status(),
            200,
            "16000 emoji, the longest message allowed"
        );
        let limit = body_limit(&state.settings());
        let answer = app.oneshot(send_of(limit / 12 + 1)).await.unwrap();
        assert_eq!(answer.status(), 413);
    }
}
