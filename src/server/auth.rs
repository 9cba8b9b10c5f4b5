//! Passwords, session tokens and the session cookie.

use super::config::{CookieSecure, Settings};
use super::store::{NewSession, Store};
use super::{internal, now_ms};
use crate::domain::{User, UserId};
use crate::error::AppError;
use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, SaltString};
use argon2::{Argon2, PasswordVerifier};
use axum::http::{header, HeaderMap, HeaderValue};
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

/// The session cookie's name over http.
pub const SESSION_COOKIE: &str = "natter_session";
/// The session cookie's name when `public_url` is https: a browser keeps a `__Host-`
/// cookie only if it is `Secure`, has `Path=/` and no `Domain`, so no other host (a
/// sibling subdomain, a network attacker over http) can set or replace it
/// (<https://datatracker.ietf.org/doc/html/draft-ietf-httpbis-rfc6265bis#section-4.1.3.2>).
pub const SECURE_SESSION_COOKIE: &str = "__Host-natter_session";

/// The session cookie's name under `settings`.
pub fn session_cookie_name(settings: &Settings) -> &'static str {
    if https_public_url(settings) {
        SECURE_SESSION_COOKIE
    } else {
        SESSION_COOKIE
    }
}

fn https_public_url(settings: &Settings) -> bool {
    settings.public_url.get().is_some_and(|p| p.https)
}

/// Runs password hashing off the async threads, at most one per core at once: each hash
/// takes tens of milliseconds and 19 MiB by design, and a burst of sign-ups or logins must
/// queue rather than take the server's memory with it.
async fn hashing<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, tokio::task::JoinError> {
    static SLOTS: OnceLock<tokio::sync::Semaphore> = OnceLock::new();
    let slots = SLOTS.get_or_init(|| {
        tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
    });
    // The semaphore is never closed, so acquiring cannot fail.
    let _slot = slots.acquire().await.ok();
    tokio::task::spawn_blocking(work).await
}

/// Refuses the demo password as a password someone chooses or is given (on the form
/// field `field`): it is printed on the login page of every demo server, so an account
/// that has it is anyone's. Outside demo mode a login with it is refused too
/// ([`demo_password_refused`]).
///
/// # Errors
/// [`AppError::Invalid`] on `field` when `password` is the demo password.
pub fn not_the_demo_password(
    settings: &Settings,
    password: &str,
    field: &'static str,
) -> Result<(), AppError> {
    if password == settings.demo_password {
        return Err(AppError::invalid(
            field,
            "That is the public demo password. Choose another.",
        ));
    }
    Ok(())
}

/// Whether a login with `password` is refused because it is the demo password and demo
/// mode is off: the demo accounts of a server that was a demo keep that password until an
/// admin gives them another, and it is public.
pub fn demo_password_refused(settings: &Settings, password: &str) -> bool {
    !settings.demo_mode && password == settings.demo_password
}

/// Hashes a password with argon2id (the crate's defaults: m=19456 KiB, t=2, p=1).
pub async fn hash_password(password: String) -> Result<String, AppError> {
    hashing(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
    })
    .await
    .map_err(|e| internal("password hashing task", e))?
    .map_err(|e| internal("password hashing", e))
}

/// Checks a password against a stored hash. With no stored hash (unknown user) it checks
/// against a fixed dummy hash, so that both cases take the same time.
pub async fn verify_password(password: String, stored: Option<String>) -> Result<bool, AppError> {
    let known = stored.is_some();
    let stored = match stored {
        Some(s) => s,
        None => dummy_hash().to_string(),
    };
    let ok = hashing(move || {
        PasswordHash::new(&stored)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| internal("password check task", e))?
    .map_err(|e| internal("stored password hash unreadable", e))?;
    Ok(ok && known)
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(b"not a real password", &salt)
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

/// A fresh session token (256 random bits) and the hash the database keeps of it.
pub fn new_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let hash = token_hash(&token);
    (token, hash)
}

pub fn token_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The session token the request carries, if any, in the cookie `settings` name.
pub fn session_token(headers: &HeaderMap, settings: &Settings) -> Option<String> {
    let cookie = session_cookie_name(settings);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == cookie)
        .map(|(_, value)| value.to_string())
        .filter(|v| !v.is_empty())
}

/// Whether the request came over https, directly or through a proxy that says so.
fn over_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// The `Set-Cookie` value for a session token; `None` as token clears the cookie.
pub fn session_cookie(
    token: Option<&str>,
    max_age_secs: i64,
    settings: &Settings,
    request: &HeaderMap,
) -> HeaderValue {
    let secure = https_public_url(settings)
        || match settings.cookie_secure {
            CookieSecure::Always => true,
            CookieSecure::Never => false,
            CookieSecure::Auto => over_https(request),
        };
    let name = session_cookie_name(settings);
    let (value, max_age) = match token {
        Some(t) => (t, max_age_secs),
        None => ("", 0),
    };
    let cookie = format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{}",
        if secure { "; Secure" } else { "" }
    );
    // The token is base64url, so the value is always a valid header.
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Describes a session to create now for the given settings.
pub fn session_times(settings: &Settings) -> (i64, i64) {
    let now = now_ms();
    (now, now + i64::from(settings.session_days) * 86_400_000)
}

pub fn user_agent(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(256).collect())
}

/// Creates a session for the user, logged in from `address`, and returns the cookie that
/// carries it.
pub async fn start_session(
    store: &dyn Store,
    settings: &Settings,
    user_id: &UserId,
    request: &HeaderMap,
    address: std::net::IpAddr,
) -> Result<HeaderValue, AppError> {
    let (token, hash) = new_token();
    let (created_at, expires_at) = session_times(settings);
    let ua = user_agent(request);
    let address = address.to_string();
    store
        .create_session(
            user_id,
            &NewSession {
                token_hash: &hash,
                created_at,
                expires_at,
                user_agent: ua.as_deref(),
                address: Some(&address),
            },
        )
        .await?;
    Ok(session_cookie(
        Some(&token),
        (expires_at - created_at) / 1000,
        settings,
        request,
    ))
}

/// The signed-in user of a request, if its session is live.
pub async fn user_from_headers(
    store: &dyn Store,
    settings: &Settings,
    headers: &HeaderMap,
) -> Result<Option<User>, AppError> {
    Ok(session_from_headers(store, settings, headers)
        .await?
        .map(|(user, _)| user))
}

/// The signed-in user of a request and their session (its token's hash), if it is live.
pub async fn session_from_headers(
    store: &dyn Store,
    settings: &Settings,
    headers: &HeaderMap,
) -> Result<Option<(User, String)>, AppError> {
    let Some(token) = session_token(headers, settings) else {
        return Ok(None);
    };
    let hash = token_hash(&token);
    let user = store.session_user(&hash, now_ms()).await?;
    Ok(user.map(|u| (u, hash)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_password_verifies_only_against_its_own_hash() {
        let h = hash_password("correct horse".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify_password("correct horse".into(), Some(h.clone()))
            .await
            .unwrap());
        assert!(!verify_password("wrong horse".into(), Some(h))
            .await
            .unwrap());
        assert!(!verify_password("correct horse".into(), None).await.unwrap());
    }

    #[test]
    fn the_session_cookie_is_http_only_and_lax_and_secure_behind_https() {
        let settings = Settings::load("t", None, &|_| None).unwrap();
        let plain = session_cookie(Some("tok"), 60, &settings, &HeaderMap::new());
        let plain = plain.to_str().unwrap();
        assert!(plain.contains("natter_session=tok"));
        assert!(plain.contains("HttpOnly"));
        assert!(plain.contains("SameSite=Lax"));
        assert!(!plain.contains("Secure"));
        let mut https = HeaderMap::new();
        https.insert("x-forwarded-proto", "https".parse().unwrap());
        let secure = session_cookie(Some("tok"), 60, &settings, &https);
        assert!(secure.to_str().unwrap().ends_with("; Secure"));
    }

    #[test]
    fn over_an_https_public_url_the_cookie_is_secure_and_host_only_and_only_it_is_read() {
        let env = |k: &str| (k == "NATTER_PUBLIC_URL").then(|| "https://chat.example.com".into());
        let settings = Settings::load("t", None, &env).unwrap();
        let cookie = session_cookie(Some("tok"), 60, &settings, &HeaderMap::new());
        let cookie = cookie.to_str().unwrap();
        assert!(
            cookie.starts_with("__Host-natter_session=tok; Path=/;"),
            "{cookie}"
        );
        assert!(cookie.ends_with("; Secure"), "{cookie}");
        assert!(!cookie.contains("Domain"));
        // A plain cookie (set over http, or by a sibling host) is not a session here.
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, "natter_session=planted".parse().unwrap());
        assert_eq!(session_token(&h, &settings), None);
        h.insert(
            header::COOKIE,
            "natter_session=planted; __Host-natter_session=real"
                .parse()
                .unwrap(),
        );
        assert_eq!(session_token(&h, &settings).as_deref(), Some("real"));
    }

    #[test]
    fn the_token_is_read_from_among_other_cookies() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            "theme=dark; natter_session=abc123; x=y".parse().unwrap(),
        );
        let settings = Settings::load("t", None, &|_| None).unwrap();
        assert_eq!(session_token(&h, &settings).as_deref(), Some("abc123"));
        let (token, hash) = new_token();
        assert_eq!(token.len(), 43);
        assert_eq!(hash, token_hash(&token));
        assert_ne!(hash, token);
    }
}
