//! The HTTP surface of the server: the pages (rendered by Leptos), the server functions
//! under `/api/`, the realtime channel at `/ws`, and `/healthz` and `/readyz` for
//! operators, behind the Host check and the client's address (`server::proxy`), the
//! Origin check (`server::csrf`) and the request body limit (`server::startup::body_limit`),
//! with the security headers (`server::headers`) on every response.
//!
//! It sits above both the app and the server, so neither of them names the other.

use crate::app::{shell, App};
use crate::server::{csrf, headers, health, proxy, realtime, startup, AppState};
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
        .route("/healthz", get(health::alive))
        .route("/readyz", get(health::ready))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::config::Settings;
    use crate::server::store::tests::fresh_store;
    use tower::ServiceExt;

    async fn app() -> (Router, tempfile::TempDir) {
        let (store, dir) = fresh_store().await;
        let settings = Settings::load("t", None, &|_| None).unwrap();
        let options = leptos::config::LeptosOptions::builder()
            .output_name("natter")
            .build();
        (router(AppState::new(options, store, settings)), dir)
    }

    /// The status and body of `GET path`.
    async fn text_of(app: Router, path: &str) -> (u16, String) {
        let request = http::Request::get(path)
            .body(axum::body::Body::empty())
            .unwrap();
        let answer = app.oneshot(request).await.unwrap();
        let status = answer.status().as_u16();
        let body = axum::body::to_bytes(answer.into_body(), 1 << 16)
            .await
            .unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn operators_ask_whether_the_server_is_alive_and_ready() {
        let (app, _dir) = app().await;
        assert_eq!(text_of(app.clone(), "/healthz").await, (200, "ok".into()));
        assert_eq!(text_of(app, "/readyz").await, (200, "ready".into()));
    }
}
