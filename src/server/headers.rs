//! Security headers on every response (tower-http's `SetResponseHeaderLayer`).
//!
//! Pages get a Content-Security-Policy whose scripts are this site's files and the inline
//! scripts Leptos writes with the response's nonce ([`page_policy`], set on every HTML
//! answer by [`page_policy_layer`]); every other response gets [`STATIC_POLICY`], which
//! allows no script at all.
//! Both forbid framing (`frame-ancestors 'none'`, and `X-Frame-Options` for old
//! browsers), so no other site can lay Natter's call buttons under a decoy.
//!
//! References: CSP Level 3 (<https://www.w3.org/TR/CSP3/>), `'wasm-unsafe-eval'` for
//! compiling the client's WebAssembly
//! (<https://www.w3.org/TR/CSP3/#directive-script-src>), Permissions Policy
//! (<https://www.w3.org/TR/permissions-policy/>), HSTS (RFC 6797).

use super::config::Settings;
use axum::http::{header, HeaderName, HeaderValue};
use axum::Router;
use tower_http::set_header::SetResponseHeaderLayer;

/// The policy of responses that are not pages (files, server functions, errors): nothing
/// runs, nothing frames them. (`connect-src 'self'` gives nothing to a document in which no
/// script may run; it lets a tool that evaluates code in such a document, as the end-to-end
/// tests do on `/healthz`, open the site's own socket.)
pub const STATIC_POLICY: &str =
    "default-src 'none'; connect-src 'self'; style-src 'self'; img-src 'self'; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// Camera and microphone for this site only (calls), and none of the rest.
pub const PERMISSIONS_POLICY: &str = "camera=(self), microphone=(self), display-capture=(), \
     geolocation=(), payment=(), usb=(), serial=()";

/// One year, in seconds: the max-age HSTS preload lists ask for.
const HSTS_MAX_AGE_SECS: u32 = 31_536_000;

/// The Content-Security-Policy of a page rendered with `nonce`. `reload` is the
/// live-reload socket of `cargo leptos watch` (`ws://host:port`), allowed in development.
pub fn page_policy(nonce: &str, reload: Option<&str>) -> String {
    let reload = reload.map(|r| format!(" {r}")).unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; \
         connect-src 'self'{reload}; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'"
    )
}

/// Adds the security headers to every response of `router`: the static policy where a
/// page did not set its own, and the rest as they are. HSTS only when `public_url` is
/// https (over plain http a browser ignores it anyway, and a local install must stay
/// reachable over http).
pub fn with_security_headers<S: Clone + Send + Sync + 'static>(
    router: Router<S>,
    settings: &Settings,
) -> Router<S> {
    let fixed = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (
            HeaderName::from_static("permissions-policy"),
            PERMISSIONS_POLICY,
        ),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
    ];
    let mut router = router.layer(SetResponseHeaderLayer::if_not_present(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(STATIC_POLICY),
    ));
    for (name, value) in fixed {
        router = router.layer(SetResponseHeaderLayer::overriding(
            name,
            HeaderValue::from_static(value),
        ));
    }
    if settings.public_url.get().is_some_and(|p| p.https) {
        let hsts = format!("max-age={HSTS_MAX_AGE_SECS}");
        if let Ok(value) = HeaderValue::from_str(&hsts) {
            router = router.layer(SetResponseHeaderLayer::overriding(
                header::STRICT_TRANSPORT_SECURITY,
                value,
            ));
        }
    }
    router
}

/// The nonce of one response, made by [`page_policy_layer`] before the request reaches
/// the app and kept in the request's extensions.
#[derive(Debug, Clone)]
pub struct PageNonce(pub String);

/// Makes a nonce for every request (16 random bytes, base64url: 128 bits, as CSP asks for
/// at least), hands it to Leptos through the request ([`use_page_nonce`]), and sets the
/// page policy with it on every HTML answer. Set here rather than while rendering, so that
/// no HTML answer, whichever way Leptos renders it, leaves without its policy.
pub async fn page_policy_layer(
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use base64::Engine;
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let nonce = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    request.extensions_mut().insert(PageNonce(nonce.clone()));
    let mut response = next.run(request).await;
    let html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/html"));
    if html {
        let reload = std::env::var("LEPTOS_WATCH")
            .ok()
            .and_then(|_| std::env::var("LEPTOS_RELOAD_PORT").ok())
            .map(|port| format!("ws://127.0.0.1:{port} ws://localhost:{port}"));
        if let Ok(value) = HeaderValue::from_str(&page_policy(&nonce, reload.as_deref())) {
            response
                .headers_mut()
                .insert(header::CONTENT_SECURITY_POLICY, value);
        }
    }
    response
}

/// Gives Leptos this request's nonce (from [`page_policy_layer`]) for its inline scripts,
/// in place of the one it made itself. Called as the render's additional context, after
/// Leptos provided its own.
pub fn use_page_nonce() {
    use leptos::prelude::{provide_context, use_context};
    let nonce = use_context::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<PageNonce>().cloned());
    if let Some(PageNonce(nonce)) = nonce {
        provide_context(leptos::nonce::Nonce::from_value(nonce));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_runs_only_its_own_scripts_and_the_nonced_inline_ones() {
        let policy = page_policy("abc", None);
        assert!(policy.contains("script-src 'self' 'nonce-abc' 'wasm-unsafe-eval';"));
        assert!(!policy.contains("unsafe-inline"));
        assert!(policy.contains("frame-ancestors 'none'"));
        assert!(page_policy("abc", Some("ws://127.0.0.1:3001"))
            .contains("connect-src 'self' ws://127.0.0.1:3001;"));
        assert!(!STATIC_POLICY.contains("script-src"));
    }
}
