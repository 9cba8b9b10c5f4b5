//! The HTTP surface of the server: the pages (rendered by Leptos), the server functions
//! under `/api/`, the realtime channel at `/ws` and `/healthz`, behind the Host check and
//! the client's address (`server::proxy`), the Origin check (`server::csrf`) and the
//! request body limit (`server::startup::body_limit`), with the security headers
//! (`server::headers`) on every response.
//!
//! It sits above both the app and the server, so neither of them names the other.

use crate::app::{shell, App};
use crate::server::{csrf, headers, proxy, realtime, startup, AppState};
use axum::routing::get;
use axum::Router;
use leptos::config::LeptosOptions;
use leptos::prelude::IntoView;
use leptos_axum::{generate_route_list, LeptosRoutes};

/// A page: the app in its shell, with the Content-Security-Policy of its nonce.
fn page(options: LeptosOptions) -> impl IntoView {
    headers::set_page_policy(&options);
    shell(options)
}

/// The whole router, with `state` for every handler.
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let settings = state.settings();
    let router = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/ws", get(realtime::upgrade))
        .leptos_routes_with_context(&state, routes, || (), {
            let options = state.leptos_options.clone();
            move || page(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(page))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            csrf::guard,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            startup::limit_body,
        ))
        // Outermost: a request for another host is refused before anything reads it.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            proxy::guard,
        ))
        .with_state(state);
    headers::with_security_headers(router, &settings)
}
