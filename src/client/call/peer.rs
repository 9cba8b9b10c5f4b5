//! The `RTCPeerConnection` of this tab's call and its signaling: the offer (made by the
//! answering tab), the answer, and ICE candidates, which wait for the remote description.

use super::media::{attach, stop_tracks};
use super::with_runtime;
use super::{LOCAL_MEDIA_ID, REMOTE_MEDIA_ID};
use crate::client::realtime;
use crate::client::time::now_ms;
use crate::client::Client;
use crate::domain::call::IceServer;
use crate::domain::CallId;
use crate::protocol::{ClientFrame, Signal};
use leptos::prelude::*;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    MediaStream, MediaStreamTrack, RtcConfiguration, RtcIceCandidateInit, RtcIceServer,
    RtcPeerConnection, RtcPeerConnectionIceEvent, RtcSdpType, RtcSessionDescriptionInit,
    RtcTrackEvent,
};

/// The peer connection of this tab's call, with its streams.
pub(super) struct Rtc {
    call_id: Option<CallId>,
    pc: RtcPeerConnection,
    local: MediaStream,
    remote: MediaStream,
    /// Candidates that arrived before the remote description; added once it is set.
    queued: Vec<RtcIceCandidateInit>,
    remote_set: bool,
    _handlers: Vec<Closure<dyn FnMut(JsValue)>>,
}

/// Switches the microphone on or off.
pub(super) fn set_audio(client: Client, enabled: bool) {
    with_tracks(client, |local| local.get_audio_tracks(), enabled);
}

/// Switches the camera on or off.
pub(super) fn set_video(client: Client, enabled: bool) {
    with_tracks(client, |local| local.get_video_tracks(), enabled);
}

/// The local and remote streams of this tab's call, if it has one.
fn streams(client: Client) -> Option<(MediaStream, MediaStream)> {
    with_runtime(client, |r| {
        r.rtc
            .as_ref()
            .map(|rtc| (rtc.local.clone(), rtc.remote.clone()))
    })
    .flatten()
}

fn with_tracks(client: Client, pick: impl Fn(&MediaStream) -> js_sys::Array, enabled: bool) {
    if let Some((local, _)) = streams(client) {
        for t in pick(&local).iter() {
            t.unchecked_into::<MediaStreamTrack>().set_enabled(enabled);
        }
    }
}

/// Puts the streams into the call view's media elements (when they are on the page).
pub(super) fn attach_media(client: Client) {
    if let Some((local, remote)) = streams(client) {
        attach(REMOTE_MEDIA_ID, &remote);
        attach(LOCAL_MEDIA_ID, &local);
    }
}

/// Whether this tab's peer connection is for the call `call_id`.
pub(super) fn is_for(client: Client, call_id: &CallId) -> bool {
    with_runtime(client, |r| {
        r.rtc
            .as_ref()
            .is_some_and(|rtc| rtc.call_id.as_ref() == Some(call_id))
    })
    .unwrap_or(false)
}

/// Closes the peer connection and stops the camera and microphone.
pub(super) fn close_media(client: Client) {
    if let Some(rtc) = with_runtime(client, |r| r.rtc.take()).flatten() {
        rtc.pc.set_onicecandidate(None);
        rtc.pc.set_ontrack(None);
        rtc.pc.set_onconnectionstatechange(None);
        rtc.pc.close();
        stop_tracks(&rtc.local);
    }
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

/// Opens the peer connection of call `call_id` with the local stream, over `ice`; replaces
/// any earlier one.
///
/// # Errors
/// A sentence for the person when the browser cannot set the connection up.
pub(super) fn open_peer(
    client: Client,
    call_id: Option<CallId>,
    ice: &[IceServer],
    local: MediaStream,
) -> Result<(), String> {
    close_media(client);
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
        realtime::send(
            client,
            &ClientFrame::CallSignal {
                call_id,
                signal: Signal::Candidate {
                    candidate: c.candidate(),
                    sdp_mid: c.sdp_mid(),
                    sdp_m_line_index: c.sdp_m_line_index(),
                },
            },
        );
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
    let ui = client.calls;
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
    client.calls.connection.set("new".to_string());
    with_runtime(client, |r| {
        r.rtc = Some(Rtc {
            call_id,
            pc,
            local,
            remote,
            queued: Vec::new(),
            remote_set: false,
            _handlers: vec![on_ice, on_track, on_state],
        })
    });
    attach_media(client);
    Ok(())
}

fn current(client: Client) -> Result<(RtcPeerConnection, CallId), JsValue> {
    with_runtime(client, |r| {
        r.rtc
            .as_ref()
            .and_then(|rtc| Some((rtc.pc.clone(), rtc.call_id.clone()?)))
    })
    .flatten()
    .ok_or_else(|| JsValue::from_str("the call is over"))
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

/// Makes the offer (the answering tab does) and sends it to the other side.
///
/// # Errors
/// The browser's error when the call is over or the offer cannot be made.
pub(super) async fn make_offer(client: Client) -> Result<(), JsValue> {
    let (pc, call_id) = current(client)?;
    let offer = JsFuture::from(pc.create_offer()).await?;
    let sdp = sdp_of(&offer);
    JsFuture::from(pc.set_local_description(&description(RtcSdpType::Offer, &sdp))).await?;
    realtime::send(
        client,
        &ClientFrame::CallSignal {
            call_id,
            signal: Signal::Offer { sdp },
        },
    );
    Ok(())
}

/// Takes signaling from the other side: an offer (answered), an answer, or a candidate
/// (kept until the remote description is set).
///
/// # Errors
/// The browser's error when the call is over or the signal does not apply.
pub(super) async fn apply_signal(client: Client, signal: Signal) -> Result<(), JsValue> {
    let (pc, call_id) = current(client)?;
    match signal {
        Signal::Offer { sdp } => {
            JsFuture::from(pc.set_remote_description(&description(RtcSdpType::Offer, &sdp)))
                .await?;
            remote_is_set(client, &pc).await;
            let answer = JsFuture::from(pc.create_answer()).await?;
            let sdp = sdp_of(&answer);
            JsFuture::from(pc.set_local_description(&description(RtcSdpType::Answer, &sdp)))
                .await?;
            realtime::send(
                client,
                &ClientFrame::CallSignal {
                    call_id,
                    signal: Signal::Answer { sdp },
                },
            );
        }
        Signal::Answer { sdp } => {
            JsFuture::from(pc.set_remote_description(&description(RtcSdpType::Answer, &sdp)))
                .await?;
            remote_is_set(client, &pc).await;
        }
        Signal::Candidate {
            candidate,
            sdp_mid,
            sdp_m_line_index,
        } => {
            let init = RtcIceCandidateInit::new(&candidate);
            init.set_sdp_mid(sdp_mid.as_deref());
            init.set_sdp_m_line_index(sdp_m_line_index);
            let ready = with_runtime(client, |r| match r.rtc.as_mut() {
                Some(rtc) if !rtc.remote_set => {
                    rtc.queued.push(init.clone());
                    false
                }
                Some(_) => true,
                None => false,
            })
            .unwrap_or(false);
            if ready {
                JsFuture::from(pc.add_ice_candidate_with_opt_rtc_ice_candidate_init(Some(&init)))
                    .await?;
            }
        }
    }
    Ok(())
}

/// Adds the candidates that waited for the remote description.
async fn remote_is_set(client: Client, pc: &RtcPeerConnection) {
    let queued = with_runtime(client, |r| {
        r.rtc
            .as_mut()
            .map(|rtc| {
                rtc.remote_set = true;
                std::mem::take(&mut rtc.queued)
            })
            .unwrap_or_default()
    })
    .unwrap_or_default();
    for init in queued {
        let _ =
            JsFuture::from(pc.add_ice_candidate_with_opt_rtc_ice_candidate_init(Some(&init))).await;
    }
}
