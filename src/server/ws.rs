//! The WebSocket at `/ws`: one per tab. Authenticated at the upgrade by the session
//! cookie; a foreign `Origin` is refused with 403 before the upgrade (cross-site WebSocket
//! hijacking). Every frame is checked against what this user may do.

use super::actions::{self, typing::TypingIn};
use super::budget::{FrameBudget, FrameKind, Over};
use super::hub::{CloseReason, Connection};
use super::{auth, csrf, now_ms, AppState};
use crate::error::AppError;
use crate::model::{Role, User};
use crate::protocol::{
    ClientFrame, ErrorCode, Limits, PresenceState, Resume, ServerFrame, Topic, CLOSE_GOING_AWAY,
    CLOSE_INVALID_DATA, CLOSE_POLICY, CLOSE_PROTOCOL_ERROR, CLOSE_SESSION_ENDED, CLOSE_TOO_BIG,
};
use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{RawQuery, State};
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

/// The presence a tab states when it opens its socket: `/ws?presence=away` for a tab that
/// is hidden (opened in the background, or reconnecting while hidden); online otherwise.
pub fn opening_presence(query: Option<&str>) -> PresenceState {
    let away = query
        .unwrap_or_default()
        .split('&')
        .any(|pair| pair == "presence=away");
    if away {
        PresenceState::Away
    } else {
        PresenceState::Online
    }
}

pub async fn upgrade(
    ws: WebSocketUpgrade,
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    // A browser always sends Origin on a WebSocket handshake; it must be this site.
    if headers.get(header::ORIGIN).is_none() || !csrf::is_same_site(&headers) {
        return (StatusCode::FORBIDDEN, "Cross-site WebSocket refused.").into_response();
    }
    let (user, session) = match auth::session_from_headers(&*state.store, &headers).await {
        Ok(Some(found)) => found,
        Ok(None) => return (StatusCode::UNAUTHORIZED, "Please log in.").into_response(),
        Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    // Counted and joined in one step, so that upgrades arriving together cannot all pass
    // the count before any of them joins.
    let most = state.settings().max_connections_per_user;
    let Some((conn, outgoing)) = state.hub.connect_within(&user.id, &session, most) else {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            format!("Too many open tabs: at most {most} per person. Close one and reload."),
        )
            .into_response();
    };
    // Leaves the hub if the upgrade never completes (the closure is dropped unrun).
    let joined = Joined {
        state: state.clone(),
        conn,
    };
    let presence = opening_presence(query.as_deref());
    let max_frame = state.settings().max_frame_bytes;
    ws.read_buffer_size(BUFFER_BYTES)
        .write_buffer_size(BUFFER_BYTES)
        .max_message_size(max_frame)
        .max_frame_size(max_frame)
        .on_upgrade(move |socket| {
            let tasks = joined.state.tasks.clone();
            tasks.track_future(serve(socket, joined, outgoing, user, session, presence))
        })
}

/// A connection that has joined the hub; it leaves when this is dropped.
struct Joined {
    state: AppState,
    conn: Connection,
}

impl Drop for Joined {
    fn drop(&mut self) {
        self.state.hub.disconnect(self.conn.id);
    }
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

async fn serve(
    mut socket: WebSocket,
    joined: Joined,
    mut outgoing: mpsc::Receiver<Arc<str>>,
    user: User,
    session: String,
    presence: PresenceState,
) {
    let (state, conn) = (joined.state.clone(), joined.conn.clone());
    // The session may have ended (a block, a temporary password) between the upgrade's
    // check and joining the hub, which is where ending it looks for sockets to close.
    let live = state.store.session_user(&session, now_ms()).await;
    if matches!(live, Ok(None)) || matches!(&live, Ok(Some(u)) if u.id != user.id) {
        drop(joined);
        close_with(&mut socket, (CLOSE_SESSION_ENDED, "session ended")).await;
        return;
    }
    let shutdown = state.shutdown.clone();
    state.hub.subscribe(Topic::User(user.id.clone()), &conn);
    conn.send(&ServerFrame::Hello {
        user_id: user.id.clone(),
        connection_id: conn.id,
        limits: limits(&state.settings()),
    });
    actions::presence::connected(&state, &user, conn.id, presence).await;
    // A call that rings for this user, or that they are in, is known to every tab they
    // open while it lasts, including one opened or reloaded after it began.
    actions::calls::tell_live_calls(&state, &user.id, &conn).await;
    let conversations = match state.store.membership_count(&user.id).await {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!("counting the conversations of a new connection: {e}");
            0
        }
    };
    let mut session = Session {
        state: &state,
        user: &user,
        session,
        conn: &conn,
        typing_in: TypingIn::default(),
        budget: FrameBudget::for_member_of(conversations),
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
                        if let Some(reason) = session.binary() {
                            break Some(reason);
                        }
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
                if let SessionNow::Ended(reason) = session.check_session().await {
                    break Some(reason);
                }
                if socket.send(WsMessage::Ping(Vec::new().into())).await.is_err() {
                    break None;
                }
            }
            _ = shutdown.cancelled() => {
                break Some((CLOSE_GOING_AWAY, "server restarting: reconnect"));
            }
        }
    };
    // Out of the hub first: nothing more is queued for a socket that is going.
    drop(joined);
    if let Some(reason) = close {
        close_with(&mut socket, reason).await;
    }
    actions::typing::stop(&state, &user, &mut session.typing_in);
    actions::calls::connection_closed(&state, conn.id).await;
    actions::presence::disconnected(&state, &user, conn.id).await;
}

/// Closes the socket with `reason`, by the closing handshake (RFC 6455, section 7.1.1):
/// what the client sent before it read our close is read and dropped until its own close
/// (for [`CLOSE_WAIT`] at most), so that no unread data is left behind, which would make the
/// kernel reset the connection and the client never learn why it was closed.
async fn close_with(socket: &mut WebSocket, (code, reason): CloseReason) {
    let frame = WsMessage::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }));
    let _ = tokio::time::timeout(CLOSE_WAIT, async {
        socket.send(frame).await?;
        while let Some(frame) = socket.recv().await {
            if matches!(frame?, WsMessage::Close(_)) {
                break;
            }
        }
        Ok::<(), axum::Error>(())
    })
    .await;
}

/// A session as the database sees it now.
enum SessionNow {
    Live,
    /// Logged out, expired, or the account blocked: close with this.
    Ended(CloseReason),
    /// The database could not be asked.
    Unknown,
}

struct Session<'a> {
    state: &'a AppState,
    user: &'a User,
    /// The session the socket was opened with (its token's hash).
    session: String,
    conn: &'a Connection,
    /// The conversation this connection last said the user is typing in.
    typing_in: TypingIn,
    /// What this connection may still send.
    budget: FrameBudget,
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
    async fn check_session(&self) -> SessionNow {
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
    fn binary(&mut self) -> Option<CloseReason> {
        if let Err(over) = self.budget.take(FrameKind::Other) {
            return self.over_budget(over);
        }
        self.error(ErrorCode::BadFrame, "Frames are JSON text.");
        None
    }

    /// Handles one text frame; `Some` when the socket must close.
    async fn handle(&mut self, text: &str) -> Option<CloseReason> {
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

    async fn subscribe(&mut self, topic: Topic, resume: Option<Resume>) {
        let store = &self.state.store;
        // Membership changes take the conversation's lock too: a removal cannot fall
        // between this check and the subscription (and leave a removed member listening).
        let _order = match &topic {
            Topic::Conversation(id) => Some(self.state.publish_order.lock(id).await),
            _ => None,
        };
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
            session_of(self, &self.ann, "ann-session", conn)
        }
    }

    async fn fixture() -> Fixture {
        let (store, dir) = fresh_store().await;
        let ann = user(&*store, "ann").await;
        let ben = user(&*store, "ben").await;
        let cat = user(&*store, "cat").await;
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
                actions::typing::stop(&f.state, &f.ann, &mut session.typing_in);
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

    /// A signed-in user's side of a connection (a session row exists for `session`).
    async fn signed_in(f: &Fixture, username: &str, session: &str) -> User {
        let user = f.state.store.users_by_username(&[username]).await.unwrap()[0].clone();
        f.state
            .store
            .create_session(
                &user.id,
                &NewSession {
                    token_hash: session,
                    created_at: 0,
                    expires_at: i64::MAX,
                    user_agent: None,
                },
            )
            .await
            .unwrap();
        user
    }

    fn session_of<'a>(
        f: &'a Fixture,
        user: &'a User,
        session: &str,
        conn: &'a Connection,
    ) -> Session<'a> {
        Session {
            state: &f.state,
            user,
            session: session.to_string(),
            conn,
            typing_in: TypingIn::default(),
            budget: FrameBudget::default(),
        }
    }

    /// The event frames a connection has queued, of one `type`.
    fn events_of(rx: &mut mpsc::Receiver<Arc<str>>, kind: &str) -> Vec<Value> {
        let mut found = Vec::new();
        while let Ok(text) = rx.try_recv() {
            let v: Value = serde_json::from_str(&text).unwrap();
            if v["type"] == "event" && v["event"]["kind"] == kind {
                found.push(v);
            }
        }
        found
    }

    fn typing(conversation: &str, active: bool) -> String {
        json!({"type": "typing", "conversation_id": conversation, "active": active}).to_string()
    }

    #[tokio::test]
    async fn nobody_is_told_that_they_themselves_are_typing() {
        let f = fixture().await;
        let topic = Topic::Conversation(f.ours.clone());
        let (tab1, _rx1) = f.state.hub.connect(&f.ann.id, "ann-session");
        let (tab2, mut rx2) = f.state.hub.connect(&f.ann.id, "ann-session");
        let (ben, mut ben_rx) = f.state.hub.connect("ben", "ben-session");
        for c in [&tab1, &tab2, &ben] {
            f.state.hub.subscribe(topic.clone(), c);
        }
        let mut session = f.ann_on(&tab1);
        assert_eq!(session.handle(&typing(&f.ours, true)).await, None);
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
        let (ben, mut ben_rx) = f.state.hub.connect("ben", "ben-session");
        f.state.hub.subscribe(topic.clone(), &tab);
        f.state.hub.subscribe(topic, &ben);
        let mut session = f.ann_on(&tab);
        session.handle(&typing(&f.ours, false)).await;
        assert!(events_of(&mut ben_rx, "typing").is_empty());
        session.handle(&typing(&f.ours, true)).await;
        session.handle(&typing(&f.ours, false)).await;
        session.handle(&typing(&f.ours, false)).await;
        let heard = events_of(&mut ben_rx, "typing");
        assert_eq!(heard.len(), 2, "started, then stopped once: {heard:?}");
    }

    #[tokio::test]
    async fn a_flood_of_typing_frames_is_refused_then_the_socket_closes() {
        let f = fixture().await;
        let topic = Topic::Conversation(f.ours.clone());
        let (tab, mut rx) = f.state.hub.connect(&f.ann.id, "ann-session");
        let (ben, mut ben_rx) = f.state.hub.connect("ben", "ben-session");
        f.state.hub.subscribe(topic.clone(), &tab);
        f.state.hub.subscribe(topic, &ben);
        let mut session = f.ann_on(&tab);
        let mut closed = None;
        for i in 0..5000 {
            if let Some(reason) = session.handle(&typing(&f.ours, i % 2 == 0)).await {
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
        let (ben, mut ben_rx) = f.state.hub.connect("ben", "ben-session");
        f.state.hub.subscribe(topic, &ben);
        f.state
            .presence
            .connected(&f.ann.id, tab.id, PresenceState::Online);
        let mut session = f.ann_on(&tab);
        for i in 0..5000 {
            let state = if i % 2 == 0 { "away" } else { "online" };
            let frame = json!({"type": "presence", "state": state}).to_string();
            if session.handle(&frame).await.is_some() {
                break;
            }
        }
        let heard = events_of(&mut ben_rx, "presence").len();
        assert!(
            heard <= super::super::PRESENCE_PER_MINUTE as usize,
            "Ben heard {heard} presence changes"
        );
    }

    #[tokio::test]
    async fn a_tab_opened_while_a_call_rings_hears_it_ring() {
        let f = fixture().await;
        let ben = signed_in(&f, "ben", "ben-session").await;
        let change = f
            .state
            .store
            .start_call(&f.ours, &ben.id, crate::call::CallMedia::Audio, now_ms())
            .await
            .unwrap();
        // Ann opens a tab after the ring began.
        let (tab, mut rx) = f.state.hub.connect(&f.ann.id, "ann-session");
        actions::calls::tell_live_calls(&f.state, &f.ann.id, &tab).await;
        let calls = events_of(&mut rx, "call");
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0]["event"]["call"]["id"], json!(change.call.id));
        assert_eq!(calls[0]["event"]["call"]["state"], json!("ringing"));
        // Nobody else's calls: Cat's tab hears nothing.
        let (cat_tab, mut cat_rx) = f.state.hub.connect("cat", "cat-session");
        actions::calls::tell_live_calls(&f.state, "cat", &cat_tab).await;
        assert!(events_of(&mut cat_rx, "call").is_empty());
    }

    #[test]
    fn a_removed_member_is_never_left_subscribed() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let f = fixture().await;
            let ben = signed_in(&f, "ben", "ben-session").await;
            let group = f
                .state
                .store
                .create_group(&f.ann.id, "Team", std::slice::from_ref(&ben.id), 1)
                .await
                .unwrap();
            let topic = Topic::Conversation(group.clone());
            let subscribe =
                json!({"type": "subscribe", "topic": format!("conversation:{group}")}).to_string();
            for round in 0..40 {
                let (tab, _rx) = f.state.hub.connect(&ben.id, "ben-session");
                let racing = async {
                    let mut session = session_of(&f, &ben, "ben-session", &tab);
                    for _ in 0..4 {
                        session.handle(&subscribe).await;
                        tokio::task::yield_now().await;
                    }
                };
                let removal = async {
                    tokio::task::yield_now().await;
                    actions::conversations::remove_member(&f.state, &f.ann, &group, &ben.id)
                        .await
                        .unwrap();
                };
                tokio::join!(racing, removal);
                assert!(
                    !f.state.hub.is_subscribed(&topic, tab.id),
                    "round {round}: Ben still listens to the group he was removed from"
                );
                f.state.hub.disconnect(tab.id);
                f.state
                    .store
                    .add_group_member(&group, &f.ann.id, &ben.id, 1)
                    .await
                    .unwrap();
            }
        });
    }
}
