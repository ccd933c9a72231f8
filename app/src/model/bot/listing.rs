//! What a bots listing takes (filters, offset page or cursor) and gives back (a page).

use super::*;

/// Filters and page of a bots listing: either `page` (offset paging, up to page 1,000) or
/// `cursor` (keyset paging, any depth), not both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams, utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", into_params(parameter_in = Query))]
#[serde(rename_all = "camelCase")]
pub struct BotFilter {
    /// Page number, 1 to 1000 (default 1). Ignored when `cursor` is given.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", param(minimum = 1, maximum = 1000))]
    pub page: Option<i64>,
    /// Bots per page, 1 to 100.
    #[serde(default = "default_page_size")]
    #[cfg_attr(feature = "ssr", param(minimum = 1, maximum = 100, default = 20))]
    pub page_size: i64,
    /// `nextCursor` or `previousCursor` of an earlier answer, unchanged.
    #[serde(default)]
    #[cfg_attr(
        feature = "ssr",
        param(max_length = 64, pattern = r"^[ab][1-9][0-9]{0,8}\.-?[0-9]{1,16}\.[1-9][0-9]{0,17}$")
    )]
    pub cursor: Option<String>,
    /// Comma-separated statuses, e.g. IN_CALL,LEAVING.
    pub status: Option<String>,
    pub meeting_platform: Option<MeetingPlatform>,
    pub deployment_platform: Option<DeploymentPlatform>,
}

impl Default for BotFilter {
    fn default() -> Self {
        BotFilter {
            page: None,
            page_size: default_page_size(),
            cursor: None,
            status: None,
            meeting_platform: None,
            deployment_platform: None,
        }
    }
}

fn default_page_size() -> i64 {
    20
}

/// A page of results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub data: Vec<T>,
    pub total: i64,
    pub page: i64,
    pub page_size: i64,
    pub page_count: i64,
    pub has_next_page: bool,
    pub has_previous_page: bool,
}

impl<T> Page<T> {
    pub fn new(data: Vec<T>, total: i64, page: i64, page_size: i64) -> Self {
        let page_count = if total == 0 { 0 } else { (total + page_size - 1) / page_size };
        Page { data, total, page, page_size, page_count, has_next_page: page < page_count, has_previous_page: page > 1 }
    }
}

/// A screenshot of a bot, as the Screenshots tab shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Screenshot {
    /// Where the owner's browser loads the image.
    pub url: String,
    pub captured_at: DateTime<Utc>,
    /// error, fatal, manual or state_change.
    pub kind: String,
    pub state: String,
    pub trigger: Option<String>,
}

/// A log line of a bot, as the Logs tab shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BotLogLine {
    /// Increasing; the live tail asks for lines after the last one it has.
    pub seq: i64,
    pub timestamp: DateTime<Utc>,
    pub level: String,
    pub message: String,
    pub state: Option<String>,
    pub location: Option<String>,
}
