//! Calls in the client: what the page shows ([`Calls`]), what this browser can use
//! ([`Devices`]), and the intents components call (`Client::start_call`, `accept_call`,
//! `decline_call`, `hang_up`, ...).
//!
//! In the browser, `flows` runs a call from ringing to its end, `peer` holds the
//! `RTCPeerConnection` and its signaling, and `media` the camera and microphone. The callee's
//! answering tab makes the offer; offer, answer and ICE candidates travel as `CallSignal`
//! frames over the tab's WebSocket. On the server the intents do nothing.

#[cfg(feature = "hydrate")]
mod flows;
#[cfg(feature = "hydrate")]
mod media;
#[cfg(feature = "hydrate")]
mod peer;

#[cfg(feature = "hydrate")]
pub(super) use flows::{on_call_event, on_signal, socket_lost};
#[cfg(feature = "hydrate")]
pub(super) use media::check_support;

use super::Client;
use crate::domain::call::{Call, CallMedia, CallOptions};
use crate::domain::ConversationId;
use leptos::prelude::*;

/// The id of the call view's element for the other person's video (the client puts the
/// stream into it).
pub const REMOTE_MEDIA_ID: &str = "call-remote";
/// The id of the call view's element for the local preview.
pub const LOCAL_MEDIA_ID: &str = "call-local";

/// What this browser can use for calls, once checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Devices {
    /// The check is done; until then nothing is refused for want of a device.
    pub checked: bool,
    /// `navigator.mediaDevices` exists (only on https or localhost).
    pub secure: bool,
    pub camera: bool,
    pub microphone: bool,
}

/// The page's call state. The browser objects behind it live in the client's bookkeeping.
#[derive(Clone, Copy)]
pub struct Calls {
    /// A call ringing for this user (shown on every tab).
    pub incoming: RwSignal<Option<Call>>,
    /// The call this tab takes part in: ringing out, or answered.
    pub current: RwSignal<Option<Call>>,
    /// A call of this person's that another of their tabs holds (ringing out or answered).
    pub elsewhere: RwSignal<Option<Call>>,
    /// The peer connection's state: "new", "connecting", "connected", "disconnected", ...
    pub connection: RwSignal<String>,
    /// When the media first connected (`Date.now()`, milliseconds), for the running timer.
    pub connected_at: RwSignal<Option<f64>>,
    pub muted: RwSignal<bool>,
    pub camera_off: RwSignal<bool>,
    /// The last outcome or problem worth telling ("Bob declined the call.").
    pub notice: RwSignal<Option<String>>,
    /// A start or answer is under way.
    pub working: RwSignal<bool>,
    /// What the server allows (from `call_options`, then pushed live).
    pub options: RwSignal<Option<CallOptions>>,
    pub devices: RwSignal<Devices>,
}

impl Calls {
    /// No call, nothing checked yet.
    pub fn new() -> Calls {
        Calls {
            incoming: RwSignal::new(None),
            current: RwSignal::new(None),
            elsewhere: RwSignal::new(None),
            connection: RwSignal::new(String::new()),
            connected_at: RwSignal::new(None),
            muted: RwSignal::new(false),
            camera_off: RwSignal::new(false),
            notice: RwSignal::new(None),
            working: RwSignal::new(false),
            options: RwSignal::new(None),
            devices: RwSignal::new(Devices::default()),
        }
    }

    /// Why a call of this kind cannot be started now, if it cannot.
    pub fn unavailable(&self, media: CallMedia) -> Option<String> {
        if self.elsewhere.with(Option::is_some) {
            return Some("You are in a call in another tab.".into());
        }
        if self
            .options
            .with(|o| o.as_ref().is_some_and(|o| !o.enabled))
        {
            return Some("Calls are switched off on this server.".into());
        }
        let d = self.devices.get();
        if d.checked {
            if !d.secure {
                return Some("Calls need a secure connection: open Natter over https.".into());
            }
            if !d.microphone {
                return Some("No microphone found: connect one to call.".into());
            }
            if media == CallMedia::Video && !d.camera {
                return Some("No camera found: try an audio call.".into());
            }
        }
        if self.current.with(Option::is_some) {
            return Some("You are already in a call.".into());
        }
        None
    }
}

impl Default for Calls {
    fn default() -> Self {
        Calls::new()
    }
}

/// The browser's side of this tab's call, between events.
#[cfg(feature = "hydrate")]
#[derive(Default)]
pub(super) struct Runtime {
    /// The peer connection of the call this tab takes part in.
    rtc: Option<peer::Rtc>,
    /// True while this tab waits for `start_call`: events for the new call are kept.
    starting: bool,
    /// What arrived for the call being started, replayed once it is known.
    early: Vec<flows::Early>,
}

/// Runs `f` on the tab's call runtime; `None` once the client is gone.
#[cfg(feature = "hydrate")]
fn with_runtime<R>(client: Client, f: impl FnOnce(&mut Runtime) -> R) -> Option<R> {
    client.with_inner(|i| f(&mut i.call))
}

impl Client {
    /// Rings the other person of a direct conversation with a `media` call: camera and
    /// microphone first, then the server. What goes wrong lands in [`Calls::notice`].
    pub fn start_call(self, conversation_id: ConversationId, media: CallMedia) {
        #[cfg(feature = "hydrate")]
        flows::start(self, conversation_id, media);
        #[cfg(not(feature = "hydrate"))]
        let _ = (conversation_id, media);
    }

    /// Answers the ringing `call` on this tab (camera and microphone first: a refusal there
    /// declines the call with a reason instead of leaving the caller waiting).
    pub fn accept_call(self, call: Call) {
        #[cfg(feature = "hydrate")]
        flows::accept(self, call);
        #[cfg(not(feature = "hydrate"))]
        let _ = call;
    }

    /// Declines the ringing `call`.
    pub fn decline_call(self, call: Call) {
        #[cfg(feature = "hydrate")]
        flows::decline(self, call);
        #[cfg(not(feature = "hydrate"))]
        let _ = call;
    }

    /// Cancels (while ringing) or ends the call of this tab.
    pub fn hang_up(self) {
        #[cfg(feature = "hydrate")]
        flows::end(self);
    }

    /// Mutes the microphone, or unmutes it.
    pub fn toggle_mute(self) {
        let muted = !self.calls.muted.get_untracked();
        self.calls.muted.set(muted);
        #[cfg(feature = "hydrate")]
        peer::set_audio(self, !muted);
    }

    /// Turns the camera off, or on again.
    pub fn toggle_camera(self) {
        let off = !self.calls.camera_off.get_untracked();
        self.calls.camera_off.set(off);
        #[cfg(feature = "hydrate")]
        peer::set_video(self, !off);
    }

    /// Puts the call's streams into the call view's media elements ([`REMOTE_MEDIA_ID`],
    /// [`LOCAL_MEDIA_ID`]) when they are on the page.
    pub fn attach_call_media(self) {
        #[cfg(feature = "hydrate")]
        peer::attach_media(self);
    }

    /// Plays a ringtone element; a refusal (no click on the page yet) is expected and
    /// ignored: the ringing modal still shows.
    pub fn ring(self, audio: &web_sys::HtmlMediaElement) {
        #[cfg(feature = "hydrate")]
        media::play_quietly(audio);
        #[cfg(not(feature = "hydrate"))]
        let _ = audio;
    }
}
