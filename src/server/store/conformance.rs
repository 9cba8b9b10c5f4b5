//! The conformance suite: what every backend of [`Store`] must do, written against the
//! traits only. Each test is an `async fn(Arc<dyn Store>)`; [`conformance_suite!`] runs
//! every one of them as a test against a fresh store of one backend, so a new backend is
//! one more line at the end of this file.
//!
//! Tests of one backend's own machinery (SQLite's WAL mode, how it classifies its error
//! codes) live with that backend.

use super::tests::{ann_ben_and_eve, title, user};
use super::{NewMessage, NewSession, Result, Sent, Store, StoreError};
use crate::domain::admin::CHART_HOURS;
use crate::domain::call::{CallAction, CallMedia, CallRefusal, CallState};
use crate::domain::{
    BlockSide, ClientMsgId, ConversationId, MessageKind, NotificationKind, Role, UserId,
};
use std::sync::Arc;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// Runs every conformance test against `$fresh`, an async function returning a fresh,
/// empty store of one backend as `(Arc<dyn Store>, guard)`; the guard (a temporary
/// directory, say) lives until the test ends. The tests go in a module named `$backend`.
macro_rules! conformance_suite {
    ($backend:ident, $fresh:path) => {
        mod $backend {
            conformance_suite!(@tests $fresh;
                people_search_finds_non_ascii_names_typed_exactly_in_any_case,
                a_username_that_differs_only_in_case_is_taken,
                a_refused_sign_up_leaves_no_user_behind,
                an_expired_or_deleted_session_finds_nobody,
                opening_a_dm_with_the_same_person_again_reuses_it,
                a_retried_send_creates_one_message,
                a_refused_send_in_a_shared_commit_leaves_the_others_written,
                concurrent_sends_get_gap_free_unique_seqs,
                a_non_member_cannot_send_read_or_mark_read,
                history_pages_backwards_by_seq_and_read_marks_only_advance,
                only_the_owner_adds_and_removes_group_members,
                a_group_has_its_owner_and_members,
                an_answered_call_that_ends_leaves_its_duration_in_the_conversation,
                a_callee_already_in_a_call_makes_the_new_call_busy,
                only_the_two_participants_can_touch_a_call_and_only_members_can_start_one,
                declined_cancelled_and_missed_calls_each_log_their_outcome,
                a_group_cannot_be_called_and_a_blocked_person_cannot_be_rung,
                a_call_the_callee_took_part_in_is_no_unread_for_them_but_a_missed_one_is,
                a_personal_block_stops_dms_messages_and_calls_both_ways_until_lifted,
                a_send_refused_by_a_block_leaves_the_rest_of_its_commit_written,
                a_block_does_not_silence_anyone_in_a_group,
                nobody_adds_a_person_who_blocked_them_to_a_group,
                the_last_admin_can_be_neither_demoted_nor_blocked,
                blocking_an_account_ends_its_sessions_and_its_login,
                a_temporary_password_ends_sessions_and_must_be_replaced,
                an_account_made_with_a_temporary_password_gets_no_session_until_it_is_replaced,
                ending_all_sessions_of_a_person_leaves_everyone_else_logged_in,
                a_person_lists_and_ends_their_own_sessions_and_nobody_elses,
                a_new_display_name_is_what_others_see_and_search_finds,
                a_deleted_account_leaves_its_messages_as_deleted_user_and_nothing_else,
                a_missed_call_and_a_group_addition_are_notifications_for_their_person_only,
                mute_is_per_member_and_marking_all_read_moves_every_mark,
                the_dashboard_counts_todays_messages_and_calls_by_outcome,
                the_admin_user_list_searches_and_pages,
                stored_settings_are_kept_and_replaced,
                a_working_store_answers_a_ping_and_the_ping_writes_nothing,
            );
        }
    };
    (@tests $fresh:path; $($test:ident,)*) => {
        $(
            #[tokio::test]
            async fn $test() {
                let (store, _guard) = $fresh().await;
                super::$test(store).await;
            }
        )*
    };
}

// Accounts and sessions.

async fn people_search_finds_non_ascii_names_typed_exactly_in_any_case(store: Arc<dyn Store>) {
    let me = user(&*store, "me").await;
    for (name, display) in [("elise", "Élise Dupont"), ("anna", "Анна Петрова")] {
        store
            .create_user(name, display, "h", Role::User, None, 1)
            .await
            .unwrap();
    }
    let found = |q: &'static str| {
        let store = store.clone();
        let me = me.clone();
        async move {
            let users = store.search_users(q, &me, 10).await.unwrap();
            users.into_iter().map(|u| u.username).collect::<Vec<_>>()
        }
    };
    for q in ["Élise", "élise", "ÉLISE", "E\u{301}lise", "lise", "dupont"] {
        assert_eq!(found(q).await, ["elise"], "searching {q:?}");
    }
    for q in ["Анна", "анна", "АННА", "Петрова", "нна"] {
        assert_eq!(found(q).await, ["anna"], "searching {q:?}");
    }
    // The admin's user list searches the same way.
    let (page, total) = store.admin_users("ÉLISE", 0, 10).await.unwrap();
    assert_eq!((page.len(), total), (1, 1));
    // Wildcards are text.
    assert!(found("%").await.is_empty());
}

fn session(hash: &str, expires_at: i64) -> NewSession<'_> {
    NewSession {
        token_hash: hash,
        created_at: 0,
        expires_at,
        user_agent: None,
        address: None,
    }
}

async fn a_username_that_differs_only_in_case_is_taken(store: Arc<dyn Store>) {
    store
        .create_user("alice", "Alice", "h", Role::User, None, 1)
        .await
        .unwrap();
    let err = store
        .create_user("ALICE", "Other", "h", Role::User, None, 2)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::UsernameTaken), "{err}");
    assert_eq!(store.user_count().await.unwrap(), 1);
}

async fn a_refused_sign_up_leaves_no_user_behind(store: Arc<dyn Store>) {
    let bob = store
        .create_user("bob", "Bob", "h", Role::User, Some(session("s1", 10)), 1)
        .await
        .unwrap();
    // The session insert fails (its id is taken), so the user insert must roll back too.
    let err = store
        .create_user(
            "carol",
            "Carol",
            "h",
            Role::User,
            Some(session("s1", 10)),
            1,
        )
        .await;
    assert!(err.is_err());
    assert_eq!(store.user_count().await.unwrap(), 1);
    assert!(store.login_record("carol").await.unwrap().is_none());
    assert_eq!(store.session_user("s1", 5).await.unwrap(), Some(bob));
}

async fn an_expired_or_deleted_session_finds_nobody(store: Arc<dyn Store>) {
    let u = store
        .create_user("dave", "Dave", "h", Role::User, Some(session("s", 100)), 1)
        .await
        .unwrap();
    assert_eq!(store.session_user("s", 99).await.unwrap(), Some(u.clone()));
    assert_eq!(store.session_user("s", 100).await.unwrap(), None);
    store
        .create_session(&u.id, &session("t", 100))
        .await
        .unwrap();
    store.delete_session("t").await.unwrap();
    assert_eq!(store.session_user("t", 1).await.unwrap(), None);
    assert_eq!(store.delete_expired_sessions(1000).await.unwrap(), 1);
}

// Conversations, messages and read marks.

async fn opening_a_dm_with_the_same_person_again_reuses_it(store: Arc<dyn Store>) {
    let (a, b) = (user(&*store, "ann").await, user(&*store, "ben").await);
    let first = store.open_direct(&a, &b, 1).await.unwrap();
    assert_eq!(store.open_direct(&b, &a, 2).await.unwrap(), first);
    assert_eq!(store.conversations_of(&a).await.unwrap().len(), 1);
    let list = store.conversations_of(&b).await.unwrap();
    assert_eq!(list[0].title, "ann");
    assert_eq!(list[0].peer.as_ref().map(|p| p.id.clone()), Some(a));
}

async fn a_retried_send_creates_one_message(store: Arc<dyn Store>) {
    let (a, b) = (user(&*store, "ann").await, user(&*store, "ben").await);
    let c = store.open_direct(&a, &b, 1).await.unwrap();
    let first = store
        .send_message(&c, &a, &"m-1".into(), "hello", 2)
        .await
        .unwrap();
    let again = store
        .send_message(&c, &a, &"m-1".into(), "hello", 3)
        .await
        .unwrap();
    assert!(first.created);
    assert!(!again.created);
    assert_eq!(first.message, again.message);
    let all = store.messages_after(&c, &b, 0, 100).await.unwrap();
    assert_eq!(all.len(), 1);
    // The same id for different content is a client bug, not a retry.
    let reused = store.send_message(&c, &a, &"m-1".into(), "other", 4).await;
    assert!(matches!(reused, Err(StoreError::ClientMsgIdReused)));
}

async fn a_refused_send_in_a_shared_commit_leaves_the_others_written(store: Arc<dyn Store>) {
    let (a, b, eve, c) = ann_ben_and_eve(&*store).await;
    store
        .send_message(&c, &a, &"m-0".into(), "earlier", 2)
        .await
        .unwrap();
    let msg = |sender: &UserId, id: &str, body: &str| NewMessage {
        conversation_id: c.clone(),
        sender: sender.clone(),
        client_msg_id: id.into(),
        body: body.to_string(),
        now: 3,
    };
    let outcomes = store
        .send_messages(&[
            msg(&a, "m-1", "one"),
            msg(&eve, "e-1", "not a member"),
            msg(&a, "m-0", "reused id"),
            msg(&b, "b-1", "two"),
            msg(&a, "m-1", "one"),
        ])
        .await
        .unwrap();
    let seqs: Vec<Option<(i64, bool)>> = outcomes
        .iter()
        .map(|o| o.as_ref().ok().map(|s| (s.message.seq, s.created)))
        .collect();
    // The retry inside the same commit finds the first one.
    assert_eq!(
        seqs,
        [
            Some((2, true)),
            None,
            None,
            Some((3, true)),
            Some((2, false))
        ]
    );
    assert!(matches!(outcomes[1], Err(StoreError::NotMember)));
    assert!(matches!(outcomes[2], Err(StoreError::ClientMsgIdReused)));
    let bodies: Vec<String> = store
        .messages_after(&c, &b, 0, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.body)
        .collect();
    assert_eq!(bodies, ["earlier", "one", "two"]);
}

async fn concurrent_sends_get_gap_free_unique_seqs(store: Arc<dyn Store>) {
    let (a, b) = (user(&*store, "ann").await, user(&*store, "ben").await);
    let c = store.open_direct(&a, &b, 1).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..100 {
        let (store, c) = (store.clone(), c.clone());
        let sender = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            store
                .send_message(
                    &c,
                    &sender,
                    &format!("m-{i}").into(),
                    &format!("message {i}"),
                    5,
                )
                .await
                .unwrap()
                .message
                .seq
        }));
    }
    let mut seqs = Vec::new();
    for t in tasks {
        seqs.push(t.await.unwrap());
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=100).collect::<Vec<i64>>());
    let stored = store.messages_after(&c, &a, 0, 1000).await.unwrap();
    let stored: Vec<i64> = stored.iter().map(|m| m.seq).collect();
    assert_eq!(stored, (1..=100).collect::<Vec<i64>>());
}

async fn a_non_member_cannot_send_read_or_mark_read(store: Arc<dyn Store>) {
    let (a, _, eve, c) = ann_ben_and_eve(&*store).await;
    store
        .send_message(&c, &a, &"m-1".into(), "secret", 2)
        .await
        .unwrap();
    assert!(matches!(
        store.send_message(&c, &eve, &"e-1".into(), "hi", 3).await,
        Err(StoreError::NotMember)
    ));
    assert!(matches!(
        store.messages_after(&c, &eve, 0, 50).await,
        Err(StoreError::NotMember)
    ));
    assert!(matches!(
        store.messages_before(&c, &eve, i64::MAX, 50).await,
        Err(StoreError::NotMember)
    ));
    assert!(matches!(
        store.mark_read(&c, &eve, 1).await,
        Err(StoreError::NotMember)
    ));
    assert!(matches!(
        store.members(&c, &eve).await,
        Err(StoreError::NotMember)
    ));
    assert!(store.conversations_of(&eve).await.unwrap().is_empty());
}

async fn history_pages_backwards_by_seq_and_read_marks_only_advance(store: Arc<dyn Store>) {
    let (a, b) = (user(&*store, "ann").await, user(&*store, "ben").await);
    let c = store.open_direct(&a, &b, 1).await.unwrap();
    for i in 1..=120 {
        store
            .send_message(&c, &a, &format!("m-{i}").into(), &format!("{i}"), i)
            .await
            .unwrap();
    }
    let newest = store.messages_before(&c, &b, i64::MAX, 50).await.unwrap();
    assert_eq!((newest[0].seq, newest[49].seq), (71, 120));
    let older = store.messages_before(&c, &b, 71, 50).await.unwrap();
    assert_eq!((older[0].seq, older[49].seq), (21, 70));
    let oldest = store.messages_before(&c, &b, 21, 50).await.unwrap();
    assert_eq!(oldest.len(), 20);

    let list = store.conversations_of(&b).await.unwrap();
    assert_eq!(list[0].unread(), 120);
    assert_eq!(list[0].last_message.as_ref().map(|m| m.seq), Some(120));
    assert_eq!(store.mark_read(&c, &b, 100).await.unwrap(), 100);
    assert_eq!(store.mark_read(&c, &b, 50).await.unwrap(), 100);
    assert_eq!(store.mark_read(&c, &b, 9999).await.unwrap(), 120);
    // Marking again where the mark already is moves nothing.
    assert_eq!(
        store.move_read_mark(&c, &b, 120).await.unwrap(),
        (120, false)
    );
    assert_eq!(store.conversations_of(&b).await.unwrap()[0].unread(), 0);
    // The sender has read what they sent.
    assert_eq!(store.conversations_of(&a).await.unwrap()[0].unread(), 0);
}

async fn only_the_owner_adds_and_removes_group_members(store: Arc<dyn Store>) {
    let (a, b, c) = (
        user(&*store, "ann").await,
        user(&*store, "ben").await,
        user(&*store, "cat").await,
    );
    let g = store
        .create_group(&a, &title("Team"), std::slice::from_ref(&b), 1)
        .await
        .unwrap();
    assert!(matches!(
        store.add_group_member(&g, &b, &c, 2).await,
        Err(StoreError::NotOwner)
    ));
    assert!(matches!(
        store.add_group_member(&g, &c, &c, 2).await,
        Err(StoreError::NotMember)
    ));
    assert!(store.add_group_member(&g, &a, &c, 2).await.unwrap());
    assert!(!store.add_group_member(&g, &a, &c, 2).await.unwrap());
    assert!(store.is_member(&g, &c).await.unwrap());
    assert!(matches!(
        store.remove_group_member(&g, &c, &b).await,
        Err(StoreError::NotOwner)
    ));
    assert!(store.remove_group_member(&g, &a, &c).await.unwrap());
    assert!(!store.is_member(&g, &c).await.unwrap());
    // The owner stays.
    assert!(!store.remove_group_member(&g, &a, &a).await.unwrap());
    // Direct conversations have no owner to add people.
    let dm = store.open_direct(&a, &b, 3).await.unwrap();
    assert!(matches!(
        store.add_group_member(&dm, &a, &c, 4).await,
        Err(StoreError::NotOwner) | Err(StoreError::NotMember)
    ));
}

async fn a_group_has_its_owner_and_members(store: Arc<dyn Store>) {
    let (a, b, c) = (
        user(&*store, "ann").await,
        user(&*store, "ben").await,
        user(&*store, "cat").await,
    );
    let g = store
        .create_group(&a, &title("Team"), &[b.clone(), c.clone()], 1)
        .await
        .unwrap();
    let members = store.members(&g, &c).await.unwrap();
    assert_eq!(members.len(), 3);
    assert_eq!(store.conversations_of(&b).await.unwrap()[0].title, "Team");
    assert!(matches!(
        store
            .create_group(&a, &title("X"), &["nobody".into()], 1)
            .await,
        Err(StoreError::NoSuchUser)
    ));
}

// Calls.

/// Ann, Ben and Cat; Ann and Ben have a direct conversation, and so do Cat and Ben.
struct Three {
    store: Arc<dyn Store>,
    a: UserId,
    b: UserId,
    c: UserId,
    ab: ConversationId,
    cb: ConversationId,
}

async fn three(store: Arc<dyn Store>) -> Three {
    let a = user(&*store, "ann").await;
    let b = user(&*store, "ben").await;
    let c = user(&*store, "cat").await;
    let ab = store.open_direct(&a, &b, 1).await.unwrap();
    let cb = store.open_direct(&c, &b, 1).await.unwrap();
    Three {
        store,
        a,
        b,
        c,
        ab,
        cb,
    }
}

async fn an_answered_call_that_ends_leaves_its_duration_in_the_conversation(store: Arc<dyn Store>) {
    let t = three(store).await;
    let rung = t
        .store
        .start_call(&t.ab, &t.a, CallMedia::Video, 1_000)
        .await
        .unwrap();
    assert_eq!(rung.call.state, CallState::Ringing);
    assert_eq!(rung.call.callee.id, t.b);
    assert!(rung.log.is_none());
    let id = rung.call.id;
    let answered = t
        .store
        .change_call(&id, Some(&t.b), CallAction::Answer, 2_000)
        .await
        .unwrap();
    assert_eq!(answered.call.state, CallState::Active);
    let ended = t
        .store
        .change_call(&id, Some(&t.a), CallAction::HangUp, 194_000)
        .await
        .unwrap();
    assert_eq!(ended.call.state, CallState::Ended);
    let log = ended.log.unwrap();
    assert_eq!(log.body, "Video call · 3:12");
    assert_eq!(log.kind, MessageKind::Call);
    let history = t.store.messages_after(&t.ab, &t.b, 0, 10).await.unwrap();
    assert_eq!(history, vec![log]);
    // Over is over: a second hang-up changes nothing and logs nothing.
    let again = t
        .store
        .change_call(&id, Some(&t.b), CallAction::HangUp, 195_000)
        .await;
    assert!(matches!(
        again,
        Err(StoreError::Call(CallRefusal::AlreadyOver(CallState::Ended)))
    ));
    assert_eq!(
        t.store
            .messages_after(&t.ab, &t.b, 0, 10)
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn a_callee_already_in_a_call_makes_the_new_call_busy(store: Arc<dyn Store>) {
    let t = three(store).await;
    t.store
        .start_call(&t.ab, &t.a, CallMedia::Audio, 1)
        .await
        .unwrap();
    let busy = t
        .store
        .start_call(&t.cb, &t.c, CallMedia::Video, 2)
        .await
        .unwrap();
    assert_eq!(busy.call.state, CallState::Busy);
    assert_eq!(
        busy.log.map(|m| m.body).as_deref(),
        Some("Video call not answered: busy")
    );
    // And a caller who is ringing someone cannot ring a second person.
    let again = t.store.start_call(&t.ab, &t.a, CallMedia::Audio, 3).await;
    assert!(matches!(again, Err(StoreError::AlreadyInCall)));
}

async fn only_the_two_participants_can_touch_a_call_and_only_members_can_start_one(
    store: Arc<dyn Store>,
) {
    let t = three(store).await;
    let call = t
        .store
        .start_call(&t.ab, &t.a, CallMedia::Video, 1)
        .await
        .unwrap()
        .call;
    for action in [CallAction::Answer, CallAction::Decline, CallAction::HangUp] {
        let r = t.store.change_call(&call.id, Some(&t.c), action, 2).await;
        assert!(matches!(r, Err(StoreError::NotMember)), "{action:?}");
    }
    assert!(matches!(
        t.store.call_for(&call.id, &t.c).await,
        Err(StoreError::NotMember)
    ));
    // A caller cannot answer their own call.
    let r = t
        .store
        .change_call(&call.id, Some(&t.a), CallAction::Answer, 2)
        .await;
    assert!(matches!(r, Err(StoreError::Call(CallRefusal::NotAllowed))));
    // Carol is not in Ann and Ben's conversation.
    let r = t.store.start_call(&t.ab, &t.c, CallMedia::Video, 3).await;
    assert!(matches!(r, Err(StoreError::NotMember)));
    // Nothing of that wrote anything.
    assert_eq!(
        t.store.call_for(&call.id, &t.b).await.unwrap().state,
        CallState::Ringing
    );
}

async fn declined_cancelled_and_missed_calls_each_log_their_outcome(store: Arc<dyn Store>) {
    let t = three(store).await;
    let cases = [
        (Some(&t.b), CallAction::Decline, "Call declined"),
        (Some(&t.a), CallAction::HangUp, "Call cancelled"),
        (None, CallAction::RingTimeout, "Missed video call"),
    ];
    for (asker, action, text) in cases {
        let id = t
            .store
            .start_call(&t.ab, &t.a, CallMedia::Video, 1)
            .await
            .unwrap()
            .call
            .id;
        let change = t.store.change_call(&id, asker, action, 2).await.unwrap();
        assert_eq!(change.log.map(|m| m.body).as_deref(), Some(text));
    }
    assert!(t.store.live_call_ids().await.unwrap().is_empty());
}

async fn a_group_cannot_be_called_and_a_blocked_person_cannot_be_rung(store: Arc<dyn Store>) {
    let t = three(store).await;
    let group = t
        .store
        .create_group(&t.a, &title("G"), &[t.b.clone(), t.c.clone()], 1)
        .await
        .unwrap();
    let r = t.store.start_call(&group, &t.a, CallMedia::Audio, 2).await;
    assert!(matches!(r, Err(StoreError::NotDirect)));
    // An admin blocks Ben's account.
    t.store
        .set_account_blocked(&t.a, &t.b, true, 1)
        .await
        .unwrap();
    let r = t.store.start_call(&t.ab, &t.a, CallMedia::Audio, 2).await;
    assert!(matches!(r, Err(StoreError::NoSuchUser)));
}

/// How many unread the list shows `user` in conversation `id`.
async fn unread(store: &dyn Store, user: &UserId, id: &ConversationId) -> i64 {
    let list = store.conversations_of(user).await.unwrap();
    list.iter().find(|c| c.id == *id).unwrap().unread()
}

async fn a_call_the_callee_took_part_in_is_no_unread_for_them_but_a_missed_one_is(
    store: Arc<dyn Store>,
) {
    let t = three(store).await;
    // Answered, then hung up by the caller.
    let call = t
        .store
        .start_call(&t.ab, &t.a, CallMedia::Audio, 1)
        .await
        .unwrap()
        .call;
    t.store
        .change_call(&call.id, Some(&t.b), CallAction::Answer, 2)
        .await
        .unwrap();
    let over = t
        .store
        .change_call(&call.id, Some(&t.a), CallAction::HangUp, 3)
        .await
        .unwrap();
    assert!(over.callee_read);
    assert_eq!(unread(&*t.store, &t.b, &t.ab).await, 0);
    assert_eq!(unread(&*t.store, &t.a, &t.ab).await, 0);
    // Declined.
    let call = t
        .store
        .start_call(&t.ab, &t.a, CallMedia::Audio, 4)
        .await
        .unwrap()
        .call;
    let over = t
        .store
        .change_call(&call.id, Some(&t.b), CallAction::Decline, 5)
        .await
        .unwrap();
    assert!(over.callee_read);
    assert_eq!(unread(&*t.store, &t.b, &t.ab).await, 0);
    // Missed: news for the callee.
    let call = t
        .store
        .start_call(&t.ab, &t.a, CallMedia::Audio, 6)
        .await
        .unwrap()
        .call;
    let over = t
        .store
        .change_call(&call.id, None, CallAction::RingTimeout, 7)
        .await
        .unwrap();
    assert!(!over.callee_read);
    assert_eq!(unread(&*t.store, &t.b, &t.ab).await, 1);
    // With that still unread, a call taken part in leaves the count as it is plus its
    // line: earlier unread stays unread.
    let call = t
        .store
        .start_call(&t.ab, &t.a, CallMedia::Audio, 8)
        .await
        .unwrap()
        .call;
    t.store
        .change_call(&call.id, Some(&t.b), CallAction::Decline, 9)
        .await
        .unwrap();
    assert_eq!(unread(&*t.store, &t.b, &t.ab).await, 2);
}

// Blocks, notifications, mute, admin changes, settings and the dashboard.

async fn send(
    store: &dyn Store,
    conversation_id: &ConversationId,
    sender: &UserId,
    id: &str,
    now: i64,
) -> Result<Sent> {
    store
        .send_message(
            conversation_id,
            sender,
            &ClientMsgId::from(id),
            "hello",
            now,
        )
        .await
}

async fn admin(store: &dyn Store, name: &str) -> UserId {
    store
        .create_user(name, name, "h", Role::Admin, None, 1)
        .await
        .unwrap()
        .id
}

async fn a_personal_block_stops_dms_messages_and_calls_both_ways_until_lifted(
    store: Arc<dyn Store>,
) {
    let (ann, ben, eve, dm) = ann_ben_and_eve(&*store).await;
    assert!(store.block_person(&ann, &ben, 5).await.unwrap());
    assert!(!store.block_person(&ann, &ben, 6).await.unwrap());
    for (who, side) in [(&ann, BlockSide::ByMe), (&ben, BlockSide::ByThem)] {
        let sent = send(&*store, &dm, who, &format!("m-{who}"), 7).await;
        assert!(
            matches!(sent, Err(StoreError::Blocked(s)) if s == side),
            "{sent:?}"
        );
        let call = store.start_call(&dm, who, CallMedia::Audio, 7).await;
        assert!(
            matches!(call, Err(StoreError::Blocked(s)) if s == side),
            "{call:?}"
        );
    }
    // Lifted; then a block between Ben and Eve hides their presence from each other,
    // and a block stops a new direct conversation.
    store
        .unblock_person(&ann, &ben)
        .await
        .map(|lifted| assert!(lifted))
        .unwrap();
    let eve_ben = store.open_direct(&eve, &ben, 8).await.unwrap();
    store.block_person(&ben, &eve, 9).await.unwrap();
    assert!(matches!(
        send(&*store, &eve_ben, &eve, "e-1", 10).await,
        Err(StoreError::Blocked(BlockSide::ByThem))
    ));
    assert_eq!(
        store.direct_conversation_ids_of(&eve).await.unwrap(),
        Vec::<ConversationId>::new()
    );
    assert_eq!(
        store.direct_conversation_ids_of(&ben).await.unwrap(),
        vec![dm.clone()]
    );
    let cat = user(&*store, "cat").await;
    store.block_person(&cat, &ann, 11).await.unwrap();
    assert!(matches!(
        store.open_direct(&ann, &cat, 12).await,
        Err(StoreError::Blocked(BlockSide::ByThem))
    ));
    // Lifted: Ann and Ben talk again.
    assert!(send(&*store, &dm, &ann, "a-2", 13).await.is_ok());
    assert_eq!(store.blocked_by(&ben).await.unwrap()[0].id, eve);
    assert!(matches!(
        store.block_person(&ann, &ann, 1).await,
        Err(StoreError::Refused(_))
    ));
}

async fn a_send_refused_by_a_block_leaves_the_rest_of_its_commit_written(store: Arc<dyn Store>) {
    let (ann, ben, eve, dm) = ann_ben_and_eve(&*store).await;
    let other = store.open_direct(&eve, &ann, 1).await.unwrap();
    store.block_person(&ben, &ann, 2).await.unwrap();
    let new = |conversation_id: &ConversationId, id: &str| NewMessage {
        conversation_id: conversation_id.clone(),
        sender: ann.clone(),
        client_msg_id: id.into(),
        body: "hi".to_string(),
        now: 3,
    };
    let outcomes = store
        .send_messages(&[new(&dm, "a-1"), new(&other, "a-2")])
        .await
        .unwrap();
    assert!(matches!(
        outcomes[0],
        Err(StoreError::Blocked(BlockSide::ByThem))
    ));
    assert_eq!(outcomes[1].as_ref().map(|s| s.message.seq).ok(), Some(1));
}

async fn a_block_does_not_silence_anyone_in_a_group(store: Arc<dyn Store>) {
    let (ann, ben, _eve, _dm) = ann_ben_and_eve(&*store).await;
    let group = store
        .create_group(&ann, &title("Team"), std::slice::from_ref(&ben), 2)
        .await
        .unwrap();
    store.block_person(&ben, &ann, 3).await.unwrap();
    assert!(send(&*store, &group, &ann, "g-1", 4).await.is_ok());
    assert!(send(&*store, &group, &ben, "g-2", 5).await.is_ok());
}

async fn nobody_adds_a_person_who_blocked_them_to_a_group(store: Arc<dyn Store>) {
    let (ann, ben, eve, _dm) = ann_ben_and_eve(&*store).await;
    store.block_person(&ben, &ann, 2).await.unwrap();
    assert!(matches!(
        store
            .create_group(&ann, &title("Team"), &[eve.clone(), ben.clone()], 3)
            .await,
        Err(StoreError::Blocked(BlockSide::ByThem))
    ));
    let group = store
        .create_group(&ann, &title("Team"), std::slice::from_ref(&eve), 4)
        .await
        .unwrap();
    assert!(matches!(
        store.add_group_member(&group, &ann, &ben, 5).await,
        Err(StoreError::Blocked(BlockSide::ByThem))
    ));
    assert!(store.notifications_of(&ben, 10).await.unwrap().is_empty());
    // Ben may still add Ann to his own group: he chose to.
    let his = store
        .create_group(&ben, &title("Ben's"), std::slice::from_ref(&ann), 6)
        .await;
    assert!(his.is_ok());
}

async fn the_last_admin_can_be_neither_demoted_nor_blocked(store: Arc<dyn Store>) {
    let root = admin(&*store, "root").await;
    let ann = user(&*store, "ann").await;
    assert!(matches!(
        store.set_role(&root, Role::User).await,
        Err(StoreError::Refused(_))
    ));
    assert!(matches!(
        store.set_account_blocked(&ann, &root, true, 2).await,
        Err(StoreError::Refused(_))
    ));
    assert!(matches!(
        store.set_account_blocked(&root, &root, true, 2).await,
        Err(StoreError::Refused(_))
    ));
    // With a second admin, the first can step down.
    store.set_role(&ann, Role::Admin).await.unwrap();
    store.set_role(&root, Role::User).await.unwrap();
    assert!(matches!(
        store.set_role(&ann, Role::User).await,
        Err(StoreError::Refused(_))
    ));
    assert!(matches!(
        store.set_role(&"nobody".into(), Role::Admin).await,
        Err(StoreError::NoSuchUser)
    ));
}

/// A session that never expires.
fn live_session(hash: &str) -> NewSession<'_> {
    NewSession {
        token_hash: hash,
        created_at: 0,
        expires_at: i64::MAX,
        user_agent: None,
        address: None,
    }
}

async fn blocking_an_account_ends_its_sessions_and_its_login(store: Arc<dyn Store>) {
    let root = admin(&*store, "root").await;
    let ann = user(&*store, "ann").await;
    store
        .create_session(&ann, &live_session("s-ann"))
        .await
        .unwrap();
    assert!(store
        .set_account_blocked(&root, &ann, true, 5)
        .await
        .unwrap());
    assert_eq!(store.session_user("s-ann", 6).await.unwrap(), None);
    assert!(store.login_record("ann").await.unwrap().unwrap().blocked);
    // Unblocked: they log in again (the old session stays gone).
    assert!(store
        .set_account_blocked(&root, &ann, false, 7)
        .await
        .unwrap());
    assert!(!store.login_record("ann").await.unwrap().unwrap().blocked);
    assert_eq!(store.session_user("s-ann", 8).await.unwrap(), None);
}

async fn a_temporary_password_ends_sessions_and_must_be_replaced(store: Arc<dyn Store>) {
    let ann = user(&*store, "ann").await;
    store
        .create_session(&ann, &live_session("s-ann"))
        .await
        .unwrap();
    store
        .set_temporary_password(&ann, "temp-hash")
        .await
        .unwrap();
    assert_eq!(store.session_user("s-ann", 1).await.unwrap(), None);
    let record = store.login_record("ann").await.unwrap().unwrap();
    assert!(record.must_change_password);
    // A replacement checked against a hash that is no longer stored does nothing.
    assert!(!store
        .replace_password(&ann, "old", "new", None)
        .await
        .unwrap());
    assert!(store
        .replace_password(&ann, "temp-hash", "new", None)
        .await
        .unwrap());
    assert!(
        !store
            .login_record("ann")
            .await
            .unwrap()
            .unwrap()
            .must_change_password
    );
}

async fn an_account_made_with_a_temporary_password_gets_no_session_until_it_is_replaced(
    store: Arc<dyn Store>,
) {
    let root = store
        .create_user_with_temporary_password("root", "Root", "temp-hash", Role::Admin, 1)
        .await
        .unwrap();
    assert_eq!(root.role, Role::Admin);
    let record = store.login_record("root").await.unwrap().unwrap();
    assert!(record.must_change_password);
    assert_eq!(record.password_hash, "temp-hash");
    // A session made anyway finds nobody while the password is temporary.
    store
        .create_session(&root.id, &live_session("s-root"))
        .await
        .unwrap();
    assert_eq!(store.session_user("s-root", 1).await.unwrap(), None);
    let err = store
        .create_user_with_temporary_password("ROOT", "Other", "h", Role::User, 2)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::UsernameTaken), "{err}");
    assert!(store
        .replace_password(&root.id, "temp-hash", "new", None)
        .await
        .unwrap());
    assert!(
        !store
            .login_record("root")
            .await
            .unwrap()
            .unwrap()
            .must_change_password
    );
}

async fn ending_all_sessions_of_a_person_leaves_everyone_else_logged_in(store: Arc<dyn Store>) {
    let ann = user(&*store, "ann").await;
    let ben = user(&*store, "ben").await;
    for (who, hash) in [(&ann, "a1"), (&ann, "a2"), (&ben, "b1")] {
        store
            .create_session(who, &live_session(hash))
            .await
            .unwrap();
    }
    assert_eq!(store.delete_sessions_of(&ann, None).await.unwrap(), 2);
    assert_eq!(store.session_user("a1", 1).await.unwrap(), None);
    assert_eq!(store.session_user("a2", 1).await.unwrap(), None);
    assert!(store.session_user("b1", 1).await.unwrap().is_some());
    assert_eq!(store.delete_sessions_of(&ann, None).await.unwrap(), 0);
}

async fn a_person_lists_and_ends_their_own_sessions_and_nobody_elses(store: Arc<dyn Store>) {
    let ann = user(&*store, "ann").await;
    let ben = user(&*store, "ben").await;
    let at = |hash: &'static str, created_at: i64, address: &'static str| NewSession {
        token_hash: hash,
        created_at,
        expires_at: 1_000_000,
        user_agent: Some("Firefox"),
        address: Some(address),
    };
    store
        .create_session(&ann, &at("a-old", 10, "192.0.2.1"))
        .await
        .unwrap();
    store
        .create_session(&ann, &at("a-new", 20, "192.0.2.2"))
        .await
        .unwrap();
    store
        .create_session(&ben, &at("b", 30, "192.0.2.3"))
        .await
        .unwrap();
    let ids =
        |list: Vec<crate::domain::SessionInfo>| list.into_iter().map(|s| s.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.sessions_of(&ann, 50).await.unwrap()),
        ["a-new", "a-old"]
    );
    // Used again from elsewhere: it moves to the top, with its new address.
    store
        .touch_session("a-old", 100_000, Some("198.51.100.9"))
        .await
        .unwrap();
    let list = store.sessions_of(&ann, 100_001).await.unwrap();
    assert_eq!(list[0].id, "a-old");
    assert_eq!(
        (list[0].last_active_at, list[0].address.as_deref()),
        (100_000, Some("198.51.100.9"))
    );
    // At most one write a minute.
    store
        .touch_session("a-old", 100_500, Some("203.0.113.1"))
        .await
        .unwrap();
    assert_eq!(
        store.sessions_of(&ann, 100_600).await.unwrap()[0].last_active_at,
        100_000
    );
    // Nobody ends another person's session.
    assert!(!store.delete_session_of(&ann, "b").await.unwrap());
    assert!(store.session_user("b", 1).await.unwrap().is_some());
    assert!(store.delete_session_of(&ann, "a-new").await.unwrap());
    store
        .create_session(&ann, &at("a-3", 40, "192.0.2.4"))
        .await
        .unwrap();
    assert_eq!(
        store.delete_sessions_of(&ann, Some("a-3")).await.unwrap(),
        1
    );
    assert_eq!(ids(store.sessions_of(&ann, 50).await.unwrap()), ["a-3"]);
    // Expired sessions are not listed.
    assert!(store.sessions_of(&ann, 1_000_000).await.unwrap().is_empty());
}

async fn a_new_display_name_is_what_others_see_and_search_finds(store: Arc<dyn Store>) {
    let (ann, ben, _eve, dm) = ann_ben_and_eve(&*store).await;
    let renamed = store.set_display_name(&ann, "Ännchen").await.unwrap();
    assert_eq!(renamed.display_name, "Ännchen");
    let list = store.conversations_of(&ben).await.unwrap();
    let summary = list.iter().find(|c| c.id == dm).unwrap();
    assert_eq!(summary.title, "Ännchen");
    let found = store.search_users("annchen", &ben, 10).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, ann);
    assert_eq!(store.contacts_of(&ann).await.unwrap(), [ben]);
    let err = store
        .set_display_name(&"nobody".into(), "X")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NoSuchUser), "{err}");
}

async fn a_deleted_account_leaves_its_messages_as_deleted_user_and_nothing_else(
    store: Arc<dyn Store>,
) {
    let (ann, ben, eve, dm) = ann_ben_and_eve(&*store).await;
    store
        .send_message(&dm, &ann, &"m1".into(), "hello from ann", 2)
        .await
        .unwrap();
    store
        .create_session(&ann, &live_session("s-ann"))
        .await
        .unwrap();
    store.block_person(&ann, &eve, 3).await.unwrap();
    store.block_person(&eve, &ann, 3).await.unwrap();
    store.set_muted(&dm, &ann, true).await.unwrap();
    store.delete_account(&ann, 10).await.unwrap();

    assert!(store.login_record("ann").await.unwrap().is_none());
    assert_eq!(store.session_user("s-ann", 11).await.unwrap(), None);
    assert!(store.blocked_by(&eve).await.unwrap().is_empty());
    assert!(store.all_blocks().await.unwrap().is_empty());
    // The message stays, signed by the account that now reads "Deleted user".
    let history = store
        .messages_before(&dm, &ben, i64::MAX, 10)
        .await
        .unwrap();
    assert_eq!(
        history
            .iter()
            .filter(|m| m.body == "hello from ann")
            .count(),
        1
    );
    let members = store.members(&dm, &ben).await.unwrap();
    let gone = members.iter().find(|m| m.user.id == ann).unwrap();
    assert_eq!(gone.user.display_name, "Deleted user");
    // Nobody finds it, nobody can message it, and its name is free again.
    assert!(store
        .search_users("ann", &ben, 10)
        .await
        .unwrap()
        .is_empty());
    let refused = store
        .send_message(&dm, &ben, &"m2".into(), "still there?", 12)
        .await
        .unwrap_err();
    assert!(
        matches!(refused, StoreError::Refused("This account was deleted.")),
        "{refused}"
    );
    // In a shared commit, that refusal leaves the other sends written.
    let other = store.open_direct(&ben, &eve, 12).await.unwrap();
    let send = |c: &ConversationId, id: &str| NewMessage {
        conversation_id: c.clone(),
        sender: ben.clone(),
        client_msg_id: id.into(),
        body: "hi".into(),
        now: 13,
    };
    let outcomes = store
        .send_messages(&[send(&dm, "m3"), send(&other, "m4")])
        .await
        .unwrap();
    assert!(matches!(outcomes[0], Err(StoreError::Refused(_))));
    assert!(outcomes[1].is_ok());
    user(&*store, "ann").await;
    assert!(matches!(
        store.delete_account(&ann, 13).await,
        Err(StoreError::NoSuchUser)
    ));
    // The last admin cannot go.
    let root = store
        .create_user("root", "Root", "h", Role::Admin, None, 1)
        .await
        .unwrap();
    let refused = store.delete_account(&root.id, 14).await.unwrap_err();
    assert!(matches!(refused, StoreError::Refused(_)), "{refused}");
    assert!(store.login_record("root").await.unwrap().is_some());
}

async fn a_missed_call_and_a_group_addition_are_notifications_for_their_person_only(
    store: Arc<dyn Store>,
) {
    let (ann, ben, eve, dm) = ann_ben_and_eve(&*store).await;
    let call = store
        .start_call(&dm, &ann, CallMedia::Video, 10)
        .await
        .unwrap();
    store
        .change_call(&call.call.id, None, CallAction::RingTimeout, 20)
        .await
        .unwrap();
    let group = store
        .create_group(&ann, &title("Team"), std::slice::from_ref(&eve), 30)
        .await
        .unwrap();
    store
        .add_group_member(&group, &ann, &ben, 40)
        .await
        .unwrap();
    let bens = store.notifications_of(&ben, 50).await.unwrap();
    let kinds: Vec<_> = bens.iter().map(|n| (n.kind, n.read)).collect();
    assert_eq!(
        kinds,
        vec![
            (NotificationKind::AddedToGroup, false),
            (NotificationKind::MissedCall, false)
        ]
    );
    assert_eq!(
        crate::domain::text::plain(&bens[1].text()),
        "Missed call from ann"
    );
    assert_eq!(
        crate::domain::text::plain(&bens[0].text()),
        "ann added you to Team"
    );
    assert!(store.notifications_of(&ann, 50).await.unwrap().is_empty());
    // Eve cannot mark Ben's; Ben marks one, then all.
    let id = bens[0].id.clone();
    assert_eq!(
        store
            .mark_notifications_read(&eve, Some(&id), 60)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .mark_notifications_read(&ben, Some(&id), 60)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store.mark_notifications_read(&ben, None, 61).await.unwrap(),
        1
    );
    assert!(store
        .notifications_of(&ben, 50)
        .await
        .unwrap()
        .iter()
        .all(|n| n.read));
    assert_eq!(store.notifications_of(&eve, 50).await.unwrap().len(), 1);
}

async fn mute_is_per_member_and_marking_all_read_moves_every_mark(store: Arc<dyn Store>) {
    let (ann, ben, eve, dm) = ann_ben_and_eve(&*store).await;
    send(&*store, &dm, &ann, "a-1", 2).await.unwrap();
    send(&*store, &dm, &ann, "a-2", 3).await.unwrap();
    store.set_muted(&dm, &ben, true).await.unwrap();
    assert!(matches!(
        store.set_muted(&dm, &eve, true).await,
        Err(StoreError::NotMember)
    ));
    let bens = store.conversations_of(&ben).await.unwrap();
    assert!(bens[0].muted);
    assert_eq!(bens[0].unread(), 2, "muted still counts unread");
    assert!(!store.conversations_of(&ann).await.unwrap()[0].muted);
    assert_eq!(
        store.mark_all_conversations_read(&ben).await.unwrap(),
        vec![(dm.clone(), 2)]
    );
    assert!(store
        .mark_all_conversations_read(&ben)
        .await
        .unwrap()
        .is_empty());
}

async fn the_dashboard_counts_todays_messages_and_calls_by_outcome(store: Arc<dyn Store>) {
    let (ann, ben, _eve, dm) = ann_ben_and_eve(&*store).await;
    let day = 20_000 * DAY_MS;
    let now = day + 10 * HOUR_MS + 5;
    // Yesterday, an hour ago, and now.
    send(&*store, &dm, &ann, "y", day - HOUR_MS).await.unwrap();
    send(&*store, &dm, &ann, "h", now - HOUR_MS).await.unwrap();
    send(&*store, &dm, &ben, "n", now).await.unwrap();
    let missed = store
        .start_call(&dm, &ann, CallMedia::Audio, now)
        .await
        .unwrap();
    store
        .change_call(&missed.call.id, None, CallAction::RingTimeout, now)
        .await
        .unwrap();
    let d = store.dashboard(now).await.unwrap();
    assert_eq!((d.users, d.conversations, d.messages_today), (3, 1, 2));
    assert_eq!(d.calls_today, 1);
    assert_eq!(d.call_outcomes[0].outcome, "missed");
    assert_eq!(d.messages_per_hour.len(), CHART_HOURS);
    let tail: Vec<i64> = d.messages_per_hour.iter().rev().take(3).copied().collect();
    assert_eq!(tail, vec![1, 1, 0]);
    assert_eq!(
        d.messages_per_hour.iter().sum::<i64>(),
        3,
        "yesterday's is in range"
    );
    assert_eq!(d.last_hour_start, day + 10 * HOUR_MS);
}

async fn the_admin_user_list_searches_and_pages(store: Arc<dyn Store>) {
    for i in 0..7 {
        user(&*store, &format!("user_{i}")).await;
    }
    user(&*store, "other").await;
    user(&*store, "orbit").await;
    let (page, total) = store.admin_users("user_", 0, 5).await.unwrap();
    assert_eq!((page.len(), total), (5, 7));
    let (page, _) = store.admin_users("user_", 5, 5).await.unwrap();
    assert_eq!(page.len(), 2);
    let (all, total) = store.admin_users("", 0, 100).await.unwrap();
    assert_eq!((all.len(), total), (9, 9));
    // `_` is a literal, not a wildcard ("orbit" would match `r_` as a pattern).
    assert_eq!(store.admin_users("r_", 0, 5).await.unwrap().1, 7);
}

async fn stored_settings_are_kept_and_replaced(store: Arc<dyn Store>) {
    let root = admin(&*store, "root").await;
    store
        .store_setting("max_message_chars", "10", &root, 1)
        .await
        .unwrap();
    store
        .store_setting("max_message_chars", "20", &root, 2)
        .await
        .unwrap();
    assert_eq!(
        store.stored_settings().await.unwrap(),
        vec![("max_message_chars".to_string(), "20".to_string())]
    );
}

// Health.

async fn a_working_store_answers_a_ping_and_the_ping_writes_nothing(store: Arc<dyn Store>) {
    store.ping().await.unwrap();
    let (ann, _ben, _eve, c) = ann_ben_and_eve(&*store).await;
    let sent = store
        .send_message(&c, &ann, &"m-1".into(), "hello", 2)
        .await
        .unwrap();
    for _ in 0..3 {
        store.ping().await.unwrap();
    }
    assert_eq!(store.user_count().await.unwrap(), 3);
    let history = store.messages_before(&c, &ann, i64::MAX, 10).await.unwrap();
    assert_eq!(history, vec![sent.message]);
}

conformance_suite!(sqlite, crate::server::store::sqlite::tests::fresh_store);
