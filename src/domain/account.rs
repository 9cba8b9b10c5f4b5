//! Accounts: who a person is (`User`, `Role`), what a new account needs (`NewAccount`),
//! and the rules for names and passwords that the server and the browser share.

use super::UserId;
use crate::error::{AppError, FieldError};
use serde::{Deserialize, Serialize};

pub const USERNAME_MAX_CHARS: usize = 32;
pub const DISPLAY_NAME_MAX_CHARS: usize = 64;
pub const PASSWORD_MIN_CHARS: usize = 8;
/// Bounds the work one login or sign-up can cause in the password hash.
pub const PASSWORD_MAX_CHARS: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "user" => Some(Role::User),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    pub role: Role,
}

impl User {
    /// The letter shown in the avatar circle.
    pub fn initial(&self) -> String {
        self.display_name
            .chars()
            .next()
            .map(|c| c.to_uppercase().collect())
            .unwrap_or_default()
    }
}

/// One of a person's own sessions (a browser they logged in with), as their settings list
/// it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// The session's id (the hash of its token; the token itself is only in the cookie).
    pub id: String,
    /// The browser's User-Agent at the login (at most 256 characters).
    pub user_agent: Option<String>,
    /// The client's address at the login, or when a tab last connected with it.
    pub address: Option<String>,
    /// Unix ms: the login.
    pub created_at: i64,
    /// Unix ms: when a tab last connected with it (to the minute), or the login.
    pub last_active_at: i64,
    /// This is the session of the page asking.
    pub current: bool,
}

/// What the login page shows in demo mode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DemoAccountList {
    pub password: String,
    pub users: Vec<DemoUser>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DemoUser {
    pub username: String,
    pub display_name: String,
}

/// A validated sign-up. The only way to get one is [`NewAccount::parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAccount {
    username: String,
    display_name: String,
    password: String,
}

impl NewAccount {
    /// The username as typed (checked; unique by [`normalize_username`]).
    pub fn username(&self) -> &str {
        &self.username
    }

    /// The name other people see (checked by [`check_name`]).
    pub fn display_name(&self) -> &str {
        &self.display_name
    }

    /// The chosen password, within the length bounds; hash it before storing.
    pub fn password(&self) -> &str {
        &self.password
    }

    /// Checks every field at once so the person sees all problems together.
    pub fn parse(username: &str, display_name: &str, password: &str) -> Result<Self, AppError> {
        let mut errors = Vec::new();
        let username = username.trim();
        if let Err(e) = check_username(username) {
            errors.push(e);
        }
        let display_name = display_name.trim();
        if let Err(message) = check_name(display_name, "Display name", DISPLAY_NAME_MAX_CHARS) {
            errors.push(FieldError::new("display_name", message));
        }
        if let Err(e) = check_password(password) {
            errors.push(e);
        }
        if errors.is_empty() {
            Ok(NewAccount {
                username: username.to_string(),
                display_name: display_name.to_string(),
                password: password.to_string(),
            })
        } else {
            Err(AppError::Invalid(errors))
        }
    }
}

fn check_username(username: &str) -> Result<(), FieldError> {
    if username.is_empty() {
        return Err(FieldError::new("username", "Username is required."));
    }
    if username.chars().count() > USERNAME_MAX_CHARS {
        return Err(FieldError::new(
            "username",
            format!("Username must be at most {USERNAME_MAX_CHARS} characters."),
        ));
    }
    if !username
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(FieldError::new(
            "username",
            "Username may contain only letters, digits and underscores.",
        ));
    }
    Ok(())
}

/// Checks a trimmed name other people see next to the product's words (a display name, a
/// group's name): 1 to `max_chars` characters, at least one of them visible, and no
/// control characters or direction controls (which could make the sentence it is shown in
/// read backwards). `what` starts the message: "Display name", "A group name".
pub fn check_name(name: &str, what: &str, max_chars: usize) -> Result<(), String> {
    if name.is_empty() {
        return Err(format!("{what} is required."));
    }
    if name.chars().count() > max_chars {
        return Err(format!("{what} must be at most {max_chars} characters."));
    }
    if name.chars().any(char::is_control) {
        return Err(format!("{what} may not contain control characters."));
    }
    if crate::domain::text::has_bidi_control(name) {
        return Err(format!(
            "{what} may not contain characters that change the direction of the text."
        ));
    }
    if !crate::domain::text::has_visible(name) {
        return Err(format!("{what} needs at least one visible character."));
    }
    Ok(())
}

/// Checks a new password someone chooses in place of another, on the form field `field`,
/// naming both bounds ("Choose a password of 8 to 128 characters.").
///
/// # Errors
/// [`AppError::Invalid`] on `field` when it is too short or too long.
pub fn check_chosen_password(password: &str, field: &'static str) -> Result<(), AppError> {
    check_password(password).map_err(|_| {
        AppError::invalid(
            field,
            format!(
                "Choose a password of {PASSWORD_MIN_CHARS} to {PASSWORD_MAX_CHARS} characters."
            ),
        )
    })
}

/// Checks a password someone chooses (or an admin sets), as a one-field error.
pub fn check_new_password(password: &str) -> Result<(), AppError> {
    check_password(password).map_err(|e| AppError::Invalid(vec![e]))
}

fn check_password(password: &str) -> Result<(), FieldError> {
    let n = password.chars().count();
    if n < PASSWORD_MIN_CHARS {
        return Err(FieldError::new(
            "password",
            format!("Password must be at least {PASSWORD_MIN_CHARS} characters."),
        ));
    }
    if n > PASSWORD_MAX_CHARS {
        return Err(FieldError::new(
            "password",
            format!("Password must be at most {PASSWORD_MAX_CHARS} characters."),
        ));
    }
    Ok(())
}

/// The form of a username that uniqueness is checked on: "Alice" and "alice" are one name.
pub fn normalize_username(username: &str) -> String {
    username.trim().to_lowercase()
}

/// Checks a login form for empty fields before anything else happens.
pub fn check_login_input(username: &str, password: &str) -> Result<(), AppError> {
    let mut errors = Vec::new();
    if username.trim().is_empty() {
        errors.push(FieldError::new("username", "Username is required."));
    }
    if password.is_empty() {
        errors.push(FieldError::new("password", "Password is required."));
    }
    if password.chars().count() > PASSWORD_MAX_CHARS || username.chars().count() > 256 {
        return Err(AppError::WrongCredentials);
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(AppError::Invalid(errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::parse_group_title;

    #[test]
    fn a_valid_sign_up_is_trimmed() {
        let a = NewAccount::parse("  alice_1 ", " Alice Liddell ", "correct horse").unwrap();
        assert_eq!(a.username, "alice_1");
        assert_eq!(a.display_name, "Alice Liddell");
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let e = NewAccount::parse("", "   ", "short").unwrap_err();
        assert_eq!(
            e.field("username").as_deref(),
            Some("Username is required.")
        );
        assert_eq!(
            e.field("display_name").as_deref(),
            Some("Display name is required.")
        );
        assert_eq!(
            e.field("password").as_deref(),
            Some("Password must be at least 8 characters.")
        );
    }

    #[test]
    fn over_long_names_and_odd_characters_are_refused() {
        let long = "a".repeat(33);
        let e = NewAccount::parse(&long, &"b".repeat(65), "password1").unwrap_err();
        assert_eq!(
            e.field("username").as_deref(),
            Some("Username must be at most 32 characters.")
        );
        assert_eq!(
            e.field("display_name").as_deref(),
            Some("Display name must be at most 64 characters.")
        );
        let e = NewAccount::parse("al ice", "Alice", "password1").unwrap_err();
        assert!(e.field("username").is_some());
        let e = NewAccount::parse("alice", "Al\u{0}ice", "password1").unwrap_err();
        assert!(e.field("display_name").is_some());
    }

    #[test]
    fn names_that_hide_or_reverse_text_are_refused() {
        let e = NewAccount::parse("eve", "Eve\u{202E}", "password1").unwrap_err();
        assert_eq!(
            e.field("display_name").as_deref(),
            Some("Display name may not contain characters that change the direction of the text.")
        );
        let e = NewAccount::parse("eve", "\u{200B}", "password1").unwrap_err();
        assert_eq!(
            e.field("display_name").as_deref(),
            Some("Display name needs at least one visible character.")
        );
        assert!(NewAccount::parse("dana", "דנה כהן", "password1").is_ok());
        assert!(parse_group_title("Team\u{2067}").is_err());
        assert!(parse_group_title("\u{3164}").is_err());
        assert!(parse_group_title("צוות 🚀").is_ok());
    }

    #[test]
    fn display_names_count_characters_not_bytes() {
        let name = "é".repeat(64);
        assert!(NewAccount::parse("alice", &name, "password1").is_ok());
    }

    #[test]
    fn usernames_compare_without_case() {
        assert_eq!(normalize_username(" Alice "), normalize_username("alice"));
    }

    #[test]
    fn an_empty_login_names_the_missing_fields() {
        let e = check_login_input(" ", "").unwrap_err();
        assert!(e.field("username").is_some());
        assert!(e.field("password").is_some());
        assert!(check_login_input("alice", "x").is_ok());
    }
}
