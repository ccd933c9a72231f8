//! The bots list, newest first (`created_at DESC, id DESC`, index `bots_user_created_idx`):
//! offset pages up to page 1,000 for existing clients, keyset (cursor) pages at any depth, and a
//! total that is exact up to [`EXACT_COUNT_LIMIT`] matching bots and the planner's estimate
//! above it (an exact `count(*)` of 100,000 rows costs more than the page itself).

use diesel::dsl::sql;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Json, Nullable, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::query::parse_statuses;
use super::row::BotRow;
use crate::backend::db::schema::bots;
use crate::backend::error::internal;
use crate::model::bot::{Bot, BotFilter, BotStatus};
use crate::model::error::AppError;
use crate::model::paging::{check_page_size, page_count, BotPage, Cursor, Direction, PageRequest};

/// Up to this many matching bots the total is an exact count (a bounded index-only scan);
/// above it, the planner's row estimate for the same filters.
pub const EXACT_COUNT_LIMIT: i64 = 1_000;

/// The caller's filters, checked.
struct Filters {
    user_id: i64,
    statuses: Vec<&'static str>,
    meeting: Option<&'static str>,
    deployment: Option<&'static str>,
}

impl Filters {
    fn new(user_id: i64, f: &BotFilter) -> Result<Self, AppError> {
        Ok(Filters {
            user_id,
            statuses: parse_statuses(f.status.as_deref())?.into_iter().map(BotStatus::as_str).collect(),
            meeting: f.meeting_platform.map(|p| p.as_str()),
            deployment: f.deployment_platform.map(|p| p.as_str()),
        })
    }

    fn query(&self) -> bots::BoxedQuery<'static, Pg> {
        let mut q = bots::table.filter(bots::user_id.eq(self.user_id)).into_boxed();
        if !self.statuses.is_empty() {
            q = q.filter(bots::status.eq_any(self.statuses.clone()));
        }
        if let Some(p) = self.meeting {
            q = q.filter(bots::meeting_platform.eq(p));
        }
        if let Some(p) = self.deployment {
            q = q.filter(bots::deployment_platform.eq(p));
        }
        q
    }

    /// The same filters as SQL text over the binds `$1` user id, `$2` statuses, `$3` meeting
    /// platform, `$4` deployment platform (only the conditions in use appear, so each
    /// combination gets its own plan).
    fn where_sql(&self) -> String {
        let mut w = String::from("user_id = $1");
        if !self.statuses.is_empty() {
            w.push_str(" AND status = ANY($2)");
        }
        if self.meeting.is_some() {
            w.push_str(" AND meeting_platform = $3");
        }
        if self.deployment.is_some() {
            w.push_str(" AND deployment_platform = $4");
        }
        w
    }
}

/// Binds the four parameters of [`Filters::where_sql`] to a raw query.
macro_rules! bind_filters {
    ($q:expr, $f:expr) => {
        $q.bind::<BigInt, _>($f.user_id)
            .bind::<Array<Text>, _>(&$f.statuses)
            .bind::<Nullable<Text>, _>($f.meeting)
            .bind::<Nullable<Text>, _>($f.deployment)
    };
}

/// The rows of one page and what is known around them.
struct Window {
    rows: Vec<BotRow>,
    page: i64,
    has_previous: bool,
    has_next: bool,
    /// Rows known to match at least (offset paging knows its offset).
    known_at_least: i64,
    /// The exact total when the page reached the end of an offset listing.
    exact_total: Option<i64>,
}

/// A page of the user's bots: by `cursor` when one is given, else by `page` (1..=1000).
pub async fn list_bots(conn: &mut AsyncPgConnection, user_id: i64, f: &BotFilter) -> Result<BotPage, AppError> {
    let page_size = check_page_size(f.page_size)?;
    // `page` is checked even beside a cursor (which wins), so out-of-bounds input is never
    // accepted silently.
    let page = PageRequest::new(f.page.unwrap_or(1), page_size)?;
    let cursor = f.cursor.as_deref().map(Cursor::parse).transpose()?;
    let filters = Filters::new(user_id, f)?;
    let window = match cursor {
        Some(c) => by_cursor(conn, &filters, page_size, c).await?,
        None => by_offset(conn, &filters, page).await?,
    };
    let (total, total_is_estimate) = match window.exact_total {
        Some(t) => (t, false),
        None => {
            let (t, estimated) = count(conn, &filters).await?;
            (t.max(window.known_at_least), estimated)
        }
    };
    let data: Vec<Bot> = window.rows.into_iter().map(Bot::from).collect();
    let next_cursor =
        data.last().filter(|_| window.has_next).map(|b| Cursor::after(window.page, b.created_at, b.id).encode());
    let previous_cursor = <[Bot]>::first(&data)
        .filter(|_| window.has_previous)
        .map(|b| Cursor::before(window.page, b.created_at, b.id).encode());
    Ok(BotPage {
        data,
        total,
        total_is_estimate,
        page: window.page,
        page_size,
        page_count: page_count(total, page_size),
        has_next_page: next_cursor.is_some(),
        has_previous_page: previous_cursor.is_some(),
        next_cursor,
        previous_cursor,
    })
}

async fn by_offset(conn: &mut AsyncPgConnection, filters: &Filters, p: PageRequest) -> Result<Window, AppError> {
    let mut rows: Vec<BotRow> = filters
        .query()
        .order((bots::created_at.desc(), bots::id.desc()))
        .limit(p.page_size + 1)
        .offset(p.offset())
        .select(BotRow::as_select())
        .load(conn)
        .await
        .map_err(|e| internal("listing bots failed", e))?;
    let has_next = rows.len() as i64 > p.page_size;
    rows.truncate(p.page_size as usize);
    let seen = p.offset() + rows.len() as i64;
    let exact_total = (!has_next && (!rows.is_empty() || p.page == 1)).then_some(seen);
    Ok(Window {
        rows,
        page: p.page,
        has_previous: p.page > 1,
        has_next,
        known_at_least: seen + i64::from(has_next),
        exact_total,
    })
}

async fn by_cursor(
    conn: &mut AsyncPgConnection,
    filters: &Filters,
    page_size: i64,
    c: Cursor,
) -> Result<Window, AppError> {
    let key = |op: &str| {
        sql::<Bool>(&format!("(bots.created_at, bots.id) {op} ("))
            .bind::<Timestamptz, _>(c.created_at)
            .sql(", ")
            .bind::<BigInt, _>(c.id)
            .sql(")")
    };
    match c.direction {
        Direction::After => {
            let mut rows: Vec<BotRow> = filters
                .query()
                .filter(key("<"))
                .order((bots::created_at.desc(), bots::id.desc()))
                .limit(page_size + 1)
                .select(BotRow::as_select())
                .load(conn)
                .await
                .map_err(|e| internal("listing bots failed", e))?;
            let has_next = rows.len() as i64 > page_size;
            rows.truncate(page_size as usize);
            let known_at_least = rows.len() as i64 + i64::from(has_next);
            Ok(Window { rows, page: c.page, has_previous: true, has_next, known_at_least, exact_total: None })
        }
        Direction::Before => {
            let mut rows: Vec<BotRow> = filters
                .query()
                .filter(key(">"))
                .order((bots::created_at.asc(), bots::id.asc()))
                .limit(page_size + 1)
                .select(BotRow::as_select())
                .load(conn)
                .await
                .map_err(|e| internal("listing bots failed", e))?;
            if rows.len() as i64 <= page_size {
                // Nothing newer than a full page: this is the head of the list, so answer the
                // first page itself (full, numbered 1, without a previous cursor).
                return by_offset(conn, filters, PageRequest { page: 1, page_size }).await;
            }
            rows.truncate(page_size as usize);
            rows.reverse();
            let known_at_least = rows.len() as i64 + 1;
            Ok(Window {
                rows,
                page: c.page.max(2),
                has_previous: true,
                has_next: true,
                known_at_least,
                exact_total: None,
            })
        }
    }
}

#[derive(QueryableByName)]
struct Counted {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Plan {
    #[diesel(sql_type = Json, column_name = "QUERY PLAN")]
    plan: serde_json::Value,
}

/// The matching bots: exact up to [`EXACT_COUNT_LIMIT`] (counting at most one more row), else
/// the planner's estimate for the same filters (at least `EXACT_COUNT_LIMIT + 1`).
async fn count(conn: &mut AsyncPgConnection, filters: &Filters) -> Result<(i64, bool), AppError> {
    let where_sql = filters.where_sql();
    let bounded =
        format!("SELECT count(*) AS n FROM (SELECT 1 FROM bots WHERE {where_sql} LIMIT {}) s", EXACT_COUNT_LIMIT + 1);
    let counted: Counted = bind_filters!(diesel::sql_query(bounded), filters)
        .get_result(conn)
        .await
        .map_err(|e| internal("counting bots failed", e))?;
    if counted.n <= EXACT_COUNT_LIMIT {
        return Ok((counted.n, false));
    }
    let explain = format!("EXPLAIN (FORMAT JSON) SELECT 1 FROM bots WHERE {where_sql}");
    let plan: Plan = bind_filters!(diesel::sql_query(explain), filters)
        .get_result(conn)
        .await
        .map_err(|e| internal("estimating bots failed", e))?;
    let estimate = plan.plan[0]["Plan"]["Plan Rows"].as_f64().unwrap_or(0.0);
    Ok(((estimate as i64).max(EXACT_COUNT_LIMIT + 1), true))
}
