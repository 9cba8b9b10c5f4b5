//! Cross-site request forgery guard for server functions.
//!
//! Leptos server functions have no CSRF protection of their own. Every request under
//! `/api/` must come from this site: a `Sec-Fetch-Site` other than `same-origin` (or `none`,
//! a person typing the address) is refused, and so is an `Origin` other than `public_url`
//! (when set) or whose host is not the request's own `Host` (when not). Browsers send at least one of the two on every cross-site POST;
//! requests with neither come from non-browser clients, which cannot ride a victim's cookie.

use super::config::PublicUrl;
use super::AppState;
use crate::error::AppError;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use leptos::server_fn::error::FromServerFnError;

pub const SERVER_FN_PREFIX: &str = "/api/";

/// True when the request demonstrably comes from a page of this site (or from no browser).
/// With `public_url` set, this site is that origin exactly; without, the origin whose host
/// is the request's `Host`.
pub fn is_same_site(headers: &HeaderMap, public_url: &PublicUrl) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        match site.to_str() {
            Ok("same-origin") | Ok("none") => {}
            _ => return false,
        }
    }
    if let (Some(origin), Some(public)) = (headers.get(header::ORIGIN), public_url.get()) {
        return origin
            .to_str()
            .is_ok_and(|o| o.eq_ignore_ascii_case(&public.origin));
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
            return false;
        };
        let Ok(origin) = origin.to_str() else {
            return false;
        };
        // "null" (sandboxed frames, some redirects) has no host and is never ours.
        let Some((_, authority)) = origin.split_once("://") else {
            return false;
        };
        if !authority.eq_ignore_ascii_case(host) {
            return false;
        }
    }
    true
}

pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.uri().path().starts_with(SERVER_FN_PREFIX)
        && !is_same_site(req.headers(), &state.settings().public_url)
    {
        tracing::warn!(
            path = req.uri().path(),
            origin = ?req.headers().get(header::ORIGIN),
            "refused a cross-site request"
        );
        // Encoded like any server function error, so a client shows the real reason.
        return (
            StatusCode::FORBIDDEN,
            [(header::CONTENT_TYPE, "application/json")],
            Body::from(AppError::Forbidden.ser()),
        )
            .into_response();
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    fn same_site(pairs: &[(&'static str, &'static str)]) -> bool {
        is_same_site(&headers(pairs), &PublicUrl::default())
    }

    #[test]
    fn with_a_public_url_only_its_origin_passes_whatever_the_host() {
        let public: PublicUrl = "https://chat.example.com".parse().unwrap();
        let from = |origin: &'static str| {
            is_same_site(
                &headers(&[("host", "127.0.0.1:3000"), ("origin", origin)]),
                &public,
            )
        };
        assert!(from("https://chat.example.com"));
        assert!(from("https://CHAT.example.com"));
        assert!(!from("http://chat.example.com"));
        assert!(!from("https://chat.example.com:8443"));
        assert!(!from("http://127.0.0.1:3000"));
        assert!(!from("null"));
    }

    #[test]
    fn a_same_origin_request_passes() {
        assert!(same_site(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "http://127.0.0.1:3000"),
            ("sec-fetch-site", "same-origin"),
        ]));
    }

    #[test]
    fn a_foreign_origin_is_refused() {
        assert!(!same_site(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "http://evil.example"),
        ]));
        assert!(!same_site(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "http://127.0.0.1:3001"),
        ]));
        assert!(!same_site(&[("host", "a"), ("origin", "null")]));
    }

    #[test]
    fn cross_site_fetch_metadata_is_refused_even_without_origin() {
        assert!(!same_site(&[("sec-fetch-site", "cross-site")]));
        assert!(!same_site(&[("sec-fetch-site", "same-site")]));
    }

    #[test]
    fn a_client_that_is_not_a_browser_passes() {
        assert!(same_site(&[("host", "127.0.0.1:3000")]));
    }
}
