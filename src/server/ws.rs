//! The WebSocket at `/ws`: one per tab. Authenticated at the upgrade by the session
//! cookie; a foreign `Origin` is refused with 403 before the upgrade (cross-site WebSocket
//! hijacking). Every frame is checked against what this user may do.

use super::presence::{Left, OFFLINE_GRACE};
use super::{auth, csrf, AppState};
use crate::model::User;
use crate::protocol::{
    ClientFrame, ErrorCode, Event, PresenceState, ServerFrame, Topic, CLOSE_GOING_AWAY,
    CLOSE_TOO_SLOW, MAX_FRAME_BYTES,
};
use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::time::{Duration, Instant};

/// Socket buffers: small, so that idle connections stay cheap.
const BUFFER_BYTES: usize = 4096;
/// How often the server pings; a connection silent for three of these is dropped.
const PING_EVERY: Duration = Duration::from_secs(20);
/// Typing frames closer together than this are refused.
const TYPING_MIN_GAP: Duration = Duration::from_millis(500);

pub async fn upgrade(
    ws: WebSocketUpgrade,
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Response {
    // A browser always sends Origin on a WebSocket handshake; it must be this site.
    if headers.get(header::ORIGIN).is_none() || !csrf::is_same_site(&headers) {
        return (StatusCode::FORBIDDEN, "Cross-site WebSocket refused.").into_response();
    }
    let user = match auth::user_from_headers(&state.store, &headers).await {
        Ok(Some(user)) => user,
        Ok(None) => return (StatusCode::UNAUTHORIZED, "Please log in.").into_response(),
        Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    ws.read_buffer_size(BUFFER_BYTES)
        .write_buffer_size(BUFFER_BYTES)
        .max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .on_upgrade(move |socket| serve(socket, state, user))
}

async fn serve(mut socket: WebSocket, state: AppState, user: User) {
    let (conn, mut outgoing) = state.hub.connect(&user.id);
    let mut shutdown = state.shutdown.subscribe();
    state.hub.subscribe(Topic::User(user.id.clone()), &conn);
    conn.send(&ServerFrame::Hello {
        user_id: user.id.clone(),
        connection_id: conn.id,
    });
    if state.presence.connected(&user.id, conn.id).is_some() {
        announce_presence(&state, &user.id, None).await;
    }
    let mut session = Session {
        state: &state,
        user: &user,
        conn: &conn,
        last_typing: None,
    };
    let mut ping = tokio::time::interval(PING_EVERY);
    let mut last_heard = Instant::now();
    let close = loop {
        tokio::select! {
            incoming = socket.recv() => {
                let Some(Ok(frame)) = incoming else { break None };
                last_heard = Instant::now();
                match frame {
                    WsMessage::Text(text) => session.handle(text.as_str()).await,
                    WsMessage::Binary(_) => {
                        session.error(ErrorCode::BadFrame, "Frames are JSON text.");
                    }
                    WsMessage::Close(_) => break None,
                    WsMessage::Ping(_) | WsMessage::Pong(_) => {}
                }
            }
            Some(text) = outgoing.recv() => {
                if socket.send(WsMessage::Text(text.as_ref().into())).await.is_err() {
                    break None;
                }
            }
            _ = conn.too_slow.notified() => {
                break Some((CLOSE_TOO_SLOW, "too slow: reconnect and resume"));
            }
            _ = ping.tick() => {
                if last_heard.elapsed() > PING_EVERY * 3 {
                    break None;
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
    if let Some((code, reason)) = close {
        let _ = socket
            .send(WsMessage::Close(Some(CloseFrame {
                code,
                reason: reason.into(),
            })))
            .await;
    }
    session.stop_typing();
    state.hub.disconnect(conn.id);
    super::calls::connection_closed(&state, conn.id).await;
    match state.presence.disconnected(&user.id, conn.id) {
        Left::Still(Some(_)) => announce_presence(&state, &user.id, None).await,
        Left::Still(None) => {}
        Left::LastTab(epoch) => {
            let state = state.clone();
            tokio::spawn(async move {
                tokio::time::sleep(OFFLINE_GRACE).await;
                if state.presence.confirm_offline(&user.id, epoch) {
                    let now = super::now_ms();
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
    conn: &'a super::hub::Connection,
    last_typing: Option<(String, Instant)>,
}

impl Session<'_> {
    fn error(&self, code: ErrorCode, message: &str) {
        self.conn.send(&ServerFrame::Error {
            code,
            message: message.to_string(),
        });
    }

    async fn handle(&mut self, text: &str) {
        let frame = match ClientFrame::decode(text) {
            Ok(f) => f,
            Err(e) => return self.error(ErrorCode::BadFrame, &e),
        };
        match frame {
            ClientFrame::Ping => {
                self.conn.send(&ServerFrame::Pong);
            }
            ClientFrame::Subscribe { topic } => self.subscribe(topic).await,
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
    }

    async fn subscribe(&mut self, topic: Topic) {
        let allowed = match &topic {
            Topic::User(id) => *id == self.user.id,
            Topic::Conversation(id) => match self.state.store.is_member(id, &self.user.id).await {
                Ok(member) => member,
                Err(e) => {
                    tracing::error!("membership check: {e}");
                    return self.error(ErrorCode::Internal, "Could not subscribe; try again.");
                }
            },
        };
        if !allowed {
            return self.error(
                ErrorCode::Forbidden,
                &format!("You are not allowed to subscribe to {topic}."),
            );
        }
        self.state.hub.subscribe(topic.clone(), self.conn);
        self.conn.send(&ServerFrame::Subscribed { topic });
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
        let now = Instant::now();
        if active {
            if let Some((last_id, at)) = &self.last_typing {
                if *last_id == conversation_id && now.duration_since(*at) < TYPING_MIN_GAP {
                    return self.error(ErrorCode::RateLimited, "Typing updates are too frequent.");
                }
            }
            self.last_typing = Some((conversation_id.clone(), now));
        } else {
            self.last_typing = None;
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
        if let Some((conversation_id, _)) = self.last_typing.take() {
            self.publish_typing(conversation_id, false);
        }
    }
}
