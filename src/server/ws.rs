//! The WebSocket at `/ws`: one per tab. Authenticated at the upgrade by the session
//! cookie; a foreign `Origin` is refused with 403 before the upgrade (cross-site WebSocket
//! hijacking). Every frame is checked against what this user may do.

use super::hub::{CloseReason, Connection};
use super::presence::{Left, OFFLINE_GRACE};
use super::{auth, csrf, now_ms, AppState};
use crate::model::{Role, User};
use crate::protocol::{
    ClientFrame, ErrorCode, Event, Limits, PresenceState, Resume, ServerFrame, Topic,
    CLOSE_GOING_AWAY, CLOSE_INVALID_DATA, CLOSE_PROTOCOL_ERROR, CLOSE_SESSION_ENDED, CLOSE_TOO_BIG,
};
use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::SinkExt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Socket buffers: small, so that idle connections stay cheap.
const BUFFER_BYTES: usize = 4096;
/// How often the server pings; a connection silent for three of these is dropped.
const PING_EVERY: Duration = Duration::from_secs(20);
/// How long a closing socket may take to accept its close frame before it is dropped.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

pub async fn upgrade(
    ws: WebSocketUpgrade,
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Response {
    // A browser always sends Origin on a WebSocket handshake; it must be this site.
    if headers.get(header::ORIGIN).is_none() || !csrf::is_same_site(&headers) {
        return (StatusCode::FORBIDDEN, "Cross-site WebSocket refused.").into_response();
    }
    let (user, session) = match auth::session_from_headers(&state.store, &headers).await {
        Ok(Some(found)) => found,
        Ok(None) => return (StatusCode::UNAUTHORIZED, "Please log in.").into_response(),
        Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    let most = state.settings().max_connections_per_user;
    if state.hub.connections_of(&user.id).len() >= most {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            format!("Too many open tabs: at most {most} per person. Close one and reload."),
        )
            .into_response();
    }
    let max_frame = state.settings().max_frame_bytes;
    ws.read_buffer_size(BUFFER_BYTES)
        .write_buffer_size(BUFFER_BYTES)
        .max_message_size(max_frame)
        .max_frame_size(max_frame)
        .on_upgrade(move |socket| serve(socket, state, user, session))
}

/// Why reading from a socket failed, as a close code for the client, when it broke a rule
/// (too big, not UTF-8, not the WebSocket protocol) rather than just went away.
fn refusal(error: axum::Error) -> Option<CloseReason> {
    use tungstenite::error::Error;
    match error.into_inner().downcast_ref::<Error>()? {
        Error::Capacity(_) => Some((CLOSE_TOO_BIG, "frame too large")),
        Error::Utf8(_) => Some((CLOSE_INVALID_DATA, "frames must be UTF-8 text")),
        Error::Protocol(_) => Some((CLOSE_PROTOCOL_ERROR, "not the WebSocket protocol")),
        _ => None,
    }
}

/// What the browser should check before it sends.
pub fn limits(settings: &super::config::Settings) -> Limits {
    Limits {
        max_message_chars: settings.max_message_chars,
        max_frame_bytes: settings.max_frame_bytes,
    }
}

/// Most frames written with one flush.
const BURST_FRAMES: usize = 64;

/// Sends a frame and the frames already queued behind it, flushed once (a burst costs
/// one write to the socket, not one each), unless the connection is told to close first
/// (a client that stops reading fills its socket buffer, and a send to it would wait for
/// ever).
async fn deliver(
    socket: &mut WebSocket,
    conn: &Connection,
    first: Arc<str>,
    queued: &mut mpsc::Receiver<Arc<str>>,
) -> Result<(), Option<CloseReason>> {
    let write = async {
        socket.feed(WsMessage::Text(first.as_ref().into())).await?;
        for _ in 1..BURST_FRAMES {
            let Ok(next) = queued.try_recv() else { break };
            socket.feed(WsMessage::Text(next.as_ref().into())).await?;
        }
        socket.flush().await
    };
    tokio::select! {
        sent = write => sent.map_err(|_| None),
        reason = conn.closed() => Err(Some(reason)),
    }
}

async fn serve(mut socket: WebSocket, state: AppState, user: User, session: String) {
    let (conn, mut outgoing) = state.hub.connect(&user.id, &session);
    // The session may have ended (a block, a temporary password) between the upgrade's
    // check and joining the hub, which is where ending it looks for sockets to close.
    let live = state.store.session_user(&session, now_ms()).await;
    if matches!(live, Ok(None)) || matches!(&live, Ok(Some(u)) if u.id != user.id) {
        state.hub.disconnect(conn.id);
        let frame = WsMessage::Close(Some(CloseFrame {
            code: CLOSE_SESSION_ENDED,
            reason: "session ended".into(),
        }));
        let _ = tokio::time::timeout(CLOSE_WAIT, socket.send(frame)).await;
        return;
    }
    let mut shutdown = state.shutdown.subscribe();
    state.hub.subscribe(Topic::User(user.id.clone()), &conn);
    conn.send(&ServerFrame::Hello {
        user_id: user.id.clone(),
        connection_id: conn.id,
        limits: limits(&state.settings()),
    });
    if state.presence.connected(&user.id, conn.id).is_some() {
        announce_presence(&state, &user.id, None).await;
    }
    let mut session = Session {
        state: &state,
        user: &user,
        session,
        conn: &conn,
        typing_in: None,
    };
    let mut ping = tokio::time::interval(PING_EVERY);
    let mut last_heard = Instant::now();
    let close = loop {
        tokio::select! {
            incoming = socket.recv() => {
                let frame = match incoming {
                    Some(Ok(frame)) => frame,
                    Some(Err(e)) => break refusal(e),
                    None => break None,
                };
                last_heard = Instant::now();
                match frame {
                    WsMessage::Text(text) => {
                        if let Some(reason) = session.handle(text.as_str()).await {
                            break Some(reason);
                        }
                    }
                    WsMessage::Binary(_) => {
                        session.error(ErrorCode::BadFrame, "Frames are JSON text.");
                    }
                    WsMessage::Close(_) => break None,
                    WsMessage::Ping(_) | WsMessage::Pong(_) => {}
                }
            }
            Some(text) = outgoing.recv() => {
                if let Err(reason) = deliver(&mut socket, &conn, text, &mut outgoing).await {
                    break reason;
                }
            }
            reason = conn.closed() => break Some(reason),
            _ = ping.tick() => {
                if last_heard.elapsed() > PING_EVERY * 3 {
                    break None;
                }
                // Sessions end elsewhere too (expiry, another instance's logout, a block).
                if let Some(reason) = session.check_session().await {
                    break Some(reason);
                }
                if socket.send(WsMessage::Ping(Vec::new().into())).await.is_err() {
                    break None;
                }
            }
            _ = shutdown.changed() => {
                break Some((CLOSE_GOING_AWAY, "server restarting: reconnect"));
            }
        }
    };
    // Out of the hub first: nothing more is queued for a socket that is going.
    state.hub.disconnect(conn.id);
    if let Some((code, reason)) = close {
        let frame = WsMessage::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        }));
        let _ = tokio::time::timeout(CLOSE_WAIT, socket.send(frame)).await;
    }
    session.stop_typing();
    super::calls::connection_closed(&state, conn.id).await;
    match state.presence.disconnected(&user.id, conn.id) {
        Left::Still(Some(_)) => announce_presence(&state, &user.id, None).await,
        Left::Still(None) => {}
        Left::LastTab(epoch) => {
            let state = state.clone();
            tokio::spawn(async move {
                tokio::time::sleep(OFFLINE_GRACE).await;
                if state.presence.confirm_offline(&user.id, epoch) {
                    let now = now_ms();
                    if let Err(e) = state.store.touch_last_seen(&user.id, now).await {
                        tracing::warn!("recording last seen: {e}");
                    }
                    announce_presence(&state, &user.id, Some(now)).await;
                }
            });
        }
    }
}

/// Tells the people the user has a direct conversation with what their presence is now.
/// Only direct conversations show presence; announcing it in groups too would send every
/// member of a room of a thousand a frame each time anyone in it opened or closed a tab.
/// The state is read when it is sent, not when it changed: two changes announced by two
/// tasks can finish their database look-ups in either order, and the last word must be
/// the current state.
async fn announce_presence(state: &AppState, user_id: &str, last_seen_at: Option<i64>) {
    let ids = match state.store.direct_conversation_ids_of(user_id).await {
        Ok(ids) => ids,
        Err(e) => {
            tracing::warn!("announcing presence: {e}");
            return;
        }
    };
    state.presence.announce(user_id, |presence| {
        let last_seen_at = last_seen_at.filter(|_| presence == PresenceState::Offline);
        for id in ids {
            state.hub.publish(
                &Topic::Conversation(id),
                Event::Presence {
                    user_id: user_id.to_string(),
                    state: presence,
                    last_seen_at,
                },
            );
        }
    });
}

struct Session<'a> {
    state: &'a AppState,
    user: &'a User,
    /// The session the socket was opened with (its token's hash).
    session: String,
    conn: &'a Connection,
    /// The conversation this connection last said the user is typing in.
    typing_in: Option<String>,
}

impl Session<'_> {
    fn error(&self, code: ErrorCode, message: &str) {
        self.conn.send(&ServerFrame::Error {
            code,
            message: message.to_string(),
        });
    }

    /// `Some` (close the socket) when the session has ended: logged out, expired, or the
    /// account blocked. Every frame is answered for who is asking now, not who opened it.
    async fn check_session(&self) -> Option<CloseReason> {
        match self.state.store.session_user(&self.session, now_ms()).await {
            Ok(Some(user)) if user.id == self.user.id => None,
            Ok(_) => Some((CLOSE_SESSION_ENDED, "session ended")),
            Err(e) => {
                // The database is unreachable: the frame is refused, the socket stays.
                tracing::warn!("checking a session: {e}");
                None
            }
        }
    }

    /// Handles one text frame; `Some` when the socket must close.
    async fn handle(&mut self, text: &str) -> Option<CloseReason> {
        let frame = match ClientFrame::decode(text, self.state.settings().max_frame_bytes) {
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
        if let Some(reason) = self.check_session().await {
            return Some(reason);
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
            } => self.typing(conversation_id, active),
            ClientFrame::CallSignal { call_id, signal } => {
                if let Err(reason) = super::calls::relay(self.state, self.conn, call_id, signal) {
                    self.error(ErrorCode::Forbidden, reason);
                }
            }
            ClientFrame::Presence { state } => {
                if self
                    .state
                    .presence
                    .set(&self.user.id, self.conn.id, state)
                    .is_some()
                {
                    announce_presence(self.state, &self.user.id, None).await;
                }
            }
        }
        None
    }

    async fn subscribe(&mut self, topic: Topic, resume: Option<Resume>) {
        let store = &self.state.store;
        let checked = match (&topic, &resume) {
            (Topic::User(id), None) => Ok((*id == self.user.id).then_some(true)),
            (Topic::User(_) | Topic::Admin, Some(_)) => {
                return self.error(ErrorCode::BadFrame, "Only conversations resume.");
            }
            // The role as it is now, not as it was when the socket opened.
            (Topic::Admin, None) => store
                .session_user(&self.session, now_ms())
                .await
                .map(|u| u.filter(|u| u.role == Role::Admin).map(|_| true)),
            (Topic::Conversation(id), None) => store
                .is_member(id, &self.user.id)
                .await
                .map(|member| member.then_some(true)),
            (Topic::Conversation(id), Some(r)) => {
                store
                    .can_resume(id, &self.user.id, r.seq, &r.message_id)
                    .await
            }
        };
        // `None`: not theirs (the membership check is the query itself).
        let resumable = match checked {
            Ok(Some(resumable)) => resumable,
            Ok(None) => {
                return self.error(
                    ErrorCode::Forbidden,
                    &format!("You are not allowed to subscribe to {topic}."),
                )
            }
            Err(e) => {
                tracing::error!("membership check: {e}");
                return self.error(ErrorCode::Internal, "Could not subscribe; try again.");
            }
        };
        self.state.hub.subscribe(topic.clone(), self.conn);
        // A demotion that landed between the check and the subscription has already
        // looked for this socket to drop it: look at the role once more.
        if topic == Topic::Admin {
            let still = store.session_user(&self.session, now_ms()).await;
            if !matches!(still, Ok(Some(u)) if u.role == Role::Admin) {
                self.state.hub.unsubscribe(&topic, self.conn.id);
                return self.error(
                    ErrorCode::Forbidden,
                    &format!("You are not allowed to subscribe to {topic}."),
                );
            }
        }
        if resumable {
            self.conn.send(&ServerFrame::Subscribed { topic });
        } else {
            // Subscribed, but what the client holds is not this conversation's history
            // any more: it must load it again rather than fetch "what it missed".
            self.conn.send(&ServerFrame::Reset { topic });
        }
    }

    fn typing(&mut self, conversation_id: String, active: bool) {
        // Subscribing checked membership, and leaving a conversation unsubscribes:
        // typing anywhere else is refused.
        let topic = Topic::Conversation(conversation_id.clone());
        if !self.state.hub.is_subscribed(&topic, self.conn.id) {
            return self.error(
                ErrorCode::Forbidden,
                "You can only type in conversations you have open.",
            );
        }
        if active {
            if let Err(wait) = self.state.rates.typing.take(&self.user.id, Instant::now()) {
                return self.error(
                    ErrorCode::RateLimited,
                    &format!(
                        "Typing updates are too frequent: at most {} a minute. Wait {} ms.",
                        self.state.settings().typing_per_minute,
                        wait.as_millis()
                    ),
                );
            }
            self.typing_in = Some(conversation_id.clone());
        } else {
            self.typing_in = None;
        }
        self.publish_typing(conversation_id, active);
    }

    /// To the conversation's other tabs, except those of people on either side of a
    /// block with the typist.
    fn publish_typing(&self, conversation_id: String, active: bool) {
        let topic = Topic::Conversation(conversation_id.clone());
        let (me, blocks) = (&self.user.id, &self.state.blocks);
        self.state.hub.publish_to(
            &topic,
            Event::Typing {
                conversation_id,
                user_id: me.clone(),
                display_name: self.user.display_name.clone(),
                active,
            },
            |c| c.id != self.conn.id && !blocks.between(me, &c.user_id),
        );
    }

    /// A closing tab stops showing its user as typing.
    fn stop_typing(&mut self) {
        if let Some(conversation_id) = self.typing_in.take() {
            self.publish_typing(conversation_id, false);
        }
    }
}

/// Fuzzing of the frame handling a connection does: random frames (made-up text, frames
/// shaped like the protocol with random fields and numbers, and byte-level mutations of
/// both) go through `Session::handle` with a real store, hub and rate limits. Whatever
/// arrives: no panic, the socket is not closed for a live session, every answer is a
/// well-formed frame, and nothing reaches or subscribes to what the sender is not part of.
/// Cases: `NATTER_FUZZ_CASES` (default 600, a few seconds).
#[cfg(test)]
mod fuzz {
    use super::*;
    use crate::server::config::Settings;
    use crate::server::store::tests::{fresh_store, user};
    use crate::server::store::NewSession;
    use proptest::prelude::*;
    use serde_json::{json, Value};

    struct Fixture {
        state: AppState,
        ann: User,
        /// Ann and Ben's conversation, and Ben and Cat's (not Ann's).
        ours: String,
        theirs: String,
        _dir: tempfile::TempDir,
    }

    impl Fixture {
        /// Ann's side of a connection, as `serve` makes it.
        fn ann_on<'a>(&'a self, conn: &'a Connection) -> Session<'a> {
            Session {
                state: &self.state,
                user: &self.ann,
                session: "ann-session".to_string(),
                conn,
                typing_in: None,
            }
        }
    }

    async fn fixture() -> Fixture {
        let (store, dir) = fresh_store().await;
        let ann = user(&store, "ann").await;
        let ben = user(&store, "ben").await;
        let cat = user(&store, "cat").await;
        store
            .create_session(
                &ann,
                &NewSession {
                    token_hash: "ann-session",
                    created_at: 0,
                    expires_at: i64::MAX,
                    user_agent: None,
                },
            )
            .await
            .unwrap();
        let ours = store.open_direct(&ann, &ben, 1).await.unwrap();
        let theirs = store.open_direct(&ben, &cat, 1).await.unwrap();
        let settings = Settings::load("t", None, &|_| None).unwrap();
        let options = leptos::config::LeptosOptions::builder()
            .output_name("natter")
            .build();
        let state = AppState::new(options, store.clone(), settings);
        let ann = store.session_user("ann-session", 1).await.unwrap().unwrap();
        Fixture {
            state,
            ann,
            ours,
            theirs,
            _dir: dir,
        }
    }

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
        let strategy = prop::collection::vec(frame(f.ours.clone(), f.theirs.clone()), 1..12);
        let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
            cases: cases(),
            failure_persistence: None,
            ..ProptestConfig::default()
        });
        let result = runner.run(&strategy, |frames| {
            runtime.block_on(async {
                let hub = &f.state.hub;
                // Ben and Cat listen on the conversation Ann is not part of.
                let (cat, mut cat_rx) = hub.connect("cat", "cat-session");
                hub.subscribe(Topic::Conversation(f.theirs.clone()), &cat);
                let (conn, mut outgoing) = hub.connect(&f.ann.id, "ann-session");
                let mut session = f.ann_on(&conn);
                for text in &frames {
                    let closed = session.handle(text).await;
                    prop_assert_eq!(closed, None, "closed a live session on {:?}", text);
                }
                session.stop_typing();
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
            let mut session = f.ann_on(&conn);
            let typing = format!(
                r#"{{"type":"typing","conversation_id":"{}","active":false}}"#,
                f.ours
            );
            assert_eq!(session.handle(&typing).await, None);
            f.state.store.delete_session("ann-session").await.unwrap();
            // A ping is answered without a look-up; anything else finds the session gone.
            assert_eq!(session.handle(r#"{"type":"ping"}"#).await, None);
            assert_eq!(
                session.handle(&typing).await,
                Some((CLOSE_SESSION_ENDED, "session ended"))
            );
        });
    }
}
