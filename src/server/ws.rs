//! The WebSocket at `/ws`: one per tab. Authenticated at the upgrade by the session
//! cookie; a foreign `Origin` is refused with 403 before the upgrade (cross-site WebSocket
//! hijacking). Every frame is checked against what this user may do.

use super::hub::{CloseReason, Connection};
use super::presence::{Left, OFFLINE_GRACE};
use super::{auth, csrf, now_ms, AppState};
use crate::model::User;
use crate::protocol::{
    ClientFrame, ErrorCode, Event, Limits, PresenceState, Resume, ServerFrame, Topic,
    CLOSE_GOING_AWAY, CLOSE_INVALID_DATA, CLOSE_PROTOCOL_ERROR, CLOSE_SESSION_ENDED, CLOSE_TOO_BIG,
};
use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::{Duration, Instant};

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
    let most = state.settings.max_connections_per_user;
    if state.hub.connections_of(&user.id).len() >= most {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            format!("Too many open tabs: at most {most} per person. Close one and reload."),
        )
            .into_response();
    }
    let max_frame = state.settings.max_frame_bytes;
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

/// Sends a frame, unless the connection is told to close first (a client that stops
/// reading fills its socket buffer, and a send to it would wait for ever).
async fn deliver(
    socket: &mut WebSocket,
    conn: &Connection,
    text: Arc<str>,
) -> Result<(), Option<CloseReason>> {
    tokio::select! {
        sent = socket.send(WsMessage::Text(text.as_ref().into())) => sent.map_err(|_| None),
        reason = conn.closed() => Err(Some(reason)),
    }
}

async fn serve(mut socket: WebSocket, state: AppState, user: User, session: String) {
    let (conn, mut outgoing) = state.hub.connect(&user.id, &session);
    let mut shutdown = state.shutdown.subscribe();
    state.hub.subscribe(Topic::User(user.id.clone()), &conn);
    conn.send(&ServerFrame::Hello {
        user_id: user.id.clone(),
        connection_id: conn.id,
        limits: Limits {
            max_message_chars: state.settings.max_message_chars,
            max_frame_bytes: state.settings.max_frame_bytes,
        },
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
                if let Err(reason) = deliver(&mut socket, &conn, text).await {
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

/// Tells everyone who shares a conversation with the user what their presence is now.
/// The state is read when it is sent, not when it changed: two changes announced by two
/// tasks can finish their database look-ups in either order, and the last word must be
/// the current state.
async fn announce_presence(state: &AppState, user_id: &str, last_seen_at: Option<i64>) {
    let ids = match state.store.conversation_ids_of(user_id).await {
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
        let frame = match ClientFrame::decode(text, self.state.settings.max_frame_bytes) {
            Ok(f) => f,
            Err(e) => {
                self.error(ErrorCode::BadFrame, &e);
                return None;
            }
        };
        if frame == ClientFrame::Ping {
            self.conn.send(&ServerFrame::Pong);
            return None;
        }
        if let Some(reason) = self.check_session().await {
            return Some(reason);
        }
        match frame {
            ClientFrame::Ping => {}
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
            (Topic::User(_), Some(_)) => {
                return self.error(ErrorCode::BadFrame, "Only conversations resume.");
            }
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
                        self.state.settings.typing_per_minute,
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

    fn publish_typing(&self, conversation_id: String, active: bool) {
        let topic = Topic::Conversation(conversation_id.clone());
        self.state.hub.publish_except(
            &topic,
            Event::Typing {
                conversation_id,
                user_id: self.user.id.clone(),
                display_name: self.user.display_name.clone(),
                active,
            },
            Some(self.conn.id),
        );
    }

    /// A closing tab stops showing its user as typing.
    fn stop_typing(&mut self) {
        if let Some(conversation_id) = self.typing_in.take() {
            self.publish_typing(conversation_id, false);
        }
    }
}
