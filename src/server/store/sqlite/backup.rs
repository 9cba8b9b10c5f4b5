//! Backups: `VACUUM INTO` writes a consistent copy of the database from one read
//! transaction (<https://www.sqlite.org/lang_vacuum.html#vacuuminto>), so writers go on
//! while it runs and the copy holds exactly what was committed when it began, including
//! what still sits in the write-ahead log, which copying the file would miss.

use super::SqliteStore;
use crate::server::store::{BackupStore, Result, StoreError};
use async_trait::async_trait;

#[async_trait]
impl BackupStore for SqliteStore {
    async fn backup_into(&self, path: &std::path::Path) -> Result<()> {
        if path.exists() {
            return Err(StoreError::Refused(
                "the backup file exists already; a backup never overwrites one",
            ));
        }
        let Some(path) = path.to_str() else {
            return Err(StoreError::Refused(
                "the backup file's name is not valid UTF-8",
            ));
        };
        sqlx::query("VACUUM INTO $1")
            .bind(path)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::server::store::tests::ann_ben_and_eve;
    use crate::server::store::{Store, StoreError};
    use std::sync::Arc;

    /// A backup taken while a sender goes on sending holds every message acknowledged
    /// before it began, as a database that opens on its own; and it never overwrites.
    #[tokio::test]
    async fn a_backup_during_sends_holds_every_message_acknowledged_before_it() {
        let (store, dir) = super::super::tests::fresh_store().await;
        let (ann, _ben, _eve, dm) = ann_ben_and_eve(&*store).await;
        let acknowledged = Arc::new(std::sync::Mutex::new(Vec::<i64>::new()));
        let stop = tokio_util::sync::CancellationToken::new();
        let sender = tokio::spawn({
            let (store, acknowledged, stop) = (store.clone(), acknowledged.clone(), stop.clone());
            async move {
                let mut n = 0;
                while !stop.is_cancelled() {
                    n += 1;
                    let sent = store
                        .send_message(
                            &dm,
                            &ann,
                            &format!("m{n}").into(),
                            &format!("message {n}"),
                            n,
                        )
                        .await
                        .unwrap();
                    acknowledged.lock().unwrap().push(sent.message.seq);
                    tokio::task::yield_now().await;
                }
            }
        });
        // Let some sends land, then back up while they go on.
        while acknowledged.lock().unwrap().len() < 20 {
            tokio::task::yield_now().await;
        }
        let before_backup = acknowledged.lock().unwrap().clone();
        let copy = dir.path().join("backup.db");
        store.backup_into(&copy).await.unwrap();
        stop.cancel();
        sender.await.unwrap();
        assert!(acknowledged.lock().unwrap().len() >= before_backup.len());

        let restored: Arc<dyn Store> = Arc::new(
            super::SqliteStore::open(&format!("sqlite://{}", copy.display()))
                .await
                .unwrap(),
        );
        let ann = restored.login_record("ann").await.unwrap().unwrap().user.id;
        let dm = restored.conversations_of(&ann).await.unwrap()[0].id.clone();
        let history = restored
            .messages_before(&dm, &ann, i64::MAX, 100_000)
            .await
            .unwrap();
        let seqs: Vec<i64> = history.iter().map(|m| m.seq).collect();
        for seq in &before_backup {
            assert!(
                seqs.contains(seq),
                "message {seq} was acknowledged before the backup"
            );
        }
        // Gap-free in the copy too: 1..=n.
        assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>());

        let again = store.backup_into(&copy).await.unwrap_err();
        assert!(matches!(again, StoreError::Refused(_)), "{again}");
    }
}
