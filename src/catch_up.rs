//! The catch-up planner, without the network: fetching what a tab missed in a conversation
//! it holds a copy of ([`crate::history::History`]), a page of messages after its newest at a
//! time, until a short page. One pass at a time per conversation; a request during a pass
//! makes one more pass once it ends, so nothing asked for is skipped and nothing is fetched
//! twice at once.
//!
//! The browser's client (`crate::client`) fetches what this plans; the recovery property
//! test drives the same type.

use crate::domain::ConversationId;
use std::collections::HashMap;

/// Passes under way, by conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatchUp {
    /// Messages per page the server answers; a shorter page is the end.
    page_size: usize,
    /// Conversations being caught up, and whether another pass was asked for meanwhile.
    running: HashMap<ConversationId, bool>,
}

impl CatchUp {
    /// A planner for pages of `page_size` messages.
    pub fn new(page_size: usize) -> Self {
        CatchUp {
            page_size,
            running: HashMap::new(),
        }
    }

    /// Catching up was asked for (a gap, `Subscribed`, a conversation opened). `true`: start
    /// a pass now, fetching after the newest seq held; `false`: one is under way and will
    /// make another pass when it ends.
    pub fn request(&mut self, conversation_id: &ConversationId) -> bool {
        match self.running.get_mut(conversation_id) {
            Some(again) => {
                *again = true;
                false
            }
            None => {
                self.running.insert(conversation_id.clone(), false);
                true
            }
        }
    }

    /// A page of `page_len` messages arrived and `added` says whether it joined the copy.
    /// `true`: fetch the next page (after the newest seq now held); `false`: the pass, and
    /// catching up, is over.
    pub fn page(&mut self, conversation_id: &ConversationId, page_len: usize, added: bool) -> bool {
        if added && page_len >= self.page_size {
            return true;
        }
        match self.running.get_mut(conversation_id) {
            Some(again) if *again => {
                *again = false;
                true
            }
            _ => {
                self.running.remove(conversation_id);
                false
            }
        }
    }

    /// The pass stopped without a page (the fetch failed, or the copy was dropped).
    pub fn stopped(&mut self, conversation_id: &ConversationId) {
        self.running.remove(conversation_id);
    }

    /// Whether a pass is under way in this conversation.
    pub fn is_running(&self, conversation_id: &ConversationId) -> bool {
        self.running.contains_key(conversation_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The conversation named `id`.
    fn conversation(id: &str) -> ConversationId {
        id.into()
    }

    #[test]
    fn full_pages_go_on_and_a_short_page_ends_the_pass() {
        let mut c = CatchUp::new(3);
        assert!(c.request(&conversation("a")));
        assert!(c.page(&conversation("a"), 3, true));
        assert!(!c.page(&conversation("a"), 1, true));
        assert!(!c.is_running(&conversation("a")));
        // A full page that did not join (a hole) does not go on.
        assert!(c.request(&conversation("a")));
        assert!(!c.page(&conversation("a"), 3, false));
    }

    #[test]
    fn a_request_during_a_pass_makes_one_more_pass() {
        let mut c = CatchUp::new(3);
        assert!(c.request(&conversation("a")));
        assert!(!c.request(&conversation("a")));
        assert!(!c.request(&conversation("a")));
        assert!(c.request(&conversation("b")));
        assert!(
            c.page(&conversation("a"), 0, false),
            "asked again meanwhile"
        );
        assert!(!c.page(&conversation("a"), 0, false));
        assert!(c.request(&conversation("a")));
        c.stopped(&conversation("a"));
        assert!(!c.is_running(&conversation("a")));
    }
}
