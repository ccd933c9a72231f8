//! Leader election for work that one replica does for all: a PostgreSQL session advisory lock
//! held on a dedicated connection. The leader keeps the lock as long as its connection lives; if
//! the process or the connection dies, PostgreSQL releases it and another replica takes over on
//! its next check.

use diesel::sql_types::{BigInt, Bool};
use diesel::QueryableByName;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

#[derive(QueryableByName)]
struct Got {
    #[diesel(sql_type = Bool)]
    got: bool,
}

/// One replica's claim on a named leadership.
pub struct Leadership {
    url: String,
    key: i64,
    conn: Option<AsyncPgConnection>,
}

impl Leadership {
    /// A leadership named by `key` (an advisory lock key unique to the role).
    pub fn new(url: String, key: i64) -> Self {
        Leadership { url, key, conn: None }
    }

    /// Whether this replica leads now: keeps the lock while its connection answers, else tries
    /// to take it.
    pub async fn check(&mut self) -> bool {
        if let Some(conn) = self.conn.as_mut() {
            if diesel::sql_query("SELECT true AS got").get_result::<Got>(conn).await.is_ok() {
                return true;
            }
            tracing::warn!(key = self.key, "leader connection lost; leadership given up");
            self.conn = None;
        }
        let Ok(mut conn) = AsyncPgConnection::establish(&self.url).await else { return false };
        let got = diesel::sql_query("SELECT pg_try_advisory_lock($1) AS got")
            .bind::<BigInt, _>(self.key)
            .get_result::<Got>(&mut conn)
            .await
            .is_ok_and(|g| g.got);
        if got {
            tracing::info!(key = self.key, "this replica leads");
            self.conn = Some(conn);
        }
        got
    }
}
