//! One connection's frames: each is decoded (size-checked; failures answer `bad_frame`),
//! charged to the socket's budget, and, except `ping`, answered for the session as it is
//! now (a logged-out, expired or blocked session closes with 4001). Then it is dispatched:
//! subscriptions to [`super::subscribe`], typing, presence and call signals to their
//! actions, whose refusals become `error` frames (or, for a per-user rate, count against
//! the budget).

use crate::domain::User;
use crate::error::AppError;
use crate::protocol::{ClientFrame, ErrorCode, ServerFrame, CLOSE_POLICY, CLOSE_SESSION_ENDED};
use crate::server::actions::{self, typing::TypingIn};
use crate::server::budget::{FrameBudget, FrameKind, Over};
use crate::server::hub::{CloseReason, Connection};
use crate::server::{now_ms, AppState};

/// A session as the database sees it now.
pub enum SessionNow {
    Live,
    /// Logged out, expired, or the account blocked: close with this.
    Ended(CloseReason),
    /// The database could not be asked.
    Unknown,
}

/// One connection's side of the protocol: what it may do, for whom, and how much more. The
/// socket loop ([`super::socket`]) hands it every frame that arrives.
pub struct ConnectionHandler<'a> {
    pub(super) state: &'a AppState,
    pub(super) user: &'a User,
    /// The session the socket was opened with (its token's hash).
    pub(super) session: String,
    pub(super) conn: &'a Connection,
    /// The conversation this connection last said the user is typing in.
    pub(super) typing_in: TypingIn,
    /// What this connection may still send.
    pub(super) budget: FrameBudget,
}

impl<'a> ConnectionHandler<'a> {
    /// The handler of `conn`, opened by `user` with `session` (its token's hash).
    pub fn new(
        state: &'a AppState,
        user: &'a User,
        session: String,
        conn: &'a Connection,
        budget: FrameBudget,
    ) -> ConnectionHandler<'a> {
        ConnectionHandler {
            state,
            user,
            session,
            conn,
            typing_in: TypingIn::default(),
            budget,
        }
    }

    /// The connection closed: its user stops showing as typing where it said so, the calls
    /// it took part in end, and its presence leaves (offline after a grace, if it was the
    /// last tab).
    pub async fn closed(&mut self) {
        actions::typing::stop(self.state, self.user, &mut self.typing_in);
        actions::calls::connection_closed(self.state, self.conn.id).await;
        actions::presence::disconnected(self.state, self.user, self.conn.id).await;
    }

    pub(super) fn error(&self, code: ErrorCode, message: &str) {
        self.conn.send(&ServerFrame::Error {
            code,
            message: message.to_string(),
        });
    }

    /// `Some` (close the socket) when the session has ended: logged out, expired, or the
    /// account blocked. Every frame is answered for who is asking now, not who opened it.
    pub async fn check_session(&self) -> SessionNow {
        match self.state.store.session_user(&self.session, now_ms()).await {
            Ok(Some(user)) if user.id == self.user.id => SessionNow::Live,
            Ok(_) => SessionNow::Ended((CLOSE_SESSION_ENDED, "session ended")),
            Err(e) => {
                tracing::warn!("checking a session: {e}");
                SessionNow::Unknown
            }
        }
    }

    /// Answers a frame over a budget; `Some` when the connection must close for it.
    fn over_budget(&self, over: Over) -> Option<CloseReason> {
        match over {
            Over::Refuse(message) => {
                self.error(ErrorCode::RateLimited, &message);
                None
            }
            Over::Close => Some((CLOSE_POLICY, "too many frames: slow down")),
        }
    }

    /// A binary frame: refused, and counted like any other frame.
    pub fn binary(&mut self) -> Option<CloseReason> {
        if let Err(over) = self.budget.take(FrameKind::Other) {
            return self.over_budget(over);
        }
        self.error(ErrorCode::BadFrame, "Frames are JSON text.");
        None
    }

    /// Handles one text frame; `Some` when the socket must close.
    pub async fn handle(&mut self, text: &str) -> Option<CloseReason> {
        let decoded = ClientFrame::decode(text, self.state.settings().max_frame_bytes);
        let kind = match &decoded {
            Ok(ClientFrame::Subscribe { .. } | ClientFrame::Unsubscribe { .. }) => {
                FrameKind::Subscription
            }
            _ => FrameKind::Other,
        };
        if let Err(over) = self.budget.take(kind) {
            return self.over_budget(over);
        }
        let frame = match decoded {
            Ok(f) => f,
            Err(e) => {
                self.error(ErrorCode::BadFrame, &e);
                return None;
            }
        };
        if matches!(frame, ClientFrame::Ping {}) {
            self.conn.send(&ServerFrame::Pong);
            return None;
        }
        match self.check_session().await {
            SessionNow::Live => {}
            SessionNow::Ended(reason) => return Some(reason),
            SessionNow::Unknown => {
                // The database cannot say who is asking: the frame is refused, the socket
                // stays (it is asked again at the next frame).
                self.error(
                    ErrorCode::Internal,
                    "Could not check your session; try again.",
                );
                return None;
            }
        }
        match frame {
            ClientFrame::Ping {} => {}
            ClientFrame::Subscribe { topic, resume } => self.subscribe(topic, resume).await,
            ClientFrame::Unsubscribe { topic } => {
                self.state.hub.unsubscribe(&topic, self.conn.id);
            }
            ClientFrame::Typing {
                conversation_id,
                active,
            } => {
                let (state, user, conn) = (self.state, self.user, self.conn);
                let typing_in = &mut self.typing_in;
                let done =
                    actions::typing::set(state, user, conn, typing_in, conversation_id, active);
                return self.answer(done);
            }
            ClientFrame::CallSignal { call_id, signal } => {
                return self.answer(actions::calls::signal(
                    self.state, self.conn, call_id, signal,
                ));
            }
            ClientFrame::Presence { state } => {
                let done = actions::presence::set(self.state, self.user, self.conn.id, state).await;
                return self.answer(done);
            }
        }
        None
    }

    /// Answers a frame whose action refused: a per-user rate counts against the socket's
    /// budget (`Some` when the connection must close for it), anything else is an error
    /// frame saying why.
    fn answer(&mut self, done: Result<(), AppError>) -> Option<CloseReason> {
        match done {
            Ok(()) => None,
            Err(AppError::RateLimited { message, .. }) => {
                let over = self.budget.refused(message);
                self.over_budget(over)
            }
            Err(AppError::Internal | AppError::Unavailable) => {
                self.error(ErrorCode::Internal, "Something went wrong; try again.");
                None
            }
            Err(refused) => {
                self.error(ErrorCode::Forbidden, &refused.to_string());
                None
            }
        }
    }
}

/// Fuzzing of the frame handling a connection does: random frames (made-up text, frames
/// shaped like the protocol with random fields and numbers, and byte-level mutations of
/// both) go through `ConnectionHandler::handle` with a real store, hub and rate limits. Whatever
/// arrives: no panic, the socket is not closed for a live session, every answer is a
/// well-formed frame, and nothing reaches or subscribes to what the sender is not part of.
/// Cases: `NATTER_FUZZ_CASES` (default 600, a few seconds).
#[cfg(test)]
mod fuzz {
    use super::super::testing::{events_of, fixture};
    use super::*;
    use crate::domain::{ConversationId, PresenceState};
    use crate::protocol::Topic;
    use proptest::prelude::*;
    use serde_json::{json, Value};

    /// A JSON value shaped like a client frame, with fields drawn from valid, hostile and
    /// nonsense values.
    fn shaped(ours: String, theirs: String) -> impl Strategy<Value = String> {
        let id = prop_oneof![
            Just(ours.clone()),
            Just(theirs.clone()),
            Just(String::new()),
            Just("x".repeat(300)),
            any::<String>(),
        ];
        let topic = prop_oneof![
            Just(format!("conversation:{ours}")),
            Just(format!("conversation:{theirs}")),
            Just("user:someone-else".to_string()),
            Just("admin:all".to_string()),
            Just("admin:dashboard".to_string()),
            any::<String>(),
        ];
        let number = prop_oneof![
            Just(json!(0)),
            Just(json!(-1)),
            Just(json!(i64::MAX)),
            Just(json!(u64::MAX)),
            Just(json!(1.5)),
            any::<i64>().prop_map(|n| json!(n)),
            Just(json!("7")),
            Just(Value::Null),
        ];
        let kind = prop_oneof![
            Just("subscribe"),
            Just("unsubscribe"),
            Just("typing"),
            Just("presence"),
            Just("call_signal"),
            Just("ping"),
            Just("launch"),
        ];
        (
            kind,
            topic,
            id.clone(),
            id,
            number,
            any::<bool>(),
            0usize..4,
        )
            .prop_map(|(kind, topic, id, call, number, flag, extra)| {
                let mut v = json!({
                    "type": kind,
                    "topic": topic,
                    "conversation_id": id,
                    "active": flag,
                    "state": if flag { "online" } else { "sleeping" },
                    "call_id": call,
                    "resume": {"seq": number, "message_id": "m"},
                    "signal": {"kind": "candidate", "candidate": "c", "sdp_mid": null, "sdp_m_line_index": number},
                });
                // Keep only some fields, so that frames are often exactly right.
                if let Some(map) = v.as_object_mut() {
                    let keep: &[&str] = match kind {
                        "subscribe" | "unsubscribe" => &["type", "topic", "resume"],
                        "typing" => &["type", "conversation_id", "active"],
                        "presence" => &["type", "state"],
                        "call_signal" => &["type", "call_id", "signal"],
                        _ => &["type"],
                    };
                    let extra_key = ["to", "topic", "seq", "x"].get(extra).copied();
                    map.retain(|k, _| keep.contains(&k.as_str()) || Some(k.as_str()) == extra_key);
                    if kind == "subscribe" && !flag {
                        map.remove("resume");
                    }
                }
                v.to_string()
            })
    }

    /// A frame as it may arrive: made up, shaped, or either with its bytes damaged.
    fn frame(ours: String, theirs: String) -> impl Strategy<Value = String> {
        let base = prop_oneof![
            3 => shaped(ours, theirs),
            1 => any::<String>(),
            1 => (1usize..3000).prop_map(|depth| format!("{}1{}", "[".repeat(depth), "]".repeat(depth))),
        ];
        (
            base,
            prop::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 0..3),
        )
            .prop_map(|(text, edits)| {
                let mut bytes = text.into_bytes();
                for (at, byte, how) in edits {
                    if bytes.is_empty() {
                        break;
                    }
                    let i = at % bytes.len();
                    match how {
                        0 => bytes[i] = byte,
                        1 => bytes.truncate(i),
                        _ => bytes.insert(i, byte),
                    }
                }
                // A text frame is UTF-8 by the time it gets here (tungstenite checks).
                String::from_utf8_lossy(&bytes).into_owned()
            })
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    fn cases() -> u32 {
        std::env::var("NATTER_FUZZ_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(600)
    }

    #[test]
    fn any_sequence_of_frames_is_answered_without_harm_or_leak() {
        let runtime = runtime();
        let f = runtime.block_on(fixture());
        let (ours, theirs) = (f.ours.to_string(), f.theirs.to_string());
        let strategy = prop::collection::vec(frame(ours, theirs), 1..12);
        let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
            cases: cases(),
            failure_persistence: None,
            ..ProptestConfig::default()
        });
        let result = runner.run(&strategy, |frames| {
            runtime.block_on(async {
                let hub = &f.state.hub;
                // Ben and Cat listen on the conversation Ann is not part of.
                let (cat, mut cat_rx) = hub.connect(&"cat".into(), "cat-session");
                hub.subscribe(Topic::Conversation(f.theirs.clone()), &cat);
                let (conn, mut outgoing) = hub.connect(&f.ann.id, "ann-session");
                let mut handler = f.ann_on(&conn);
                for text in &frames {
                    let closed = handler.handle(text).await;
                    prop_assert_eq!(closed, None, "closed a live session on {:?}", text);
                }
                handler.closed().await;
                prop_assert!(!hub.is_subscribed(&Topic::Conversation(f.theirs.clone()), conn.id));
                prop_assert!(!hub.is_subscribed(&Topic::User("someone-else".into()), conn.id));
                prop_assert!(
                    !hub.is_subscribed(&Topic::Admin, conn.id),
                    "Ann is no admin"
                );
                while let Ok(sent) = outgoing.try_recv() {
                    let parsed = serde_json::from_str::<ServerFrame>(&sent);
                    prop_assert!(parsed.is_ok(), "answered with a malformed frame: {}", sent);
                }
                prop_assert!(cat_rx.try_recv().is_err(), "Cat heard something from Ann");
                hub.disconnect(conn.id);
                hub.disconnect(cat.id);
                Ok(())
            })
        });
        if let Err(e) = result {
            panic!("{e}");
        }
    }

    #[test]
    fn frames_for_an_ended_session_close_the_socket() {
        let runtime = runtime();
        runtime.block_on(async {
            let f = fixture().await;
            let (conn, _rx) = f.state.hub.connect(&f.ann.id, "ann-session");
            let mut handler = f.ann_on(&conn);
            let typing = format!(
                r#"{{"type":"typing","conversation_id":"{}","active":false}}"#,
                f.ours
            );
            assert_eq!(handler.handle(&typing).await, None);
            f.state.store.delete_session("ann-session").await.unwrap();
            // A ping is answered without a look-up; anything else finds the session gone.
            assert_eq!(handler.handle(r#"{"type":"ping"}"#).await, None);
            assert_eq!(
                handler.handle(&typing).await,
                Some((CLOSE_SESSION_ENDED, "session ended"))
            );
        });
    }

    fn typing(conversation: &ConversationId, active: bool) -> String {
        json!({"type": "typing", "conversation_id": conversation, "active": active}).to_string()
    }

    #[tokio::test]
    async fn nobody_is_told_that_they_themselves_are_typing() {
        let f = fixture().await;
        let topic = Topic::Conversation(f.ours.clone());
        let (tab1, _rx1) = f.state.hub.connect(&f.ann.id, "ann-session");
        let (tab2, mut rx2) = f.state.hub.connect(&f.ann.id, "ann-session");
        let (ben, mut ben_rx) = f.state.hub.connect(&"ben".into(), "ben-session");
        for c in [&tab1, &tab2, &ben] {
            f.state.hub.subscribe(topic.clone(), c);
        }
        let mut handler = f.ann_on(&tab1);
        assert_eq!(handler.handle(&typing(&f.ours, true)).await, None);
        assert!(
            events_of(&mut rx2, "typing").is_empty(),
            "Ann's other tab heard her typing"
        );
        assert_eq!(events_of(&mut ben_rx, "typing").len(), 1);
    }

    #[tokio::test]
    async fn a_typing_stop_where_nobody_was_typing_tells_nobody() {
        let f = fixture().await;
        let topic = Topic::Conversation(f.ours.clone());
        let (tab, _rx) = f.state.hub.connect(&f.ann.id, "ann-session");
        let (ben, mut ben_rx) = f.state.hub.connect(&"ben".into(), "ben-session");
        f.state.hub.subscribe(topic.clone(), &tab);
        f.state.hub.subscribe(topic, &ben);
        let mut handler = f.ann_on(&tab);
        handler.handle(&typing(&f.ours, false)).await;
        assert!(events_of(&mut ben_rx, "typing").is_empty());
        handler.handle(&typing(&f.ours, true)).await;
        handler.handle(&typing(&f.ours, false)).await;
        handler.handle(&typing(&f.ours, false)).await;
        let heard = events_of(&mut ben_rx, "typing");
        assert_eq!(heard.len(), 2, "started, then stopped once: {heard:?}");
    }

    #[tokio::test]
    async fn a_flood_of_typing_frames_is_refused_then_the_socket_closes() {
        let f = fixture().await;
        let topic = Topic::Conversation(f.ours.clone());
        let (tab, mut rx) = f.state.hub.connect(&f.ann.id, "ann-session");
        let (ben, mut ben_rx) = f.state.hub.connect(&"ben".into(), "ben-session");
        f.state.hub.subscribe(topic.clone(), &tab);
        f.state.hub.subscribe(topic, &ben);
        let mut handler = f.ann_on(&tab);
        let mut closed = None;
        for i in 0..5000 {
            if let Some(reason) = handler.handle(&typing(&f.ours, i % 2 == 0)).await {
                closed = Some((i, reason));
                break;
            }
        }
        let (after, reason) = closed.expect("the flood was never cut off");
        assert_eq!(reason.0, CLOSE_POLICY);
        assert!(after < 1000, "closed only after {after} frames");
        let heard = events_of(&mut ben_rx, "typing").len();
        let rate = f.state.settings().typing_per_minute as usize;
        assert!(heard <= 2 * rate + 1, "Ben heard {heard} typing updates");
        let mut refusals = 0;
        while let Ok(text) = rx.try_recv() {
            refusals += usize::from(text.contains("rate_limited"));
        }
        assert!(
            refusals > 0,
            "no rate_limited error was sent before the close"
        );
    }

    #[tokio::test]
    async fn a_flood_of_presence_changes_reaches_others_at_most_at_the_rate() {
        let f = fixture().await;
        let topic = Topic::Conversation(f.ours.clone());
        let (tab, _rx) = f.state.hub.connect(&f.ann.id, "ann-session");
        let (ben, mut ben_rx) = f.state.hub.connect(&"ben".into(), "ben-session");
        f.state.hub.subscribe(topic, &ben);
        f.state
            .presence
            .connected(&f.ann.id, tab.id, PresenceState::Online);
        let mut handler = f.ann_on(&tab);
        for i in 0..5000 {
            let state = if i % 2 == 0 { "away" } else { "online" };
            let frame = json!({"type": "presence", "state": state}).to_string();
            if handler.handle(&frame).await.is_some() {
                break;
            }
        }
        let heard = events_of(&mut ben_rx, "presence").len();
        assert!(
            heard <= crate::server::PRESENCE_PER_MINUTE as usize,
            "Ben heard {heard} presence changes"
        );
    }
}
