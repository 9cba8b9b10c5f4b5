//! Components shared by several pages.

pub mod bell;
pub mod call_view;
pub mod chat_state;
pub mod chat_window;
pub mod conversation_list;
pub mod conversation_menu;
pub mod field;
pub mod group_members;
pub mod new_conversation;
pub mod new_group;
pub mod outbox;
pub mod people_search;
pub mod sentence;
pub mod shell;
