//! The HTTP surface of the server: the pages (rendered by Leptos), the server functions
//! under `/api/`, the realtime channel at `/ws` and `/healthz`, behind the Origin check
//! (`server::csrf`) and the request body limit (`server::startup::body_limit`).
//!
//! It sits above both the app and the server, so neither of them names the other.

use crate::app::{shell, App};
use crate::server::{csrf, realtime, startup, AppState};
use axum::routing::get;
use axum::Router;
use leptos_axum::{generate_route_list, LeptosRoutes};

/// The whole router, with `state` for every handler.
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/ws", get(realtime::upgrade))
        .leptos_routes_with_context(&state, routes, || (), {
            let options = state.leptos_options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(axum::middleware::from_fn(csrf::guard))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            startup::limit_body,
        ))
        .with_state(state)
}
