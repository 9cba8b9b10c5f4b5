//! Builds the server from its configuration: store, demo data, router, listener.

use super::config::Settings;
use super::store::Store;
use super::{auth, csrf, now_ms, AppState};
use crate::api::auth::DEMO_USERNAMES;
use crate::app::{shell, App};
use crate::model::Role;
use axum::routing::get;
use axum::Router;
use leptos::config::LeptosOptions;
use leptos_axum::{generate_route_list, LeptosRoutes};

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

/// Seeds the demo accounts into a database that has no users yet.
pub async fn seed_demo(store: &Store, settings: &Settings) -> Result<bool, StartError> {
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
    Ok(true)
}

pub async fn build_state(
    leptos_options: LeptosOptions,
    settings: Settings,
) -> Result<AppState, StartError> {
    let store = Store::open(&settings.database_url).await.map_err(|e| {
        StartError(format!(
            "cannot open the database {}: {e}",
            settings.database_url
        ))
    })?;
    if seed_demo(&store, &settings).await? {
        tracing::info!("seeded demo users {}", DEMO_USERNAMES.join(", "));
    }
    let abandoned = super::calls::abandon_stale(&store).await?;
    if abandoned > 0 {
        tracing::info!("ended {abandoned} calls that were live when the server stopped");
    }
    let removed = store.delete_expired_sessions(now_ms()).await?;
    if removed > 0 {
        tracing::info!("removed {removed} expired sessions");
    }
    let settings = with_stored_settings(&store, settings).await?;
    let state = AppState::new(leptos_options, store, settings);
    state.blocks.load(state.store.all_blocks().await?);
    Ok(state)
}

/// The settings of the file and the environment, with what admins changed in the admin
/// area on top. A stored value that is no longer valid is skipped with a warning.
async fn with_stored_settings(store: &Store, settings: Settings) -> Result<Settings, StartError> {
    let mut settings = settings;
    for (key, value) in store.stored_settings().await? {
        match settings.with_changes(&[(&key, &value)]) {
            Ok(changed) => settings = changed,
            Err(e) => tracing::warn!("ignoring the stored setting {key} = {value:?}: {e}"),
        }
    }
    Ok(settings)
}

pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let max_body = state.settings().max_body_bytes;
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/ws", get(super::ws::upgrade))
        .leptos_routes_with_context(&state, routes, || (), {
            let options = state.leptos_options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(axum::middleware::from_fn(csrf::guard))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(max_body))
        .layer(axum::middleware::map_response(
            move |response: axum::response::Response| async move {
                explain_too_large(response, max_body)
            },
        ))
        .with_state(state)
}

/// A body over the limit is answered 413 by the limit layer with plain text; a server
/// function's caller gets it as an error it can show, naming the limit.
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
