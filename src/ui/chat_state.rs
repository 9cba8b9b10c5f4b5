//! The client's picture of the user's conversations, shared by the list, the chat window
//! and the realtime connection (which keeps it live). Provided once by the app shell.

use crate::admin::Dashboard;
use crate::history::{History, Live};
use crate::model::{ConversationSummary, Message, Notification, User};
use crate::outbox::Outbox;
use crate::protocol::{ClientFrame, Limits, PresenceState, Resume};
use leptos::prelude::*;
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionStatus {
    Connecting,
    Open,
    Reconnecting,
}

pub use crate::outbox::{Pending, PendingState};

#[derive(Debug, Clone, PartialEq)]
pub struct Typist {
    pub user_id: String,
    pub display_name: String,
    /// `Date.now()` after which the indicator goes away unless refreshed.
    pub until_ms: f64,
}

#[derive(Clone, Copy)]
pub struct Chat {
    pub me: Signal<User>,
    /// `None` until the list has loaded.
    pub conversations: RwSignal<Option<Vec<ConversationSummary>>>,
    /// Messages of the conversations opened in this tab.
    pub messages: RwSignal<HashMap<String, History>>,
    /// Messages written here that the server has not confirmed.
    pub pending: RwSignal<Outbox>,
    pub typing: RwSignal<HashMap<String, Vec<Typist>>>,
    /// Other members' read marks, by conversation and user.
    pub reads: RwSignal<HashMap<String, HashMap<String, i64>>>,
    /// Presence of other people, as last heard: state and last seen (ms).
    pub presence: RwSignal<HashMap<String, (PresenceState, Option<i64>)>>,
    pub status: RwSignal<ConnectionStatus>,
    /// The conversation on screen in this tab.
    pub open: RwSignal<Option<String>>,
    pub calls: crate::ui::call_view::CallUi,
    /// What the server accepts (from its `Hello`).
    pub limits: RwSignal<Limits>,
    /// Missed calls and group additions, newest first (the bell adds unread conversations).
    pub notifications: RwSignal<Vec<Notification>>,
    /// True while the admin dashboard is on screen: the connection then listens for its
    /// figures, which land in `dashboard`.
    pub watch_admin: RwSignal<bool>,
    pub dashboard: RwSignal<Option<Dashboard>>,
}

impl Chat {
    pub fn new(me: User) -> Chat {
        Chat {
            me: Signal::stored(me),
            conversations: RwSignal::new(None),
            messages: RwSignal::new(HashMap::new()),
            pending: RwSignal::new(Outbox::default()),
            typing: RwSignal::new(HashMap::new()),
            reads: RwSignal::new(HashMap::new()),
            presence: RwSignal::new(HashMap::new()),
            status: RwSignal::new(ConnectionStatus::Connecting),
            open: RwSignal::new(None),
            calls: crate::ui::call_view::CallUi::new(),
            limits: RwSignal::new(Limits::default()),
            notifications: RwSignal::new(Vec::new()),
            watch_admin: RwSignal::new(false),
            dashboard: RwSignal::new(None),
        }
    }

    /// Adds a page of messages the server answered to what this tab holds; `false`
    /// (nothing added) when it holds nothing of that conversation yet, or the page would
    /// leave a hole.
    pub fn add_messages(&self, conversation_id: &str, list: Vec<Message>) -> bool {
        let confirmed: Vec<String> = list.iter().map(|m| m.client_msg_id.clone()).collect();
        let mut added = false;
        self.messages.update(|all| {
            if let Some(h) = all.get_mut(conversation_id) {
                added = h.merge(list);
            }
        });
        if added {
            self.confirmed(&confirmed);
        }
        added
    }

    /// Takes the newest page of a conversation: the start of this tab's copy, or added to
    /// it when it joins what is held (otherwise the copy starts again from this page).
    pub fn load_newest(&self, conversation_id: &str, page: Vec<Message>) {
        let confirmed: Vec<String> = page.iter().map(|m| m.client_msg_id.clone()).collect();
        self.messages.update(|all| {
            let joined = all
                .get_mut(conversation_id)
                .is_some_and(|h| h.merge(page.clone()));
            if !joined {
                all.insert(conversation_id.to_string(), History::from_page(page));
            }
        });
        self.confirmed(&confirmed);
    }

    /// A message pushed live; `None` when this tab does not hold that conversation.
    pub fn live_message(&self, message: Message) -> Option<Live> {
        let id = message.client_msg_id.clone();
        let conversation_id = message.conversation_id.clone();
        let mut outcome = None;
        self.messages.update(|all| {
            outcome = all.get_mut(&conversation_id).map(|h| h.live(message));
        });
        if outcome == Some(Live::Added) {
            self.confirmed(&[id]);
        }
        outcome
    }

    /// The live event and the send's answer are the same message: drop the pending copy.
    fn confirmed(&self, client_msg_ids: &[String]) {
        let any = self.pending.with_untracked(|p| p.holds_any(client_msg_ids));
        if any {
            self.pending.update(|p| p.confirmed(client_msg_ids));
        }
    }

    /// Highest seq this tab holds for a conversation: `None` when this tab does not hold
    /// its history at all, 0 when it holds an empty one.
    pub fn last_seq(&self, conversation_id: &str) -> Option<i64> {
        self.messages
            .with_untracked(|all| all.get(conversation_id).map(History::last_seq))
    }

    /// Where this tab's copy of a conversation ends, to resume after a reconnect.
    pub fn resume_point(&self, conversation_id: &str) -> Option<Resume> {
        self.messages
            .with_untracked(|all| all.get(conversation_id).and_then(History::resume_point))
    }

    /// Brings the list entry up to date with a new message.
    pub fn note_message(&self, m: &Message) {
        let mine = m.sender_id == self.me.get_untracked().id;
        self.conversations.update(|list| {
            if let Some(list) = list {
                if let Some(c) = list.iter_mut().find(|c| c.id == m.conversation_id) {
                    if m.seq >= c.last_seq {
                        c.last_seq = m.seq;
                        c.last_message = Some(m.clone());
                        c.last_activity_at = c.last_activity_at.max(m.created_at);
                    }
                    if mine {
                        c.last_read_seq = c.last_read_seq.max(m.seq);
                    }
                }
                list.sort_by_key(|c| std::cmp::Reverse(c.last_activity_at));
            }
        });
    }

    pub fn note_read(&self, conversation_id: &str, user_id: &str, seq: i64) {
        if user_id == self.me.get_untracked().id {
            self.conversations.update(|list| {
                if let Some(c) = list
                    .as_mut()
                    .and_then(|l| l.iter_mut().find(|c| c.id == conversation_id))
                {
                    c.last_read_seq = c.last_read_seq.max(seq);
                }
            });
        } else {
            self.reads.update(|r| {
                let mark = r
                    .entry(conversation_id.to_string())
                    .or_default()
                    .entry(user_id.to_string())
                    .or_insert(0);
                *mark = (*mark).max(seq);
            });
        }
    }

    /// Takes the presence the conversation list came with.
    pub fn note_list_presence(&self, list: &[ConversationSummary]) {
        self.presence.update(|p| {
            for c in list {
                if let (Some(peer), Some(state)) = (&c.peer, c.peer_presence) {
                    p.insert(peer.id.clone(), (state, c.peer_last_seen_at));
                }
            }
        });
    }

    pub fn presence_of(&self, user_id: &str) -> (PresenceState, Option<i64>) {
        self.presence.with(|p| {
            p.get(user_id)
                .copied()
                .unwrap_or((PresenceState::Offline, None))
        })
    }

    /// Unread messages over all conversations, for the badge in the tab title.
    pub fn total_unread(&self) -> i64 {
        self.conversations.with(|l| {
            l.as_ref()
                .map(|l| l.iter().map(|c| c.unread()).sum())
                .unwrap_or(0)
        })
    }
}

/// Sends a frame over the realtime connection (in the browser; nothing on the server).
pub fn send_frame(frame: ClientFrame) {
    #[cfg(feature = "hydrate")]
    crate::client::realtime::send(&frame);
    #[cfg(not(feature = "hydrate"))]
    let _ = frame;
}

/// Milliseconds since the epoch, by the browser's clock (0 on the server).
pub fn now_ms() -> f64 {
    #[cfg(feature = "hydrate")]
    {
        js_sys::Date::now()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        0.0
    }
}

/// A fresh id for a message about to be sent.
pub fn new_client_msg_id() -> String {
    #[cfg(feature = "hydrate")]
    {
        if let Some(id) = window().crypto().ok().map(|c| c.random_uuid()) {
            return id;
        }
        format!(
            "m-{}-{}",
            js_sys::Date::now() as u64,
            (js_sys::Math::random() * 1e9) as u64
        )
    }
    #[cfg(not(feature = "hydrate"))]
    {
        String::new()
    }
}

/// "Online", "Away", "Last seen 5 min ago": how a person's presence reads.
pub fn presence_text(state: PresenceState, last_seen_at: Option<i64>, now_ms: f64) -> String {
    match state {
        PresenceState::Online => "Online".to_string(),
        PresenceState::Away => "Away".to_string(),
        PresenceState::Offline => match last_seen_at {
            None => "Offline".to_string(),
            Some(at) => format!("Last seen {}", ago(at, now_ms)),
        },
    }
}

/// How long ago `at` (ms) was, as a person says it: "just now", "5 min ago", "3 h ago".
pub fn ago(at: i64, now_ms: f64) -> String {
    let minutes = ((now_ms - at as f64) / 60_000.0).max(0.0) as i64;
    match minutes {
        0 => "just now".to_string(),
        1..=59 => format!("{minutes} min ago"),
        60..=1439 => format!("{} h ago", minutes / 60),
        1440..=2879 => "1 day ago".to_string(),
        _ => format!("{} days ago", minutes / 1440),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presence_reads_like_a_person_would_say_it() {
        let min = 60_000.0;
        assert_eq!(presence_text(PresenceState::Online, None, 0.0), "Online");
        assert_eq!(presence_text(PresenceState::Offline, None, 0.0), "Offline");
        assert_eq!(
            presence_text(PresenceState::Offline, Some(0), 5.0 * min),
            "Last seen 5 min ago"
        );
        assert_eq!(
            presence_text(PresenceState::Offline, Some(0), 30.0),
            "Last seen just now"
        );
        assert_eq!(
            presence_text(PresenceState::Offline, Some(0), 180.0 * min),
            "Last seen 3 h ago"
        );
    }
}
