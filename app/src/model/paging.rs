//! Paging rules every list shares: the bounds of `page` and `pageSize` (so `OFFSET` arithmetic can
//! never overflow and no request can ask for an unbounded scan), and the opaque cursor of keyset
//! pagination for the bots list. Pure types, used by the server and the browser.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::bot::Bot;
use super::error::AppError;

/// The highest page number an offset listing accepts; deeper pages need a cursor.
pub const MAX_PAGE: i64 = 1_000;
/// The largest page a client may ask for.
pub const MAX_PAGE_SIZE: i64 = 100;
/// The longest cursor the server issues is well below this; anything longer is refused unread.
pub const MAX_CURSOR_LEN: usize = 64;
/// Page numbers carried by a cursor stay at or below this, so `page + 1` never overflows.
const MAX_CURSOR_PAGE: i64 = 999_999_999;
/// Every cursor the server issues matches this (stated in the OpenAPI document), and every text
/// that matches it is accepted.
pub const CURSOR_PATTERN: &str = r"^[ab][1-9][0-9]{0,8}\.-?[0-9]{1,16}\.[1-9][0-9]{0,17}$";

/// A checked page of an offset listing: `page` in 1..=[`MAX_PAGE`], `page_size` in
/// 1..=[`MAX_PAGE_SIZE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub page: i64,
    pub page_size: i64,
}

impl PageRequest {
    /// Checks both bounds; the error (400) says what is allowed.
    pub fn new(page: i64, page_size: i64) -> Result<Self, AppError> {
        Ok(PageRequest { page: check_page(page)?, page_size: check_page_size(page_size)? })
    }

    /// Rows to skip; at most (MAX_PAGE - 1) * MAX_PAGE_SIZE.
    pub fn offset(&self) -> i64 {
        (self.page - 1) * self.page_size
    }
}

/// A page number in 1..=[`MAX_PAGE`], or a 400 saying so.
pub fn check_page(page: i64) -> Result<i64, AppError> {
    if (1..=MAX_PAGE).contains(&page) {
        Ok(page)
    } else {
        Err(AppError::bad_request(
            "page",
            format!("page must be a whole number from 1 to {MAX_PAGE}; for deeper pages of bots follow nextCursor"),
        ))
    }
}

/// A page size in 1..=[`MAX_PAGE_SIZE`], or a 400 saying so.
pub fn check_page_size(page_size: i64) -> Result<i64, AppError> {
    if (1..=MAX_PAGE_SIZE).contains(&page_size) {
        Ok(page_size)
    } else {
        Err(AppError::bad_request("pageSize", format!("pageSize must be a whole number from 1 to {MAX_PAGE_SIZE}")))
    }
}

/// Which side of the cursor's row a page lies on (the list is newest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Older rows: the next page.
    After,
    /// Newer rows: the previous page.
    Before,
}

/// A position in the newest-first bots list: the row `(created_at, id)` the page starts after
/// (or ends before), and the page number the new page has (for display only: it is the
/// client's to send and only labels the page).
///
/// Encoded as `a<page>.<created_at µs>.<id>` (or `b...`): short, URL-safe, and opaque to
/// clients. It holds nothing secret; the query always filters by the caller's user id, so a
/// cursor taken from another listing only names a position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub direction: Direction,
    pub page: i64,
    pub created_at: DateTime<Utc>,
    pub id: i64,
}

impl Cursor {
    /// The cursor of the page after the one that ends with `(created_at, id)`.
    pub fn after(page: i64, created_at: DateTime<Utc>, id: i64) -> Self {
        Cursor { direction: Direction::After, page: (page + 1).min(MAX_CURSOR_PAGE), created_at, id }
    }

    /// The cursor of the page before the one that starts with `(created_at, id)`.
    pub fn before(page: i64, created_at: DateTime<Utc>, id: i64) -> Self {
        Cursor { direction: Direction::Before, page: (page - 1).max(1), created_at, id }
    }

    /// The text clients send back.
    pub fn encode(&self) -> String {
        let d = match self.direction {
            Direction::After => 'a',
            Direction::Before => 'b',
        };
        format!("{d}{}.{}.{}", self.page, self.created_at.timestamp_micros(), self.id)
    }

    /// Reads a cursor this server issued; anything else is a 400.
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        let bad = || {
            AppError::bad_request(
                "cursor",
                "cursor is not one this server issued; use the nextCursor or previousCursor of a listing unchanged",
            )
        };
        if raw.len() > MAX_CURSOR_LEN || !raw.is_ascii() {
            return Err(bad());
        }
        let direction = match raw.as_bytes().first() {
            Some(b'a') => Direction::After,
            Some(b'b') => Direction::Before,
            _ => return Err(bad()),
        };
        let mut parts = raw[1..].split('.');
        let (Some(page), Some(micros), Some(id), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let number = |s: &str| -> Option<i64> {
            let digits = s.strip_prefix('-').unwrap_or(s);
            (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok()).flatten()
        };
        let page = number(page).filter(|p| (1..=MAX_CURSOR_PAGE).contains(p)).ok_or_else(bad)?;
        let id = number(id).filter(|i| *i > 0).ok_or_else(bad)?;
        let created_at = number(micros).and_then(DateTime::<Utc>::from_timestamp_micros).ok_or_else(bad)?;
        Ok(Cursor { direction, page, created_at, id })
    }
}

/// A page of the bots list, reached by page number or by cursor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct BotPage {
    pub data: Vec<Bot>,
    /// The number of matching bots: exact while `totalIsEstimate` is false, otherwise the
    /// database's estimate (used above 1,000 matching bots, where an exact count gets slow).
    pub total: i64,
    pub total_is_estimate: bool,
    /// The page number: the one asked for, or the one the cursor carries.
    pub page: i64,
    pub page_size: i64,
    /// Pages of `pageSize` in `total` (an estimate when `total` is).
    pub page_count: i64,
    /// Exact: whether older bots follow this page.
    pub has_next_page: bool,
    /// Exact: whether newer bots precede this page.
    pub has_previous_page: bool,
    /// Pass as `cursor` for the next (older) page; null on the last page.
    pub next_cursor: Option<String>,
    /// Pass as `cursor` for the previous (newer) page; null on the first page.
    pub previous_cursor: Option<String>,
}

/// Pages of `page_size` needed for `total` rows.
pub fn page_count(total: i64, page_size: i64) -> i64 {
    if total <= 0 || page_size <= 0 {
        0
    } else {
        total / page_size + i64::from(total % page_size != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(micros: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(micros).unwrap()
    }

    #[test]
    fn page_bounds_are_inclusive_and_refused_outside_with_a_400() {
        assert_eq!(PageRequest::new(1, 1).unwrap().offset(), 0);
        assert_eq!(PageRequest::new(MAX_PAGE, MAX_PAGE_SIZE).unwrap().offset(), (MAX_PAGE - 1) * MAX_PAGE_SIZE);
        for (page, size, field) in [
            (0, 20, "page"),
            (-1, 20, "page"),
            (MAX_PAGE + 1, 20, "page"),
            (i64::MAX, 20, "page"),
            (i64::MIN, 20, "page"),
        ]
        .into_iter()
        .chain([(1, 0, "pageSize"), (1, MAX_PAGE_SIZE + 1, "pageSize"), (1, i64::MAX, "pageSize")])
        {
            let e = PageRequest::new(page, size).unwrap_err();
            assert_eq!((e.status(), e.field()), (400, Some(field)), "{page} {size}");
        }
        assert!(check_page(MAX_PAGE + 1).unwrap_err().to_string().contains("nextCursor"));
    }

    #[test]
    fn a_cursor_round_trips_to_the_microsecond() {
        let c = Cursor::after(499, at(1_764_480_000_123_456), 42);
        assert_eq!(c.page, 500);
        assert_eq!(c.encode(), "a500.1764480000123456.42");
        assert_eq!(Cursor::parse(&c.encode()).unwrap(), c);
        let b = Cursor::before(1, at(-5), 7);
        assert_eq!((b.direction, b.page), (Direction::Before, 1));
        assert_eq!(Cursor::parse(&b.encode()).unwrap(), b);
        assert!(Cursor::after(i64::MAX - 1, at(0), 1).encode().len() <= MAX_CURSOR_LEN);
    }

    #[test]
    fn anything_but_an_issued_cursor_is_a_400() {
        for raw in [
            "",
            "a",
            "x1.2.3",
            "a1.2",
            "a1.2.3.4",
            "a0.2.3",
            "a1.2.0",
            "a1.2.-3",
            "a+1.2.3",
            "a1.99999999999999999999.3",
            "a1.9223372036854775807.3",
            "a1. 2.3",
            "a1.2.3\u{0}",
            "ä1.2.3",
            &"a1.2.".repeat(20),
        ] {
            let e = Cursor::parse(raw).unwrap_err();
            assert_eq!((e.status(), e.field()), (400, Some("cursor")), "{raw:?}");
        }
    }

    #[test]
    fn page_count_rounds_up_and_never_divides_by_zero() {
        assert_eq!(page_count(0, 20), 0);
        assert_eq!(page_count(1, 20), 1);
        assert_eq!(page_count(40, 20), 2);
        assert_eq!(page_count(41, 20), 3);
        assert_eq!(page_count(i64::MAX, 1), i64::MAX);
        assert_eq!(page_count(5, 0), 0);
    }
}
