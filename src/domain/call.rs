//! Calls, as both builds see them: the record, the state machine and the call log text.
//!
//! A call rings, then is answered (active) and ends, or it finishes without being
//! answered: declined by the callee, cancelled by the caller, missed when nobody answers in
//! time, or busy when the callee is already in a call. The server owns every transition;
//! [`transition`] is the one place that says which are allowed.

use crate::domain::{CallId, ConversationId, User, UserId};
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CallMedia {
    Audio,
    Video,
}

impl CallMedia {
    pub fn as_str(self) -> &'static str {
        match self {
            CallMedia::Audio => "audio",
            CallMedia::Video => "video",
        }
    }

    pub fn parse(s: &str) -> Option<CallMedia> {
        match s {
            "audio" => Some(CallMedia::Audio),
            "video" => Some(CallMedia::Video),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CallState {
    Ringing,
    Active,
    Ended,
    Declined,
    Cancelled,
    Missed,
    Busy,
}

impl CallState {
    pub const ALL: [CallState; 7] = [
        CallState::Ringing,
        CallState::Active,
        CallState::Ended,
        CallState::Declined,
        CallState::Cancelled,
        CallState::Missed,
        CallState::Busy,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CallState::Ringing => "ringing",
            CallState::Active => "active",
            CallState::Ended => "ended",
            CallState::Declined => "declined",
            CallState::Cancelled => "cancelled",
            CallState::Missed => "missed",
            CallState::Busy => "busy",
        }
    }

    pub fn parse(s: &str) -> Option<CallState> {
        CallState::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// Ringing or active: the call still occupies both people.
    pub fn is_live(self) -> bool {
        matches!(self, CallState::Ringing | CallState::Active)
    }
}

impl fmt::Display for CallState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Call {
    pub id: CallId,
    pub conversation_id: ConversationId,
    pub caller: User,
    pub callee: User,
    pub media: CallMedia,
    pub state: CallState,
    /// Unix milliseconds.
    pub created_at: i64,
    pub answered_at: Option<i64>,
    pub ended_at: Option<i64>,
}

impl Call {
    /// The other participant, seen from `me`.
    pub fn peer_of(&self, me: &UserId) -> &User {
        if self.caller.id == *me {
            &self.callee
        } else {
            &self.caller
        }
    }

    /// How long the call was answered for (0 if it never was).
    pub fn duration_ms(&self) -> i64 {
        match (self.answered_at, self.ended_at) {
            (Some(a), Some(e)) => (e - a).max(0),
            _ => 0,
        }
    }

    /// The line the call leaves in its conversation once it is over.
    pub fn log_text(&self) -> Option<String> {
        let kind = match self.media {
            CallMedia::Audio => "Audio call",
            CallMedia::Video => "Video call",
        };
        Some(match self.state {
            CallState::Ringing | CallState::Active => return None,
            CallState::Ended => format!("{kind} · {}", format_duration(self.duration_ms())),
            CallState::Declined => "Call declined".to_string(),
            CallState::Cancelled => "Call cancelled".to_string(),
            CallState::Missed => format!("Missed {}", kind.to_lowercase()),
            CallState::Busy => format!("{kind} not answered: busy"),
        })
    }
}

/// "0:07", "3:12", "1:02:03".
pub fn format_duration(ms: i64) -> String {
    let secs = ms.max(0) / 1000;
    let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// Who asks for a transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party {
    Caller,
    Callee,
    /// The server itself: the ring timeout, or a restart that cut the call.
    Server,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallAction {
    Answer,
    Decline,
    HangUp,
    /// Nobody answered in time.
    RingTimeout,
    /// The server lost the call (it restarted while the call was live).
    Abandon,
}

/// Why a transition was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallRefusal {
    /// That party may not do that at all (a caller answering their own call, say).
    NotAllowed,
    /// The call is already over (or answered, for a second answer).
    AlreadyOver(CallState),
}

impl CallRefusal {
    /// What to tell the person who asked.
    pub fn message(self) -> String {
        match self {
            CallRefusal::NotAllowed => "You cannot do that with this call.".to_string(),
            CallRefusal::AlreadyOver(CallState::Active) => {
                "This call was already answered.".to_string()
            }
            CallRefusal::AlreadyOver(_) => "This call has already ended.".to_string(),
        }
    }
}

/// The state machine. Returns the state after `action` by `party`, or why it is refused.
pub fn transition(
    state: CallState,
    party: Party,
    action: CallAction,
) -> Result<CallState, CallRefusal> {
    use CallAction::*;
    use CallState::*;
    match (state, party, action) {
        (Ringing, Party::Callee, Answer) => Ok(Active),
        (Ringing, Party::Callee, Decline | HangUp) => Ok(Declined),
        (Ringing, Party::Caller, HangUp) => Ok(Cancelled),
        (Ringing, Party::Server, RingTimeout | Abandon) => Ok(Missed),
        (Active, Party::Caller | Party::Callee, HangUp) => Ok(Ended),
        (Active, Party::Server, Abandon) => Ok(Ended),
        (Active, Party::Callee, Answer | Decline) => Err(CallRefusal::AlreadyOver(Active)),
        (Active, Party::Server, RingTimeout) => Err(CallRefusal::AlreadyOver(Active)),
        (Ringing | Active, _, _) => Err(CallRefusal::NotAllowed),
        (over, _, _) => Err(CallRefusal::AlreadyOver(over)),
    }
}

/// A STUN or TURN server as `RTCPeerConnection` takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServer {
    pub urls: Vec<String>,
    pub username: Option<String>,
    pub credential: Option<String>,
}

/// What a participant's tab needs to take part: the call and how to reach the peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallTicket {
    pub call: Call,
    pub ice_servers: Vec<IceServer>,
}

/// Whether calls can be made on this server, and if not, why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallOptions {
    pub enabled: bool,
    pub ring_timeout_secs: u32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Role;

    fn user(id: &str) -> User {
        User {
            id: id.into(),
            username: id.into(),
            display_name: id.into(),
            role: Role::User,
        }
    }

    fn call(media: CallMedia, state: CallState) -> Call {
        Call {
            id: "c".into(),
            conversation_id: "k".into(),
            caller: user("a"),
            callee: user("b"),
            media,
            state,
            created_at: 0,
            answered_at: Some(1_000),
            ended_at: Some(193_000),
        }
    }

    #[test]
    fn a_rung_call_is_answered_declined_cancelled_or_missed() {
        use CallAction::*;
        use CallState::*;
        assert_eq!(transition(Ringing, Party::Callee, Answer), Ok(Active));
        assert_eq!(transition(Ringing, Party::Callee, Decline), Ok(Declined));
        assert_eq!(transition(Ringing, Party::Caller, HangUp), Ok(Cancelled));
        assert_eq!(transition(Ringing, Party::Server, RingTimeout), Ok(Missed));
        assert_eq!(transition(Active, Party::Caller, HangUp), Ok(Ended));
        assert_eq!(transition(Active, Party::Callee, HangUp), Ok(Ended));
        assert_eq!(transition(Active, Party::Server, Abandon), Ok(Ended));
    }

    #[test]
    fn nobody_answers_their_own_call_and_an_over_call_stays_over() {
        use CallAction::*;
        use CallState::*;
        assert_eq!(
            transition(Ringing, Party::Caller, Answer),
            Err(CallRefusal::NotAllowed)
        );
        assert_eq!(
            transition(Active, Party::Callee, Answer),
            Err(CallRefusal::AlreadyOver(Active))
        );
        assert_eq!(
            transition(Active, Party::Server, RingTimeout),
            Err(CallRefusal::AlreadyOver(Active))
        );
        for over in [Ended, Declined, Cancelled, Missed, Busy] {
            for party in [Party::Caller, Party::Callee, Party::Server] {
                for action in [Answer, Decline, HangUp, RingTimeout, Abandon] {
                    assert_eq!(
                        transition(over, party, action),
                        Err(CallRefusal::AlreadyOver(over))
                    );
                }
            }
        }
    }

    #[test]
    fn every_finished_call_leaves_a_log_line() {
        use CallMedia::*;
        use CallState::*;
        assert_eq!(
            call(Video, Ended).log_text().as_deref(),
            Some("Video call · 3:12")
        );
        assert_eq!(
            call(Audio, Missed).log_text().as_deref(),
            Some("Missed audio call")
        );
        assert_eq!(
            call(Video, Declined).log_text().as_deref(),
            Some("Call declined")
        );
        assert_eq!(
            call(Video, Cancelled).log_text().as_deref(),
            Some("Call cancelled")
        );
        assert_eq!(
            call(Video, Busy).log_text().as_deref(),
            Some("Video call not answered: busy")
        );
        assert_eq!(call(Video, Ringing).log_text(), None);
        assert_eq!(call(Video, Active).log_text(), None);
    }

    #[test]
    fn durations_read_like_a_clock() {
        assert_eq!(format_duration(7_400), "0:07");
        assert_eq!(format_duration(192_000), "3:12");
        assert_eq!(format_duration(3_723_000), "1:02:03");
        assert_eq!(format_duration(-5), "0:00");
    }

    #[test]
    fn states_and_media_read_back_from_their_names() {
        for s in CallState::ALL {
            assert_eq!(CallState::parse(s.as_str()), Some(s));
        }
        assert_eq!(CallMedia::parse("video"), Some(CallMedia::Video));
        assert_eq!(CallMedia::parse("hologram"), None);
    }
}
