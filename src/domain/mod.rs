//! The domain: what Natter is about, as plain types shared by the server and the browser,
//! and the rules for what a person may type, so that both sides agree on them.
//!
//! This is the bottom layer: it depends on nothing in the crate but `error`. The protocol,
//! the store, the actions, the client and the components all build on it.
//!
//! The common types are re-exported here (`crate::domain::Message`, the ids such as
//! `crate::domain::UserId`); calls (`call`), the
//! admin area's views (`admin`), the settings table (`settings`) and the rules for text
//! other people see (`text`) are reached through their modules.

mod account;
pub mod admin;
mod block;
pub mod call;
mod conversation;
mod id;
mod message;
mod notification;
mod presence;
pub mod settings;
pub mod text;
mod time;

pub use account::*;
pub use block::*;
pub use conversation::*;
pub use id::*;
pub use message::*;
pub use notification::*;
pub use presence::*;
pub use time::*;
