//! What a fresh demo database holds besides its four accounts, so that the first screen
//! after "Log in as …" looks lived-in. Alice and Bob have spent the last hours planning a
//! product launch in their direct conversation; Bob's video call went unanswered and his
//! message after it waits, unread, for Alice. Carol's group "Launch plans" has all four demo
//! users in it, and Carol and Alice talked pricing since yesterday.
//!
//! Everything is written through the store's public methods, in the same transactions as a
//! real send, call, read mark or group, so every row is one the app could have made itself:
//! the missed call has its call log line and Alice's notification, unread counts come from
//! read marks.

use super::config::Settings;
use super::store::{NewMessage, Store, StoreError};
use crate::domain::call::{CallAction, CallMedia};
use crate::domain::{parse_group_title, ClientMsgId, ConversationId, User, UserId};
use crate::error::AppError;

/// Usernames of the accounts seeded in demo mode.
pub const DEMO_USERNAMES: [&str; 4] = ["alice", "bob", "carol", "admin"];

/// The accounts among [`DEMO_USERNAMES`] whose password is still the demo password, in
/// that order.
///
/// # Errors
/// The database; a failed hash check.
pub async fn demo_password_holders(
    store: &dyn Store,
    password: &str,
) -> Result<Vec<User>, AppError> {
    let mut holders = Vec::new();
    for name in DEMO_USERNAMES {
        if let Some(record) = store.login_record(name).await? {
            let hash = Some(record.password_hash);
            if super::auth::verify_password(password.to_string(), hash).await? {
                holders.push(record.user);
            }
        }
    }
    Ok(holders)
}

/// Outside demo mode, ends the sessions of the accounts that still have the public demo
/// password (logins with it are refused then, see `auth::demo_password_refused`), so that
/// nobody who logged in while the server was a demo stays in. Returns those accounts.
///
/// # Errors
/// As [`demo_password_holders`]; the database.
pub async fn end_demo_password_sessions(
    store: &dyn Store,
    settings: &Settings,
) -> Result<Vec<User>, AppError> {
    if settings.demo_mode {
        return Ok(Vec::new());
    }
    let holders = demo_password_holders(store, &settings.demo_password).await?;
    for user in &holders {
        store.delete_sessions_of(&user.id, None).await?;
    }
    Ok(holders)
}

const MINUTE: i64 = 60_000;

/// One message of the demo history: who wrote it (a demo username), how many minutes
/// before the seeding it was sent, and what it says.
struct Line {
    from: &'static str,
    minutes_ago: i64,
    body: &'static str,
}

const fn line(from: &'static str, minutes_ago: i64, body: &'static str) -> Line {
    Line {
        from,
        minutes_ago,
        body,
    }
}

/// Alice and Bob, before Bob's call.
const DIRECT_BEFORE_CALL: [Line; 9] = [
    line(
        "bob",
        250,
        "Morning! Did you get a chance to look at the launch checklist?",
    ),
    line(
        "alice",
        246,
        "Just went through it. Looks solid, I added a line for the status page.",
    ),
    line("alice", 245, "Are we still aiming for Thursday?"),
    line(
        "bob",
        241,
        "Thursday at 10:00, if QA signs off on the release candidate tomorrow.",
    ),
    line(
        "alice",
        238,
        "Great. I'll draft the announcement post tonight.",
    ),
    line(
        "bob",
        135,
        "QA found a bug in the sign-up flow. The fix is in review.",
    ),
    line(
        "alice",
        132,
        "Better now than on launch day. Anything you need from me?",
    ),
    line(
        "bob",
        130,
        "Could you check the screenshots on the landing page? A couple still show the old logo.",
    ),
    line("alice", 80, "Done, I swapped all of them."),
];

/// When Bob's video call to Alice rang, unanswered.
const MISSED_CALL_MINUTES_AGO: i64 = 42;

/// Bob, after the call: the message Alice has not read yet.
const DIRECT_AFTER_CALL: [Line; 1] = [line(
    "bob",
    40,
    "Tried to call you: the fix is merged and the release candidate is green. Quick go/no-go at 4?",
)];

/// The group's title, its owner, and when the owner created it.
const GROUP_TITLE: &str = "Launch plans";
const GROUP_OWNER: &str = "carol";
const GROUP_CREATED_MINUTES_AGO: i64 = 310;

const GROUP: [Line; 6] = [
    line(
        "carol",
        305,
        "Welcome to Launch plans! Everything about Thursday's launch goes here.",
    ),
    line(
        "admin",
        290,
        "The servers are scaled up for launch week, and the status page is live.",
    ),
    line(
        "bob",
        270,
        "The release candidate goes to QA this afternoon.",
    ),
    line(
        "alice",
        200,
        "The announcement draft is in the shared folder. Comments welcome!",
    ),
    line(
        "carol",
        95,
        "Press list is final: 14 outlets, and the embargo lifts on Thursday at 10:00.",
    ),
    line(
        "bob",
        90,
        "Nice! I'll have the press demo ready by Wednesday evening.",
    ),
];

/// Carol and Alice, since yesterday.
const PRICING: [Line; 4] = [
    line(
        "carol",
        1570,
        "Could you send me the final pricing table when it's ready?",
    ),
    line("alice", 1555, "Sure, you'll have it in the morning."),
    line(
        "alice",
        320,
        "Pricing is final: the plans stay the same, and the yearly discount goes up to 20%.",
    ),
    line(
        "carol",
        316,
        "Perfect, that goes straight into the press kit. Thanks!",
    ),
];

/// The demo users, found by username.
struct Cast(Vec<User>);

impl Cast {
    fn id(&self, username: &str) -> Result<&UserId, StoreError> {
        self.0
            .iter()
            .find(|u| u.username == username)
            .map(|u| &u.id)
            .ok_or(StoreError::NoSuchUser)
    }
}

/// Writes the demo's conversations, group, missed call and read marks; the demo users
/// (alice, bob, carol, admin) must exist already. Times are counted back from `now`.
/// Only for a database that was empty before its demo users were seeded. Nothing in
/// broadcast-only mode (`store_messages = false`), which keeps no history: its messages
/// are numbered from 1 in memory, and would clash with stored ones.
pub async fn seed_conversations(
    store: &dyn Store,
    settings: &Settings,
    now: i64,
) -> Result<(), StoreError> {
    if !settings.store_messages {
        return Ok(());
    }
    let cast = Cast(
        store
            .users_by_username(&["alice", "bob", "carol", "admin"])
            .await?,
    );
    let (alice, bob, carol) = (cast.id("alice")?, cast.id("bob")?, cast.id("carol")?);
    let ago = |minutes: i64| now - minutes * MINUTE;

    // Carol's group, with everyone in it. Whoever has written there since has seen that
    // they were added; Alice has read all of it, the admin only up to their own message.
    let members = ["alice", "bob", "admin"]
        .into_iter()
        .map(|u| cast.id(u).cloned())
        .collect::<Result<Vec<_>, _>>()?;
    let title = parse_group_title(GROUP_TITLE)
        .map_err(|_| StoreError::Refused("The demo group's name breaks the rules for names."))?;
    let group = store
        .create_group(
            cast.id(GROUP_OWNER)?,
            &title,
            &members,
            ago(GROUP_CREATED_MINUTES_AGO),
        )
        .await?;
    send(store, &cast, &group, &GROUP, now).await?;
    for member in &members {
        store
            .mark_notifications_read(member, None, ago(GROUP_CREATED_MINUTES_AGO - 5))
            .await?;
    }
    store.mark_read(&group, alice, i64::MAX).await?;
    store.mark_read(&group, carol, i64::MAX).await?;

    // Carol and Alice, all read.
    let pricing = store.open_direct(carol, alice, ago(1575)).await?;
    send(store, &cast, &pricing, &PRICING, now).await?;
    store.mark_read(&pricing, alice, i64::MAX).await?;

    // Alice and Bob: the history, Bob's call that rang out (the server ends it as missed,
    // as the ring timeout does: its log line and Alice's notification are real rows), and
    // Bob's message after it, which Alice has not read.
    let direct = store.open_direct(alice, bob, ago(255)).await?;
    send(store, &cast, &direct, &DIRECT_BEFORE_CALL, now).await?;
    let rang = ago(MISSED_CALL_MINUTES_AGO);
    // It rang for the ring timeout (a minute at most, so the history stays in order).
    let ring_ms = (i64::from(settings.call_ring_timeout_secs) * 1000).min(MINUTE);
    let call = store
        .start_call(&direct, bob, CallMedia::Video, rang)
        .await?
        .call;
    let missed = store
        .change_call(&call.id, None, CallAction::RingTimeout, rang + ring_ms)
        .await?;
    let read_up_to = missed.log.map(|m| m.seq).ok_or_else(|| {
        StoreError::Corrupt("a missed call left no line in its conversation".into())
    })?;
    send(store, &cast, &direct, &DIRECT_AFTER_CALL, now).await?;
    store.mark_read(&direct, alice, read_up_to).await?;

    // Everyone was last seen a little after they last wrote.
    for (username, minutes_ago) in [("alice", 78), ("bob", 38), ("carol", 90), ("admin", 285)] {
        store
            .touch_last_seen(cast.id(username)?, ago(minutes_ago))
            .await?;
    }
    Ok(())
}

/// Sends `lines` to the conversation through the store's write path, in one commit, each
/// at its own time; the first refusal is the error.
async fn send(
    store: &dyn Store,
    cast: &Cast,
    conversation_id: &ConversationId,
    lines: &[Line],
    now: i64,
) -> Result<(), StoreError> {
    let batch = lines
        .iter()
        .map(|l| {
            Ok(NewMessage {
                conversation_id: conversation_id.clone(),
                sender: cast.id(l.from)?.clone(),
                client_msg_id: ClientMsgId::from(uuid::Uuid::now_v7().to_string()),
                body: l.body.to_string(),
                now: now - l.minutes_ago * MINUTE,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    for outcome in store.send_messages(&batch).await? {
        outcome?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ConversationKind, NotificationKind, Role};
    use crate::server::store::tests::fresh_store;

    const NOW: i64 = 1_750_000_000_000;

    /// The settings of a server started with these environment variables and no file.
    /// Settings from `env`, in demo mode unless `env` says otherwise.
    fn settings(env: &[(&str, &str)]) -> Settings {
        let env = |k: &str| {
            env.iter()
                .find(|(name, _)| *name == k)
                .map(|(_, value)| value.to_string())
                .or_else(|| (k == "NATTER_DEMO_MODE").then(|| "true".to_string()))
        };
        Settings::load("test", None, &env).unwrap()
    }

    /// The demo users, then their conversations, as `seed_demo` writes them.
    async fn seeded_with(
        settings: &Settings,
    ) -> (std::sync::Arc<dyn Store>, tempfile::TempDir, Vec<User>) {
        let (store, dir) = fresh_store().await;
        let mut users = Vec::new();
        for (name, display, role) in [
            ("alice", "Alice", Role::User),
            ("bob", "Bob", Role::User),
            ("carol", "Carol", Role::User),
            ("admin", "Admin", Role::Admin),
        ] {
            users.push(
                store
                    .create_user(name, display, "h", role, None, NOW)
                    .await
                    .unwrap(),
            );
        }
        seed_conversations(&*store, settings, NOW).await.unwrap();
        (store, dir, users)
    }

    async fn seeded() -> (std::sync::Arc<dyn Store>, tempfile::TempDir, Vec<User>) {
        seeded_with(&settings(&[])).await
    }

    #[tokio::test]
    async fn alice_finds_bob_unread_the_group_a_missed_call_and_carol() {
        let (store, _dir, users) = seeded().await;
        let (alice, bob) = (&users[0].id, &users[1].id);
        let list = store.conversations_of(alice).await.unwrap();
        let titles: Vec<&str> = list.iter().map(|c| c.title.as_str()).collect();
        // Most recent first: Bob wrote 40 minutes ago, the group 90, Carol 316.
        assert_eq!(titles, ["Bob", "Launch plans", "Carol"]);
        let unread: Vec<i64> = list.iter().map(|c| c.unread()).collect();
        assert_eq!(unread, [1, 0, 0]);
        assert_eq!(list[1].kind, ConversationKind::Group);

        let direct = &list[0];
        let history = store
            .messages_after(&direct.id, alice, 0, 100)
            .await
            .unwrap();
        assert_eq!(history.len(), 11);
        let call_line = &history[9];
        assert_eq!(call_line.body, "Missed video call");
        assert_eq!(&call_line.sender_id, bob);
        // Times go forward with the seqs, and all of it is in the past.
        assert!(history
            .windows(2)
            .all(|w| w[0].created_at < w[1].created_at));
        assert!(history.iter().all(|m| m.created_at < NOW));
        assert!(store.live_call_ids().await.unwrap().is_empty());

        let notes = store.notifications_of(alice, 10).await.unwrap();
        let unread_notes: Vec<NotificationKind> =
            notes.iter().filter(|n| !n.read).map(|n| n.kind).collect();
        assert_eq!(unread_notes, [NotificationKind::MissedCall]);
        assert!(notes
            .iter()
            .any(|n| n.kind == NotificationKind::AddedToGroup && n.read));
    }

    #[tokio::test]
    async fn the_group_has_everyone_and_bob_has_read_his_conversation() {
        let (store, _dir, users) = seeded().await;
        let bob = &users[1].id;
        let list = store.conversations_of(bob).await.unwrap();
        assert!(list.iter().all(|c| c.unread() == 0));
        let group = list
            .iter()
            .find(|c| c.title == GROUP_TITLE)
            .expect("Bob is in the group");
        let members = store.members(&group.id, bob).await.unwrap();
        assert_eq!(members.len(), 4);
        assert!(members
            .iter()
            .any(|m| m.owner && m.user.username == "carol"));
        // Several people wrote in the group.
        let history = store.messages_after(&group.id, bob, 0, 100).await.unwrap();
        let mut writers: Vec<&str> = history.iter().map(|m| m.sender_id.as_str()).collect();
        writers.sort();
        writers.dedup();
        assert_eq!(writers.len(), 4);
    }

    #[tokio::test]
    async fn broadcast_only_mode_seeds_the_users_alone() {
        let settings = settings(&[("NATTER_STORE_MESSAGES", "false")]);
        let (store, _dir, users) = seeded_with(&settings).await;
        for user in &users {
            assert!(store.conversations_of(&user.id).await.unwrap().is_empty());
        }
    }

    #[tokio::test]
    async fn seed_demo_fills_an_empty_database_once_and_only_in_demo_mode() {
        use crate::server::startup::seed_demo;
        let (store, _dir) = fresh_store().await;
        let off = settings(&[("NATTER_DEMO_MODE", "false")]);
        assert!(!seed_demo(&*store, &off).await.unwrap());
        assert_eq!(store.user_count().await.unwrap(), 0);
        let on = settings(&[]);
        assert!(seed_demo(&*store, &on).await.unwrap());
        // A second start finds the users there and adds nothing.
        assert!(!seed_demo(&*store, &on).await.unwrap());
        let alice = store.users_by_username(&["alice"]).await.unwrap();
        let list = store.conversations_of(&alice[0].id).await.unwrap();
        assert_eq!(list.len(), 3);
        assert_eq!(list.iter().map(|c| c.unread()).sum::<i64>(), 1);
    }
}
