//! The realtime wire protocol: JSON frames over the WebSocket at `/ws`, defined once for
//! both builds.
//!
//! Persistent events (new messages, read marks) carry the conversation `seq` so a client
//! can notice a gap and fetch what it missed; ephemeral ones (typing, presence) carry none
//! and are never replayed.

use crate::domain::call::Call;
use crate::domain::PresenceState;
use crate::domain::{CallId, ConversationId, Message, MessageId, UserId};
use serde::{Deserialize, Serialize};
use std::fmt;

pub use crate::domain::settings::MAX_FRAME_BYTES;
/// Close code: the server is going away; reconnect.
pub const CLOSE_GOING_AWAY: u16 = 1001;
/// Close code: the client did not read fast enough; reconnect and recover by seq.
pub const CLOSE_TOO_SLOW: u16 = 4008;
/// Close code: the session ended (logout, expiry, block); do not reconnect.
pub const CLOSE_SESSION_ENDED: u16 = 4001;
/// Close reason with `CLOSE_SESSION_ENDED` when an admin blocked the account.
pub const BLOCKED_REASON: &str = "account blocked";
/// Close code: a frame was not valid UTF-8 text.
pub const CLOSE_INVALID_DATA: u16 = 1007;
/// Close code: a frame was larger than the server accepts.
pub const CLOSE_TOO_BIG: u16 = 1009;
/// Close code: the frame broke the WebSocket protocol.
pub const CLOSE_PROTOCOL_ERROR: u16 = 1002;
/// Close code: the client broke a rule of the server's (it kept sending past its rate).
pub const CLOSE_POLICY: u16 = 1008;

/// The limits a client should respect, sent in `Hello` so the browser can refuse what the
/// server would refuse before it is sent (and keep the text).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    pub max_message_chars: usize,
    pub max_frame_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_chars: crate::domain::MESSAGE_MAX_CHARS,
            max_frame_bytes: MAX_FRAME_BYTES,
        }
    }
}

/// Where a client's copy of a conversation ends: its last seq and the id of the message
/// there. The server checks that this is still the conversation's history (a database
/// restored from a backup can reuse seqs for other messages) and answers `Reset` if not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resume {
    pub seq: i64,
    pub message_id: MessageId,
}

/// What a subscription is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Topic {
    /// Members only.
    Conversation(ConversationId),
    /// That user only.
    User(UserId),
    /// The admin dashboard's live figures: admins only.
    Admin,
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Topic::Conversation(id) => write!(f, "conversation:{id}"),
            Topic::User(id) => write!(f, "user:{id}"),
            Topic::Admin => f.write_str("admin:dashboard"),
        }
    }
}

impl From<Topic> for String {
    fn from(t: Topic) -> String {
        t.to_string()
    }
}

impl TryFrom<String> for Topic {
    type Error = String;
    fn try_from(s: String) -> Result<Topic, String> {
        let valid_id = |id: &str| {
            !id.is_empty()
                && id.len() <= 64
                && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        };
        match s.split_once(':') {
            Some(("conversation", id)) if valid_id(id) => Ok(Topic::Conversation(id.into())),
            Some(("user", id)) if valid_id(id) => Ok(Topic::User(id.into())),
            Some(("admin", "dashboard")) => Ok(Topic::Admin),
            _ => Err(format!("unknown topic {s:?}")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientFrame {
    Subscribe {
        topic: Topic,
        /// For a conversation the client already holds messages of.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume: Option<Resume>,
    },
    Unsubscribe {
        topic: Topic,
    },
    Typing {
        conversation_id: ConversationId,
        active: bool,
    },
    Presence {
        state: PresenceState,
    },
    /// WebRTC signaling for a call this connection takes part in; the server relays it to
    /// the other participant's connection and nowhere else.
    CallSignal {
        call_id: CallId,
        signal: Signal,
    },
    /// A struct variant, not a unit one: serde ignores extra fields next to a unit
    /// variant's tag even with `deny_unknown_fields`.
    Ping {},
}

/// What two peers exchange to set up their media: session descriptions and ICE
/// candidates, as `RTCPeerConnection` produces them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Signal {
    Offer {
        sdp: String,
    },
    Answer {
        sdp: String,
    },
    Candidate {
        candidate: String,
        sdp_mid: Option<String>,
        sdp_m_line_index: Option<u16>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    Hello {
        user_id: UserId,
        /// This connection, as call set-up names it (a call is bound to one tab).
        connection_id: u64,
        limits: Limits,
    },
    Subscribed {
        topic: Topic,
    },
    Event {
        topic: Topic,
        event: Event,
    },
    Error {
        code: ErrorCode,
        message: String,
    },
    /// The limits changed (an admin changed a setting): check against these from now on.
    Limits {
        limits: Limits,
    },
    /// Whether calls are allowed, and how long they ring, changed (an admin changed it).
    CallOptions {
        options: crate::domain::call::CallOptions,
    },
    /// Instead of `Subscribed` when the history of the topic cannot be resumed from what
    /// the client holds (it is subscribed all the same): reload it.
    Reset {
        topic: Topic,
    },
    Pong,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    MessageCreated {
        message: Message,
    },
    ReadMarked {
        conversation_id: ConversationId,
        user_id: UserId,
        seq: i64,
    },
    Typing {
        conversation_id: ConversationId,
        user_id: UserId,
        display_name: String,
        active: bool,
    },
    Presence {
        user_id: UserId,
        state: PresenceState,
        last_seen_at: Option<i64>,
    },
    /// Something in the user's conversation list changed (a new conversation, say).
    ConversationsChanged,
    /// A call of this user changed state (sent on both participants' user topics).
    Call {
        call: Box<Call>,
    },
    /// Signaling from the other participant of a call (sent to one connection only).
    CallSignal {
        call_id: CallId,
        signal: Signal,
    },
    /// The user's notifications changed (a missed call, added to a group, marked read).
    NotificationsChanged,
    /// The account itself changed (an admin made it an admin or took that away): the page
    /// loads again to show what the account may do now.
    AccountChanged,
    /// The admin dashboard's figures, when they change (on the admin topic).
    Dashboard {
        stats: Box<crate::domain::admin::Dashboard>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadFrame,
    Forbidden,
    RateLimited,
    Internal,
}

impl ClientFrame {
    /// Decodes a text frame; anything malformed, unknown or oversized is an error.
    pub fn decode(text: &str, max_bytes: usize) -> Result<ClientFrame, String> {
        if text.len() > max_bytes {
            return Err(format!("frame too large: the limit is {max_bytes} bytes"));
        }
        serde_json::from_str(text).map_err(|e| format!("malformed frame: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::MessageKind;

    fn round_trip<T>(value: &T) -> T
    where
        T: Serialize + for<'de> Deserialize<'de>,
    {
        serde_json::from_str(&serde_json::to_string(value).unwrap()).unwrap()
    }

    #[test]
    fn client_frames_round_trip() {
        let frames = [
            ClientFrame::Subscribe {
                topic: Topic::Conversation("0193-ab".into()),
                resume: None,
            },
            ClientFrame::Subscribe {
                topic: Topic::Conversation("0193-ab".into()),
                resume: Some(Resume {
                    seq: 12,
                    message_id: "m-12".into(),
                }),
            },
            ClientFrame::Unsubscribe {
                topic: Topic::User("u-1".into()),
            },
            ClientFrame::Typing {
                conversation_id: "c".into(),
                active: true,
            },
            ClientFrame::Presence {
                state: PresenceState::Away,
            },
            ClientFrame::CallSignal {
                call_id: "k".into(),
                signal: Signal::Candidate {
                    candidate: "candidate:1 1 udp 1 127.0.0.1 5000 typ host".into(),
                    sdp_mid: Some("0".into()),
                    sdp_m_line_index: Some(0),
                },
            },
            ClientFrame::Ping {},
        ];
        for f in frames {
            assert_eq!(round_trip(&f), f);
        }
    }

    #[test]
    fn server_frames_round_trip() {
        let message = Message {
            id: "m".into(),
            conversation_id: "c".into(),
            seq: 7,
            sender_id: "u".into(),
            client_msg_id: "x-1".into(),
            kind: MessageKind::Text,
            body: "<img src=x onerror=alert(1)>".into(),
            created_at: 1,
        };
        let frames = [
            ServerFrame::Hello {
                user_id: "u".into(),
                connection_id: 3,
                limits: Limits::default(),
            },
            ServerFrame::Event {
                topic: Topic::Conversation("c".into()),
                event: Event::MessageCreated { message },
            },
            ServerFrame::Event {
                topic: Topic::User("u".into()),
                event: Event::Presence {
                    user_id: "u".into(),
                    state: PresenceState::Offline,
                    last_seen_at: Some(5),
                },
            },
            ServerFrame::Error {
                code: ErrorCode::Forbidden,
                message: "no".into(),
            },
            ServerFrame::Reset {
                topic: Topic::Conversation("c".into()),
            },
            ServerFrame::Pong,
        ];
        for f in frames {
            assert_eq!(round_trip(&f), f);
        }
    }

    #[test]
    fn a_topic_is_a_plain_string_on_the_wire() {
        let json = serde_json::to_string(&Topic::Conversation("abc".into())).unwrap();
        assert_eq!(json, "\"conversation:abc\"");
    }

    fn decode(text: &str) -> Result<ClientFrame, String> {
        ClientFrame::decode(text, MAX_FRAME_BYTES)
    }

    #[test]
    fn huge_numbers_wrong_types_and_nesting_are_refused() {
        // A seq beyond i64, a fraction, a negative line index, a string for a number.
        for frame in [
            r#"{"type":"subscribe","topic":"conversation:c","resume":{"seq":1e400,"message_id":"m"}}"#,
            r#"{"type":"subscribe","topic":"conversation:c","resume":{"seq":99999999999999999999,"message_id":"m"}}"#,
            r#"{"type":"subscribe","topic":"conversation:c","resume":{"seq":1.5,"message_id":"m"}}"#,
            r#"{"type":"call_signal","call_id":"k","signal":{"kind":"candidate","candidate":"c","sdp_mid":null,"sdp_m_line_index":-1}}"#,
            r#"{"type":"call_signal","call_id":"k","signal":{"kind":"candidate","candidate":"c","sdp_mid":null,"sdp_m_line_index":70000}}"#,
            r#"{"type":"typing","conversation_id":"c","active":"yes"}"#,
            r#"{"type":"typing","conversation_id":{"a":{"b":{"c":[[[[1]]]]}}},"active":true}"#,
            r#"{"type":"ping","type":"ping"}"#,
            r#"{"type":"presence","state":"online","extra":1}"#,
            "",
            "null",
            "[]",
            "\u{0}",
        ] {
            assert!(decode(frame).is_err(), "accepted {frame}");
        }
        let deep_object = format!("{}{}", r#"{"a":"#.repeat(5_000), "}".repeat(5_000));
        assert!(decode(&deep_object).is_err());
    }

    #[test]
    fn malformed_unknown_and_oversized_frames_are_refused() {
        assert!(decode("{").is_err());
        assert!(decode(r#"{"type":"launch_missiles"}"#).is_err());
        assert!(decode(r#"{"type":"subscribe","topic":"admin:all"}"#).is_err());
        assert!(decode(r#"{"type":"subscribe","topic":"conversation:a b"}"#).is_err());
        let deep = "[".repeat(10_000);
        assert!(decode(&deep).is_err());
        let big = format!(
            r#"{{"type":"ping","pad":"{}"}}"#,
            "x".repeat(MAX_FRAME_BYTES)
        );
        assert!(decode(&big).is_err());
        assert_eq!(decode(r#"{"type":"ping"}"#).unwrap(), ClientFrame::Ping {});
        assert!(decode(r#"{"type":"ping","extra":1}"#).is_err());
        // A signal names its call, never a recipient: the server decides who gets it.
        assert!(decode(
            r#"{"type":"call_signal","call_id":"k","to":"u2","signal":{"kind":"offer","sdp":"v=0"}}"#
        )
        .is_err());
        assert!(decode(
            r#"{"type":"call_signal","call_id":"k","signal":{"kind":"offer","sdp":"v=0","to":"u2"}}"#
        )
        .is_err());
    }
}
