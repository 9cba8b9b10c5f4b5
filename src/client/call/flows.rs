//! A call from ringing to its end, as this tab lives it: placing and answering (camera and
//! microphone first), the server's call events, early events for a call being placed, and
//! what the person is told when it ends.

use super::media::{describe, stop_tracks, user_media};
use super::peer::{close_media, make_offer, open_peer};
use super::with_runtime;
use crate::api::calls::{answer_call, decline_call, hang_up, start_call};
use crate::client::realtime;
use crate::client::Client;
use crate::domain::call::{Call, CallMedia, CallState};
use crate::domain::{CallId, ConversationId, UserId};
use crate::protocol::Signal;
use leptos::prelude::*;
use leptos::task::spawn_local;

/// What arrived for a call this tab is still setting up.
pub(super) enum Early {
    Call(Call),
    Signal(CallId, Signal),
}

/// Rings the other person of a direct conversation.
pub(super) fn start(client: Client, conversation_id: ConversationId, media: CallMedia) {
    let ui = client.calls;
    if ui.current.get_untracked().is_some() || ui.working.get_untracked() {
        return;
    }
    ui.notice.set(None);
    ui.working.set(true);
    spawn_local(async move {
        let result = place(client, conversation_id, media).await;
        let early = with_runtime(client, |r| {
            r.starting = false;
            std::mem::take(&mut r.early)
        })
        .unwrap_or_default();
        ui.working.set(false);
        match result {
            Err(message) => {
                close_media(client);
                ui.notice.set(Some(message));
            }
            Ok(call) if call.state == CallState::Busy => {
                close_media(client);
                ui.notice.set(Some(format!(
                    "{} is on another call.",
                    crate::domain::text::isolate(&call.callee.display_name)
                )));
            }
            Ok(call) => {
                ui.current.set(Some(call));
                for e in early {
                    match e {
                        Early::Call(call) => on_call_event(client, call),
                        Early::Signal(id, signal) => on_signal(client, id, signal),
                    }
                }
            }
        }
    });
}

async fn place(
    client: Client,
    conversation_id: ConversationId,
    media: CallMedia,
) -> Result<Call, String> {
    let connection = realtime::connection_id(client)
        .ok_or("You are offline. Wait for Natter to reconnect, then call again.")?;
    let local = user_media(media).await?;
    with_runtime(client, |r| r.starting = true);
    let ticket = start_call(conversation_id, media, connection)
        .await
        .map_err(|e| {
            stop_tracks(&local);
            e.to_string()
        })?;
    if ticket.call.state == CallState::Ringing {
        open_peer(
            client,
            Some(ticket.call.id.clone()),
            &ticket.ice_servers,
            local,
        )?;
    } else {
        stop_tracks(&local);
    }
    Ok(ticket.call)
}

/// Answers the ringing call on this tab: camera and microphone first, so that a refusal
/// there declines the call with a reason instead of leaving the caller waiting.
pub(super) fn accept(client: Client, call: Call) {
    let ui = client.calls;
    if ui.working.get_untracked() {
        return;
    }
    ui.working.set(true);
    ui.notice.set(None);
    spawn_local(async move {
        let result = take_call(client, &call).await;
        ui.working.set(false);
        ui.incoming.set(None);
        match result {
            Ok(active) => {
                // Its answer may have arrived before this tab held it.
                forget_elsewhere(client, &active.id);
                ui.current.set(Some(active));
                spawn_local(async move {
                    if let Err(e) = make_offer(client).await {
                        fail(client, &describe(&e));
                    }
                });
            }
            Err(message) => {
                close_media(client);
                ui.notice.set(Some(message));
            }
        }
    });
}

async fn take_call(client: Client, call: &Call) -> Result<Call, String> {
    let connection =
        realtime::connection_id(client).ok_or("You are offline. Wait for Natter to reconnect.")?;
    let local = match user_media(call.media).await {
        Ok(local) => local,
        Err(message) => {
            let _ = decline_call(call.id.clone()).await;
            return Err(message);
        }
    };
    // This tab makes the offer, so nothing can arrive for the call before the peer
    // connection exists.
    let ticket = match answer_call(call.id.clone(), connection).await {
        Ok(ticket) => ticket,
        Err(e) => {
            stop_tracks(&local);
            return Err(e.to_string());
        }
    };
    open_peer(client, Some(call.id.clone()), &ticket.ice_servers, local)?;
    Ok(ticket.call)
}

pub(super) fn decline(client: Client, call: Call) {
    client.calls.incoming.set(None);
    spawn_local(async move {
        if let Err(e) = decline_call(call.id).await {
            client.calls.notice.set(Some(e.to_string()));
        }
    });
}

/// Cancels (while ringing) or ends the call of this tab.
pub(super) fn end(client: Client) {
    let Some(call) = client.calls.current.get_untracked() else {
        return;
    };
    close_here(client);
    spawn_local(async move {
        if let Err(e) = hang_up(call.id).await {
            client.calls.notice.set(Some(e.to_string()));
        }
    });
}

/// A call changed state on the server.
pub(in crate::client) fn on_call_event(client: Client, call: Call) {
    let ui = client.calls;
    let me = client.chat.me.get_untracked().id;
    let mine_here = ui
        .current
        .with_untracked(|c| c.as_ref().map(|c| c.id.clone()));
    if mine_here.as_ref() == Some(&call.id) {
        forget_elsewhere(client, &call.id);
        if call.state.is_live() {
            ui.current.set(Some(call));
        } else {
            close_here(client);
            ui.notice.set(outcome_notice(&call, &me));
        }
        return;
    }
    if call.caller.id == me && with_runtime(client, |r| r.starting) == Some(true) {
        with_runtime(client, |r| r.early.push(Early::Call(call)));
        return;
    }
    // A call of this person's that another tab holds: known here, so that this tab does
    // not offer to call while it lasts.
    let held_elsewhere = call.state == CallState::Active
        || (call.state == CallState::Ringing && call.caller.id == me);
    if held_elsewhere {
        ui.elsewhere.set(Some(call.clone()));
    } else if ui
        .elsewhere
        .with_untracked(|c| c.as_ref().is_some_and(|c| c.id == call.id))
    {
        ui.elsewhere.set(None);
    }
    if call.callee.id == me {
        if call.state == CallState::Busy {
            ui.notice.set(Some(format!(
                "{} tried to call you.",
                crate::domain::text::isolate(&call.caller.display_name)
            )));
        } else if call.state == CallState::Ringing {
            ui.incoming.set(Some(call));
        } else if ui
            .incoming
            .with_untracked(|c| c.as_ref().is_some_and(|c| c.id == call.id))
        {
            // Answered on another tab, cancelled, or missed: stop ringing here.
            ui.incoming.set(None);
            if call.state == CallState::Missed {
                ui.notice.set(Some(format!(
                    "Missed call from {}.",
                    crate::domain::text::isolate(&call.caller.display_name)
                )));
            }
        }
    }
}

/// This tab holds the call after all: it is not another tab's.
fn forget_elsewhere(client: Client, call_id: &CallId) {
    let ui = client.calls;
    if ui
        .elsewhere
        .with_untracked(|c| c.as_ref().is_some_and(|c| c.id == *call_id))
    {
        ui.elsewhere.set(None);
    }
}

fn outcome_notice(call: &Call, me: &UserId) -> Option<String> {
    let peer = crate::domain::text::isolate(&call.peer_of(me).display_name);
    match call.state {
        CallState::Declined => Some(format!("{peer} declined the call.")),
        CallState::Missed => Some(format!("{peer} did not answer.")),
        CallState::Busy => Some(format!("{peer} is on another call.")),
        CallState::Ended => Some(format!(
            "Call with {peer} ended · {}",
            crate::domain::call::format_duration(call.duration_ms())
        )),
        CallState::Cancelled => Some(format!("{peer} cancelled the call.")),
        CallState::Ringing | CallState::Active => None,
    }
}

/// Signaling from the other participant.
pub(in crate::client) fn on_signal(client: Client, call_id: CallId, signal: Signal) {
    let ours = super::peer::is_for(client, &call_id);
    if !ours {
        with_runtime(client, |r| {
            if r.starting {
                r.early.push(Early::Signal(call_id, signal));
            }
        });
        return;
    }
    spawn_local(async move {
        if let Err(e) = super::peer::apply_signal(client, signal).await {
            fail(client, &describe(&e));
        }
    });
}

/// The WebSocket dropped: the server ends calls of a closed connection, so this tab's
/// call is over, and a ringing modal may be stale.
pub(in crate::client) fn socket_lost(client: Client) {
    client.calls.incoming.set(None);
    // Told again, as it is then, when the socket is back.
    client.calls.elsewhere.set(None);
    if client.calls.current.get_untracked().is_some() {
        close_here(client);
        client.calls.notice.set(Some(
            "The call ended: the connection to the server was lost.".to_string(),
        ));
    }
}

fn close_here(client: Client) {
    close_media(client);
    let ui = client.calls;
    ui.current.set(None);
    ui.connection.set(String::new());
    ui.connected_at.set(None);
    ui.muted.set(false);
    ui.camera_off.set(false);
}

pub(super) fn fail(client: Client, message: &str) {
    leptos::logging::warn!("call set-up failed: {message}");
    end(client);
    client
        .calls
        .notice
        .set(Some(format!("The call could not connect: {message}")));
}
