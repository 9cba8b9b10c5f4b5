//! The client's picture of the person's conversations (shared by the list, the chat window
//! and the realtime connection, which keeps it live), and of the admin dashboard.

use crate::domain::admin::Dashboard;
use crate::domain::PresenceState;
use crate::domain::{
    ClientMsgId, ConversationId, ConversationSummary, Message, Notification, User, UserId,
};
use crate::history::{History, Live};
use crate::outbox::Outbox;
use crate::protocol::{Limits, Resume};
use leptos::prelude::*;
use std::collections::HashMap;

/// The state of the tab's realtime connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionStatus {
    Connecting,
    Open,
    Reconnecting,
}

/// Someone typing in a conversation, as last heard.
#[derive(Debug, Clone, PartialEq)]
pub struct Typist {
    pub user_id: UserId,
    pub display_name: String,
    /// `Date.now()` (milliseconds since the epoch) after which the indicator goes away
    /// unless refreshed.
    pub until_ms: f64,
}

/// The person's conversations as this tab knows them. Every field is a signal, read by
/// components and written by the client.
#[derive(Clone, Copy)]
pub struct Chat {
    /// The signed-in person.
    pub me: Signal<User>,
    /// `None` until the list has loaded.
    pub conversations: RwSignal<Option<Vec<ConversationSummary>>>,
    /// Messages of the conversations opened in this tab.
    pub messages: RwSignal<HashMap<ConversationId, History>>,
    /// Messages written here that the server has not confirmed.
    pub outbox: RwSignal<Outbox>,
    /// Who is typing, by conversation.
    pub typing: RwSignal<HashMap<ConversationId, Vec<Typist>>>,
    /// Other members' read marks, by conversation and user.
    pub reads: RwSignal<HashMap<ConversationId, HashMap<UserId, i64>>>,
    /// Presence of other people, as last heard: state and last seen (ms).
    pub presence: RwSignal<HashMap<UserId, (PresenceState, Option<i64>)>>,
    /// The realtime connection.
    pub status: RwSignal<ConnectionStatus>,
    /// The conversation on screen in this tab.
    pub open: RwSignal<Option<ConversationId>>,
    /// What the server accepts (from its `Hello`).
    pub limits: RwSignal<Limits>,
    /// Missed calls and group additions, newest first (the bell adds unread conversations).
    pub notifications: RwSignal<Vec<Notification>>,
}

impl Chat {
    /// An empty picture for `me`: no list yet, connecting.
    pub fn new(me: User) -> Chat {
        Chat {
            me: Signal::stored(me),
            conversations: RwSignal::new(None),
            messages: RwSignal::new(HashMap::new()),
            outbox: RwSignal::new(Outbox::default()),
            typing: RwSignal::new(HashMap::new()),
            reads: RwSignal::new(HashMap::new()),
            presence: RwSignal::new(HashMap::new()),
            status: RwSignal::new(ConnectionStatus::Connecting),
            open: RwSignal::new(None),
            limits: RwSignal::new(Limits::default()),
            notifications: RwSignal::new(Vec::new()),
        }
    }

    /// Adds a page of messages the server answered to what this tab holds; `false`
    /// (nothing added) when it holds nothing of that conversation yet, or the page would
    /// leave a hole.
    pub fn add_messages(&self, conversation_id: &ConversationId, list: Vec<Message>) -> bool {
        let confirmed: Vec<ClientMsgId> = list.iter().map(|m| m.client_msg_id.clone()).collect();
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
    pub fn load_newest(&self, conversation_id: &ConversationId, page: Vec<Message>) {
        let confirmed: Vec<ClientMsgId> = page.iter().map(|m| m.client_msg_id.clone()).collect();
        self.messages.update(|all| {
            let joined = all
                .get_mut(conversation_id)
                .is_some_and(|h| h.merge(page.clone()));
            if !joined {
                all.insert(conversation_id.clone(), History::from_page(page));
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
    fn confirmed(&self, client_msg_ids: &[ClientMsgId]) {
        let any = self.outbox.with_untracked(|p| p.holds_any(client_msg_ids));
        if any {
            self.outbox.update(|p| p.confirmed(client_msg_ids));
        }
    }

    /// Highest seq this tab holds for a conversation: `None` when this tab does not hold
    /// its history at all, 0 when it holds an empty one.
    pub fn last_seq(&self, conversation_id: &ConversationId) -> Option<i64> {
        self.messages
            .with_untracked(|all| all.get(conversation_id).map(History::last_seq))
    }

    /// Where this tab's copy of a conversation ends, to resume after a reconnect.
    pub fn resume_point(&self, conversation_id: &ConversationId) -> Option<Resume> {
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

    /// A read mark moved: the person's own (the list's unread count) or another member's
    /// (receipts). Marks only move forward.
    pub fn note_read(&self, conversation_id: &ConversationId, user_id: &UserId, seq: i64) {
        if *user_id == self.me.get_untracked().id {
            self.conversations.update(|list| {
                if let Some(c) = list
                    .as_mut()
                    .and_then(|l| l.iter_mut().find(|c| c.id == *conversation_id))
                {
                    c.last_read_seq = c.last_read_seq.max(seq);
                }
            });
        } else {
            self.reads.update(|r| {
                let mark = r
                    .entry(conversation_id.clone())
                    .or_default()
                    .entry(user_id.clone())
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

    /// A person's presence and last seen time (milliseconds since the epoch), as last
    /// heard; offline when never heard of.
    pub fn presence_of(&self, user_id: &UserId) -> (PresenceState, Option<i64>) {
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

/// The admin dashboard's live figures. While it is on screen the connection listens for
/// them (`admin:dashboard`), and they land in `dashboard`.
#[derive(Clone, Copy)]
pub struct AdminView {
    /// True while the dashboard is on screen.
    pub watching: RwSignal<bool>,
    /// The newest figures: the first from `admin_dashboard`, then pushed live.
    pub dashboard: RwSignal<Option<Dashboard>>,
}

impl AdminView {
    /// Not watching, no figures.
    pub fn new() -> AdminView {
        AdminView {
            watching: RwSignal::new(false),
            dashboard: RwSignal::new(None),
        }
    }

    /// The dashboard is on screen: listen for its figures from now on.
    pub fn watch(&self) {
        self.watching.set(true);
    }

    /// The dashboard left the screen: stop listening. Its figures are stale by the next
    /// visit, which loads them again.
    pub fn unwatch(&self) {
        self.watching.try_set(false);
        self.dashboard.try_set(None);
    }
}

impl Default for AdminView {
    fn default() -> Self {
        AdminView::new()
    }
}
