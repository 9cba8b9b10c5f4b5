//! The one error type of Natter, shared by the server and the browser.
//!
//! Every variant carries a message fit to show a person. Internal details (SQL errors, I/O)
//! are logged on the server and reach the browser only as [`AppError::Internal`].

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

/// A problem with one input field, shown next to that field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.to_string(),
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    /// One or more fields were refused; nothing was written.
    #[error("{}", summary(.0))]
    Invalid(Vec<FieldError>),
    /// Deliberately does not say whether the username or the password was wrong.
    #[error("Wrong username or password.")]
    WrongCredentials,
    #[error("This account has been blocked.")]
    AccountBlocked,
    /// The password is a temporary one from an admin: choose a new one to get in.
    #[error("Your password was reset by an admin. Choose a new password to continue.")]
    PasswordChangeRequired,
    #[error("Please log in to continue.")]
    Unauthorized,
    #[error("You are not allowed to do that.")]
    Forbidden,
    #[error("Not found.")]
    NotFound,
    /// The request was understood but cannot be done now; the message says why.
    #[error("{0}")]
    Refused(String),
    #[error("Too many failed attempts. Try again in {retry_after_secs} seconds.")]
    TooManyAttempts { retry_after_secs: u64 },
    /// A per-user rate (messages, typing) was exceeded; the message says which.
    #[error("{message}")]
    RateLimited {
        message: String,
        retry_after_secs: u64,
    },
    /// The request body was larger than the server accepts.
    #[error("That is too large to send: the limit is {} KB.", .limit_bytes / 1024)]
    TooLarge { limit_bytes: usize },
    /// The server is up but cannot store anything right now (database locked, read-only
    /// or full). Nothing was written; the same request can be sent again.
    #[error("Natter cannot save right now. Your message will be sent when it can.")]
    Unavailable,
    #[error("Something went wrong on our side. Please try again.")]
    Internal,
    /// The request never got a proper answer (offline, server down, bad response).
    #[error("Could not reach the server. Check your connection and try again.")]
    Network(String),
}

fn summary(errors: &[FieldError]) -> String {
    match errors {
        [] => "Please check the form.".to_string(),
        [one] => one.message.clone(),
        many => many
            .iter()
            .map(|e| e.message.as_str())
            .collect::<Vec<_>>()
            .join(" "),
    }
}

impl AppError {
    /// A single-field validation error.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        AppError::Invalid(vec![FieldError::new(field, message)])
    }

    /// The message for one field, if this error is about that field.
    pub fn field(&self, field: &str) -> Option<String> {
        match self {
            AppError::Invalid(errors) => errors
                .iter()
                .find(|e| e.field == field)
                .map(|e| e.message.clone()),
            _ => None,
        }
    }

    /// The message to show above a form: everything that is not tied to one field.
    pub fn form_message(&self) -> Option<String> {
        match self {
            AppError::Invalid(_) => None,
            other => Some(other.to_string()),
        }
    }

    /// The HTTP status this error is answered with.
    pub fn status_code(&self) -> u16 {
        match self {
            AppError::Invalid(_) => 422,
            AppError::WrongCredentials | AppError::Unauthorized => 401,
            AppError::AccountBlocked | AppError::Forbidden | AppError::PasswordChangeRequired => {
                403
            }
            AppError::NotFound => 404,
            AppError::Refused(_) => 409,
            AppError::TooManyAttempts { .. } | AppError::RateLimited { .. } => 429,
            AppError::TooLarge { .. } => 413,
            AppError::Internal => 500,
            AppError::Network(_) => 502,
            AppError::Unavailable => 503,
        }
    }

    /// True when the same request may succeed if sent again later without change: the
    /// server was unreachable, could not store, or asked to slow down. Nothing was written.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            AppError::Network(_) | AppError::Unavailable | AppError::RateLimited { .. }
        )
    }

    /// How long to wait before sending again, when the server said.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            AppError::RateLimited {
                retry_after_secs, ..
            }
            | AppError::TooManyAttempts { retry_after_secs } => Some(*retry_after_secs),
            _ => None,
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            // The server could not decode what the client sent: a malformed request.
            ServerFnErrorErr::Args(m) | ServerFnErrorErr::MissingArg(m) => {
                AppError::invalid("request", format!("The request was malformed: {m}"))
            }
            other => AppError::Network(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_error_is_found_by_its_field_and_not_shown_as_form_message() {
        let e = AppError::Invalid(vec![
            FieldError::new("username", "That username is taken."),
            FieldError::new("password", "Password must be at least 8 characters."),
        ]);
        assert_eq!(
            e.field("username").as_deref(),
            Some("That username is taken.")
        );
        assert_eq!(e.field("display_name"), None);
        assert_eq!(e.form_message(), None);
        assert_eq!(e.status_code(), 422);
    }

    #[test]
    fn errors_round_trip_through_the_wire_encoding() {
        let e = AppError::TooManyAttempts {
            retry_after_secs: 42,
        };
        let back = AppError::de(e.ser());
        assert_eq!(back, e);
        assert_eq!(
            back.to_string(),
            "Too many failed attempts. Try again in 42 seconds."
        );
    }
}
