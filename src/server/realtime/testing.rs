//! What the realtime tests share: a server with Ann, Ben and Cat, Ann and Ben's
//! conversation and Ben and Cat's, and ways to open connections and read what they hear.

use super::handler::ConnectionHandler;
use crate::domain::{ConversationId, User};
use crate::server::budget::FrameBudget;
use crate::server::config::Settings;
use crate::server::hub::Connection;
use crate::server::store::tests::{fresh_store, user};
use crate::server::store::NewSession;
use crate::server::AppState;
use serde_json::Value;
use std::sync::Arc;
use tokio::sync::mpsc;

pub struct Fixture {
    pub state: AppState,
    pub ann: User,
    /// Ann and Ben's conversation, and Ben and Cat's (not Ann's).
    pub ours: ConversationId,
    pub theirs: ConversationId,
    _dir: tempfile::TempDir,
}

impl Fixture {
    /// Ann's side of a connection, as `serve` makes it.
    pub fn ann_on<'a>(&'a self, conn: &'a Connection) -> ConnectionHandler<'a> {
        handler_of(self, &self.ann, "ann-session", conn)
    }
}

pub async fn fixture() -> Fixture {
    let (store, dir) = fresh_store().await;
    let ann = user(&*store, "ann").await;
    let ben = user(&*store, "ben").await;
    let cat = user(&*store, "cat").await;
    store
        .create_session(
            &ann,
            &NewSession {
                token_hash: "ann-session",
                created_at: 0,
                expires_at: i64::MAX,
                user_agent: None,
                address: None,
            },
        )
        .await
        .unwrap();
    let ours = store.open_direct(&ann, &ben, 1).await.unwrap();
    let theirs = store.open_direct(&ben, &cat, 1).await.unwrap();
    let settings = Settings::load("t", None, &|_| None).unwrap();
    let options = leptos::config::LeptosOptions::builder()
        .output_name("natter")
        .build();
    let state = AppState::new(options, store.clone(), settings);
    let ann = store.session_user("ann-session", 1).await.unwrap().unwrap();
    Fixture {
        state,
        ann,
        ours,
        theirs,
        _dir: dir,
    }
}

/// A signed-in user's side of a connection (a session row exists for `session`).
pub async fn signed_in(f: &Fixture, username: &str, session: &str) -> User {
    let user = f.state.store.users_by_username(&[username]).await.unwrap()[0].clone();
    f.state
        .store
        .create_session(
            &user.id,
            &NewSession {
                token_hash: session,
                created_at: 0,
                expires_at: i64::MAX,
                user_agent: None,
                address: None,
            },
        )
        .await
        .unwrap();
    user
}

/// `user`'s side of a connection opened with `session`, as `serve` makes it.
pub fn handler_of<'a>(
    f: &'a Fixture,
    user: &'a User,
    session: &str,
    conn: &'a Connection,
) -> ConnectionHandler<'a> {
    ConnectionHandler::new(
        &f.state,
        user,
        session.to_string(),
        conn,
        FrameBudget::default(),
    )
}

/// The event frames a connection has queued, of one `type`.
pub fn events_of(rx: &mut mpsc::Receiver<Arc<str>>, kind: &str) -> Vec<Value> {
    let mut found = Vec::new();
    while let Ok(text) = rx.try_recv() {
        let v: Value = serde_json::from_str(&text).unwrap();
        if v["type"] == "event" && v["event"]["kind"] == kind {
            found.push(v);
        }
    }
    found
}
