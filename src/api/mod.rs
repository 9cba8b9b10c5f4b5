//! Server functions, by area. Each is thin: who is asking, the action that does it
//! (`server::actions`), the answer. They are reached at `/api/<name>` by POST only.

pub mod account;
pub mod admin;
pub mod auth;
pub mod calls;
pub mod chat;
pub mod people;

#[cfg(feature = "ssr")]
pub(crate) mod support {
    use crate::error::AppError;
    use axum::http::{HeaderMap, HeaderValue, StatusCode};
    use leptos::prelude::use_context;
    use leptos_axum::ResponseOptions;

    /// Gives an error answer its proper HTTP status (401, 403, 422, 429, ...).
    pub fn answer<T>(result: Result<T, AppError>) -> Result<T, AppError> {
        if let Err(e) = &result {
            if let Some(response) = use_context::<ResponseOptions>() {
                response.set_status(
                    StatusCode::from_u16(e.status_code())
                        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                );
            }
        }
        result
    }

    /// [`answer`] for the account forms and the session check: a database that cannot be
    /// used now is "Something went wrong; try again." there, as any other failure, because
    /// the text of [`AppError::Unavailable`] speaks of a message waiting in the outbox.
    pub fn answer_account<T>(result: Result<T, AppError>) -> Result<T, AppError> {
        answer(result.map_err(|e| match e {
            AppError::Unavailable => AppError::Internal,
            other => other,
        }))
    }

    pub fn request_headers() -> HeaderMap {
        use_context::<axum::http::request::Parts>()
            .map(|p| p.headers)
            .unwrap_or_default()
    }

    pub fn set_cookie(value: HeaderValue) {
        if let Some(response) = use_context::<ResponseOptions>() {
            response.append_header(axum::http::header::SET_COOKIE, value);
        }
    }

    /// The address of the client the request came from: the TCP peer, or what a trusted
    /// proxy says (`server::proxy`).
    pub async fn client_ip() -> std::net::IpAddr {
        use crate::server::proxy::ClientAddr;
        match leptos_axum::extract::<axum::Extension<ClientAddr>>().await {
            Ok(axum::Extension(ClientAddr(addr))) => addr,
            Err(e) => {
                tracing::warn!("no client address for a request: {e}");
                std::net::IpAddr::from([0, 0, 0, 0])
            }
        }
    }
}
