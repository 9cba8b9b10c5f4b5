//! A property test of the recovery model: clients that send (with answers lost and sends
//! retried), receive live events (some delivered twice, some never: a client too slow is
//! dropped), disconnect and reconnect, against the real store. After every step each
//! client's copy of the conversation is a gap-free, duplicate-free prefix of the stored
//! conversation; at the end, once everyone is back and caught up, every copy is the whole
//! conversation, every message written is stored exactly once and no outbox holds anything.
//!
//! The clients run the browser's own rules: their copies are [`History`], their outboxes
//! [`Outbox`] and their catch-up passes [`CatchUp`]. Only the network around them (answers
//! that arrive later or never, the hub's queues) is modelled here.

use super::store::tests::{ann_ben_and_eve, fresh_store, title, user};
use super::store::Store;
use crate::catch_up::CatchUp;
use crate::domain::{ClientMsgId, ConversationId, Message, UserId};
use crate::history::{History, Live};
use crate::outbox::Outbox;
use proptest::prelude::*;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// Small pages, so that catching up takes several.
const PAGE: i64 = 3;

#[derive(Debug, Clone)]
enum Op {
    /// Client writes a new message and its outbox sends what is due; the answer to the
    /// first send reaches it or is lost (the browser sees a network error).
    Send {
        client: usize,
        answer_lost: bool,
    },
    /// The client's retry timer fires: what waits is sent again, with the same ids.
    Retry {
        client: usize,
    },
    /// The next live event reaches the client (twice, when `twice`).
    Deliver {
        client: usize,
        twice: bool,
    },
    /// The answer to the client's fetch of missed messages arrives.
    Fetched {
        client: usize,
    },
    /// The client fell behind: its queue is dropped and its socket closed.
    TooSlow {
        client: usize,
    },
    Disconnect {
        client: usize,
    },
    Reconnect {
        client: usize,
    },
}

fn op(clients: usize) -> impl Strategy<Value = Op> {
    let c = 0..clients;
    prop_oneof![
        3 => (c.clone(), any::<bool>()).prop_map(|(client, lost)| Op::Send { client, answer_lost: lost }),
        1 => c.clone().prop_map(|client| Op::Retry { client }),
        6 => (c.clone(), prop::bool::weighted(0.1)).prop_map(|(client, twice)| Op::Deliver { client, twice }),
        3 => c.clone().prop_map(|client| Op::Fetched { client }),
        1 => c.clone().prop_map(|client| Op::TooSlow { client }),
        1 => c.clone().prop_map(|client| Op::Disconnect { client }),
        2 => c.prop_map(|client| Op::Reconnect { client }),
    ]
}

struct Client {
    user: UserId,
    history: History,
    connected: bool,
    /// Live events queued for this client by the hub.
    inbox: VecDeque<Message>,
    /// Written but not confirmed.
    outbox: Outbox,
    catch_up: CatchUp,
    /// The page of missed messages the pass under way asked for (read when asked), not
    /// yet arrived.
    fetch: Option<Vec<Message>>,
}

impl Client {
    /// A page joins the copy as in the browser (`client::Chat::add_messages`): what it
    /// holds leaves the outbox.
    fn add(&mut self, page: Vec<Message>) -> bool {
        let ids: Vec<ClientMsgId> = page.iter().map(|m| m.client_msg_id.clone()).collect();
        let added = self.history.merge(page);
        if added {
            self.outbox.confirmed(&ids);
        }
        added
    }

    /// A live message, as in the browser (`client::Chat::live_message`).
    fn live(&mut self, m: Message) -> Live {
        let id = m.client_msg_id.clone();
        let outcome = self.history.live(m);
        if outcome == Live::Added {
            self.outbox.confirmed(&[id]);
        }
        outcome
    }
}

struct World {
    store: Arc<dyn Store>,
    conversation: ConversationId,
    clients: Vec<Client>,
    written: Vec<String>,
    next_body: usize,
}

impl World {
    async fn stored(&self) -> Vec<Message> {
        let mut all = Vec::new();
        let mut after = 0;
        loop {
            let page = self
                .store
                .messages_after(&self.conversation, &self.clients[0].user, after, 100)
                .await
                .unwrap();
            let Some(last) = page.last() else { break };
            after = last.seq;
            all.extend(page);
        }
        all
    }

    /// What the browser does on a gap or after `Subscribed`: ask the planner, which starts
    /// a pass unless one is under way.
    async fn catch_up(&mut self, i: usize) {
        if self.clients[i].catch_up.request(&self.conversation) {
            self.fetch(i).await;
        }
    }

    /// Asks for the messages after the newest held. The answer is read now and arrives
    /// later (`Fetched`): live events can overtake it.
    async fn fetch(&mut self, i: usize) {
        let c = &self.clients[i];
        let page = self
            .store
            .messages_after(&self.conversation, &c.user, c.history.last_seq(), PAGE)
            .await
            .unwrap();
        self.clients[i].fetch = Some(page);
    }

    /// A page arrives; the planner says whether to fetch the next.
    async fn fetched(&mut self, i: usize) {
        let Some(page) = self.clients[i].fetch.take() else {
            return;
        };
        let len = page.len();
        let added = !page.is_empty() && self.clients[i].add(page);
        let conversation = self.conversation.clone();
        if self.clients[i].catch_up.page(&conversation, len, added) {
            self.fetch(i).await;
        }
    }

    /// The outbox sends what is due, one at a time, as the browser's pump does. When
    /// `first_answer_lost`, the first send's answer never arrives and the pump stops there
    /// (later sends go only when it returns, so only the first can be lost).
    async fn pump(&mut self, i: usize, first_answer_lost: bool) {
        let conversation = self.conversation.clone();
        while let Some(p) = self.clients[i].outbox.next(&conversation) {
            let sent = self
                .store
                .send_message(
                    &conversation,
                    &self.clients[i].user,
                    &p.client_msg_id,
                    &p.body,
                    1,
                )
                .await
                .unwrap();
            if sent.created {
                // The hub: every connected client's queue gets the event.
                for c in self.clients.iter_mut().filter(|c| c.connected) {
                    c.inbox.push_back(sent.message.clone());
                }
            }
            let c = &mut self.clients[i];
            if first_answer_lost {
                // A retry timer is modelled by `Retry`; its pause does not matter here.
                let _ = c
                    .outbox
                    .waiting(&conversation, &p.client_msg_id, "lost".into(), None);
                return;
            }
            // The answer is shown like a page of one; a hole before it is fetched first.
            let shown = c.add(vec![sent.message]);
            c.outbox.stored(&conversation, &p.client_msg_id, shown);
            if !shown {
                self.catch_up(i).await;
            }
        }
    }

    async fn apply(&mut self, op: Op) {
        match op {
            Op::Send {
                client,
                answer_lost,
            } => {
                let body = format!("m{}", self.next_body);
                self.next_body += 1;
                let id = ClientMsgId::from(format!("c{client}-{}", self.next_body));
                self.written.push(body.clone());
                self.clients[client]
                    .outbox
                    .push(self.conversation.clone(), id, body);
                self.pump(client, answer_lost).await;
            }
            Op::Retry { client } => {
                self.clients[client].outbox.retry_timer_fired();
                self.pump(client, false).await;
            }
            Op::Deliver { client, twice } => {
                let Some(m) = self.clients[client].inbox.pop_front() else {
                    return;
                };
                if twice {
                    self.clients[client].inbox.push_front(m.clone());
                }
                if let Live::Gap { .. } = self.clients[client].live(m) {
                    self.catch_up(client).await;
                }
            }
            Op::Fetched { client } => self.fetched(client).await,
            Op::TooSlow { client } | Op::Disconnect { client } => {
                let c = &mut self.clients[client];
                c.connected = false;
                c.inbox.clear();
            }
            Op::Reconnect { client } => {
                if self.clients[client].connected {
                    return;
                }
                self.clients[client].connected = true;
                let resume = self.clients[client].history.resume_point();
                let resumable = match resume {
                    None => true,
                    Some(r) => self
                        .store
                        .can_resume(
                            &self.conversation,
                            &self.clients[client].user,
                            r.seq,
                            &r.message_id,
                        )
                        .await
                        .unwrap()
                        .unwrap(),
                };
                assert!(resumable, "the server refused to resume an intact copy");
                // `Hello`: what waited goes now; `Subscribed`: catch up.
                self.clients[client].outbox.resume();
                self.pump(client, false).await;
                self.catch_up(client).await;
            }
        }
    }

    /// Every copy is a gap-free, duplicate-free prefix of what is stored.
    async fn check_prefixes(&self) {
        let stored = self.stored().await;
        for (i, c) in self.clients.iter().enumerate() {
            let held: Vec<&Message> = c.history.messages().collect();
            assert!(
                held.len() <= stored.len(),
                "client {i} holds more than stored"
            );
            for (k, m) in held.iter().enumerate() {
                assert_eq!(
                    **m, stored[k],
                    "client {i}: position {k} is not the stored message"
                );
            }
        }
    }
}

async fn run(ops: Vec<Op>) {
    let (store, _dir) = fresh_store().await;
    let users = [
        user(&*store, "ann").await,
        user(&*store, "ben").await,
        user(&*store, "cat").await,
    ];
    let conversation = store
        .create_group(&users[0], &title("Recovery"), &users[1..], 1)
        .await
        .unwrap();
    // Ann has two tabs.
    let tabs = [&users[0], &users[0], &users[1], &users[2]];
    let mut world = World {
        store,
        conversation,
        clients: tabs
            .iter()
            .map(|u| Client {
                user: (*u).clone(),
                history: History::default(),
                connected: true,
                inbox: VecDeque::new(),
                outbox: Outbox::default(),
                catch_up: CatchUp::new(PAGE as usize),
                fetch: None,
            })
            .collect(),
        written: Vec::new(),
        next_body: 0,
    };
    for i in 0..world.clients.len() {
        world.catch_up(i).await;
    }
    for op in ops {
        world.apply(op).await;
        world.check_prefixes().await;
    }
    // Everyone comes back, sends what waited, and hears everything.
    for i in 0..world.clients.len() {
        world.apply(Op::Reconnect { client: i }).await;
        while !world.clients[i].outbox.due().is_empty() {
            world.apply(Op::Retry { client: i }).await;
        }
    }
    for i in 0..world.clients.len() {
        while !world.clients[i].inbox.is_empty() {
            world
                .apply(Op::Deliver {
                    client: i,
                    twice: false,
                })
                .await;
        }
        world.catch_up(i).await;
        while world.clients[i].fetch.is_some() {
            world.fetched(i).await;
        }
    }
    let stored = world.stored().await;
    for (i, c) in world.clients.iter().enumerate() {
        let held: Vec<Message> = c.history.messages().cloned().collect();
        assert_eq!(held, stored, "client {i} is not the whole conversation");
        assert!(
            c.outbox.is_empty(),
            "client {i} still holds {:?}",
            c.outbox.items()
        );
    }
    let mut times: HashMap<&str, usize> = HashMap::new();
    for m in stored
        .iter()
        .filter(|m| m.kind == crate::domain::MessageKind::Text)
    {
        *times.entry(m.body.as_str()).or_default() += 1;
    }
    for body in &world.written {
        assert_eq!(times.get(body.as_str()), Some(&1), "{body} stored once");
    }
    assert_eq!(
        times.len(),
        world.written.len(),
        "nothing stored that was not written"
    );
}

/// Cases to run: `NATTER_PROPTEST_CASES` or 48 (a few seconds).
fn cases() -> u32 {
    std::env::var("NATTER_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(48)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn every_copy_is_a_gap_free_duplicate_free_prefix_and_ends_whole(
        ops in prop::collection::vec(op(4), 1..80)
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(run(ops));
    }
}

#[tokio::test]
async fn a_copy_whose_last_message_is_not_stored_there_cannot_resume() {
    let (store, _dir) = fresh_store().await;
    let (ann, ben, eve, c) = ann_ben_and_eve(&*store).await;
    let sent = store
        .send_message(&c, &ann, &"a-1".into(), "hi", 1)
        .await
        .unwrap();
    let id = sent.message.id.clone();
    assert_eq!(
        store.can_resume(&c, &ben, 1, &id).await.unwrap(),
        Some(true)
    );
    // Another message at that seq (a restored backup), or no message there at all.
    assert_eq!(
        store
            .can_resume(&c, &ben, 1, &"other".into())
            .await
            .unwrap(),
        Some(false)
    );
    assert_eq!(
        store.can_resume(&c, &ben, 9, &id).await.unwrap(),
        Some(false)
    );
    // Not a member: not even told whether it would resume.
    assert_eq!(store.can_resume(&c, &eve, 1, &id).await.unwrap(), None);
}

#[tokio::test]
async fn a_send_to_a_locked_database_fails_as_unavailable_writes_nothing_and_lands_once_later() {
    use super::store::sqlite::{tests::WriteLock, SqliteStore};
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/natter.db", dir.path().display());
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open_with(&url, std::time::Duration::from_millis(200))
            .await
            .unwrap(),
    );
    let ann = user(&*store, "ann").await;
    let ben = user(&*store, "ben").await;
    let c = store.open_direct(&ann, &ben, 1).await.unwrap();

    // Another program holds the write lock (a backup, a stuck migration).
    let other = WriteLock::take(&url).await;
    // Sent the way the server sends: through the writer, which commits sends together.
    let writer = crate::server::writer::MessageWriter::start(
        store.clone(),
        &tokio_util::task::TaskTracker::new(),
    );
    let new = |sender: &UserId, id: &str| crate::server::store::NewMessage {
        conversation_id: c.clone(),
        sender: sender.clone(),
        client_msg_id: id.into(),
        body: "while locked".to_string(),
        now: 2,
    };
    let (first, second) =
        tokio::join!(writer.send(new(&ann, "a-1")), writer.send(new(&ben, "b-1")));
    for refused in [first.unwrap_err(), second.unwrap_err()] {
        assert!(refused.is_unavailable(), "{refused}");
    }
    // Reading still works under the lock (WAL): nothing was written.
    assert!(store
        .messages_after(&c, &ann, 0, 10)
        .await
        .unwrap()
        .is_empty());

    other.release().await;
    let sent = store
        .send_message(&c, &ann, &"a-1".into(), "while locked", 3)
        .await
        .unwrap();
    assert!(sent.created);
    let again = store
        .send_message(&c, &ann, &"a-1".into(), "while locked", 4)
        .await
        .unwrap();
    assert!(
        !again.created,
        "a retry of a stored send stores nothing more"
    );
    let all = store.messages_after(&c, &ann, 0, 10).await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].seq, 1);
}
