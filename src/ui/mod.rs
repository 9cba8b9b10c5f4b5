//! Components shared by several pages. They read the client's state and call its intents
//! ([`crate::client::use_client`]); the client keeps the state live.

pub mod bell;
pub mod call_view;
pub mod chat_window;
pub mod conversation_list;
pub mod conversation_menu;
pub mod field;
pub mod format;
pub mod group_members;
pub mod new_conversation;
pub mod new_group;
pub mod people_search;
pub mod sentence;
pub mod shell;
