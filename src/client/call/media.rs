//! The camera and microphone: what this browser has, asking for them (and saying why not in
//! words a person understands), and playing streams in the page's media elements.

use crate::api::calls::get_call_options;
use crate::client::{Client, Devices};
use crate::domain::call::CallMedia;
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{HtmlMediaElement, MediaStream, MediaStreamConstraints, MediaStreamTrack};

/// Finds out once whether this server allows calls and what this browser has for them.
pub(in crate::client) fn check_support(client: Client) {
    let ui = client.calls;
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
fn media_devices() -> Option<web_sys::MediaDevices> {
    let navigator = window().navigator();
    let devices = js_sys::Reflect::get(&navigator, &JsValue::from_str("mediaDevices")).ok()?;
    if devices.is_undefined() || devices.is_null() {
        None
    } else {
        Some(devices.unchecked_into())
    }
}

/// The camera (for video) and microphone, or a message saying why not.
pub(super) async fn user_media(media: CallMedia) -> Result<MediaStream, String> {
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

/// The message of a JavaScript error, for the person and the log.
pub(super) fn describe(e: &JsValue) -> String {
    js_sys::Reflect::get(e, &JsValue::from_str("message"))
        .ok()
        .and_then(|m| m.as_string())
        .or_else(|| e.as_string())
        .unwrap_or_else(|| "unexpected error".to_string())
}

/// Plays `stream` in the media element with id `id`, if it is on the page.
pub(super) fn attach(id: &str, stream: &MediaStream) {
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
pub(super) fn play_quietly(el: &HtmlMediaElement) {
    if let Ok(promise) = el.play() {
        spawn_local(async move {
            let _ = JsFuture::from(promise).await;
        });
    }
}

/// Stops the camera and microphone of `stream`.
pub(super) fn stop_tracks(stream: &MediaStream) {
    for t in stream.get_tracks().iter() {
        t.unchecked_into::<MediaStreamTrack>().stop();
    }
}
