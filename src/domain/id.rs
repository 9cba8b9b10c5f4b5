//! Ids: one type per kind of thing, so that a function that wants a conversation's id
//! cannot be handed a user's. Each holds the id's text as it is stored and sent: on the
//! wire (socket frames, server-function arguments) it is that string and nothing else
//! (`#[serde(transparent)]`), so the protocol reads as plain text ids.
//!
//! The client never looks inside an id the server made: it only keeps it, compares it and
//! sends it back.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Declares an id type: a newtype over the id's text, serialised as that text, with
/// [`as_str`](UserId::as_str) for the places that need the text itself (a query's
/// parameter, a topic's name, a DOM attribute) and `From<String>` for reading one back.
macro_rules! id_type {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The id's text, as stored and sent.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                $name(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                $name(id.to_string())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    )*};
}

id_type! {
    /// An account: who sends, reads, calls and is a member. A UUID v7 in text form, made by
    /// the server's store when it creates the account (`AccountStore::create_user`); it
    /// never changes. Opaque to the client.
    UserId;

    /// A conversation, direct or group: what messages, members, read marks, mutes and calls
    /// belong to, and the topic `conversation:{id}`. A UUID v7 in text form, made by the
    /// server's store when it creates the conversation (`ConversationStore::open_direct`,
    /// `create_group`). Opaque to the client.
    ConversationId;

    /// A call (its ringing, its answer and its end). A UUID v7 in text form, made by the
    /// server's store when the call starts (`CallStore::start_call`). Opaque to the client.
    CallId;

    /// A stored message. A UUID v7 in text form, made by the server's store when it appends
    /// the message (the SQLite backend's `append_message`; in broadcast-only mode,
    /// `BroadcastOnly::message`). The client sends one back only to say where its copy of a
    /// conversation ends (`Resume`). Opaque to the client.
    MessageId;

    /// The key that makes a send idempotent. Unlike the others it is not made by the
    /// server's store but by whoever sends: the browser makes a random UUID (or the time and
    /// a random number where it has none), and the server writes `call:{call id}` for a
    /// call's log line and a UUID v7 for each demo message. It is unique per sender: a resend
    /// with the same key returns the stored message instead of a second one. A person's key
    /// must pass [`check_client_msg_id`](crate::domain::check_client_msg_id); beyond that the
    /// server only compares it.
    ClientMsgId;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_its_text_on_the_wire_and_on_screen() {
        let id = ConversationId::from("0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b");
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, "\"0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b\"");
        assert_eq!(serde_json::from_str::<ConversationId>(&json).unwrap(), id);
        assert_eq!(id.to_string(), id.as_str());
        assert_eq!(
            serde_json::to_string(&vec![UserId::from("a"), UserId::from("b")]).unwrap(),
            r#"["a","b"]"#
        );
    }
}
