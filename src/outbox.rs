//! The outbox's rules, without the network: messages the person wrote that the server has not
//! stored yet. Each conversation sends one at a time, in the order written, so they are stored
//! in that order. A send that fails because the server could not be reached (or could not
//! store, or asked to slow down) waits and goes again by itself (when the connection is back,
//! or after a pause) with the same client id: the server stores it once whatever happened to
//! the earlier attempts. A send the server refused stays with its reason and "Retry".
//!
//! [`Outbox`] is plain data: the browser's client (`crate::client`) sends what it hands out
//! and reports each answer back; the recovery property test drives the same type.

use crate::domain::{ClientMsgId, ConversationId};
use std::collections::HashSet;

/// A message the person sent that the server has not confirmed yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub conversation_id: ConversationId,
    /// The id the server stores the message under once, however often it is sent.
    pub client_msg_id: ClientMsgId,
    pub body: String,
    pub state: PendingState,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PendingState {
    /// On its way, or next in line.
    Sending,
    /// The server could not be reached or could not store it; sent again by itself
    /// (on reconnect, or after a pause) with the same id, so it is stored once.
    Waiting(String),
    /// Refused: the reason, shown with "Retry".
    Failed(String),
    /// Stored by the server; shown once this tab holds the messages before it.
    Stored,
}

impl PendingState {
    /// Still to be sent (now or again).
    fn due(&self) -> bool {
        matches!(self, PendingState::Sending | PendingState::Waiting(_))
    }
}

/// The pause before retrying waiting messages, in milliseconds, after `failures` failed
/// attempts in a row: 1 s, 2 s, 4 s, 8 s, then 15 s; or what the server asked for
/// (`retry_after_secs`, in seconds).
pub fn retry_delay_ms(failures: u32, retry_after_secs: Option<u64>) -> u64 {
    retry_after_secs
        .map(|s| s.saturating_mul(1000))
        .unwrap_or_else(|| (1000u64 << failures.min(4)).min(15_000))
}

/// The queue of unconfirmed messages and what is on its way.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outbox {
    /// In the order written.
    items: Vec<Pending>,
    /// Conversations with a send on its way.
    in_flight: HashSet<ConversationId>,
    /// Failed attempts in a row, for the pause before the next.
    failures: u32,
    /// A retry timer is set.
    retry_scheduled: bool,
}

impl Outbox {
    /// Every unconfirmed message, in the order written.
    pub fn items(&self) -> &[Pending] {
        &self.items
    }

    /// The unconfirmed messages of one conversation, in the order written.
    pub fn of(&self, conversation_id: &ConversationId) -> Vec<Pending> {
        self.items
            .iter()
            .filter(|x| x.conversation_id == *conversation_id)
            .cloned()
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Queues a new message (state [`PendingState::Sending`]); then ask [`Outbox::next`] for
    /// its conversation.
    pub fn push(
        &mut self,
        conversation_id: ConversationId,
        client_msg_id: ClientMsgId,
        body: String,
    ) {
        self.items.push(Pending {
            conversation_id,
            client_msg_id,
            body,
            state: PendingState::Sending,
        });
    }

    /// The person pressed Retry (or "Send now"): the message is due again. Returns its
    /// conversation, to ask [`Outbox::next`] for; `None` for an unknown id.
    pub fn retry(&mut self, client_msg_id: &ClientMsgId) -> Option<ConversationId> {
        let x = self
            .items
            .iter_mut()
            .find(|x| x.client_msg_id == *client_msg_id)?;
        x.state = PendingState::Sending;
        Some(x.conversation_id.clone())
    }

    /// The connection is back: the pause starts again from 1 s. Returns the conversations
    /// with something to send.
    pub fn resume(&mut self) -> Vec<ConversationId> {
        self.failures = 0;
        self.due()
    }

    /// The retry timer fired. Returns the conversations with something to send.
    pub fn retry_timer_fired(&mut self) -> Vec<ConversationId> {
        self.retry_scheduled = false;
        self.due()
    }

    /// Conversations with a message to send (in no particular order, each once).
    pub fn due(&self) -> Vec<ConversationId> {
        let mut seen = HashSet::new();
        self.items
            .iter()
            .filter(|x| x.state.due())
            .filter(|x| seen.insert(x.conversation_id.clone()))
            .map(|x| x.conversation_id.clone())
            .collect()
    }

    /// The conversation's next message to send, now marked as on its way; `None` when one
    /// is already on its way there or nothing is due. Every call that returns a message
    /// must be followed by one of [`Outbox::stored`], [`Outbox::waiting`] or
    /// [`Outbox::refused`] for it.
    pub fn next(&mut self, conversation_id: &ConversationId) -> Option<Pending> {
        if self.in_flight.contains(conversation_id) {
            return None;
        }
        let p = self
            .items
            .iter()
            .find(|x| x.conversation_id == *conversation_id && x.state.due())
            .cloned()?;
        self.in_flight.insert(conversation_id.clone());
        Some(p)
    }

    /// The server stored the message. `shown` says whether the tab could add it to its copy
    /// of the conversation (then it is confirmed, see [`Outbox::confirmed`]); if not, it
    /// stays as [`PendingState::Stored`] until the messages before it arrive.
    pub fn stored(
        &mut self,
        conversation_id: &ConversationId,
        client_msg_id: &ClientMsgId,
        shown: bool,
    ) {
        self.in_flight.remove(conversation_id);
        self.failures = 0;
        if !shown {
            self.set_state(client_msg_id, PendingState::Stored);
        }
    }

    /// The send failed in a way that may pass later (see `AppError::is_transient`): the
    /// message waits with `reason`. Returns the pause in milliseconds before the retry timer
    /// should fire ([`Outbox::retry_timer_fired`]), or `None` when a timer is already set.
    pub fn waiting(
        &mut self,
        conversation_id: &ConversationId,
        client_msg_id: &ClientMsgId,
        reason: String,
        retry_after_secs: Option<u64>,
    ) -> Option<u64> {
        self.in_flight.remove(conversation_id);
        self.set_state(client_msg_id, PendingState::Waiting(reason));
        if self.retry_scheduled {
            return None;
        }
        self.retry_scheduled = true;
        let failures = self.failures;
        self.failures = failures.saturating_add(1);
        Some(retry_delay_ms(failures, retry_after_secs))
    }

    /// The server refused the message: it stays with `reason` until the person retries;
    /// the conversation's next message may go.
    pub fn refused(
        &mut self,
        conversation_id: &ConversationId,
        client_msg_id: &ClientMsgId,
        reason: String,
    ) {
        self.in_flight.remove(conversation_id);
        self.set_state(client_msg_id, PendingState::Failed(reason));
    }

    /// Whether any of these messages waits here (to skip a needless change).
    pub fn holds_any(&self, client_msg_ids: &[ClientMsgId]) -> bool {
        self.items
            .iter()
            .any(|x| client_msg_ids.contains(&x.client_msg_id))
    }

    /// These messages are now in the tab's copy of their conversation: drop them here.
    pub fn confirmed(&mut self, client_msg_ids: &[ClientMsgId]) {
        self.items
            .retain(|x| !client_msg_ids.contains(&x.client_msg_id));
    }

    fn set_state(&mut self, client_msg_id: &ClientMsgId, state: PendingState) {
        if let Some(x) = self
            .items
            .iter_mut()
            .find(|x| x.client_msg_id == *client_msg_id)
        {
            x.state = state;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The conversation named `id`.
    fn c(id: &str) -> ConversationId {
        id.into()
    }

    /// The message named `id`.
    fn m(id: &str) -> ClientMsgId {
        id.into()
    }

    fn outbox_with(ids: &[(&str, &str)]) -> Outbox {
        let mut o = Outbox::default();
        for (conversation, id) in ids {
            o.push(c(conversation), m(id), format!("body {id}"));
        }
        o
    }

    #[test]
    fn one_send_at_a_time_per_conversation_in_the_order_written() {
        let mut o = outbox_with(&[("a", "1"), ("a", "2"), ("b", "3")]);
        assert_eq!(o.next(&c("a")).map(|p| p.client_msg_id), Some("1".into()));
        assert_eq!(o.next(&c("a")), None, "one on its way");
        assert_eq!(o.next(&c("b")).map(|p| p.client_msg_id), Some("3".into()));
        o.stored(&c("a"), &m("1"), true);
        o.confirmed(&[m("1")]);
        assert_eq!(o.next(&c("a")).map(|p| p.client_msg_id), Some("2".into()));
    }

    #[test]
    fn a_refusal_lets_the_next_go_and_retry_makes_it_due_again() {
        let mut o = outbox_with(&[("a", "1"), ("a", "2")]);
        o.next(&c("a"));
        o.refused(&c("a"), &m("1"), "no".into());
        assert_eq!(o.items()[0].state, PendingState::Failed("no".into()));
        assert_eq!(o.next(&c("a")).map(|p| p.client_msg_id), Some("2".into()));
        o.stored(&c("a"), &m("2"), false);
        assert_eq!(o.items()[1].state, PendingState::Stored);
        assert_eq!(o.retry(&m("1")), Some("a".into()));
        assert_eq!(o.next(&c("a")).map(|p| p.client_msg_id), Some("1".into()));
    }

    #[test]
    fn waiting_messages_share_one_timer_that_backs_off() {
        let mut o = outbox_with(&[("a", "1"), ("b", "2")]);
        o.next(&c("a"));
        o.next(&c("b"));
        assert_eq!(
            o.waiting(&c("a"), &m("1"), "offline".into(), None),
            Some(1000)
        );
        assert_eq!(o.waiting(&c("b"), &m("2"), "offline".into(), None), None);
        let mut due = o.retry_timer_fired();
        due.sort();
        assert_eq!(due, [c("a"), c("b")]);
        o.next(&c("a"));
        assert_eq!(
            o.waiting(&c("a"), &m("1"), "offline".into(), None),
            Some(2000)
        );
        o.retry_timer_fired();
        o.next(&c("a"));
        assert_eq!(
            o.waiting(&c("a"), &m("1"), "slow".into(), Some(7)),
            Some(7000)
        );
        o.resume();
        o.next(&c("a"));
        assert_eq!(o.waiting(&c("a"), &m("1"), "offline".into(), None), None);
        o.retry_timer_fired();
        o.next(&c("a"));
        assert_eq!(
            o.waiting(&c("a"), &m("1"), "offline".into(), None),
            Some(1000)
        );
        assert_eq!(retry_delay_ms(9, None), 15_000);
    }
}
