//! The bots page's paging state as plain types: what the URL says (filters, a page number from
//! an old link, or a cursor), the request it makes, and where Previous and Next lead. The
//! component only renders these.

use crate::model::bot::{BotFilter, MeetingPlatform};
use crate::model::paging::{BotPage, MAX_CURSOR_LEN};

/// Bots per page of the table.
pub const PAGE_SIZE: i64 = 20;

/// The bots page's query string: `status`, `platform`, `pageSize`, and either `cursor` or `page`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BotsQuery {
    pub status: Option<String>,
    pub platform: Option<MeetingPlatform>,
    /// Rows per page when not [`PAGE_SIZE`] (the server refuses more than 100 and says so).
    pub page_size: Option<i64>,
    /// A page number from a link (`?page=3`); the pager itself moves by cursor.
    pub page: Option<i64>,
    pub cursor: Option<String>,
}

impl BotsQuery {
    /// Reads the query string through `get` (a parameter's value by name). Unusable values are
    /// dropped (the first page is shown) rather than sent; a page number beyond the last allowed
    /// one is sent, and the server's answer says how far pages go.
    pub fn from_params(get: impl Fn(&str) -> Option<String>) -> Self {
        let cursor = get("cursor").filter(|c| !c.is_empty() && c.len() <= MAX_CURSOR_LEN);
        BotsQuery {
            status: get("status").filter(|s| !s.is_empty()),
            platform: get("platform").and_then(|p| MeetingPlatform::parse(&p)),
            page_size: get("pageSize").and_then(|p| p.parse().ok()),
            page: if cursor.is_some() { None } else { get("page").and_then(|p| p.parse().ok()).filter(|p| *p > 1) },
            cursor,
        }
    }

    /// The listing request for this query.
    pub fn filter(&self) -> BotFilter {
        BotFilter {
            page: self.page,
            page_size: self.page_size.unwrap_or(PAGE_SIZE),
            cursor: self.cursor.clone(),
            status: self.status.clone(),
            meeting_platform: self.platform,
            deployment_platform: None,
        }
    }

    /// The first page with other filters (changing a filter starts over).
    pub fn with_filters(&self, status: Option<String>, platform: Option<String>) -> Self {
        BotsQuery {
            status: status.filter(|s| !s.is_empty()),
            platform: platform.as_deref().and_then(MeetingPlatform::parse),
            page_size: self.page_size,
            page: None,
            cursor: None,
        }
    }

    /// The same filters, first page.
    pub fn first_page(&self) -> Self {
        BotsQuery { page: None, cursor: None, ..self.clone() }
    }

    /// The same filters at a cursor.
    pub fn at_cursor(&self, cursor: &str) -> Self {
        BotsQuery { page: None, cursor: Some(cursor.to_owned()), ..self.clone() }
    }

    /// The URL of this query (`/bots` for the unfiltered first page).
    pub fn href(&self) -> String {
        let mut q = Vec::new();
        if let Some(s) = &self.status {
            q.push(format!("status={}", encode(s)));
        }
        if let Some(p) = self.platform {
            q.push(format!("platform={}", p.as_str()));
        }
        if let Some(n) = self.page_size {
            q.push(format!("pageSize={n}"));
        }
        if let Some(p) = self.page {
            q.push(format!("page={p}"));
        }
        if let Some(c) = &self.cursor {
            q.push(format!("cursor={}", encode(c)));
        }
        if q.is_empty() {
            "/bots".to_owned()
        } else {
            format!("/bots?{}", q.join("&"))
        }
    }
}

/// Percent-encodes everything but unreserved characters (statuses and cursors are ASCII words,
/// digits, dots, commas and dashes; anything else a user typed stays harmless).
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b',' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// What the pager under the table shows and where its buttons lead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pager {
    /// "Page 3 of 12" or "Page 3 of about 5,000".
    pub label: String,
    /// "120 bots" or "about 100,000 bots".
    pub total: String,
    pub previous: Option<String>,
    pub next: Option<String>,
}

impl Pager {
    /// The pager for `page`, the answer to `query`.
    pub fn new(query: &BotsQuery, page: &BotPage) -> Self {
        let about = if page.total_is_estimate { "about " } else { "" };
        let pages = page.page_count.max(page.page);
        let previous = if !page.has_previous_page {
            None
        } else if page.page <= 2 {
            Some(query.first_page().href())
        } else {
            page.previous_cursor.as_deref().map(|c| query.at_cursor(c).href())
        };
        let next = page.next_cursor.as_deref().filter(|_| page.has_next_page).map(|c| query.at_cursor(c).href());
        Pager {
            label: format!("Page {} of {about}{}", thousands(page.page), thousands(pages.max(1))),
            total: format!("{about}{} bot{}", thousands(page.total), if page.total == 1 { "" } else { "s" }),
            previous,
            next,
        }
    }
}

/// 100000 → "100,000".
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> BotsQuery {
        BotsQuery::from_params(|k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned()))
    }

    fn page(n: i64, total: i64, estimate: bool, prev: Option<&str>, next: Option<&str>) -> BotPage {
        BotPage {
            data: Vec::new(),
            total,
            total_is_estimate: estimate,
            page: n,
            page_size: PAGE_SIZE,
            page_count: crate::model::paging::page_count(total, PAGE_SIZE),
            has_next_page: next.is_some(),
            has_previous_page: prev.is_some(),
            next_cursor: next.map(str::to_owned),
            previous_cursor: prev.map(str::to_owned),
        }
    }

    #[test]
    fn the_query_string_round_trips_and_drops_what_it_cannot_use() {
        let q = params(&[("status", "IN_CALL,DONE"), ("platform", "zoom"), ("cursor", "a2.1.3")]);
        assert_eq!(q.href(), "/bots?status=IN_CALL,DONE&platform=zoom&cursor=a2.1.3");
        assert_eq!(params(&[("status", "IN_CALL,DONE"), ("platform", "zoom"), ("cursor", "a2.1.3")]), q);
        assert_eq!(q.filter().cursor.as_deref(), Some("a2.1.3"));
        assert_eq!((q.filter().page, q.filter().page_size), (None, PAGE_SIZE));
        // An old link's page number is kept; nonsense means the first page.
        assert_eq!(params(&[("page", "3")]).filter().page, Some(3));
        for bad in ["0", "-4", "abc", "1", "99999999999999999999"] {
            assert_eq!(params(&[("page", bad)]).filter().page, None, "{bad}");
        }
        // A cursor wins over a page number; an overlong one is not sent.
        assert_eq!(params(&[("page", "3"), ("cursor", "a4.1.2")]).filter().page, None);
        assert_eq!(params(&[("cursor", &"a".repeat(MAX_CURSOR_LEN + 1))]).cursor, None);
        assert_eq!(params(&[("platform", "skype")]).platform, None);
        // A page size is kept in links and sent as is (the server bounds it).
        let sized = params(&[("pageSize", "2"), ("cursor", "a2.1.3")]);
        assert_eq!((sized.filter().page_size, sized.href().as_str()), (2, "/bots?pageSize=2&cursor=a2.1.3"));
        assert_eq!(params(&[("pageSize", "500")]).filter().page_size, 500);
        assert_eq!(params(&[("pageSize", "x")]).filter().page_size, PAGE_SIZE);
        assert_eq!(BotsQuery::default().href(), "/bots");
        assert_eq!(params(&[("status", "a&b=c")]).href(), "/bots?status=a%26b%3Dc");
    }

    #[test]
    fn changing_a_filter_starts_on_the_first_page() {
        let at = params(&[("status", "DONE"), ("pageSize", "5"), ("cursor", "a3.1.2")]);
        let q = at.with_filters(Some("QUEUED".into()), Some(String::new()));
        assert_eq!(q.href(), "/bots?status=QUEUED&pageSize=5");
        assert_eq!(at.with_filters(Some(String::new()), Some("zoom".into())).href(), "/bots?platform=zoom&pageSize=5");
    }

    #[test]
    fn the_first_page_has_only_next_and_exact_counts_read_plainly() {
        let q = BotsQuery::default();
        let p = Pager::new(&q, &page(1, 45, false, None, Some("a2.5.9")));
        assert_eq!(p.label, "Page 1 of 3");
        assert_eq!(p.total, "45 bots");
        assert_eq!(p.previous, None);
        assert_eq!(p.next.as_deref(), Some("/bots?cursor=a2.5.9"));
    }

    #[test]
    fn a_middle_page_leads_both_ways_by_cursor_and_page_two_back_to_the_first() {
        let q = params(&[("status", "DONE"), ("cursor", "a3.1.2")]);
        let p = Pager::new(&q, &page(3, 100_000, true, Some("b2.9.9"), Some("a4.1.1")));
        assert_eq!(p.label, "Page 3 of about 5,000");
        assert_eq!(p.total, "about 100,000 bots");
        assert_eq!(p.previous.as_deref(), Some("/bots?status=DONE&cursor=b2.9.9"));
        assert_eq!(p.next.as_deref(), Some("/bots?status=DONE&cursor=a4.1.1"));
        let two = Pager::new(&q, &page(2, 100_000, true, Some("b1.9.9"), Some("a3.1.1")));
        assert_eq!(two.previous.as_deref(), Some("/bots?status=DONE"));
    }

    #[test]
    fn the_last_page_and_an_empty_list_have_no_next() {
        let q = BotsQuery::default();
        let last = Pager::new(&q, &page(3, 45, false, Some("b2.1.1"), None));
        assert_eq!((last.label.as_str(), last.next), ("Page 3 of 3", None));
        let empty = Pager::new(&q, &page(1, 0, false, None, None));
        assert_eq!((empty.label.as_str(), empty.total.as_str()), ("Page 1 of 1", "0 bots"));
        assert_eq!((empty.previous, empty.next), (None, None));
        assert_eq!(Pager::new(&q, &page(1, 1, false, None, None)).total, "1 bot");
        // A page number beyond an estimate's page count never reads "Page 9 of 5".
        assert_eq!(Pager::new(&q, &page(9, 100, true, Some("b8.1.1"), None)).label, "Page 9 of about 9");
    }

    #[test]
    fn thousands_are_separated() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(-1000), "-1,000");
    }
}
