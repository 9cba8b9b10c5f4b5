//! Security headers on every response (tower-http's `SetResponseHeaderLayer`).
//!
//! Pages get a Content-Security-Policy whose scripts are this site's files and the inline
//! scripts Leptos writes with the page's nonce ([`page_policy`], set while the page
//! renders); every other response gets [`STATIC_POLICY`], which allows no script at all.
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

/// Sets the page policy on the response being rendered, with the nonce Leptos made for
/// it. Called inside the render, where the response's options are in context.
pub fn set_page_policy(options: &leptos::config::LeptosOptions) {
    use leptos::prelude::use_context;
    let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) else {
        return;
    };
    let reload = std::env::var("LEPTOS_WATCH")
        .is_ok()
        .then(|| format!("ws://{}:{}", options.site_addr.ip(), options.reload_port));
    if let Ok(value) = HeaderValue::from_str(&page_policy(&nonce, reload.as_deref())) {
        response.insert_header(header::CONTENT_SECURITY_POLICY, value);
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
