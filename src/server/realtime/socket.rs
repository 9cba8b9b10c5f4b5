//! The WebSocket at `/ws`, one per tab: the upgrade (a foreign `Origin` is refused with 403
//! before it, against cross-site WebSocket hijacking; the session cookie must be live; at
//! most `max_connections_per_user` sockets a person), the socket loop (frames in, queued
//! frames out, pings, the close a shutdown or the hub asks for) and the closing handshake.

use super::handler::{ConnectionHandler, SessionNow};
use crate::domain::PresenceState;
use crate::domain::User;
use crate::protocol::{
    ServerFrame, Topic, CLOSE_GOING_AWAY, CLOSE_INVALID_DATA, CLOSE_PROTOCOL_ERROR,
    CLOSE_SESSION_ENDED, CLOSE_TOO_BIG,
};
use crate::server::actions;
use crate::server::budget::FrameBudget;
use crate::server::hub::{CloseReason, Connection};
use crate::server::{auth, csrf, metrics, now_ms, AppState};
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
pub const CLOSE_WAIT: Duration = Duration::from_secs(1);
/// The code of a close frame that carried none (RFC 6455, 7.1.5); never sent.
const CLOSE_NO_STATUS: u16 = 1005;
/// The code of a connection that ended without a close frame (RFC 6455, 7.1.5); never sent.
const CLOSE_ABNORMAL: u16 = 1006;

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

/// `GET /ws`: checks the origin, the session and the per-person socket count, joins the
/// hub, and hands the socket to [`serve`] once upgraded.
pub async fn upgrade(
    ws: WebSocketUpgrade,
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    client: Option<axum::Extension<crate::server::proxy::ClientAddr>>,
    headers: HeaderMap,
) -> Response {
    // A browser always sends Origin on a WebSocket handshake; it must be this site.
    if headers.get(header::ORIGIN).is_none()
        || !csrf::is_same_site(&headers, &state.settings().public_url)
    {
        return (StatusCode::FORBIDDEN, "Cross-site WebSocket refused.").into_response();
    }
    let (user, session) =
        match auth::session_from_headers(&*state.store, &state.settings(), &headers).await {
            Ok(Some(found)) => found,
            Ok(None) => return (StatusCode::UNAUTHORIZED, "Please log in.").into_response(),
            Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        };
    // What the person's list of sessions shows as "last active" (one write a minute).
    let address = client.map(|axum::Extension(c)| c.0.to_string());
    if let Err(e) = state
        .store
        .touch_session(&session, now_ms(), address.as_deref())
        .await
    {
        tracing::warn!("recording a session's use: {e}");
    }
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
    use tungstenite::error::{Error, ProtocolError};
    match error.into_inner().downcast_ref::<Error>()? {
        Error::Capacity(_) => Some((CLOSE_TOO_BIG, "frame too large")),
        Error::Utf8(_) => Some((CLOSE_INVALID_DATA, "frames must be UTF-8 text")),
        // The client just went (its connection ended without a close): nobody to tell.
        Error::Protocol(ProtocolError::ResetWithoutClosingHandshake) => None,
        Error::Protocol(_) => Some((CLOSE_PROTOCOL_ERROR, "not the WebSocket protocol")),
        _ => None,
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
    let _open = metrics::websocket_opened();
    // The session may have ended (a block, a temporary password) between the upgrade's
    // check and joining the hub, which is where ending it looks for sockets to close.
    let live = state.store.session_user(&session, now_ms()).await;
    if matches!(live, Ok(None)) || matches!(&live, Ok(Some(u)) if u.id != user.id) {
        drop(joined);
        close_with(&mut socket, (CLOSE_SESSION_ENDED, "session ended")).await;
        metrics::websocket_closed(CLOSE_SESSION_ENDED);
        return;
    }
    let shutdown = state.shutdown.clone();
    state.hub.subscribe(Topic::User(user.id.clone()), &conn);
    conn.send(&ServerFrame::Hello {
        user_id: user.id.clone(),
        connection_id: conn.id,
        limits: super::limits(&state.settings()),
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
    let budget = FrameBudget::for_member_of(conversations);
    let mut handler = ConnectionHandler::new(&state, &user, session, &conn, budget);
    let mut ping = tokio::time::interval(PING_EVERY);
    let mut last_heard = Instant::now();
    // The code the connection ended with when the client ended it: its close frame's, or
    // none (1005) in it, or no close frame at all (1006).
    let mut client_code = CLOSE_ABNORMAL;
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
                        if let Some(reason) = handler.handle(text.as_str()).await {
                            break Some(reason);
                        }
                    }
                    WsMessage::Binary(_) => {
                        if let Some(reason) = handler.binary() {
                            break Some(reason);
                        }
                    }
                    WsMessage::Close(frame) => {
                        client_code = frame.map_or(CLOSE_NO_STATUS, |f| f.code);
                        break None;
                    }
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
                if let SessionNow::Ended(reason) = handler.check_session().await {
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
    metrics::websocket_closed(close.map_or(client_code, |(code, _)| code));
    if let Some(reason) = close {
        close_with(&mut socket, reason).await;
    }
    handler.closed().await;
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
