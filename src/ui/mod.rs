//! Components shared by several pages.

pub mod chat_state;
pub mod chat_window;
pub mod conversation_list;
pub mod field;
pub mod new_conversation;
pub mod shell;
