//! The open conversation's own controls: mute for anyone, block for a direct conversation;
//! and what shows instead of the composer once either of two people blocked the other.

use crate::api::people::{set_blocked, set_muted};
use crate::domain::{BlockSide, ConversationKind, ConversationSummary, User};
use crate::error::AppError;
use leptos::prelude::*;
use leptos::task::spawn_local;

/// The open conversation's options ("⋯"): a small menu that opens over the page, below
/// its button, never wider than the screen.
#[component]
pub fn ConversationMenu(summary: Memo<Option<ConversationSummary>>) -> impl IntoView {
    let open = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let run =
        move |work: std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), AppError>>>>| {
            open.set(false);
            spawn_local(async move { error.set(work.await.err().map(|e| e.to_string())) });
        };
    let muted = move || summary.with(|s| s.as_ref().is_some_and(|s| s.muted));
    let toggle_mute = move |_| {
        let Some(id) = summary.with_untracked(|s| s.as_ref().map(|s| s.id.clone())) else {
            return;
        };
        let mute = !muted();
        run(Box::pin(set_muted(id, mute)));
    };
    // For a direct conversation: the other person, and whether the user blocked them.
    let peer = move || {
        summary.with(|s| {
            s.as_ref()
                .filter(|s| s.kind == ConversationKind::Direct)
                .and_then(|s| {
                    s.peer
                        .clone()
                        .map(|p| (p, s.block == Some(BlockSide::ByMe)))
                })
        })
    };
    let toggle_block = move |_| {
        let Some((p, blocked)) = peer() else { return };
        run(Box::pin(set_blocked(p.id, !blocked)));
    };
    view! {
        <div class="menu">
            <button
                type="button"
                class="icon-button"
                aria-label="Conversation options"
                aria-haspopup="menu"
                aria-expanded=move || open.get().to_string()
                on:click=move |_| open.update(|o| *o = !*o)
            >
                <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true">
                    <circle cx="5" cy="12" r="2" fill="currentColor" />
                    <circle cx="12" cy="12" r="2" fill="currentColor" />
                    <circle cx="19" cy="12" r="2" fill="currentColor" />
                </svg>
            </button>
            {move || open.get().then(|| view! {
                <div class="menu-backdrop" on:click=move |_| open.set(false)></div>
                <div class="menu-list" role="menu">
                    <button type="button" role="menuitem" on:click=toggle_mute>
                        {move || if muted() { "Unmute notifications" } else { "Mute notifications" }}
                    </button>
                    {move || peer().map(|(p, blocked)| {
                        // A long name is cut short in the menu; the tooltip has all of it.
                        let label = if blocked {
                            format!("Unblock {}", p.display_name)
                        } else {
                            format!("Block {}", p.display_name)
                        };
                        view! {
                            <button type="button" role="menuitem" class="danger" title=label.clone() on:click=toggle_block>
                                {label.clone()}
                            </button>
                        }
                    })}
                </div>
            })}
            {move || error.get().map(|m| view! { <p class="menu-error form-error" role="alert">{m}</p> })}
        </div>
    }
}

/// Instead of the composer when one of the two blocked the other.
#[component]
pub fn BlockedNotice(side: BlockSide, peer: Option<User>) -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    let name = peer
        .as_ref()
        .map(|p| p.display_name.clone())
        .unwrap_or_default();
    match (side, peer) {
        (BlockSide::ByMe, Some(peer)) => {
            let unblock = move |_| {
                let id = peer.id.clone();
                spawn_local(async move {
                    error.set(set_blocked(id, false).await.err().map(|e| e.to_string()));
                });
            };
            view! {
                <div class="blocked-notice" role="note">
                    <p>{format!("You blocked {name}. Neither of you can message or call the other.")}</p>
                    <button type="button" class="button secondary small" on:click=unblock>
                        "Unblock"
                    </button>
                    {move || error.get().map(|m| view! { <p class="form-error" role="alert">{m}</p> })}
                </div>
            }
            .into_any()
        }
        _ => view! {
            <div class="blocked-notice" role="note">
                <p>{format!("You can't message or call {name}.")}</p>
            </div>
        }
        .into_any(),
    }
}
