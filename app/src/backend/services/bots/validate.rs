//! Pure validation of bot input: every field checked at the edge with a message naming it.

use chrono::{DateTime, Duration, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

pub use super::urls::{meeting_url, public_url, UrlPolicy, MAX_URL};
use crate::backend::services::validate as storable;
use crate::model::bot::{AutomaticLeave, CreateBot, Meeting, MeetingPlatform};
use crate::model::error::AppError;

pub const MAX_DISPLAY_NAME: usize = 255;
pub const MAX_QUEUE_TIMEOUT_MS: i32 = 600_000;
/// A bot may not be scheduled further ahead than this.
pub const MAX_SCHEDULE_AHEAD_DAYS: i64 = 365;

/// A create request that passed validation, with defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidBot {
    pub display_name: String,
    pub image_url: Option<String>,
    pub meeting: Meeting,
    pub meeting_platform: MeetingPlatform,
    pub automatic_leave: AutomaticLeave,
    pub start_time: DateTime<Utc>,
    pub end_time: DateTime<Utc>,
    pub recording_enabled: bool,
    pub callback_url: Option<String>,
    pub queue_timeout_ms: Option<i32>,
    pub idempotency_key: Option<String>,
}

/// Parses an IANA time zone name ("UTC" when absent).
pub fn time_zone(name: Option<&str>) -> Result<Tz, AppError> {
    match name.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(Tz::UTC),
        Some(n) => n.parse::<Tz>().map_err(|_| {
            AppError::invalid("timeZone", format!("'{n}' is not a time zone; use an IANA name like Europe/Lisbon"))
        }),
    }
}

/// Parses RFC 3339 (with offset) or a local date-time (`2026-11-22T10:00[:00]`) read in `tz`.
pub fn parse_time(field: &str, raw: &str, tz: Tz) -> Result<DateTime<Utc>, AppError> {
    let raw = raw.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Ok(t.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(raw, fmt) {
            return tz.from_local_datetime(&naive).earliest().map(|t| t.with_timezone(&Utc)).ok_or_else(|| {
                AppError::invalid(field, format!("{raw} does not exist in {tz} (a daylight-saving gap)"))
            });
        }
    }
    Err(AppError::invalid(field, format!("'{raw}' is not a date-time; use RFC 3339, e.g. 2026-11-22T10:00:00Z")))
}

/// Checks a display name (default "Meeboter").
pub fn display_name(value: Option<&str>) -> Result<String, AppError> {
    let name = value.map(str::trim).unwrap_or("");
    if name.is_empty() {
        return Ok("Meeboter".to_owned());
    }
    if name.chars().count() > MAX_DISPLAY_NAME || name.chars().any(char::is_control) {
        return Err(AppError::invalid(
            "displayName",
            format!("displayName must be at most {MAX_DISPLAY_NAME} characters, without control characters"),
        ));
    }
    Ok(name.to_owned())
}

fn short_text(field: &str, value: Option<&str>) -> Result<Option<String>, AppError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        Some(v) if v.len() > 255 => Err(AppError::invalid(field, format!("{field} must be at most 255 characters"))),
        other => Ok(other.map(str::to_owned)),
    }
}

/// Validates a create request at `now`; times without an offset are read in `timeZone`.
pub fn validate_create(
    input: &CreateBot,
    header_key: Option<&str>,
    now: DateTime<Utc>,
    policy: UrlPolicy,
) -> Result<ValidBot, AppError> {
    storable::input(input)?;
    if let Some(key) = header_key {
        storable::text("idempotencyKey", key)?;
    }
    let link = match input.meeting_url.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
        Some(raw) => Some(meeting_url(raw, input.platform)?),
        None => None,
    };
    let (meeting_url, meeting_platform) = match (link, input.platform) {
        (Some((url, p)), _) => (Some(url), p),
        (None, Some(p)) => (None, p),
        (None, None) => {
            return Err(AppError::invalid("meetingUrl", "meetingUrl is required (or meetingId with platform)"));
        }
    };
    let meeting_id = short_text("meetingId", input.meeting_id.as_deref())?;
    if meeting_url.is_none() && meeting_id.is_none() {
        return Err(AppError::invalid("meetingUrl", "meetingUrl or meetingId is required"));
    }
    let tz = time_zone(input.time_zone.as_deref())?;
    let start_time = match input.start_time.as_deref().filter(|s| !s.trim().is_empty()) {
        Some(raw) => parse_time("startTime", raw, tz)?,
        None => now,
    };
    let end_time = match input.end_time.as_deref().filter(|s| !s.trim().is_empty()) {
        Some(raw) => parse_time("endTime", raw, tz)?,
        None => start_time + Duration::hours(1),
    };
    if end_time <= start_time {
        return Err(AppError::invalid("endTime", "endTime must be after startTime"));
    }
    if start_time > now + Duration::days(MAX_SCHEDULE_AHEAD_DAYS) {
        return Err(AppError::invalid("startTime", "startTime can be at most one year ahead"));
    }
    if end_time < now {
        return Err(AppError::invalid("endTime", "endTime is in the past"));
    }
    if let Some(t) = input.queue_timeout_ms {
        if !(0..=MAX_QUEUE_TIMEOUT_MS).contains(&t) {
            return Err(AppError::invalid("queueTimeoutMs", "queueTimeoutMs must be from 0 to 600000"));
        }
    }
    let idempotency_key = header_key.or(input.idempotency_key.as_deref()).map(str::trim).filter(|k| !k.is_empty());
    if idempotency_key.is_some_and(|k| k.len() > 255) {
        return Err(AppError::invalid("idempotencyKey", "idempotencyKey must be at most 255 characters"));
    }
    Ok(ValidBot {
        display_name: display_name(input.display_name.as_deref())?,
        image_url: public_url("imageUrl", input.image_url.as_deref(), UrlPolicy { allow_private: false, ..policy })?,
        meeting: Meeting {
            meeting_id,
            meeting_password: short_text("meetingPassword", input.meeting_password.as_deref())?,
            meeting_url,
            platform: Some(meeting_platform),
            ..Meeting::default()
        },
        meeting_platform,
        automatic_leave: AutomaticLeave::clamped(input.automatic_leave),
        start_time,
        end_time,
        recording_enabled: input.recording_enabled,
        callback_url: public_url("callbackUrl", input.callback_url.as_deref(), policy)?,
        queue_timeout_ms: input.queue_timeout_ms,
        idempotency_key: idempotency_key.map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-11-22T12:00:00Z".parse().unwrap()
    }

    fn create(url: &str) -> CreateBot {
        CreateBot { meeting_url: Some(url.into()), ..CreateBot::default() }
    }

    fn field(r: Result<ValidBot, AppError>) -> String {
        r.unwrap_err().field().unwrap().to_owned()
    }

    #[test]
    fn defaults_are_computed_per_request() {
        let b = validate_create(&create("https://meet.google.com/abc-defg-hij"), None, now(), UrlPolicy::default())
            .unwrap();
        assert_eq!(b.display_name, "Meeboter");
        assert_eq!(b.meeting_platform, MeetingPlatform::GoogleMeet);
        assert_eq!(b.start_time, now());
        assert_eq!(b.end_time, now() + Duration::hours(1));
        assert_eq!(b.automatic_leave, AutomaticLeave::MINIMUM);
        let later = now() + Duration::minutes(7);
        assert_eq!(
            validate_create(&create("https://zoom.us/j/1"), None, later, UrlPolicy::default()).unwrap().start_time,
            later
        );
    }

    #[test]
    fn an_explicit_platform_must_match_the_link_and_unknown_hosts_are_refused() {
        let mut c = create("https://example.com/room");
        assert_eq!(field(validate_create(&c, None, now(), UrlPolicy::default())), "meetingUrl");
        c.platform = Some(MeetingPlatform::Zoom);
        assert_eq!(field(validate_create(&c, None, now(), UrlPolicy::default())), "meetingUrl");
        c.meeting_url = Some("https://meet.google.com/abc-defg-hij".into());
        assert_eq!(field(validate_create(&c, None, now(), UrlPolicy::default())), "platform");
        c.meeting_url = Some("https://acme.zoom.us/j/1".into());
        assert_eq!(
            validate_create(&c, None, now(), UrlPolicy::default()).unwrap().meeting_platform,
            MeetingPlatform::Zoom
        );
        c.meeting_url = None;
        c.meeting_id = Some("123 456 789".into());
        assert_eq!(
            validate_create(&c, None, now(), UrlPolicy::default()).unwrap().meeting_platform,
            MeetingPlatform::Zoom
        );
    }

    #[test]
    fn local_times_are_read_in_the_time_zone() {
        let mut c = create("https://zoom.us/j/1");
        c.start_time = Some("2026-11-22T15:00".into());
        c.time_zone = Some("Europe/Lisbon".into());
        assert_eq!(
            validate_create(&c, None, now(), UrlPolicy::default()).unwrap().start_time,
            "2026-11-22T15:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        c.time_zone = Some("America/Sao_Paulo".into());
        assert_eq!(
            validate_create(&c, None, now(), UrlPolicy::default()).unwrap().start_time,
            "2026-11-22T18:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        c.start_time = Some("2026-11-22T15:00:00+01:00".into());
        assert_eq!(
            validate_create(&c, None, now(), UrlPolicy::default()).unwrap().start_time,
            "2026-11-22T14:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
    }

    #[test]
    fn bad_fields_are_named() {
        let base = create("https://zoom.us/j/1");
        let with = |f: fn(&mut CreateBot)| {
            let mut c = base.clone();
            f(&mut c);
            field(validate_create(&c, None, now(), UrlPolicy::default()))
        };
        assert_eq!(with(|c| c.meeting_url = Some("javascript:alert(1)".into())), "meetingUrl");
        assert_eq!(with(|c| c.meeting_url = None), "meetingUrl");
        assert_eq!(with(|c| c.callback_url = Some("ftp://x.y".into())), "callbackUrl");
        assert_eq!(with(|c| c.callback_url = Some("http://169.254.169.254/latest".into())), "callbackUrl");
        assert_eq!(with(|c| c.meeting_url = Some("https://evil.com\\@meet.google.com/".into())), "meetingUrl");
        assert_eq!(with(|c| c.image_url = Some("not a url".into())), "imageUrl");
        assert_eq!(with(|c| c.time_zone = Some("Mars/Olympus".into())), "timeZone");
        assert_eq!(with(|c| c.start_time = Some("tomorrow".into())), "startTime");
        assert_eq!(with(|c| c.end_time = Some("2026-11-22T11:00:00Z".into())), "endTime");
        assert_eq!(with(|c| c.queue_timeout_ms = Some(600_001)), "queueTimeoutMs");
        assert_eq!(with(|c| c.display_name = Some("x".repeat(256))), "displayName");
        assert_eq!(with(|c| c.start_time = Some("2028-01-01T00:00:00Z".into())), "startTime");
    }

    #[test]
    fn the_idempotency_header_wins_over_the_field() {
        let mut c = create("https://zoom.us/j/1");
        c.idempotency_key = Some("field".into());
        assert_eq!(
            validate_create(&c, Some("header"), now(), UrlPolicy::default()).unwrap().idempotency_key.as_deref(),
            Some("header")
        );
        assert_eq!(
            validate_create(&c, None, now(), UrlPolicy::default()).unwrap().idempotency_key.as_deref(),
            Some("field")
        );
    }
}
