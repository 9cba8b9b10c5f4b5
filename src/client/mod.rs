//! The client: the tab's picture of the person's conversations, calls and admin figures, and
//! everything that keeps it live. Components take the one [`Client`] handle with
//! [`use_client`] and call its intents (`send_message`, `typing`, `mark_read`, `start_call`,
//! ...); they never speak the realtime protocol themselves.
//!
//! Compiles in both builds. What needs the browser (the WebSocket in `realtime`, WebRTC in
//! `call::peer` and `call::media`, sound and notifications in `attention`) compiles only
//! into the `hydrate` build; on the server every intent does nothing, and nothing here runs
//! there anyway: components call intents from effects and event handlers, which run only in
//! the browser.
//!
//! - `state`: [`Chat`] (conversations, messages, outbox, typing, reads, presence) and
//!   [`AdminView`] (the dashboard's live figures); [`Calls`] is in `call`.
//! - `sync`: the outbox's sends ([`crate::outbox`]), catch-up passes ([`crate::catch_up`]),
//!   reloading the list and the notifications.
//! - `time`: the browser's clock and how times read.

pub mod call;
mod state;
mod sync;
pub mod time;

#[cfg(feature = "hydrate")]
mod attention;
#[cfg(feature = "hydrate")]
mod realtime;

pub use call::{Calls, Devices, LOCAL_MEDIA_ID, REMOTE_MEDIA_ID};
pub use state::{AdminView, Chat, ConnectionStatus, Typist};

use crate::api::chat::load_messages;
use crate::catch_up::CatchUp;
use crate::domain::PAGE_SIZE;
use crate::domain::{parse_message_body, ClientMsgId, ConversationId, User};
use crate::error::AppError;
use crate::protocol::ClientFrame;
use leptos::prelude::*;

/// The client's one handle, provided once by the app shell ([`provide_client`]) and taken
/// by components with [`use_client`]. Cheap to copy: signals and one stored value.
#[derive(Clone, Copy)]
pub struct Client {
    /// Conversations, messages, the outbox, typing, reads, presence, the connection.
    pub chat: Chat,
    /// Calls: ringing, in progress, elsewhere; what this browser can use.
    pub calls: Calls,
    /// The admin dashboard's figures while it is on screen.
    pub admin: AdminView,
    /// This tab's bookkeeping that nothing renders.
    inner: StoredValue<Inner, InnerStorage>,
}

/// The browser's objects are not `Send`; on the server nothing here is browser-bound.
#[cfg(feature = "hydrate")]
type InnerStorage = LocalStorage;
#[cfg(not(feature = "hydrate"))]
type InnerStorage = SyncStorage;

/// What the client keeps between events that nothing renders.
struct Inner {
    /// Catch-up passes under way.
    catch_up: CatchUp,
    /// The tab's WebSocket and what it is subscribed to.
    #[cfg(feature = "hydrate")]
    link: realtime::Link,
    /// The peer connection and the call being set up.
    #[cfg(feature = "hydrate")]
    call: call::Runtime,
}

impl Default for Inner {
    fn default() -> Self {
        Inner {
            catch_up: CatchUp::new(PAGE_SIZE as usize),
            #[cfg(feature = "hydrate")]
            link: realtime::Link::default(),
            #[cfg(feature = "hydrate")]
            call: call::Runtime::default(),
        }
    }
}

/// Makes `client` the one components find ([`use_client`]).
pub fn provide_client(client: Client) {
    provide_context(client);
}

/// The client provided by the app shell.
///
/// # Panics
/// Outside the signed-in app shell, where no client was provided (a programming error).
pub fn use_client() -> Client {
    expect_context::<Client>()
}

impl Client {
    /// The client of the signed-in person `me`; nothing is connected until [`Client::start`].
    pub fn new(me: User) -> Client {
        Client {
            chat: Chat::new(me),
            calls: Calls::new(),
            admin: AdminView::new(),
            inner: StoredValue::new_with_storage(Inner::default()),
        }
    }

    /// In the browser: loads the list, opens the tab's realtime connection (once), keeps the
    /// subscriptions in step with the list and checks what calls can use. Nothing on the
    /// server.
    pub fn start(self) {
        #[cfg(feature = "hydrate")]
        {
            realtime::start(self);
            call::check_support(self);
        }
    }

    /// Sends a frame if the socket is open; typing and presence are best-effort by design.
    fn send_frame(self, frame: &ClientFrame) {
        #[cfg(feature = "hydrate")]
        realtime::send(self, frame);
        #[cfg(not(feature = "hydrate"))]
        let _ = frame;
    }

    /// Runs `f` on the bookkeeping; `None` once the client is gone.
    fn with_inner<R>(self, f: impl FnOnce(&mut Inner) -> R) -> Option<R> {
        self.inner.try_update_value(f)
    }

    /// The tab's title: "(3) Natter" with 3 unread messages. The server renders the plain
    /// title: leptos_meta asks for it while it finishes the response, when the page's
    /// reactive values may be gone (and the count is the browser's to know anyway).
    pub fn page_title(self) -> String {
        if !in_browser() {
            return "Natter".to_string();
        }
        match self.chat.total_unread() {
            0 => "Natter".to_string(),
            n => format!("({n}) Natter"),
        }
    }

    /// Sends a message the person wrote: checked as the server would, then queued in the
    /// outbox, which sends it (again if need be) until the server stores it.
    ///
    /// # Errors
    /// [`AppError::Invalid`] (field `body`) when the text is empty, invisible or longer
    /// than the server accepts; nothing is queued then.
    pub fn send_message(
        self,
        conversation_id: &ConversationId,
        text: &str,
    ) -> Result<(), AppError> {
        let max = self.chat.limits.get_untracked().max_message_chars;
        let body = parse_message_body(text, max)?;
        // Asked on a click, as browsers require; only once, and only if undecided.
        #[cfg(feature = "hydrate")]
        attention::ask_permission();
        sync::push(
            self,
            conversation_id.clone(),
            time::new_client_msg_id(),
            body,
        );
        Ok(())
    }

    /// Sends a message that waits or was refused again, now ("Send now", "Retry").
    pub fn retry_message(self, client_msg_id: &ClientMsgId) {
        sync::retry(self, client_msg_id);
    }

    /// Tells the conversation's other members whether the person is typing.
    pub fn typing(self, conversation_id: &ConversationId, active: bool) {
        self.send_frame(&ClientFrame::Typing {
            conversation_id: conversation_id.clone(),
            active,
        });
    }

    /// Marks the conversation read up to `seq`, and notes the mark the server kept.
    ///
    /// # Errors
    /// What the server answered (not a member, offline, ...); nothing is noted then.
    pub async fn mark_read(
        self,
        conversation_id: ConversationId,
        seq: i64,
    ) -> Result<(), AppError> {
        let mark = crate::api::chat::mark_read(conversation_id.clone(), seq).await?;
        let me = self.chat.me.get_untracked().id;
        self.chat.note_read(&conversation_id, &me, mark);
        Ok(())
    }

    /// Loads the newest page of a conversation put on screen, then what was sent while it
    /// was on its way. Returns whether older messages may exist (the page was full).
    ///
    /// # Errors
    /// What the server answered for the page.
    pub async fn open_conversation(
        self,
        conversation_id: ConversationId,
    ) -> Result<bool, AppError> {
        let page = load_messages(conversation_id.clone(), None).await?;
        let full = page.len() as i64 >= PAGE_SIZE;
        self.chat.load_newest(&conversation_id, page);
        sync::catch_up(self, conversation_id);
        Ok(full)
    }

    /// Loads the page before the oldest message held. Returns whether older messages may
    /// still exist; `Ok(false)` without asking when the oldest held is the first.
    ///
    /// # Errors
    /// What the server answered for the page.
    pub async fn load_older(self, conversation_id: ConversationId) -> Result<bool, AppError> {
        let oldest = self.chat.messages.with_untracked(|all| {
            all.get(&conversation_id)
                .and_then(crate::history::History::first_seq)
        });
        let Some(oldest) = oldest.filter(|s| *s > 1) else {
            return Ok(false);
        };
        let page = load_messages(conversation_id.clone(), Some(oldest)).await?;
        let full = page.len() as i64 >= PAGE_SIZE;
        self.chat.add_messages(&conversation_id, page);
        Ok(full)
    }
}

/// True in the browser's build, false on the server.
pub fn in_browser() -> bool {
    cfg!(feature = "hydrate")
}

/// True when the person can see this tab (visible and focused); false on the server.
pub fn tab_is_seen() -> bool {
    #[cfg(feature = "hydrate")]
    {
        let doc = document();
        !doc.hidden() && doc.has_focus().unwrap_or(false)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        false
    }
}

/// Loads a whole new page: after logging in or out every part of the app must start
/// again from the new session, which a full load guarantees. Nothing on the server.
pub fn go_to(path: &str) {
    #[cfg(feature = "hydrate")]
    {
        let _ = window().location().set_href(path);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = path;
}

/// The value of an input on the page, by element id ("" on the server or if missing).
pub fn input_value(id: &str) -> String {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        document()
            .get_element_by_id(id)
            .and_then(|e| e.dyn_into::<web_sys::HtmlInputElement>().ok())
            .map(|i| i.value())
            .unwrap_or_default()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = id;
        String::new()
    }
}

/// A counter that goes up every `period` in the browser while the calling component is on
/// the page, for text that changes with time ("5 min ago", a call's timer). It never moves
/// on the server.
pub fn ticker(period: std::time::Duration) -> RwSignal<u32> {
    let tick = RwSignal::new(0u32);
    #[cfg(feature = "hydrate")]
    if let Ok(handle) =
        set_interval_with_handle(move || tick.update(|t| *t = t.wrapping_add(1)), period)
    {
        on_cleanup(move || handle.clear());
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = period;
    tick
}
