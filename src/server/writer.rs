//! Group commit for the message write path. With `synchronous = FULL` every commit waits
//! for the disk (about a millisecond or more), so one commit per message caps a server at
//! a few hundred messages a second whatever the CPU. Sends that arrive while a commit is
//! under way wait for the next one, which writes them all in one transaction: one flush
//! for many messages, and no acknowledged message that a power cut could lose.

use super::store::{NewMessage, Sent, Store, StoreError};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use tokio_util::task::TaskTracker;

/// The most sends one transaction takes.
const MAX_BATCH: usize = 256;

struct Job {
    message: NewMessage,
    done: oneshot::Sender<Result<Sent, StoreError>>,
}

#[derive(Clone)]
pub struct MessageWriter {
    jobs: mpsc::Sender<Job>,
}

impl MessageWriter {
    /// Starts the writer task on `store`, tracked by `tasks`. It runs until every clone of
    /// the writer is dropped (the server's state with it), then writes what is still
    /// queued and ends: a stopping server waits for it, so no accepted send is lost.
    pub fn start(store: Arc<dyn Store>, tasks: &TaskTracker) -> MessageWriter {
        let (jobs, rx) = mpsc::channel(4 * MAX_BATCH);
        tasks.spawn(write_loop(store, rx));
        MessageWriter { jobs }
    }

    /// Writes one message with the next commit; the answer comes once it is durable.
    pub async fn send(&self, message: NewMessage) -> Result<Sent, StoreError> {
        let (done, answer) = oneshot::channel();
        self.jobs
            .send(Job { message, done })
            .await
            .map_err(|_| StoreError::WriterGone)?;
        answer.await.map_err(|_| StoreError::WriterGone)?
    }
}

async fn write_loop(store: Arc<dyn Store>, mut rx: mpsc::Receiver<Job>) {
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        let (batch, answers): (Vec<NewMessage>, Vec<_>) =
            jobs.drain(..).map(|j| (j.message, j.done)).unzip();
        super::metrics::commit_batch(batch.len());
        match store.send_messages(&batch).await {
            Ok(outcomes) => {
                let stored = outcomes.iter().filter(|o| matches!(o, Ok(s) if s.created));
                super::metrics::messages_stored(stored.count());
                for (done, outcome) in answers.into_iter().zip(outcomes) {
                    let _ = done.send(outcome);
                }
            }
            Err(e) => {
                let unavailable = e.is_unavailable();
                let reason = e.to_string();
                for done in answers {
                    let _ = done.send(Err(StoreError::BatchFailed {
                        reason: reason.clone(),
                        unavailable,
                    }));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::store::tests::{ann_ben_and_eve, fresh_store};
    use super::*;

    #[tokio::test]
    async fn concurrent_sends_each_get_their_own_answer_and_gap_free_seqs() {
        let (store, _dir) = fresh_store().await;
        let (a, b, eve, c) = ann_ben_and_eve(&*store).await;
        let writer = MessageWriter::start(store.clone(), &TaskTracker::new());
        let mut tasks = Vec::new();
        for i in 0..300 {
            let sender = [&a, &b, &eve][i % 3].clone();
            let (writer, c) = (writer.clone(), c.clone());
            tasks.push(tokio::spawn(async move {
                writer
                    .send(NewMessage {
                        conversation_id: c,
                        sender,
                        client_msg_id: format!("m-{i}").into(),
                        body: format!("message {i}"),
                        now: 2,
                    })
                    .await
            }));
        }
        let mut seqs = Vec::new();
        for (i, task) in tasks.into_iter().enumerate() {
            match task.await.unwrap() {
                Ok(sent) => {
                    assert_ne!(i % 3, 2, "a non-member's send was written");
                    assert_eq!(sent.message.body, format!("message {i}"));
                    seqs.push(sent.message.seq);
                }
                Err(e) => {
                    assert_eq!(i % 3, 2, "a member's send failed: {e}");
                    assert!(matches!(e, StoreError::NotMember));
                }
            }
        }
        seqs.sort_unstable();
        assert_eq!(seqs, (1..=200).collect::<Vec<i64>>());
    }
}
