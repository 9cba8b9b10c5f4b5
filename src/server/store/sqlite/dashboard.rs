//! The admin dashboard's figures.

use super::SqliteStore;
use crate::domain::admin::{CallOutcome, Dashboard, CHART_HOURS};
use crate::server::store::{DashboardStore, Result};
use async_trait::async_trait;
use sqlx::Row;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

#[async_trait]
impl DashboardStore for SqliteStore {
    async fn dashboard(&self, now: i64) -> Result<Dashboard> {
        let day_start = now - now.rem_euclid(DAY_MS);
        let last_hour_start = now - now.rem_euclid(HOUR_MS);
        let chart_start = last_hour_start - (CHART_HOURS as i64 - 1) * HOUR_MS;
        let counts = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM users) AS users,
                    (SELECT COUNT(*) FROM users WHERE blocked_at IS NOT NULL) AS blocked,
                    (SELECT COUNT(*) FROM conversations) AS conversations,
                    (SELECT COUNT(*) FROM messages WHERE created_at >= $1 AND kind = 'text')
                        AS messages_today",
        )
        .bind(day_start)
        .fetch_one(&self.pool)
        .await?;
        let outcomes = sqlx::query(
            "SELECT CASE state WHEN 'ended' THEN 'answered'
                               WHEN 'ringing' THEN 'live' WHEN 'active' THEN 'live'
                               ELSE state END AS outcome,
                    COUNT(*) AS n
             FROM calls WHERE created_at >= $1 GROUP BY outcome ORDER BY n DESC, outcome",
        )
        .bind(day_start)
        .fetch_all(&self.pool)
        .await?;
        let call_outcomes = outcomes
            .iter()
            .map(|r| {
                Ok(CallOutcome {
                    outcome: r.try_get("outcome")?,
                    count: r.try_get("n")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let hours = sqlx::query(
            "SELECT (created_at - $1) / $2 AS slot, COUNT(*) AS n FROM messages
             WHERE created_at >= $1 AND kind = 'text' GROUP BY slot",
        )
        .bind(chart_start)
        .bind(HOUR_MS)
        .fetch_all(&self.pool)
        .await?;
        let mut messages_per_hour = vec![0; CHART_HOURS];
        for r in &hours {
            let slot: i64 = r.try_get("slot")?;
            if let Some(n) = usize::try_from(slot)
                .ok()
                .and_then(|i| messages_per_hour.get_mut(i))
            {
                *n = r.try_get("n")?;
            }
        }
        Ok(Dashboard {
            users: counts.try_get("users")?,
            blocked_users: counts.try_get("blocked")?,
            online_now: 0,
            conversations: counts.try_get("conversations")?,
            messages_today: counts.try_get("messages_today")?,
            calls_today: call_outcomes.iter().map(|o| o.count).sum(),
            call_outcomes,
            connections: 0,
            messages_per_hour,
            last_hour_start,
        })
    }
}
