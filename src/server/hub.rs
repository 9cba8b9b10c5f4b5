//! Subscriptions and fan-out. `Hub::publish` serialises an event once and offers it to
//! every subscriber's bounded queue without waiting: a subscriber whose queue is full is
//! told to close (it recovers by seq when it reconnects), so one slow client never slows
//! the others.
//!
//! The fan-out is in process: an event reaches the connections of this server only, and
//! there is no bus between servers. Running several would need one (Redis pub/sub, say)
//! behind `Hub::publish`: publish to the bus, and have each server hand what the bus
//! delivers to its own subscribers, as `publish_to` does now. `PublishOrder`, presence and
//! the call bindings are per process too.

use super::metrics;
use crate::domain::{ConversationId, UserId};
use crate::protocol::{Event, ServerFrame, Topic, CLOSE_TOO_SLOW};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, Notify};

/// How many frames may wait for one connection before it counts as too slow.
pub const QUEUE_FRAMES: usize = 256;

pub type ConnId = u64;

/// Why a connection must close: a WebSocket close code and reason.
pub type CloseReason = (u16, &'static str);

/// The server's side of one WebSocket connection.
#[derive(Clone)]
pub struct Connection {
    pub id: ConnId,
    pub user_id: UserId,
    /// The session it was opened with (its token's hash): logging out closes it.
    pub session: String,
    tx: mpsc::Sender<Arc<str>>,
    closing: Arc<Closing>,
}

#[derive(Default)]
struct Closing {
    reason: Mutex<Option<CloseReason>>,
    notify: Notify,
}

impl Connection {
    /// Queues a frame; false when the queue is full (and the connection is told to close).
    pub fn offer(&self, frame: Arc<str>) -> bool {
        match self.tx.try_send(frame) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.close(CLOSE_TOO_SLOW, "too slow: reconnect and resume");
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// Tells the connection to close with this code; the first reason given wins.
    pub fn close(&self, code: u16, reason: &'static str) {
        let mut slot = self
            .closing
            .reason
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            *slot = Some((code, reason));
        }
        self.closing.notify.notify_one();
    }

    /// Resolves once the connection has been told to close, with why.
    pub async fn closed(&self) -> CloseReason {
        loop {
            if let Some(reason) = *self
                .closing
                .reason
                .lock()
                .unwrap_or_else(|p| p.into_inner())
            {
                return reason;
            }
            self.closing.notify.notified().await;
        }
    }

    pub fn send(&self, frame: &ServerFrame) -> bool {
        match serde_json::to_string(frame) {
            Ok(text) => self.offer(Arc::from(text)),
            Err(e) => {
                tracing::error!("cannot encode a frame: {e}");
                false
            }
        }
    }
}

#[derive(Default)]
pub struct Hub {
    next_id: AtomicU64,
    topics: Mutex<HashMap<Topic, HashMap<ConnId, Connection>>>,
    connections: Mutex<HashMap<ConnId, Connection>>,
}

impl Hub {
    /// Registers a new connection and returns it with the receiving end of its queue.
    pub fn connect(
        &self,
        user_id: &UserId,
        session: &str,
    ) -> (Connection, mpsc::Receiver<Arc<str>>) {
        let (conn, rx) = self.new_connection(user_id, session);
        self.lock_connections().insert(conn.id, conn.clone());
        (conn, rx)
    }

    /// Like [`Hub::connect`], unless the user already has `most` connections: counted and
    /// registered under one lock, so that connections opened at the same moment cannot
    /// all pass the count. `None` when the user is at the limit.
    pub fn connect_within(
        &self,
        user_id: &UserId,
        session: &str,
        most: usize,
    ) -> Option<(Connection, mpsc::Receiver<Arc<str>>)> {
        let mut all = self.lock_connections();
        if all.values().filter(|c| c.user_id == *user_id).count() >= most {
            return None;
        }
        let (conn, rx) = self.new_connection(user_id, session);
        all.insert(conn.id, conn.clone());
        Some((conn, rx))
    }

    fn new_connection(
        &self,
        user_id: &UserId,
        session: &str,
    ) -> (Connection, mpsc::Receiver<Arc<str>>) {
        let (tx, rx) = mpsc::channel(QUEUE_FRAMES);
        let conn = Connection {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            user_id: user_id.clone(),
            session: session.to_string(),
            tx,
            closing: Arc::default(),
        };
        (conn, rx)
    }

    pub fn disconnect(&self, id: ConnId) {
        self.lock_connections().remove(&id);
        let mut topics = self.lock_topics();
        let mut ended = 0;
        topics.retain(|_, subs| {
            ended += usize::from(subs.remove(&id).is_some());
            !subs.is_empty()
        });
        metrics::unsubscribed(ended);
    }

    pub fn subscribe(&self, topic: Topic, conn: &Connection) {
        let before = self
            .lock_topics()
            .entry(topic)
            .or_default()
            .insert(conn.id, conn.clone());
        if before.is_none() {
            metrics::subscribed(1);
        }
    }

    pub fn unsubscribe(&self, topic: &Topic, id: ConnId) {
        let mut topics = self.lock_topics();
        if let Some(subs) = topics.get_mut(topic) {
            if subs.remove(&id).is_some() {
                metrics::unsubscribed(1);
            }
            if subs.is_empty() {
                topics.remove(topic);
            }
        }
    }

    /// Drops every connection of a user from a topic (they left the conversation).
    pub fn unsubscribe_user(&self, topic: &Topic, user_id: &UserId) {
        let mut topics = self.lock_topics();
        if let Some(subs) = topics.get_mut(topic) {
            let before = subs.len();
            subs.retain(|_, c| c.user_id != *user_id);
            metrics::unsubscribed(before - subs.len());
            if subs.is_empty() {
                topics.remove(topic);
            }
        }
    }

    pub fn is_subscribed(&self, topic: &Topic, id: ConnId) -> bool {
        self.lock_topics()
            .get(topic)
            .is_some_and(|subs| subs.contains_key(&id))
    }

    /// Sends an event to every subscriber of the topic; returns how many got it queued.
    pub fn publish(&self, topic: &Topic, event: Event) -> usize {
        self.publish_except(topic, event, None)
    }

    /// Like `publish`, skipping one connection (the one the event came from).
    pub fn publish_except(&self, topic: &Topic, event: Event, skip: Option<ConnId>) -> usize {
        self.publish_to(topic, event, |c| Some(c.id) != skip)
    }

    /// Like `publish`, to the subscribers `to` accepts only.
    pub fn publish_to(
        &self,
        topic: &Topic,
        event: Event,
        to: impl Fn(&Connection) -> bool,
    ) -> usize {
        let subscribers: Vec<Connection> = match self.lock_topics().get(topic) {
            Some(subs) => subs.values().cloned().collect(),
            None => return 0,
        };
        let frame = ServerFrame::Event {
            topic: topic.clone(),
            event,
        };
        let text: Arc<str> = match serde_json::to_string(&frame) {
            Ok(t) => Arc::from(t),
            Err(e) => {
                tracing::error!("cannot encode an event: {e}");
                return 0;
            }
        };
        let queued = subscribers
            .iter()
            .filter(|c| to(c))
            .filter(|c| c.offer(text.clone()))
            .count();
        metrics::delivered(queued);
        queued
    }

    /// Sends a frame to every open connection.
    pub fn send_all(&self, frame: &ServerFrame) {
        let all: Vec<Connection> = self.lock_connections().values().cloned().collect();
        for conn in all {
            conn.send(frame);
        }
    }

    /// Whether any connection listens on the topic.
    pub fn has_subscribers(&self, topic: &Topic) -> bool {
        self.lock_topics().contains_key(topic)
    }

    /// Every open connection of a user (to close them on logout, for example).
    pub fn connections_of(&self, user_id: &UserId) -> Vec<Connection> {
        self.lock_connections()
            .values()
            .filter(|c| c.user_id == *user_id)
            .cloned()
            .collect()
    }

    /// Every open connection made with one session (to close them when it ends).
    pub fn connections_of_session(&self, session: &str) -> Vec<Connection> {
        self.lock_connections()
            .values()
            .filter(|c| c.session == session)
            .cloned()
            .collect()
    }

    pub fn connection(&self, id: ConnId) -> Option<Connection> {
        self.lock_connections().get(&id).cloned()
    }

    pub fn connection_count(&self) -> usize {
        self.lock_connections().len()
    }

    fn lock_topics(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<Topic, HashMap<ConnId, Connection>>> {
        self.topics.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_connections(&self) -> std::sync::MutexGuard<'_, HashMap<ConnId, Connection>> {
        self.connections.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The per-conversation publish-order lock: keeps each conversation's live events in seq
/// order. A write that appends to a conversation (a message, a call's log line) holds that
/// conversation's lock from before its transaction until its event is published, so two sends cannot commit in one order and publish in the other (a client
/// would see a gap and have to fetch). Conversations share a fixed set of locks; writes are
/// serialised by the database anyway.
pub struct PublishOrder {
    stripes: Vec<tokio::sync::Mutex<()>>,
}

impl Default for PublishOrder {
    fn default() -> Self {
        PublishOrder {
            stripes: (0..64).map(|_| tokio::sync::Mutex::new(())).collect(),
        }
    }
}

impl PublishOrder {
    /// Waits for the conversation's lock (one of 64 stripes, picked by a hash of the id, so
    /// two conversations on one stripe also wait for each other).
    pub async fn lock(&self, conversation_id: &ConversationId) -> tokio::sync::MutexGuard<'_, ()> {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        conversation_id.hash(&mut h);
        self.stripes[(h.finish() % self.stripes.len() as u64) as usize]
            .lock()
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic() -> Topic {
        Topic::Conversation("c1".into())
    }

    #[tokio::test]
    async fn only_subscribers_of_a_topic_receive_its_events() {
        let hub = Hub::default();
        let (a, mut a_rx) = hub.connect(&"a".into(), "s1");
        let (_b, mut b_rx) = hub.connect(&"b".into(), "s2");
        hub.subscribe(topic(), &a);
        assert_eq!(hub.publish(&topic(), Event::ConversationsChanged), 1);
        assert!(a_rx.recv().await.unwrap().contains("conversations_changed"));
        assert!(b_rx.try_recv().is_err());
        hub.disconnect(a.id);
        assert_eq!(hub.publish(&topic(), Event::ConversationsChanged), 0);
    }

    #[test]
    fn connections_opened_together_never_pass_the_per_user_limit() {
        let hub = Arc::new(Hub::default());
        let opened: Vec<_> = (0..8)
            .map(|_| {
                let hub = hub.clone();
                std::thread::spawn(move || {
                    hub.connect_within(&"ann".into(), "s", 3).map(|(c, _)| c.id)
                })
            })
            .collect();
        let joined = opened
            .into_iter()
            .filter_map(|t| t.join().ok().flatten())
            .count();
        assert_eq!(joined, 3);
        assert_eq!(hub.connections_of(&"ann".into()).len(), 3);
        assert!(hub.connect_within(&"ben".into(), "s2", 3).is_some());
    }

    #[tokio::test]
    async fn a_subscriber_that_does_not_read_is_told_to_close_and_others_still_receive() {
        let hub = Hub::default();
        let (slow, _slow_rx) = hub.connect(&"slow".into(), "s1");
        let (fast, mut fast_rx) = hub.connect(&"fast".into(), "s2");
        hub.subscribe(topic(), &slow);
        hub.subscribe(topic(), &fast);
        let told = slow.clone();
        for _ in 0..QUEUE_FRAMES + 10 {
            hub.publish(&topic(), Event::ConversationsChanged);
            // The fast one keeps up.
            assert!(fast_rx.recv().await.is_some());
        }
        let reason = tokio::time::timeout(std::time::Duration::from_secs(1), told.closed())
            .await
            .expect("the slow subscriber was told to close");
        assert_eq!(reason.0, CLOSE_TOO_SLOW);
    }
}
