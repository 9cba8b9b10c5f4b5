//! The HTTP surface of the server: the pages (rendered by Leptos), the server functions
//! under `/api/`, the realtime channel at `/ws`, and `/healthz` and `/readyz` for
//! operators, behind the Host check and the client's address (`server::proxy`), the
//! Origin check (`server::csrf`) and the request body limit (`server::startup::body_limit`),
//! with the security headers (`server::headers`) on every response and one access-log line
//! per request ([`access_log`]). `/metrics` is not here: it
//! has a listener of its own (`server::metrics::serve`).
//!
//! It sits above both the app and the server, so neither of them names the other.

use crate::app::{shell, App};
use crate::server::{csrf, headers, health, proxy, realtime, startup, AppState};
use axum::http::{HeaderName, Request, Response};
use axum::routing::get;
use axum::Router;
use leptos_axum::{generate_route_list, LeptosRoutes};
use std::time::Duration;
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

/// The header that carries a request's id: the one the proxy in front sent, or a new
/// UUID. The response carries it back, and the access log and every line logged while
/// the request runs name it.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The target of the access log's lines (`RUST_LOG=info,natter::access=warn` drops them).
const ACCESS_LOG: &str = "natter::access";

/// The whole router, with `state` for every handler.
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let settings = state.settings();
    let router = Router::new()
        .route("/healthz", get(health::alive))
        .route("/readyz", get(health::ready))
        .route("/ws", get(realtime::upgrade))
        .leptos_routes_with_context(&state, routes, headers::use_page_nonce, {
            let options = state.leptos_options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(headers::use_page_nonce, shell))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            csrf::guard,
        ))
        .layer(axum::middleware::from_fn(headers::page_policy_layer))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            startup::limit_body,
        ))
        // A request for another host is refused before anything reads it.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            proxy::guard,
        ))
        // Outermost, so that refusals by the layers above are logged too.
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(access_log::<axum::body::Body>)
                        .on_request(())
                        .on_response(response_logged)
                        .on_body_chunk(())
                        .on_eos(())
                        .on_failure(()),
                )
                .layer(PropagateRequestIdLayer::new(REQUEST_ID)),
        )
        .with_state(state);
    headers::with_security_headers(router, &settings)
}

/// The span of one request, which the access log's line and every line logged while the
/// request runs carry: the method, the path (never the query string, which can hold ids,
/// nor the body or cookies) and the request id.
fn access_log<B>(request: &Request<B>) -> tracing::Span {
    let request_id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    tracing::info_span!(
        target: ACCESS_LOG,
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        request_id = %request_id,
    )
}

/// The access log's line, once the response's head is ready: its status and the time
/// taken, in milliseconds.
fn response_logged<B>(response: &Response<B>, latency: Duration, _span: &tracing::Span) {
    tracing::info!(
        target: ACCESS_LOG,
        status = response.status().as_u16(),
        latency_ms = latency.as_micros() as f64 / 1000.0,
        "answered"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::config::Settings;
    use crate::server::store::tests::fresh_store;
    use std::sync::{Arc, Mutex};
    use tower::ServiceExt;

    async fn app() -> (Router, tempfile::TempDir) {
        let (store, dir) = fresh_store().await;
        let settings = Settings::load("t", None, &|_| None).unwrap();
        let options = leptos::config::LeptosOptions::builder()
            .output_name("natter")
            .build();
        (router(AppState::new(options, store, settings)), dir)
    }

    fn get(path: &str, request_id: Option<&str>) -> Request<axum::body::Body> {
        let mut request = Request::get(path);
        if let Some(id) = request_id {
            request = request.header(&REQUEST_ID, id);
        }
        request.body(axum::body::Body::empty()).unwrap()
    }

    /// The status and body of `GET path`.
    async fn text_of(app: Router, path: &str) -> (u16, String) {
        let answer = app.oneshot(get(path, None)).await.unwrap();
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
        assert_eq!(text_of(app.clone(), "/readyz").await, (200, "ready".into()));
        // Metrics have a listener of their own, never the site's.
        assert_eq!(text_of(app, "/metrics").await.0, 404);
    }

    #[tokio::test]
    async fn every_answer_carries_a_request_id_and_keeps_the_one_given() {
        let (app, _dir) = app().await;
        let made = app.clone().oneshot(get("/healthz", None)).await.unwrap();
        let id = made.headers()[&REQUEST_ID].to_str().unwrap();
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
        let other = app.clone().oneshot(get("/healthz", None)).await.unwrap();
        assert_ne!(other.headers()[&REQUEST_ID], made.headers()[&REQUEST_ID]);
        let given = app.oneshot(get("/healthz", Some("edge-42"))).await.unwrap();
        assert_eq!(given.headers()[&REQUEST_ID], "edge-42");
    }

    /// What the log subscriber of a test writes, as text.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn each_request_logs_one_line_with_its_method_path_status_time_and_id() {
        let (app, _dir) = app().await;
        let log = Captured::default();
        let writer = log.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_env_filter("natter::access=info")
            .with_writer(move || writer.clone())
            .finish();
        // The test runs on one thread, where this subscriber is the default until dropped.
        let _logging = tracing::subscriber::set_default(subscriber);
        let answer = app
            .clone()
            .oneshot(get("/healthz?token=secret", Some("edge-42")))
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
        let refused = Request::post("/api/login")
            .header("origin", "https://elsewhere.example")
            .header("cookie", "natter_session=secret")
            .body(axum::body::Body::from("password=secret"))
            .unwrap();
        assert_eq!(app.oneshot(refused).await.unwrap().status(), 403);
        let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        for (line, method, path, status) in [
            (lines[0], "GET", "/healthz", "200"),
            (lines[1], "POST", "/api/login", "403"),
        ] {
            assert!(
                line.contains(&format!("method={method} path={path} ")),
                "{line}"
            );
            assert!(
                line.contains(&format!("status={status} latency_ms=")),
                "{line}"
            );
        }
        assert!(lines[0].contains("request_id=edge-42"), "{text}");
        assert!(lines[1].contains("request_id="), "{text}");
        assert!(
            !text.contains("secret"),
            "no query string, body or cookie: {text}"
        );
    }
}
