//! Who may listen to which topic. `user:{id}`: that user. `conversation:{id}`: its members,
//! checked by the query itself, under the conversation's publish-order lock, which
//! removing a member also holds (so a removed member never stays subscribed); with a resume
//! point, whether the client's copy is still this conversation's history. `admin:dashboard`:
//! admins, the role read before and after subscribing.

use super::handler::ConnectionHandler;
use crate::domain::Role;
use crate::protocol::{ErrorCode, Resume, ServerFrame, Topic};
use crate::server::now_ms;

impl ConnectionHandler<'_> {
    /// Subscribes this connection to `topic` if its user may listen there; a conversation
    /// with `resume` is checked against what the client holds (`Reset` when it is not this
    /// conversation's history any more).
    pub(super) async fn subscribe(&mut self, topic: Topic, resume: Option<Resume>) {
        let store = &self.state.store;
        // Membership changes take the conversation's lock too: a removal cannot fall
        // between this check and the subscription (and leave a removed member listening).
        let _order = match &topic {
            Topic::Conversation(id) => Some(self.state.publish_order.lock(id).await),
            _ => None,
        };
        let checked = match (&topic, &resume) {
            (Topic::User(id), None) => Ok((*id == self.user.id).then_some(true)),
            (Topic::User(_) | Topic::Admin, Some(_)) => {
                return self.error(ErrorCode::BadFrame, "Only conversations resume.");
            }
            // The role as it is now, not as it was when the socket opened.
            (Topic::Admin, None) => store
                .session_user(&self.session, now_ms())
                .await
                .map(|u| u.filter(|u| u.role == Role::Admin).map(|_| true)),
            (Topic::Conversation(id), None) => store
                .is_member(id, &self.user.id)
                .await
                .map(|member| member.then_some(true)),
            (Topic::Conversation(id), Some(r)) => {
                store
                    .can_resume(id, &self.user.id, r.seq, &r.message_id)
                    .await
            }
        };
        // `None`: not theirs (the membership check is the query itself).
        let resumable = match checked {
            Ok(Some(resumable)) => resumable,
            Ok(None) => {
                return self.error(
                    ErrorCode::Forbidden,
                    &format!("You are not allowed to subscribe to {topic}."),
                )
            }
            Err(e) => {
                tracing::error!("membership check: {e}");
                return self.error(ErrorCode::Internal, "Could not subscribe; try again.");
            }
        };
        self.state.hub.subscribe(topic.clone(), self.conn);
        // A demotion that landed between the check and the subscription has already
        // looked for this socket to drop it: look at the role once more.
        if topic == Topic::Admin {
            let still = store.session_user(&self.session, now_ms()).await;
            if !matches!(still, Ok(Some(u)) if u.role == Role::Admin) {
                self.state.hub.unsubscribe(&topic, self.conn.id);
                return self.error(
                    ErrorCode::Forbidden,
                    &format!("You are not allowed to subscribe to {topic}."),
                );
            }
        }
        if resumable {
            self.conn.send(&ServerFrame::Subscribed { topic });
        } else {
            // Subscribed, but what the client holds is not this conversation's history
            // any more: it must load it again rather than fetch "what it missed".
            self.conn.send(&ServerFrame::Reset { topic });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{fixture, handler_of, signed_in};
    use super::*;
    use crate::server::actions;
    use serde_json::json;

    #[test]
    fn a_removed_member_is_never_left_subscribed() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let f = fixture().await;
            let ben = signed_in(&f, "ben", "ben-session").await;
            let team = crate::domain::parse_group_title("Team").unwrap();
            let group = f
                .state
                .store
                .create_group(&f.ann.id, &team, std::slice::from_ref(&ben.id), 1)
                .await
                .unwrap();
            let topic = Topic::Conversation(group.clone());
            let subscribe =
                json!({"type": "subscribe", "topic": format!("conversation:{group}")}).to_string();
            for round in 0..40 {
                let (tab, _rx) = f.state.hub.connect(&ben.id, "ben-session");
                let racing = async {
                    let mut handler = handler_of(&f, &ben, "ben-session", &tab);
                    for _ in 0..4 {
                        handler.handle(&subscribe).await;
                        tokio::task::yield_now().await;
                    }
                };
                let removal = async {
                    tokio::task::yield_now().await;
                    actions::conversations::remove_member(&f.state, &f.ann, &group, &ben.id)
                        .await
                        .unwrap();
                };
                tokio::join!(racing, removal);
                assert!(
                    !f.state.hub.is_subscribed(&topic, tab.id),
                    "round {round}: Ben still listens to the group he was removed from"
                );
                f.state.hub.disconnect(tab.id);
                f.state
                    .store
                    .add_group_member(&group, &f.ann.id, &ben.id, 1)
                    .await
                    .unwrap();
            }
        });
    }
}
