//! What calls look like: the call buttons of a direct conversation, the incoming-call
//! modal that rings on every tab, and the call view (ringing, then the remote video large
//! and the local preview small, with mute, camera and hang-up). The state they show is the
//! client's ([`crate::client::Calls`]).

use crate::client::time::now_ms;
use crate::client::{ticker, use_client, LOCAL_MEDIA_ID, REMOTE_MEDIA_ID};
use crate::domain::call::{format_duration, Call, CallMedia, CallState};
use crate::domain::ConversationId;
use leptos::html;
use leptos::prelude::*;

/// "Start video call" and "Start audio call" in a direct conversation's header; disabled
/// with the reason when a call cannot be made.
#[component]
pub fn CallButtons(conversation_id: ConversationId) -> impl IntoView {
    let client = use_client();
    let ui = client.calls;
    let button = move |media: CallMedia| {
        let id = conversation_id.clone();
        let reason = move || ui.unavailable(media);
        let label = match media {
            CallMedia::Video => "Start video call",
            CallMedia::Audio => "Start audio call",
        };
        let title = move || reason().unwrap_or_else(|| label.to_string());
        view! {
            <button
                type="button"
                class="icon-button call-button"
                aria-label=label
                title=title
                disabled=move || reason().is_some() || ui.working.get()
                on:click=move |_| client.start_call(id.clone(), media)
            >
                {match media {
                    CallMedia::Video => video_icon().into_any(),
                    CallMedia::Audio => phone_icon().into_any(),
                }}
            </button>
        }
    };
    view! {
        <div class="call-buttons">
            {button(CallMedia::Audio)}
            {button(CallMedia::Video)}
        </div>
    }
}

fn phone_icon() -> impl IntoView {
    view! {
        <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true">
            <path fill="currentColor" d="M6.6 10.8a15.1 15.1 0 0 0 6.6 6.6l2.2-2.2a1 1 0 0 1 1-.25 11.4 11.4 0 0 0 3.6.57 1 1 0 0 1 1 1V20a1 1 0 0 1-1 1A17 17 0 0 1 3 4a1 1 0 0 1 1-1h3.5a1 1 0 0 1 1 1c0 1.25.2 2.45.57 3.57a1 1 0 0 1-.25 1z"/>
        </svg>
    }
}

fn video_icon() -> impl IntoView {
    view! {
        <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true">
            <path fill="currentColor" d="M4 6h11a2 2 0 0 1 2 2v1.5l3.4-2.3A1 1 0 0 1 22 8v8a1 1 0 0 1-1.6.8L17 14.5V16a2 2 0 0 1-2 2H4a2 2 0 0 1-2-2V8a2 2 0 0 1 2-2z"/>
        </svg>
    }
}

/// Everything call-related that floats above the app: the incoming-call modal, the call
/// view and the last notice. Mounted once by the app shell.
#[component]
pub fn CallLayer() -> impl IntoView {
    let ui = use_client().calls;
    let current_id = Memo::new(move |_| ui.current.with(|c| c.as_ref().map(|c| c.id.clone())));
    let incoming_id = Memo::new(move |_| ui.incoming.with(|c| c.as_ref().map(|c| c.id.clone())));
    view! {
        {move || incoming_id.get().and_then(|_| ui.incoming.get_untracked()).map(|call| view! { <IncomingCall call /> })}
        {move || current_id.get().map(|_| view! { <CallView /> })}
        {move || ui.notice.get().map(|text| view! {
            <div class="call-notice" role="alert">
                <span><crate::ui::sentence::Sentence text=text /></span>
                <button type="button" class="icon-button" aria-label="Dismiss" on:click=move |_| ui.notice.set(None)>
                    "×"
                </button>
            </div>
        })}
    }
}

#[component]
fn IncomingCall(call: Call) -> impl IntoView {
    let client = use_client();
    let accept_ref = NodeRef::<html::Button>::new();
    let ring_ref = NodeRef::<html::Audio>::new();
    Effect::new(move |_| {
        if let Some(button) = accept_ref.get() {
            let _ = button.focus();
        }
        if let Some(audio) = ring_ref.get() {
            // Browsers may refuse sound before the first click on the page; the modal
            // still shows.
            client.ring(&audio);
        }
    });
    let what = match call.media {
        CallMedia::Video => "Incoming video call…",
        CallMedia::Audio => "Incoming audio call…",
    };
    let caller = call.caller.clone();
    let (for_accept, for_decline) = (call.clone(), call.clone());
    view! {
        <div class="modal-backdrop">
            <div
                class="call-modal"
                role="dialog"
                aria-modal="true"
                aria-labelledby="incoming-call-title"
                aria-describedby="incoming-call-what"
            >
                <span class="avatar call-avatar" aria-hidden="true">{caller.initial()}</span>
                <h2 id="incoming-call-title">{caller.display_name.clone()}</h2>
                <p id="incoming-call-what" class="call-what">{what}</p>
                <div class="call-actions">
                    <button
                        type="button"
                        class="button call-decline"
                        on:click=move |_| client.decline_call(for_decline.clone())
                    >
                        "Decline"
                    </button>
                    <button
                        type="button"
                        class="button call-accept"
                        node_ref=accept_ref
                        disabled=move || client.calls.working.get()
                        on:click=move |_| client.accept_call(for_accept.clone())
                    >
                        "Accept"
                    </button>
                </div>
                <audio class="ringtone" src="/sounds/ringtone.wav" loop=true node_ref=ring_ref></audio>
            </div>
        </div>
    }
}

#[component]
fn CallView() -> impl IntoView {
    let client = use_client();
    let (chat, ui) = (client.chat, client.calls);
    let me = chat.me.get_untracked().id;
    let peer = Memo::new(move |_| {
        ui.current
            .with(|c| c.as_ref().map(|c| c.peer_of(&me).clone()))
            .unwrap_or_else(|| chat.me.get_untracked())
    });
    let state = Memo::new(move |_| ui.current.with(|c| c.as_ref().map(|c| c.state)));
    let video = Memo::new(move |_| {
        ui.current
            .with(|c| c.as_ref().is_some_and(|c| c.media == CallMedia::Video))
    });
    let ringing = move || state.get() == Some(CallState::Ringing);

    // A clock for the timer, ticking while the view is up.
    let tick = ticker(std::time::Duration::from_secs(1));
    let status = move || {
        tick.track();
        if ringing() {
            return "Ringing…".to_string();
        }
        match ui.connection.get().as_str() {
            "connected" => ui
                .connected_at
                .get()
                .map(|at| format_duration((now_ms() - at) as i64))
                .unwrap_or_default(),
            "disconnected" => "Reconnecting…".to_string(),
            "failed" => "Connection lost".to_string(),
            _ => "Connecting…".to_string(),
        }
    };

    let remote_ref = NodeRef::<html::Video>::new();
    Effect::new(move |_| {
        video.track();
        ui.camera_off.track();
        if remote_ref.get().is_some() {
            client.attach_call_media();
        }
    });
    let hang_up = move |_| client.hang_up();
    let toggle_mute = move |_| client.toggle_mute();
    let toggle_camera = move |_| client.toggle_camera();
    let label = move || format!("Call with {}", peer.with(|p| p.display_name.clone()));

    view! {
        <section
            class="call-view"
            class:audio-only=move || !video.get()
            class:ringing=ringing
            aria-label=label
            data-state=move || state.get().map(|s| s.as_str()).unwrap_or_default()
            data-connection-state=move || ui.connection.get()
        >
            <video
                id=REMOTE_MEDIA_ID
                class="remote-video"
                autoplay=true
                playsinline=true
                node_ref=remote_ref
            ></video>
            <div class="call-peer">
                <span class="avatar call-avatar" aria-hidden="true">{move || peer.with(|p| p.initial())}</span>
                <h2 class="call-name">{move || peer.with(|p| p.display_name.clone())}</h2>
                <p class="call-status" role="status">{status}</p>
            </div>
            {move || (video.get() && !ui.camera_off.get()).then(|| view! {
                <video
                    id=LOCAL_MEDIA_ID
                    class="local-video"
                    autoplay=true
                    playsinline=true
                    muted=true
                    prop:muted=true
                ></video>
            })}
            <div class="call-controls">
                {move || if ringing() {
                    view! {
                        <button type="button" class="button call-hangup" on:click=hang_up>"Cancel"</button>
                    }.into_any()
                } else {
                    view! {
                        <button
                            type="button"
                            class="button call-toggle"
                            aria-pressed=move || ui.muted.get().to_string()
                            on:click=toggle_mute
                        >
                            {move || if ui.muted.get() { "Unmute" } else { "Mute" }}
                        </button>
                        {move || video.get().then(|| view! {
                            <button
                                type="button"
                                class="button call-toggle"
                                aria-pressed=move || ui.camera_off.get().to_string()
                                on:click=toggle_camera
                            >
                                {move || if ui.camera_off.get() { "Camera on" } else { "Camera off" }}
                            </button>
                        })}
                        <button type="button" class="button call-hangup" on:click=hang_up>"Hang up"</button>
                    }.into_any()
                }}
            </div>
        </section>
    }
}
