//! Messages: the stored record (`Message`, `MessageKind`) and the rules for what may be
//! sent (`parse_message_body`, `check_client_msg_id`).

use super::{ClientMsgId, ConversationId, MessageId, UnixMs, UserId};
use crate::error::AppError;
use serde::{Deserialize, Serialize};

/// Longest message accepted unless the settings say otherwise.
pub const MESSAGE_MAX_CHARS: usize = 4000;
/// Longest client-chosen message id.
pub const CLIENT_MSG_ID_MAX_CHARS: usize = 64;

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
    pub id: MessageId,
    pub conversation_id: ConversationId,
    /// Position in the conversation: 1, 2, 3, ... with no gaps.
    pub seq: i64,
    pub sender_id: UserId,
    pub client_msg_id: ClientMsgId,
    pub kind: MessageKind,
    pub body: String,
    pub created_at: UnixMs,
}

/// Checks a message body: trimmed, 1 to `max_chars` characters, at least one of them
/// visible (a body of only zero-width or other invisible characters is an empty bubble).
pub fn parse_message_body(body: &str, max_chars: usize) -> Result<String, AppError> {
    let body = body.trim();
    if body.is_empty() {
        return Err(AppError::invalid("body", "A message cannot be empty."));
    }
    if !crate::domain::text::has_visible(body) {
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
///
/// # Errors
/// [`AppError::Invalid`] on the field `client_msg_id` for any other id.
pub fn check_client_msg_id(id: &ClientMsgId) -> Result<(), AppError> {
    let id = id.as_str();
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
        let check = |id: &str| check_client_msg_id(&ClientMsgId::from(id));
        assert!(check("0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b").is_ok());
        assert!(check("").is_err());
        assert!(check("a b").is_err());
        assert!(check(&"a".repeat(65)).is_err());
    }
}
