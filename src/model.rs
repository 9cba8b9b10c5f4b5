//! Plain types shared by the server and the browser, and the validation rules for what a
//! person types, so that both sides agree on them.

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
    pub id: String,
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
    pub username: String,
    pub display_name: String,
    pub password: String,
}

impl NewAccount {
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
    if crate::text::has_bidi_control(name) {
        return Err(format!(
            "{what} may not contain characters that change the direction of the text."
        ));
    }
    if !crate::text::has_visible(name) {
        return Err(format!("{what} needs at least one visible character."));
    }
    Ok(())
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

/// How many messages one page of history holds (the server's answer and the client's
/// "is there more" test agree on it).
pub const PAGE_SIZE: i64 = 50;

/// How many notifications the bell lists.
pub const NOTIFICATIONS_SHOWN: i64 = 50;

/// Longest message accepted unless the settings say otherwise.
pub const MESSAGE_MAX_CHARS: usize = 4000;
/// Longest client-chosen message id.
pub const CLIENT_MSG_ID_MAX_CHARS: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConversationKind {
    Direct,
    Group,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageKind {
    Text,
    System,
    Call,
}

impl MessageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Text => "text",
            MessageKind::System => "system",
            MessageKind::Call => "call",
        }
    }

    pub fn parse(s: &str) -> Option<MessageKind> {
        [MessageKind::Text, MessageKind::System, MessageKind::Call]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub id: String,
    pub conversation_id: String,
    /// Position in the conversation: 1, 2, 3, ... with no gaps.
    pub seq: i64,
    pub sender_id: String,
    pub client_msg_id: String,
    pub kind: MessageKind,
    pub body: String,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// A conversation as the list shows it to one member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationSummary {
    pub id: String,
    pub kind: ConversationKind,
    /// The group title, or the other person's display name for a direct conversation.
    pub title: String,
    /// For a direct conversation, the other person.
    pub peer: Option<User>,
    pub last_seq: i64,
    pub last_read_seq: i64,
    pub last_activity_at: i64,
    pub last_message: Option<Message>,
    /// For a direct conversation: whether the other person is online now.
    pub peer_presence: Option<crate::protocol::PresenceState>,
    /// For a direct conversation: when the other person was last connected.
    pub peer_last_seen_at: Option<i64>,
    /// Muted: still counts unread, but no sound and no desktop notification.
    pub muted: bool,
    /// For a direct conversation: whether one of the two blocked the other.
    pub block: Option<BlockSide>,
}

impl ConversationSummary {
    pub fn unread(&self) -> i64 {
        (self.last_seq - self.last_read_seq).max(0)
    }
}

/// Checks a message body: trimmed, 1 to `max_chars` characters, at least one of them
/// visible (a body of only zero-width or other invisible characters is an empty bubble).
pub fn parse_message_body(body: &str, max_chars: usize) -> Result<String, AppError> {
    let body = body.trim();
    if body.is_empty() {
        return Err(AppError::invalid("body", "A message cannot be empty."));
    }
    if !crate::text::has_visible(body) {
        return Err(AppError::invalid(
            "body",
            "A message needs at least one visible character.",
        ));
    }
    let n = body.chars().count();
    if n > max_chars {
        return Err(AppError::invalid(
            "body",
            format!("A message can have at most {max_chars} characters; this one has {n}."),
        ));
    }
    Ok(body.to_string())
}

/// Checks a client-chosen message id: 1 to 64 characters of letters, digits and `-`.
pub fn check_client_msg_id(id: &str) -> Result<(), AppError> {
    if id.is_empty()
        || id.chars().count() > CLIENT_MSG_ID_MAX_CHARS
        || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Err(AppError::invalid(
            "client_msg_id",
            "The message id is malformed.",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod message_tests {
    use super::*;

    #[test]
    fn a_message_is_trimmed_and_must_not_be_empty_or_too_long() {
        assert_eq!(parse_message_body("  hi \n", 10).unwrap(), "hi");
        assert!(parse_message_body(" \n\t ", 10)
            .unwrap_err()
            .field("body")
            .is_some());
        let e = parse_message_body(&"x".repeat(11), 10).unwrap_err();
        assert_eq!(
            e.field("body").as_deref(),
            Some("A message can have at most 10 characters; this one has 11.")
        );
        assert!(parse_message_body(&"é".repeat(10), 10).is_ok());
    }

    #[test]
    fn a_message_of_only_invisible_characters_is_refused() {
        for body in [
            "\u{200B}",
            "\u{200B}\u{200D} \u{FEFF}",
            "\u{3164}",
            "\u{2800}",
        ] {
            let e = parse_message_body(body, 100).unwrap_err();
            assert_eq!(
                e.field("body").as_deref(),
                Some("A message needs at least one visible character."),
                "{body:?}"
            );
        }
        assert!(parse_message_body("👍", 100).is_ok());
        assert!(parse_message_body("שלום עולם!", 100).is_ok());
    }

    #[test]
    fn client_message_ids_are_short_and_plain() {
        assert!(check_client_msg_id("0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b").is_ok());
        assert!(check_client_msg_id("").is_err());
        assert!(check_client_msg_id("a b").is_err());
        assert!(check_client_msg_id(&"a".repeat(65)).is_err());
    }
}

/// A member of a conversation and how far they have read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub user: User,
    pub last_read_seq: i64,
    /// The group's owner (who adds and removes members).
    pub owner: bool,
    /// The asker blocked this member.
    pub blocked_by_me: bool,
}

/// Longest group title.
pub const GROUP_TITLE_MAX_CHARS: usize = 80;

/// Checks a group title: trimmed, 1 to 80 characters, by the rules of [`check_name`].
pub fn parse_group_title(title: &str) -> Result<String, AppError> {
    let title = title.trim();
    if title.is_empty() {
        return Err(AppError::invalid("title", "A group needs a name."));
    }
    check_name(title, "A group name", GROUP_TITLE_MAX_CHARS)
        .map_err(|message| AppError::invalid("title", message))?;
    Ok(title.to_string())
}

/// Which side of a personal block the asker is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockSide {
    /// The asker blocked the other person (and can unblock them).
    ByMe,
    /// The other person blocked the asker.
    ByThem,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    MissedCall,
    AddedToGroup,
}

impl NotificationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::MissedCall => "missed_call",
            NotificationKind::AddedToGroup => "added_to_group",
        }
    }

    pub fn parse(s: &str) -> Option<NotificationKind> {
        [NotificationKind::MissedCall, NotificationKind::AddedToGroup]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// Something for the bell besides unread messages: a missed call, being added to a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub id: String,
    pub kind: NotificationKind,
    pub conversation_id: String,
    /// The group's title, or the other person's name for a direct conversation.
    pub conversation_title: String,
    /// Who called, or who added the user.
    pub actor: User,
    pub created_at: i64,
    pub read: bool,
}

impl Notification {
    /// What the bell says, with the names in it isolated ([`crate::text::isolate`]).
    pub fn text(&self) -> String {
        use crate::text::isolate;
        match self.kind {
            NotificationKind::MissedCall => {
                format!("Missed call from {}", isolate(&self.actor.display_name))
            }
            NotificationKind::AddedToGroup => format!(
                "{} added you to {}",
                isolate(&self.actor.display_name),
                isolate(&self.conversation_title)
            ),
        }
    }
}
