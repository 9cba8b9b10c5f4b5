//! The database, seen through traits: one per area (accounts, sessions, conversations,
//! messages, read marks, calls, blocks, notifications, settings, the dashboard, health), together
//! [`Store`]. The server holds it as `Arc<dyn Store>` and never names a backend; [`open`]
//! picks one by the scheme of the `database_url` setting.
//!
//! Backends live beside this file: [`sqlite`] (SQLite in WAL mode, the embedded default).
//! Every backend passes the same conformance suite (`conformance.rs`).
//!
//! Conventions of every method: ids are the ids the store made (UUIDv7 text, typed by what
//! they name: `UserId`, `ConversationId`, ...), times are `i64` milliseconds since the Unix
//! epoch, and a method that acts for a user checks that user's right to inside its own
//! query or transaction, so no caller can forget to.

use crate::domain::admin::{AdminUser, Dashboard};
use crate::domain::call::{Call, CallAction, CallMedia};
use crate::domain::{
    CallId, ClientMsgId, ConversationId, ConversationSummary, GroupTitle, Member, Message,
    MessageId, Notification, Role, SessionInfo, User, UserId,
};
use crate::error::AppError;
use async_trait::async_trait;
use std::sync::Arc;

pub mod search_key;
pub mod sqlite;

#[cfg(test)]
mod conformance;

/// Why a store method failed: a refusal by a rule of Natter (the domain variants), or the
/// backend, classified by the backend into [`StoreError::Unavailable`],
/// [`StoreError::Conflict`] and [`StoreError::Backend`].
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("that username is taken")]
    UsernameTaken,
    /// The user is not a member of the conversation (or it does not exist: the two are
    /// deliberately indistinguishable to the asker).
    #[error("not a member of that conversation")]
    NotMember,
    #[error("no such user")]
    NoSuchUser,
    /// Only the group's owner may do that (and only in a group).
    #[error("only the owner of a group may do that")]
    NotOwner,
    #[error("a group has at most {0} members")]
    GroupFull(usize),
    #[error("that message id was already used for another message")]
    ClientMsgIdReused,
    /// A call could not change state (or start); the refusal says why.
    #[error("call refused: {0:?}")]
    Call(crate::domain::call::CallRefusal),
    /// Calls are between the two people of a direct conversation.
    #[error("not a direct conversation")]
    NotDirect,
    /// The caller is already ringing or talking.
    #[error("already in a call")]
    AlreadyInCall,
    /// One of the two people blocked the other; the side is the asker's.
    #[error("blocked")]
    Blocked(crate::domain::BlockSide),
    /// Refused by a rule that protects the server or the person; the text says which.
    #[error("{0}")]
    Refused(&'static str),
    /// The database cannot be used right now (locked by another process, busy, read-only,
    /// full, gone, no connection free in time): nothing was written, and the same request
    /// may succeed later. The text is the backend's, for the log.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// A uniqueness rule of the database refused the write (a rule no domain variant
    /// names); nothing was written. The text is the backend's, for the log.
    #[error("the database refused a duplicate: {0}")]
    Conflict(String),
    /// Any other failure of the backend (a bad query, a failed migration, a driver
    /// error). The text is the backend's, for the log.
    #[error("database: {0}")]
    Backend(String),
    /// `database_url` names a kind of database this build has no backend for.
    #[error(
        "the setting database_url starts with {0:?}, but Natter stores only in SQLite (sqlite:...)"
    )]
    UnsupportedDatabase(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The write was committed together with others, and that transaction failed.
    #[error("the transaction this write was part of failed: {reason}")]
    BatchFailed { reason: String, unavailable: bool },
    /// The task that writes messages has stopped (the server is going down).
    #[error("the message writer has stopped")]
    WriterGone,
}

impl StoreError {
    /// The database cannot be used right now (locked by another process, read-only, full,
    /// gone): the transaction did not commit, and the same request may succeed later.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Unavailable(_) | StoreError::WriterGone => true,
            StoreError::BatchFailed { unavailable, .. } => *unavailable,
            _ => false,
        }
    }
}

/// What the asker is told when the store refused or failed: one mapping for every server
/// function and socket handler. A store that cannot be used now is 503 (the outbox
/// retries); anything else the asker cannot act on is logged here, within the span of the
/// request that failed, and answered as [`AppError::Internal`].
impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            // Someone else's conversation or call reads the same as one that does not exist.
            StoreError::NotMember | StoreError::NotOwner => AppError::Forbidden,
            StoreError::NoSuchUser => AppError::NotFound,
            StoreError::UsernameTaken => AppError::invalid("username", "That username is taken."),
            StoreError::GroupFull(n) => {
                AppError::invalid("members", format!("A group can have at most {n} members."))
            }
            StoreError::ClientMsgIdReused => {
                AppError::invalid("client_msg_id", "That message id was already used.")
            }
            StoreError::Blocked(side) => crate::server::moderation::blocked_error(side),
            StoreError::Refused(why) => AppError::Refused(why.to_string()),
            StoreError::Call(refusal) => AppError::Refused(refusal.message()),
            StoreError::NotDirect => AppError::Refused(
                "Calls are between the two people of a direct conversation.".into(),
            ),
            StoreError::AlreadyInCall => AppError::Refused("You are already in a call.".into()),
            other if other.is_unavailable() => {
                tracing::warn!("the database is unavailable: {other}");
                AppError::Unavailable
            }
            other => {
                tracing::error!("{other}");
                AppError::Internal
            }
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The most members a group may have, its owner included.
pub const GROUP_MAX_MEMBERS: usize = 1000;

/// A new session to store together with (or for) a user.
pub struct NewSession<'a> {
    /// The hash of the session token (the token itself is never stored).
    pub token_hash: &'a str,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds; the session is dead from this instant on.
    pub expires_at: i64,
    pub user_agent: Option<&'a str>,
    /// The client's address at the login (see `server::proxy`), for the person's list of
    /// their sessions.
    pub address: Option<&'a str>,
}

/// What a login needs to check a password.
pub struct LoginRecord {
    pub user: User,
    pub password_hash: String,
    pub blocked: bool,
    /// Holds a temporary password from an admin: a new one must be chosen first.
    pub must_change_password: bool,
}

/// The outcome of a send: the stored message, and whether this call stored it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub message: Message,
    /// False when the same client id was sent before: the earlier message is returned.
    pub created: bool,
}

/// A message to write, as its sender gave it.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub conversation_id: ConversationId,
    pub sender: UserId,
    pub client_msg_id: ClientMsgId,
    pub body: String,
    /// Unix milliseconds: the message's `created_at`.
    pub now: i64,
}

/// A call after a change, with the log line it left if the change ended it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallChange {
    pub call: Call,
    pub log: Option<Message>,
    /// The callee took part in the call (answered or declined it) and had read everything
    /// before its log line: the line is marked read for them too, as it is for the caller
    /// who wrote it. A call you took part in is not news to you.
    pub callee_read: bool,
}

/// Accounts: signing up, logging in, finding people, and what admins change about an
/// account (block, role, temporary password).
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// How many accounts exist (blocked ones included).
    ///
    /// # Errors
    /// Only the backend's.
    async fn user_count(&self) -> Result<i64>;

    /// Creates a user, and a session for them if one is given, in one transaction: either
    /// both exist afterwards or neither does. `now` (Unix ms) is the account's creation
    /// time. The username is unique ignoring case (`normalize_username`).
    ///
    /// # Errors
    /// [`StoreError::UsernameTaken`]; a session whose token hash exists already fails the
    /// whole creation ([`StoreError::Conflict`]); the backend's.
    async fn create_user(
        &self,
        username: &str,
        display_name: &str,
        password_hash: &str,
        role: Role,
        session: Option<NewSession<'_>>,
        now: i64,
    ) -> Result<User>;

    /// Creates an account whose password is temporary (already hashed; its owner must
    /// choose a new one at the first login, as after
    /// [`AccountStore::set_temporary_password`]), in one transaction. For accounts an
    /// operator makes from the command line.
    ///
    /// # Errors
    /// [`StoreError::UsernameTaken`]; the backend's.
    async fn create_user_with_temporary_password(
        &self,
        username: &str,
        display_name: &str,
        password_hash: &str,
        role: Role,
        now: i64,
    ) -> Result<User>;

    /// Changes the name other people see (already checked), and its search key.
    /// Returns the user as they are now.
    ///
    /// # Errors
    /// [`StoreError::NoSuchUser`]; the backend's.
    async fn set_display_name(&self, user: &UserId, display_name: &str) -> Result<User>;

    /// Deletes an account, in one transaction: its messages stay, signed "Deleted user";
    /// its username is free again; its password, sessions, blocks (both ways), mutes and
    /// notifications go; it is a member of its conversations no more than a name on old
    /// messages (it can never log in again). `now` is Unix ms.
    ///
    /// # Errors
    /// [`StoreError::Refused`] for the last admin (the server would have none);
    /// [`StoreError::NoSuchUser`]; the backend's.
    async fn delete_account(&self, user: &UserId, now: i64) -> Result<()>;

    /// The other people `user` shares a conversation with (their ids, once each): who
    /// sees their name.
    ///
    /// # Errors
    /// Only the backend's.
    async fn contacts_of(&self, user: &UserId) -> Result<Vec<UserId>>;

    /// What a login checks for `username` (any case), or `None` if nobody has it.
    ///
    /// # Errors
    /// Only the backend's.
    async fn login_record(&self, username: &str) -> Result<Option<LoginRecord>>;

    /// Unblocked users other than `except` whose username or display name contains
    /// `query` (folded by `text::search_key`: caseless, accent-blind; `%` and `_` are
    /// text), by username, at most `limit`.
    ///
    /// # Errors
    /// Only the backend's.
    async fn search_users(&self, query: &str, except: &UserId, limit: i64) -> Result<Vec<User>>;

    /// The users with these usernames (any case), in the order asked; names nobody has
    /// are left out.
    ///
    /// # Errors
    /// Only the backend's.
    async fn users_by_username(&self, usernames: &[&str]) -> Result<Vec<User>>;

    /// Records when the user was last seen online (`now`, Unix ms).
    ///
    /// # Errors
    /// Only the backend's.
    async fn touch_last_seen(&self, user: &UserId, now: i64) -> Result<()>;

    /// Replaces a password chosen by its owner, if the stored hash is still the one the
    /// caller checked (a concurrent change wins otherwise); clears "must change" and ends
    /// every session made before but `keep` (the session of the page that changed it), in
    /// one transaction. Returns whether it was replaced.
    ///
    /// # Errors
    /// Only the backend's.
    async fn replace_password(
        &self,
        user: &UserId,
        checked_hash: &str,
        new_hash: &str,
        keep: Option<&str>,
    ) -> Result<bool>;

    /// Gives an account a temporary password (already hashed): its sessions end, and the
    /// next login must choose a new password before it gets a session.
    ///
    /// # Errors
    /// [`StoreError::NoSuchUser`]; the backend's.
    async fn set_temporary_password(&self, target: &UserId, password_hash: &str) -> Result<()>;

    /// A page of users whose username or display name contains `query` (as in
    /// [`AccountStore::search_users`], blocked ones included), by username, skipping
    /// `offset`, at most `limit`; `online` is left false for the caller to fill in.
    /// Returns the page and how many match in all.
    ///
    /// # Errors
    /// Only the backend's.
    async fn admin_users(
        &self,
        query: &str,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<AdminUser>, i64)>;

    /// Blocks or unblocks an account. Blocking ends every session of it in the same
    /// transaction. Returns false when the account was already in that state.
    ///
    /// # Errors
    /// [`StoreError::Refused`] for blocking oneself or the last active admin;
    /// [`StoreError::NoSuchUser`]; the backend's.
    async fn set_account_blocked(
        &self,
        admin: &UserId,
        target: &UserId,
        blocked: bool,
        now: i64,
    ) -> Result<bool>;

    /// Makes an account an admin or an ordinary user.
    ///
    /// # Errors
    /// [`StoreError::Refused`] when that would leave no active admin;
    /// [`StoreError::NoSuchUser`]; the backend's.
    async fn set_role(&self, target: &UserId, role: Role) -> Result<()>;
}

/// Login sessions, stored by the hash of their token.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Stores a session for the user.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] if the token hash exists already; the backend's.
    async fn create_session(&self, user_id: &UserId, session: &NewSession<'_>) -> Result<()>;

    /// The user behind a live session at `now` (Unix ms): not expired, not blocked, not
    /// holding a temporary password (a login that raced the reset gets no use of its
    /// session). `None` otherwise.
    ///
    /// # Errors
    /// Only the backend's.
    async fn session_user(&self, token_hash: &str, now: i64) -> Result<Option<User>>;

    /// Ends a session (logging out); a session that does not exist is no error.
    ///
    /// # Errors
    /// Only the backend's.
    async fn delete_session(&self, token_hash: &str) -> Result<()>;

    /// Removes the sessions expired at `now` (Unix ms); returns how many.
    ///
    /// # Errors
    /// Only the backend's.
    async fn delete_expired_sessions(&self, now: i64) -> Result<u64>;

    /// Ends every session of `user` but `except` (a token hash: "log out everywhere
    /// else"). Returns how many ended.
    ///
    /// # Errors
    /// Only the backend's.
    async fn delete_sessions_of(&self, user: &UserId, except: Option<&str>) -> Result<u64>;

    /// The live sessions of `user` at `now` (Unix ms), the most recently active first.
    ///
    /// # Errors
    /// Only the backend's.
    async fn sessions_of(&self, user: &UserId, now: i64) -> Result<Vec<SessionInfo>>;

    /// Ends one session of `user` (by its id, the token hash); another person's session
    /// is never touched. Returns whether it existed.
    ///
    /// # Errors
    /// Only the backend's.
    async fn delete_session_of(&self, user: &UserId, session: &str) -> Result<bool>;

    /// Records that a session was used at `now` (Unix ms) from `address`; at most one
    /// write a minute per session.
    ///
    /// # Errors
    /// Only the backend's.
    async fn touch_session(&self, session: &str, now: i64, address: Option<&str>) -> Result<()>;
}

/// Conversations and their members. A non-member is told [`StoreError::NotMember`] for a
/// conversation that exists as for one that does not.
#[async_trait]
pub trait ConversationStore: Send + Sync {
    /// The direct conversation between two users, created on first use (at `now`, Unix
    /// ms): opening a DM with the same person again, from either side, returns the same
    /// conversation id.
    ///
    /// # Errors
    /// [`StoreError::NoSuchUser`] for a missing or blocked `other`;
    /// [`StoreError::Blocked`] when either blocked the other (before it existed); the
    /// backend's.
    async fn open_direct(&self, me: &UserId, other: &UserId, now: i64) -> Result<ConversationId>;

    /// A group titled `title`, owned by `owner`, with the given other members (duplicates
    /// and the owner ignored); each of them gets an "added to group" notification.
    /// Returns its id.
    ///
    /// # Errors
    /// [`StoreError::GroupFull`] past [`GROUP_MAX_MEMBERS`]; [`StoreError::NoSuchUser`];
    /// [`StoreError::Blocked`] (`ByThem`) when a member blocked the owner; the backend's.
    /// Nothing is written then.
    async fn create_group(
        &self,
        owner: &UserId,
        title: &GroupTitle,
        members: &[UserId],
        now: i64,
    ) -> Result<ConversationId>;

    /// Adds a member to a group; only its owner may. The new member is notified. Returns
    /// false if they already were a member.
    ///
    /// # Errors
    /// [`StoreError::NotOwner`], [`StoreError::NotMember`] (the asker is not in the
    /// group), [`StoreError::NoSuchUser`], [`StoreError::Blocked`] (`ByThem`: the person
    /// blocked the owner), [`StoreError::GroupFull`]; the backend's.
    async fn add_group_member(
        &self,
        conversation_id: &ConversationId,
        owner: &UserId,
        user: &UserId,
        now: i64,
    ) -> Result<bool>;

    /// Removes a member from a group: the owner may remove anyone but themselves. Returns
    /// false if `user` was not a removable member.
    ///
    /// # Errors
    /// [`StoreError::NotOwner`], [`StoreError::NotMember`]; the backend's.
    async fn remove_group_member(
        &self,
        conversation_id: &ConversationId,
        owner: &UserId,
        user: &UserId,
    ) -> Result<bool>;

    /// Whether `user` is a member of the conversation.
    ///
    /// # Errors
    /// Only the backend's.
    async fn is_member(&self, conversation_id: &ConversationId, user: &UserId) -> Result<bool>;

    /// The members of a conversation, by display name, if `asker` is one of them.
    ///
    /// # Errors
    /// [`StoreError::NotMember`]; the backend's.
    async fn members(
        &self,
        conversation_id: &ConversationId,
        asker: &UserId,
    ) -> Result<Vec<Member>>;

    /// The user's conversations, most recently active first, each with its newest
    /// message, the user's read mark and mute, and for a direct one the peer and any block
    /// between the two. `peer_presence` is left for the caller.
    ///
    /// # Errors
    /// Only the backend's.
    async fn conversations_of(&self, user: &UserId) -> Result<Vec<ConversationSummary>>;

    /// How many conversations `user` is a member of.
    ///
    /// # Errors
    /// Only the backend's.
    async fn membership_count(&self, user: &UserId) -> Result<usize>;

    /// The user's direct conversations: where their presence is shown (not where either
    /// of the two blocked the other).
    ///
    /// # Errors
    /// Only the backend's.
    async fn direct_conversation_ids_of(&self, user: &UserId) -> Result<Vec<ConversationId>>;
}

/// Messages: the write path and reading history.
#[async_trait]
pub trait MessageStore: Send + Sync {
    /// Whether `sender` may send to the conversation now: a member, and in a direct
    /// conversation neither of the two blocked the other. One query, so the check cannot
    /// be skipped.
    ///
    /// # Errors
    /// [`StoreError::NotMember`], [`StoreError::Blocked`]; the backend's.
    async fn may_send(&self, conversation_id: &ConversationId, sender: &UserId) -> Result<()>;

    /// The write path for one message: [`MessageStore::send_messages`] with a batch of
    /// one. In one short transaction: membership, idempotency on (sender,
    /// client_msg_id), `seq = last_seq + 1` (gap-free), insert, the sender's read mark.
    /// Nothing is visible to anyone before the commit, and a retried send returns the
    /// stored message (`created = false`) instead of a second one. `now` is Unix ms.
    ///
    /// # Errors
    /// [`StoreError::NotMember`], [`StoreError::Blocked`],
    /// [`StoreError::ClientMsgIdReused`] (the id with another body or conversation); the
    /// backend's.
    async fn send_message(
        &self,
        conversation_id: &ConversationId,
        sender: &UserId,
        client_msg_id: &ClientMsgId,
        body: &str,
        now: i64,
    ) -> Result<Sent> {
        let message = NewMessage {
            conversation_id: conversation_id.clone(),
            sender: sender.clone(),
            client_msg_id: client_msg_id.clone(),
            body: body.to_string(),
            now,
        };
        self.send_messages(std::slice::from_ref(&message))
            .await?
            .pop()
            .unwrap_or_else(|| Err(StoreError::Corrupt("a send had no outcome".into())))
    }

    /// Several sends in one transaction, so one commit (one flush to disk) for all: the
    /// group commit of the message writer. Each is the write path of
    /// [`MessageStore::send_message`], isolated from the others, so that a refused one
    /// (not a member, a reused id, a block) leaves the others be; the outcomes are in the
    /// order of `batch`. A later send in the batch sees the earlier ones (a retry inside
    /// the batch finds the first).
    ///
    /// # Errors
    /// The outer `Err` when the transaction failed as a whole: then none was written
    /// (check [`StoreError::is_unavailable`]). Each inner `Err` is that send's refusal,
    /// as for [`MessageStore::send_message`].
    async fn send_messages(&self, batch: &[NewMessage]) -> Result<Vec<Result<Sent>>>;

    /// Up to `limit` messages with seq below `before` (the newest of them), returned
    /// oldest first, for a member only.
    ///
    /// # Errors
    /// [`StoreError::NotMember`]; the backend's.
    async fn messages_before(
        &self,
        conversation_id: &ConversationId,
        reader: &UserId,
        before: i64,
        limit: i64,
    ) -> Result<Vec<Message>>;

    /// Up to `limit` messages with seq above `after`, oldest first, for a member only:
    /// what a client missed while it was away.
    ///
    /// # Errors
    /// [`StoreError::NotMember`]; the backend's.
    async fn messages_after(
        &self,
        conversation_id: &ConversationId,
        reader: &UserId,
        after: i64,
        limit: i64,
    ) -> Result<Vec<Message>>;

    /// Whether a member's copy of a conversation, ending at `seq` with message
    /// `message_id`, is still this conversation's history (a database restored from a
    /// backup may have lost those messages, or given their seqs to others). `None` when the
    /// user is not a member: the check is the membership query.
    ///
    /// # Errors
    /// Only the backend's.
    async fn can_resume(
        &self,
        conversation_id: &ConversationId,
        user: &UserId,
        seq: i64,
        message_id: &MessageId,
    ) -> Result<Option<bool>>;
}

/// Read marks: up to which seq each member has read a conversation.
#[async_trait]
pub trait ReadMarkStore: Send + Sync {
    /// Advances the reader's read mark to `seq` (never backwards, never past the last
    /// message). Returns the mark now stored.
    ///
    /// # Errors
    /// [`StoreError::NotMember`]; the backend's.
    async fn mark_read(
        &self,
        conversation_id: &ConversationId,
        reader: &UserId,
        seq: i64,
    ) -> Result<i64> {
        Ok(self.move_read_mark(conversation_id, reader, seq).await?.0)
    }

    /// Like [`ReadMarkStore::mark_read`], and whether the mark moved (a mark that did not
    /// move is news to nobody, and is not rewritten).
    ///
    /// # Errors
    /// [`StoreError::NotMember`]; the backend's.
    async fn move_read_mark(
        &self,
        conversation_id: &ConversationId,
        reader: &UserId,
        seq: i64,
    ) -> Result<(i64, bool)>;

    /// Marks every conversation of the user read to its newest message; returns the
    /// (conversation, seq) marks that moved.
    ///
    /// # Errors
    /// Only the backend's.
    async fn mark_all_conversations_read(
        &self,
        user: &UserId,
    ) -> Result<Vec<(ConversationId, i64)>>;
}

/// Calls. Every change is one transaction: the call with the asker's part in it, whether
/// [`crate::domain::call::transition`] allows the change, the write, and when the call is over its
/// log line in the conversation (and a "missed call" notification for a missed one).
#[async_trait]
pub trait CallStore: Send + Sync {
    /// Rings the other member of a direct conversation at `now` (Unix ms). A callee who is
    /// already ringing or talking makes this a `busy` call, over at once, with its log
    /// line.
    ///
    /// # Errors
    /// [`StoreError::NotMember`], [`StoreError::NotDirect`], [`StoreError::NoSuchUser`]
    /// (a blocked account on either side), [`StoreError::Blocked`],
    /// [`StoreError::AlreadyInCall`] (the caller); the backend's.
    async fn start_call(
        &self,
        conversation_id: &ConversationId,
        caller: &UserId,
        media: CallMedia,
        now: i64,
    ) -> Result<CallChange>;

    /// Applies `action` by `asker` (None: the server itself) at `now` (Unix ms).
    ///
    /// # Errors
    /// [`StoreError::NotMember`] for someone who is not a participant, the same as for a
    /// call that does not exist; [`StoreError::Call`] when the state machine refuses; the
    /// backend's.
    async fn change_call(
        &self,
        call_id: &CallId,
        asker: Option<&UserId>,
        action: CallAction,
        now: i64,
    ) -> Result<CallChange>;

    /// The conversation a call belongs to (it never changes), if the call exists.
    ///
    /// # Errors
    /// Only the backend's.
    async fn call_conversation(&self, call_id: &CallId) -> Result<Option<ConversationId>>;

    /// A call, for one of its participants only.
    ///
    /// # Errors
    /// [`StoreError::NotMember`] for anyone else or a call that does not exist; the
    /// backend's.
    async fn call_for(&self, call_id: &CallId, asker: &UserId) -> Result<Call>;

    /// Ids of the calls ringing or active between two people.
    ///
    /// # Errors
    /// Only the backend's.
    async fn live_calls_between(&self, a: &UserId, b: &UserId) -> Result<Vec<CallId>>;

    /// Ids of the calls ringing or active that `user` is the caller or the callee of.
    ///
    /// # Errors
    /// Only the backend's.
    async fn live_call_ids_of(&self, user: &UserId) -> Result<Vec<CallId>>;

    /// Ids of calls still ringing or active: after a restart nobody holds them any more.
    ///
    /// # Errors
    /// Only the backend's.
    async fn live_call_ids(&self) -> Result<Vec<CallId>>;
}

/// Personal blocks: one person keeps another out (no new direct conversation, no messages
/// or calls in the existing one, no presence either way). Groups are not affected.
#[async_trait]
pub trait BlockStore: Send + Sync {
    /// `blocker` keeps `blocked` out from `now` (Unix ms). Returns false if that block
    /// already stood.
    ///
    /// # Errors
    /// [`StoreError::Refused`] for blocking oneself; [`StoreError::NoSuchUser`]; the
    /// backend's.
    async fn block_person(&self, blocker: &UserId, blocked: &UserId, now: i64) -> Result<bool>;

    /// Lifts a block `blocker` made. Returns false if there was none.
    ///
    /// # Errors
    /// Only the backend's.
    async fn unblock_person(&self, blocker: &UserId, blocked: &UserId) -> Result<bool>;

    /// The people `user` has blocked, by username.
    ///
    /// # Errors
    /// Only the backend's.
    async fn blocked_by(&self, user: &UserId) -> Result<Vec<User>>;

    /// Every block, as (blocker, blocked): loaded once at start into memory.
    ///
    /// # Errors
    /// Only the backend's.
    async fn all_blocks(&self) -> Result<Vec<(UserId, UserId)>>;
}

/// The bell (missed calls, being added to a group) and muting a conversation.
#[async_trait]
pub trait NotificationStore: Send + Sync {
    /// The user's newest notifications, newest first, at most `limit`, with who and where.
    ///
    /// # Errors
    /// Only the backend's ([`StoreError::Corrupt`] for an unknown kind).
    async fn notifications_of(&self, user: &UserId, limit: i64) -> Result<Vec<Notification>>;

    /// Marks one of the user's notifications read (`Some`), or all of them (`None`), at
    /// `now` (Unix ms). Returns how many changed; someone else's notification is never
    /// touched.
    ///
    /// # Errors
    /// Only the backend's.
    async fn mark_notifications_read(
        &self,
        user: &UserId,
        id: Option<&str>,
        now: i64,
    ) -> Result<u64>;

    /// Mutes or unmutes a conversation for one member (a muted one still counts unread).
    ///
    /// # Errors
    /// [`StoreError::NotMember`]; the backend's.
    async fn set_muted(
        &self,
        conversation_id: &ConversationId,
        user: &UserId,
        muted: bool,
    ) -> Result<()>;
}

/// Settings changed in the admin area, stored as text over those of the configuration.
#[async_trait]
pub trait SettingStore: Send + Sync {
    /// Every stored setting, as (key, text), by key.
    ///
    /// # Errors
    /// Only the backend's.
    async fn stored_settings(&self) -> Result<Vec<(String, String)>>;

    /// Stores (or replaces) one setting, changed by the admin `by` at `now` (Unix ms).
    /// The value is not checked here.
    ///
    /// # Errors
    /// Only the backend's.
    async fn store_setting(&self, key: &str, value: &str, by: &UserId, now: i64) -> Result<()>;
}

/// The admin dashboard's figures.
#[async_trait]
pub trait DashboardStore: Send + Sync {
    /// The figures from the database at `now` (Unix ms): accounts, conversations, text
    /// messages and calls by outcome since the start of the UTC day, and text messages per
    /// hour over the last `CHART_HOURS` hours. `online_now` and `connections` are left 0
    /// for the caller to fill in.
    ///
    /// # Errors
    /// Only the backend's.
    async fn dashboard(&self, now: i64) -> Result<Dashboard>;
}

/// Copies of the whole database, for operators.
#[async_trait]
pub trait BackupStore: Send + Sync {
    /// Writes a consistent copy of the whole database to a new file at `path`, while
    /// others go on reading and writing: the copy holds every transaction committed before
    /// it began and nothing of those after. The copy is a database this backend opens as
    /// it is (restore: stop the server, put the copy in place, start it).
    ///
    /// # Errors
    /// [`StoreError::Refused`] when `path` exists already (a backup never overwrites);
    /// the backend's when the file cannot be written.
    async fn backup_into(&self, path: &std::path::Path) -> Result<()>;
}

/// Whether the database can serve at all (the server's `/readyz`).
#[async_trait]
pub trait HealthStore: Send + Sync {
    /// Runs a query that reads a table and writes nothing: it answers once a connection is
    /// free and the database readable. Callers bound the wait themselves.
    ///
    /// # Errors
    /// The backend's: [`StoreError::Unavailable`] when the database cannot be used now
    /// (no connection free in time, a file it cannot open), [`StoreError::Backend`] for
    /// anything else (a closed store, say).
    async fn ping(&self) -> Result<()>;
}

/// Declares [`Store`] as every area trait together, and implements it for each type that
/// implements them all, from one list, so the trait and its blanket impl cannot disagree.
macro_rules! store_of_areas {
    ($($area:ident),+ $(,)?) => {
        /// Everything Natter keeps: every area's trait. Implemented by every backend
        /// (through the blanket impl), and held by the server as `Arc<dyn Store>`.
        pub trait Store: $($area +)+ Send + Sync {}

        impl<T> Store for T where T: $($area +)+ Send + Sync {}
    };
}

store_of_areas!(
    AccountStore,
    SessionStore,
    ConversationStore,
    MessageStore,
    ReadMarkStore,
    CallStore,
    BlockStore,
    NotificationStore,
    SettingStore,
    DashboardStore,
    BackupStore,
    HealthStore,
);

/// Opens (creating if needed) the database `url` names, bringing its schema up to date,
/// with the backend its scheme names: `sqlite:` (the only one today).
///
/// # Errors
/// [`StoreError::UnsupportedDatabase`] for any other scheme (it names the setting
/// `database_url`, never the rest of the URL, which may hold a password); the backend's
/// when the database cannot be opened or migrated.
pub async fn open(url: &str) -> Result<Arc<dyn Store>> {
    let scheme = url.split_once(':').map_or(url, |(scheme, _)| scheme);
    match scheme {
        "sqlite" => Ok(Arc::new(sqlite::SqliteStore::open(url).await?)),
        _ => Err(StoreError::UnsupportedDatabase(format!("{scheme}:"))),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A fresh database in its own temporary directory (the default backend).
    pub(crate) async fn fresh_store() -> (Arc<dyn Store>, tempfile::TempDir) {
        sqlite::tests::fresh_store().await
    }

    /// Ann and Ben with a direct conversation, and Eve, who is in none of it:
    /// `(ann, ben, eve, conversation)`.
    pub(crate) async fn ann_ben_and_eve(
        store: &dyn Store,
    ) -> (UserId, UserId, UserId, ConversationId) {
        let (ann, ben, eve) = (
            user(store, "ann").await,
            user(store, "ben").await,
            user(store, "eve").await,
        );
        let c = store.open_direct(&ann, &ben, 1).await.unwrap();
        (ann, ben, eve, c)
    }

    /// `text` as a group's title (it must pass the rules).
    pub(crate) fn title(text: &str) -> GroupTitle {
        crate::domain::parse_group_title(text).unwrap()
    }

    /// A new ordinary user named `name`; returns their id.
    pub(crate) async fn user(store: &dyn Store, name: &str) -> UserId {
        store
            .create_user(name, name, "h", Role::User, None, 1)
            .await
            .unwrap()
            .id
    }

    #[tokio::test]
    async fn a_database_url_of_another_kind_is_refused_naming_the_setting() {
        let Err(e) = open("postgres://natter:secret@db/natter").await else {
            panic!("a postgres URL was opened");
        };
        let text = e.to_string();
        assert!(
            text.contains("database_url") && text.contains("postgres:"),
            "{text}"
        );
        assert!(!text.contains("secret"), "{text}");
    }
}
