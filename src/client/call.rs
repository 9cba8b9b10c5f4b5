//! Calls in the browser: the camera and microphone, the `RTCPeerConnection`, and the call
//! flows of this tab. The callee's answering tab makes the offer; offer, answer and ICE
//! candidates travel as `CallSignal` frames over the tab's WebSocket.
//!
//! The JavaScript objects live in a thread-local (they are not `Send` and not reactive);
//! what the page shows lives in [`CallUi`] signals.

use super::realtime;
use crate::api::calls::get_call_options;
use crate::api::calls::{answer_call, decline_call, hang_up, start_call};
use crate::call::{Call, CallMedia, CallState, IceServer};
use crate::protocol::{ClientFrame, Signal};
use crate::ui::call_view::{CallUi, Devices, LOCAL_MEDIA_ID, REMOTE_MEDIA_ID};
use crate::ui::chat_state::{now_ms, Chat};
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::cell::{Cell, RefCell};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    HtmlMediaElement, MediaStream, MediaStreamConstraints, MediaStreamTrack, RtcConfiguration,
    RtcIceCandidateInit, RtcIceServer, RtcPeerConnection, RtcPeerConnectionIceEvent, RtcSdpType,
    RtcSessionDescriptionInit, RtcTrackEvent,
};

struct Rtc {
    call_id: Option<String>,
    pc: RtcPeerConnection,
    local: MediaStream,
    remote: MediaStream,
    /// Candidates that arrived before the remote description; added once it is set.
    queued: Vec<RtcIceCandidateInit>,
    remote_set: bool,
    _handlers: Vec<Closure<dyn FnMut(JsValue)>>,
}

/// What arrived for a call this tab is still setting up.
enum Early {
    Call(Call),
    Signal(String, Signal),
}

thread_local! {
    static RTC: RefCell<Option<Rtc>> = const { RefCell::new(None) };
    /// True while this tab waits for `start_call`: events for the new call are kept.
    static STARTING: Cell<bool> = const { Cell::new(false) };
    static EARLY: RefCell<Vec<Early>> = const { RefCell::new(Vec::new()) };
}

/// Rings the other person of a direct conversation.
pub fn start(chat: Chat, conversation_id: String, media: CallMedia) {
    let ui = chat.calls;
    if ui.current.get_untracked().is_some() || ui.working.get_untracked() {
        return;
    }
    ui.notice.set(None);
    ui.working.set(true);
    spawn_local(async move {
        let result = place(chat, conversation_id, media).await;
        STARTING.with(|s| s.set(false));
        let early = EARLY.with(|e| std::mem::take(&mut *e.borrow_mut()));
        ui.working.set(false);
        match result {
            Err(message) => {
                close_media();
                ui.notice.set(Some(message));
            }
            Ok(call) if call.state == CallState::Busy => {
                close_media();
                ui.notice.set(Some(format!(
                    "{} is on another call.",
                    crate::text::isolate(&call.callee.display_name)
                )));
            }
            Ok(call) => {
                ui.current.set(Some(call));
                for e in early {
                    match e {
                        Early::Call(call) => on_call_event(chat, call),
                        Early::Signal(id, signal) => on_signal(chat, id, signal),
                    }
                }
            }
        }
    });
}

async fn place(chat: Chat, conversation_id: String, media: CallMedia) -> Result<Call, String> {
    let connection = realtime::connection_id()
        .ok_or("You are offline. Wait for Natter to reconnect, then call again.")?;
    let local = user_media(media).await?;
    STARTING.with(|s| s.set(true));
    let ticket = start_call(conversation_id, media, connection)
        .await
        .map_err(|e| {
            stop_tracks(&local);
            e.to_string()
        })?;
    if ticket.call.state == CallState::Ringing {
        open_peer(
            chat,
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
pub fn accept(chat: Chat, call: Call) {
    let ui = chat.calls;
    if ui.working.get_untracked() {
        return;
    }
    ui.working.set(true);
    ui.notice.set(None);
    spawn_local(async move {
        let result = take_call(chat, &call).await;
        ui.working.set(false);
        ui.incoming.set(None);
        match result {
            Ok(active) => {
                // Its answer may have arrived before this tab held it.
                forget_elsewhere(chat, &active.id);
                ui.current.set(Some(active));
                spawn_local(async move {
                    if let Err(e) = make_offer().await {
                        fail(chat, &describe(&e));
                    }
                });
            }
            Err(message) => {
                close_media();
                ui.notice.set(Some(message));
            }
        }
    });
}

async fn take_call(chat: Chat, call: &Call) -> Result<Call, String> {
    let connection =
        realtime::connection_id().ok_or("You are offline. Wait for Natter to reconnect.")?;
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
    open_peer(chat, Some(call.id.clone()), &ticket.ice_servers, local)?;
    Ok(ticket.call)
}

pub fn decline(chat: Chat, call: Call) {
    chat.calls.incoming.set(None);
    spawn_local(async move {
        if let Err(e) = decline_call(call.id).await {
            chat.calls.notice.set(Some(e.to_string()));
        }
    });
}

/// Cancels (while ringing) or ends the call of this tab.
pub fn end(chat: Chat) {
    let Some(call) = chat.calls.current.get_untracked() else {
        return;
    };
    close_here(chat);
    spawn_local(async move {
        if let Err(e) = hang_up(call.id).await {
            chat.calls.notice.set(Some(e.to_string()));
        }
    });
}

/// A call changed state on the server.
pub fn on_call_event(chat: Chat, call: Call) {
    let ui = chat.calls;
    let me = chat.me.get_untracked().id;
    let mine_here = ui
        .current
        .with_untracked(|c| c.as_ref().map(|c| c.id.clone()));
    if mine_here.as_deref() == Some(call.id.as_str()) {
        forget_elsewhere(chat, &call.id);
        if call.state.is_live() {
            ui.current.set(Some(call));
        } else {
            close_here(chat);
            ui.notice.set(outcome_notice(&call, &me));
        }
        return;
    }
    if call.caller.id == me && STARTING.with(Cell::get) {
        EARLY.with(|e| e.borrow_mut().push(Early::Call(call)));
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
                crate::text::isolate(&call.caller.display_name)
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
                    crate::text::isolate(&call.caller.display_name)
                )));
            }
        }
    }
}

/// This tab holds the call after all: it is not another tab's.
fn forget_elsewhere(chat: Chat, call_id: &str) {
    let ui = chat.calls;
    if ui
        .elsewhere
        .with_untracked(|c| c.as_ref().is_some_and(|c| c.id == call_id))
    {
        ui.elsewhere.set(None);
    }
}

fn outcome_notice(call: &Call, me: &str) -> Option<String> {
    let peer = crate::text::isolate(&call.peer_of(me).display_name);
    match call.state {
        CallState::Declined => Some(format!("{peer} declined the call.")),
        CallState::Missed => Some(format!("{peer} did not answer.")),
        CallState::Busy => Some(format!("{peer} is on another call.")),
        CallState::Ended => Some(format!(
            "Call with {peer} ended · {}",
            crate::call::format_duration(call.duration_ms())
        )),
        CallState::Cancelled => Some(format!("{peer} cancelled the call.")),
        CallState::Ringing | CallState::Active => None,
    }
}

/// Signaling from the other participant.
pub fn on_signal(chat: Chat, call_id: String, signal: Signal) {
    let ours = RTC.with(|r| {
        r.borrow()
            .as_ref()
            .is_some_and(|rtc| rtc.call_id.as_deref() == Some(call_id.as_str()))
    });
    if !ours {
        if STARTING.with(Cell::get) {
            EARLY.with(|e| e.borrow_mut().push(Early::Signal(call_id, signal)));
        }
        return;
    }
    spawn_local(async move {
        if let Err(e) = apply_signal(signal).await {
            fail(chat, &describe(&e));
        }
    });
}

/// The WebSocket dropped: the server ends calls of a closed connection, so this tab's
/// call is over, and a ringing modal may be stale.
pub fn socket_lost(chat: Chat) {
    chat.calls.incoming.set(None);
    // Told again, as it is then, when the socket is back.
    chat.calls.elsewhere.set(None);
    if chat.calls.current.get_untracked().is_some() {
        close_here(chat);
        chat.calls.notice.set(Some(
            "The call ended: the connection to the server was lost.".to_string(),
        ));
    }
}

pub fn set_muted(muted: bool) {
    with_tracks(|local| local.get_audio_tracks(), !muted);
}

pub fn set_camera_off(off: bool) {
    with_tracks(|local| local.get_video_tracks(), !off);
}

fn with_tracks(pick: impl Fn(&MediaStream) -> js_sys::Array, enabled: bool) {
    RTC.with(|r| {
        if let Some(rtc) = r.borrow().as_ref() {
            for t in pick(&rtc.local).iter() {
                t.unchecked_into::<MediaStreamTrack>().set_enabled(enabled);
            }
        }
    });
}

/// Puts the streams into the call view's media elements (when they are on the page).
pub fn attach_media() {
    RTC.with(|r| {
        if let Some(rtc) = r.borrow().as_ref() {
            attach(REMOTE_MEDIA_ID, &rtc.remote);
            attach(LOCAL_MEDIA_ID, &rtc.local);
        }
    });
}

fn attach(id: &str, stream: &MediaStream) {
    let Some(el) = document()
        .get_element_by_id(id)
        .and_then(|e| e.dyn_into::<HtmlMediaElement>().ok())
    else {
        return;
    };
    if el.src_object().as_ref() != Some(stream) {
        el.set_src_object(Some(stream));
    }
    play_quietly(&el);
}

/// Starts playback; a refusal (no click on the page yet) or an interruption (the element
/// went away) is expected and not an error worth reporting.
pub fn play_quietly(el: &HtmlMediaElement) {
    if let Ok(promise) = el.play() {
        spawn_local(async move {
            let _ = JsFuture::from(promise).await;
        });
    }
}

fn close_here(chat: Chat) {
    close_media();
    let ui = chat.calls;
    ui.current.set(None);
    ui.connection.set(String::new());
    ui.connected_at.set(None);
    ui.muted.set(false);
    ui.camera_off.set(false);
}

fn fail(chat: Chat, message: &str) {
    leptos::logging::warn!("call set-up failed: {message}");
    end(chat);
    chat.calls
        .notice
        .set(Some(format!("The call could not connect: {message}")));
}

fn close_media() {
    if let Some(rtc) = RTC.with(|r| r.borrow_mut().take()) {
        rtc.pc.set_onicecandidate(None);
        rtc.pc.set_ontrack(None);
        rtc.pc.set_onconnectionstatechange(None);
        rtc.pc.close();
        stop_tracks(&rtc.local);
    }
}

fn stop_tracks(stream: &MediaStream) {
    for t in stream.get_tracks().iter() {
        t.unchecked_into::<MediaStreamTrack>().stop();
    }
}

/// Finds out once whether this server allows calls and what this browser has for them.
pub fn check_support(ui: CallUi) {
    spawn_local(async move {
        if let Ok(options) = get_call_options().await {
            ui.options.set(Some(options));
        }
    });
    spawn_local(async move {
        let Some(devices) = media_devices() else {
            ui.devices.set(Devices {
                checked: true,
                ..Devices::default()
            });
            return;
        };
        let mut found = Devices {
            checked: true,
            secure: true,
            ..Devices::default()
        };
        let listed = match devices.enumerate_devices() {
            Ok(p) => JsFuture::from(p).await.ok(),
            Err(_) => None,
        };
        match listed {
            Some(list) => {
                for d in js_sys::Array::from(&list).iter() {
                    let kind = js_sys::Reflect::get(&d, &JsValue::from_str("kind"))
                        .ok()
                        .and_then(|k| k.as_string())
                        .unwrap_or_default();
                    match kind.as_str() {
                        "videoinput" => found.camera = true,
                        "audioinput" => found.microphone = true,
                        _ => {}
                    }
                }
            }
            // Cannot list them: let getUserMedia say what is wrong when the user calls.
            None => {
                found.camera = true;
                found.microphone = true;
            }
        }
        ui.devices.set(found);
    });
}

/// Whether this page can reach a camera and microphone at all (a secure context).
pub fn media_devices() -> Option<web_sys::MediaDevices> {
    let navigator = window().navigator();
    let devices = js_sys::Reflect::get(&navigator, &JsValue::from_str("mediaDevices")).ok()?;
    if devices.is_undefined() || devices.is_null() {
        None
    } else {
        Some(devices.unchecked_into())
    }
}

/// The camera (for video) and microphone, or a message saying why not.
async fn user_media(media: CallMedia) -> Result<MediaStream, String> {
    let devices = media_devices()
        .ok_or("Calls need a secure connection: open Natter over https (or on localhost).")?;
    let constraints = MediaStreamConstraints::new();
    constraints.set_audio(&JsValue::TRUE);
    constraints.set_video(&JsValue::from_bool(media == CallMedia::Video));
    let promise = devices
        .get_user_media_with_constraints(&constraints)
        .map_err(|e| media_error(&e))?;
    JsFuture::from(promise)
        .await
        .map(|s| s.unchecked_into())
        .map_err(|e| media_error(&e))
}

fn media_error(e: &JsValue) -> String {
    let name = js_sys::Reflect::get(e, &JsValue::from_str("name"))
        .ok()
        .and_then(|n| n.as_string())
        .unwrap_or_default();
    match name.as_str() {
        "NotAllowedError" | "SecurityError" => "Natter is not allowed to use your camera or \
            microphone. Allow it in your browser's site settings and try again."
            .to_string(),
        "NotFoundError" | "OverconstrainedError" => {
            "No camera or microphone was found. Connect one and try again.".to_string()
        }
        "NotReadableError" | "AbortError" => {
            "Your camera or microphone is in use by another program.".to_string()
        }
        _ => "Your camera or microphone could not be started.".to_string(),
    }
}

fn describe(e: &JsValue) -> String {
    js_sys::Reflect::get(e, &JsValue::from_str("message"))
        .ok()
        .and_then(|m| m.as_string())
        .or_else(|| e.as_string())
        .unwrap_or_else(|| "unexpected error".to_string())
}

fn configuration(ice: &[IceServer]) -> RtcConfiguration {
    let config = RtcConfiguration::new();
    let servers = js_sys::Array::new();
    for s in ice {
        let server = RtcIceServer::new();
        let urls = js_sys::Array::new();
        for u in &s.urls {
            urls.push(&JsValue::from_str(u));
        }
        server.set_urls(&urls);
        if let Some(u) = &s.username {
            server.set_username(u);
        }
        if let Some(c) = &s.credential {
            server.set_credential(c);
        }
        servers.push(&server);
    }
    config.set_ice_servers(&servers);
    config
}

fn open_peer(
    chat: Chat,
    call_id: Option<String>,
    ice: &[IceServer],
    local: MediaStream,
) -> Result<(), String> {
    close_media();
    let setup_failed = |_| "Your browser could not set up the call.".to_string();
    let pc =
        RtcPeerConnection::new_with_configuration(&configuration(ice)).map_err(setup_failed)?;
    let remote = MediaStream::new().map_err(setup_failed)?;
    for t in local.get_tracks().iter() {
        pc.add_track_0(&t.unchecked_into::<MediaStreamTrack>(), &local);
    }
    let id_for_ice = call_id.clone();
    let on_ice = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
        let e: RtcPeerConnectionIceEvent = e.unchecked_into();
        let (Some(c), Some(call_id)) = (e.candidate(), id_for_ice.clone()) else {
            return;
        };
        realtime::send(&ClientFrame::CallSignal {
            call_id,
            signal: Signal::Candidate {
                candidate: c.candidate(),
                sdp_mid: c.sdp_mid(),
                sdp_m_line_index: c.sdp_m_line_index(),
            },
        });
    });
    pc.set_onicecandidate(Some(on_ice.as_ref().unchecked_ref()));
    let remote_for_track = remote.clone();
    let on_track = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
        let e: RtcTrackEvent = e.unchecked_into();
        remote_for_track.add_track(&e.track());
        attach(REMOTE_MEDIA_ID, &remote_for_track);
    });
    pc.set_ontrack(Some(on_track.as_ref().unchecked_ref()));
    let pc_for_state = pc.clone();
    let ui: CallUi = chat.calls;
    let on_state = Closure::<dyn FnMut(JsValue)>::new(move |_: JsValue| {
        let state = js_sys::Reflect::get(&pc_for_state, &JsValue::from_str("connectionState"))
            .ok()
            .and_then(|s| s.as_string())
            .unwrap_or_default();
        if state == "connected" && ui.connected_at.get_untracked().is_none() {
            ui.connected_at.set(Some(now_ms()));
        }
        ui.connection.set(state);
    });
    pc.set_onconnectionstatechange(Some(on_state.as_ref().unchecked_ref()));
    chat.calls.connection.set("new".to_string());
    RTC.with(|r| {
        *r.borrow_mut() = Some(Rtc {
            call_id,
            pc,
            local,
            remote,
            queued: Vec::new(),
            remote_set: false,
            _handlers: vec![on_ice, on_track, on_state],
        })
    });
    attach_media();
    Ok(())
}

fn current() -> Result<(RtcPeerConnection, String), JsValue> {
    RTC.with(|r| {
        r.borrow()
            .as_ref()
            .and_then(|rtc| Some((rtc.pc.clone(), rtc.call_id.clone()?)))
            .ok_or_else(|| JsValue::from_str("the call is over"))
    })
}

fn sdp_of(description: &JsValue) -> String {
    js_sys::Reflect::get(description, &JsValue::from_str("sdp"))
        .ok()
        .and_then(|s| s.as_string())
        .unwrap_or_default()
}

fn description(kind: RtcSdpType, sdp: &str) -> RtcSessionDescriptionInit {
    let d = RtcSessionDescriptionInit::new(kind);
    d.set_sdp(sdp);
    d
}

async fn make_offer() -> Result<(), JsValue> {
    let (pc, call_id) = current()?;
    let offer = JsFuture::from(pc.create_offer()).await?;
    let sdp = sdp_of(&offer);
    JsFuture::from(pc.set_local_description(&description(RtcSdpType::Offer, &sdp))).await?;
    realtime::send(&ClientFrame::CallSignal {
        call_id,
        signal: Signal::Offer { sdp },
    });
    Ok(())
}

async fn apply_signal(signal: Signal) -> Result<(), JsValue> {
    let (pc, call_id) = current()?;
    match signal {
        Signal::Offer { sdp } => {
            JsFuture::from(pc.set_remote_description(&description(RtcSdpType::Offer, &sdp)))
                .await?;
            remote_is_set(&pc).await;
            let answer = JsFuture::from(pc.create_answer()).await?;
            let sdp = sdp_of(&answer);
            JsFuture::from(pc.set_local_description(&description(RtcSdpType::Answer, &sdp)))
                .await?;
            realtime::send(&ClientFrame::CallSignal {
                call_id,
                signal: Signal::Answer { sdp },
            });
        }
        Signal::Answer { sdp } => {
            JsFuture::from(pc.set_remote_description(&description(RtcSdpType::Answer, &sdp)))
                .await?;
            remote_is_set(&pc).await;
        }
        Signal::Candidate {
            candidate,
            sdp_mid,
            sdp_m_line_index,
        } => {
            let init = RtcIceCandidateInit::new(&candidate);
            init.set_sdp_mid(sdp_mid.as_deref());
            init.set_sdp_m_line_index(sdp_m_line_index);
            let ready = RTC.with(|r| {
                let mut r = r.borrow_mut();
                match r.as_mut() {
                    Some(rtc) if !rtc.remote_set => {
                        rtc.queued.push(init.clone());
                        false
                    }
                    Some(_) => true,
                    None => false,
                }
            });
            if ready {
                JsFuture::from(pc.add_ice_candidate_with_opt_rtc_ice_candidate_init(Some(&init)))
                    .await?;
            }
        }
    }
    Ok(())
}

/// Adds the candidates that waited for the remote description.
async fn remote_is_set(pc: &RtcPeerConnection) {
    let queued = RTC.with(|r| {
        r.borrow_mut()
            .as_mut()
            .map(|rtc| {
                rtc.remote_set = true;
                std::mem::take(&mut rtc.queued)
            })
            .unwrap_or_default()
    });
    for init in queued {
        let _ =
            JsFuture::from(pc.add_ice_candidate_with_opt_rtc_ice_candidate_init(Some(&init))).await;
    }
}
