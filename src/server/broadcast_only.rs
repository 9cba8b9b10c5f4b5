//! Broadcast-only mode (`store_messages = false`): a message is checked like any other
//! (signed in, member of the conversation) and numbered in memory, then fanned out; it is
//! never written, so there is no history and a restart starts every count at 1 again.
//! It exists to measure the fan-out on its own, against relays that keep no history.

use super::store::{Sent, Store, StoreError};
use crate::domain::{ClientMsgId, ConversationId, Message, MessageId, MessageKind, UserId};
use std::collections::HashMap;
use std::sync::Mutex;

/// The in-memory message numbering of broadcast-only mode (not to be confused with the
/// relaying of call signals, `actions::calls::signal`).
#[derive(Default)]
pub struct BroadcastOnly {
    last_seq: Mutex<HashMap<ConversationId, i64>>,
}

impl BroadcastOnly {
    /// The message with the conversation's next number, for a member only. Callers hold
    /// the conversation's [`PublishOrder`](super::hub::PublishOrder) lock until it is published.
    pub async fn message(
        &self,
        store: &dyn Store,
        conversation_id: &ConversationId,
        sender: &UserId,
        client_msg_id: &ClientMsgId,
        body: &str,
    ) -> Result<Sent, StoreError> {
        store.may_send(conversation_id, sender).await?;
        let seq = {
            let mut counts = self.last_seq.lock().unwrap_or_else(|p| p.into_inner());
            let last = counts.entry(conversation_id.clone()).or_insert(0);
            *last += 1;
            *last
        };
        Ok(Sent {
            message: Message {
                id: MessageId::from(uuid::Uuid::now_v7().to_string()),
                conversation_id: conversation_id.clone(),
                seq,
                sender_id: sender.clone(),
                client_msg_id: client_msg_id.clone(),
                kind: MessageKind::Text,
                body: body.to_string(),
                created_at: super::now_ms(),
            },
            created: true,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::store::tests::{ann_ben_and_eve, fresh_store};
    use super::*;

    #[tokio::test]
    async fn a_broadcast_only_message_honours_a_block() {
        let (store, _dir) = fresh_store().await;
        let (a, b, _eve, c) = ann_ben_and_eve(&*store).await;
        store.block_person(&b, &a, 1).await.unwrap();
        let broadcast = BroadcastOnly::default();
        let sent = broadcast
            .message(&*store, &c, &a, &"m-1".into(), "hi")
            .await;
        assert!(matches!(
            sent,
            Err(StoreError::Blocked(crate::domain::BlockSide::ByThem))
        ));
    }

    #[tokio::test]
    async fn a_broadcast_only_message_is_numbered_but_never_written() {
        let (store, _dir) = fresh_store().await;
        let (a, b, eve, c) = ann_ben_and_eve(&*store).await;
        let broadcast = BroadcastOnly::default();
        let first = broadcast
            .message(&*store, &c, &a, &"m-1".into(), "hi")
            .await
            .unwrap();
        let second = broadcast
            .message(&*store, &c, &b, &"m-2".into(), "hello")
            .await
            .unwrap();
        assert_eq!((first.message.seq, second.message.seq), (1, 2));
        assert_eq!(second.message.sender_id, b);
        assert!(store
            .messages_after(&c, &a, 0, 10)
            .await
            .unwrap()
            .is_empty());
        assert!(matches!(
            broadcast
                .message(&*store, &c, &eve, &"m-3".into(), "let me in")
                .await,
            Err(StoreError::NotMember)
        ));
        // Another conversation counts on its own.
        let other = store.open_direct(&a, &eve, 2).await.unwrap();
        let there = broadcast
            .message(&*store, &other, &eve, &"m-4".into(), "hey")
            .await
            .unwrap();
        assert_eq!(there.message.seq, 1);
    }
}
