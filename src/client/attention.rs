//! Getting the user's attention: a short sound for a message in a conversation that is
//! not on screen, and a desktop notification when the tab is hidden (if allowed). A muted
//! conversation does neither (it still counts unread).

use super::Chat;
use crate::domain::Message;
use leptos::prelude::*;
use web_sys::{HtmlAudioElement, Notification, NotificationOptions, NotificationPermission};

pub(super) fn message_arrived(chat: Chat, message: &Message) {
    let hidden = document().hidden();
    let on_screen = !hidden && chat.open.get_untracked().as_ref() == Some(&message.conversation_id);
    let muted = chat.conversations.with_untracked(|l| {
        l.as_ref()
            .and_then(|l| l.iter().find(|c| c.id == message.conversation_id))
            .is_some_and(|c| c.muted)
    });
    // Already marked read (a call this person took part in): not news.
    let read = chat.conversations.with_untracked(|l| {
        l.as_ref()
            .and_then(|l| l.iter().find(|c| c.id == message.conversation_id))
            .is_some_and(|c| c.last_read_seq >= message.seq)
    });
    if on_screen || muted || read {
        return;
    }
    if let Ok(audio) = HtmlAudioElement::new_with_src("/sounds/message.wav") {
        // Browsers refuse sound before the user has interacted with the page; that is fine.
        let _ = audio.play();
    }
    if hidden && Notification::permission() == NotificationPermission::Granted {
        let title = chat.conversations.with_untracked(|l| {
            l.as_ref()
                .and_then(|l| l.iter().find(|c| c.id == message.conversation_id))
                .map(|c| c.title.clone())
                .unwrap_or_else(|| "Natter".to_string())
        });
        let options = NotificationOptions::new();
        options.set_body(&message.body.chars().take(140).collect::<String>());
        options.set_tag(message.conversation_id.as_str());
        let _ = Notification::new_with_options(&title, &options);
    }
}

/// Asks for permission to show desktop notifications (from a click: browsers require it).
pub(super) fn ask_permission() {
    if Notification::permission() == NotificationPermission::Default {
        let _ = Notification::request_permission();
    }
}
