//! Calls: start, answer, decline, hang up. The store checks that the asker takes part in
//! the call (or, to start one, is a member of the conversation) inside its own queries;
//! the connection id names the asker's own tab, which the call is then bound to.

use crate::domain::call::{Call, CallMedia, CallOptions, CallTicket};
use crate::domain::{CallId, ConversationId};
use crate::error::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use {super::chat::signed_in, super::support::answer, crate::server::actions::calls};

/// Whether this server allows calls, and how long they ring.
#[server(endpoint = "call_options")]
#[cfg_attr(
    feature = "ssr",
    tracing::instrument(name = "get_call_options", skip_all)
)]
pub async fn get_call_options() -> Result<CallOptions, AppError> {
    answer(
        async move {
            let (state, _) = signed_in().await?;
            Ok(calls::options(&state))
        }
        .await,
    )
}

/// Rings the other person of a direct conversation from this tab.
#[server(endpoint = "start_call")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "start_call", skip_all))]
pub async fn start_call(
    conversation_id: ConversationId,
    media: CallMedia,
    connection_id: u64,
) -> Result<CallTicket, AppError> {
    answer(
        async move {
            let (state, me) = signed_in().await?;
            calls::start(&state, &me, &conversation_id, media, connection_id).await
        }
        .await,
    )
}

/// Answers a call ringing for the asker, on this tab.
#[server(endpoint = "answer_call")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "answer_call", skip_all))]
pub async fn answer_call(call_id: CallId, connection_id: u64) -> Result<CallTicket, AppError> {
    answer(
        async move {
            let (state, me) = signed_in().await?;
            calls::answer(&state, &me, &call_id, connection_id).await
        }
        .await,
    )
}

#[server(endpoint = "decline_call")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "decline_call", skip_all))]
pub async fn decline_call(call_id: CallId) -> Result<Call, AppError> {
    answer(
        async move {
            let (state, me) = signed_in().await?;
            calls::decline(&state, &me, &call_id).await
        }
        .await,
    )
}

/// Cancels a ringing call (caller), declines it (callee) or ends an answered one.
#[server(endpoint = "hang_up")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "hang_up", skip_all))]
pub async fn hang_up(call_id: CallId) -> Result<Call, AppError> {
    answer(
        async move {
            let (state, me) = signed_in().await?;
            calls::hang_up(&state, &me, &call_id).await
        }
        .await,
    )
}
