//! A client's copy of one conversation, and the rules that keep it true: messages are held
//! by seq, without gaps between the oldest and the newest held, each once. The browser keeps
//! one per conversation it shows; the recovery property test drives the same code.
//!
//! How a copy stays whole:
//! - a live message right after the newest held is appended; one further on means events
//!   were missed, and the gap is fetched (`messages_after`, a page at a time) instead;
//! - after a reconnect the client resumes from its newest message, and the server answers
//!   `Reset` when that message is no longer its history (a restored backup): the copy is
//!   dropped and loaded again.

use crate::domain::Message;
use crate::protocol::Resume;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    by_seq: BTreeMap<i64, Message>,
}

/// What to do with a live message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Live {
    /// It was the next one: now held.
    Added,
    /// Already held (the send's answer and the event are the same message), or older
    /// than the copy (it is in a page not loaded yet).
    Duplicate,
    /// Messages between the newest held and this one were missed: fetch those after this
    /// seq first (the live message comes with them).
    Gap { after: i64 },
}

impl History {
    /// The newest seq held; 0 for an empty conversation.
    pub fn last_seq(&self) -> i64 {
        self.by_seq.keys().next_back().copied().unwrap_or(0)
    }

    /// The oldest seq held, if any (older pages load before it).
    pub fn first_seq(&self) -> Option<i64> {
        self.by_seq.keys().next().copied()
    }

    pub fn messages(&self) -> impl Iterator<Item = &Message> {
        self.by_seq.values()
    }

    /// Where to resume after a reconnect; `None` when nothing is held (nothing to check).
    pub fn resume_point(&self) -> Option<Resume> {
        self.by_seq.values().next_back().map(|m| Resume {
            seq: m.seq,
            message_id: m.id.clone(),
        })
    }

    /// A message pushed by the server.
    pub fn live(&mut self, message: Message) -> Live {
        let last = self.last_seq();
        if message.seq == last + 1 {
            self.by_seq.insert(message.seq, message);
            Live::Added
        } else if message.seq > last {
            Live::Gap { after: last }
        } else {
            Live::Duplicate
        }
    }

    /// A copy that starts with the newest page (a first load, or a reload after `Reset`).
    pub fn from_page(page: Vec<Message>) -> History {
        History {
            by_seq: page.into_iter().map(|m| (m.seq, m)).collect(),
        }
    }

    /// A page the server answered (newer or older messages): the server's word is the
    /// truth for those seqs. A page that does not touch what is held (it would leave a
    /// hole) is refused with `false`. An empty copy holds a conversation that was empty
    /// when it was loaded: only a page from seq 1 touches it.
    pub fn merge(&mut self, page: Vec<Message>) -> bool {
        let (Some(lo), Some(hi)) = (
            page.iter().map(|m| m.seq).min(),
            page.iter().map(|m| m.seq).max(),
        ) else {
            return true;
        };
        let touches = match self.first_seq() {
            None => lo <= 1,
            Some(first) => lo <= self.last_seq() + 1 && hi + 1 >= first,
        };
        if !touches || (hi - lo + 1) as usize != page.len() {
            return false;
        }
        for m in page {
            self.by_seq.insert(m.seq, m);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::MessageKind;

    fn msg(seq: i64) -> Message {
        Message {
            id: format!("m{seq}").into(),
            conversation_id: "c".into(),
            seq,
            sender_id: "u".into(),
            client_msg_id: format!("x{seq}").into(),
            kind: MessageKind::Text,
            body: format!("body {seq}"),
            created_at: seq,
        }
    }

    #[test]
    fn the_next_message_is_appended_and_a_later_one_asks_for_the_gap() {
        let mut h = History::default();
        assert_eq!(h.live(msg(1)), Live::Added);
        assert_eq!(h.live(msg(2)), Live::Added);
        assert_eq!(h.live(msg(2)), Live::Duplicate);
        assert_eq!(h.live(msg(5)), Live::Gap { after: 2 });
        assert_eq!(h.last_seq(), 2);
        assert!(h.merge(vec![msg(3), msg(4), msg(5)]));
        assert_eq!(
            h.messages().map(|m| m.seq).collect::<Vec<_>>(),
            vec![1, 2, 3, 4, 5]
        );
        assert_eq!(h.resume_point().map(|r| r.message_id), Some("m5".into()));
    }

    #[test]
    fn a_page_that_would_leave_a_hole_is_refused() {
        let mut h = History::default();
        // Empty means "empty when loaded": seq 3 would leave 1 and 2 out.
        assert!(!h.merge(vec![msg(3)]));
        let mut h = History::from_page(vec![msg(10), msg(11)]);
        assert!(!h.merge(vec![msg(14), msg(15)]));
        assert!(!h.merge(vec![msg(3), msg(4)]));
        assert!(!h.merge(vec![msg(12), msg(14)]));
        assert!(h.merge(vec![msg(8), msg(9)]));
        assert_eq!(h.first_seq(), Some(8));
        assert_eq!(h.last_seq(), 11);
    }
}
