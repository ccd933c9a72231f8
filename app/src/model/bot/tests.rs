//! Unit tests of the bot model: statuses, platforms, automatic leave, events.

use super::*;

#[test]
fn platforms_are_detected_from_the_url_host() {
    let d = MeetingPlatform::detect;
    assert_eq!(d("https://meet.google.com/abc-defg-hij"), Some(MeetingPlatform::GoogleMeet));
    assert_eq!(d("https://teams.microsoft.com/l/meetup-join/x"), Some(MeetingPlatform::MicrosoftTeams));
    assert_eq!(d("https://teams.live.com/meet/123"), Some(MeetingPlatform::MicrosoftTeams));
    assert_eq!(d("https://us02web.zoom.us/j/123?pwd=x"), Some(MeetingPlatform::Zoom));
    assert_eq!(d("https://zoom.us/j/1"), Some(MeetingPlatform::Zoom));
    assert_eq!(d("https://evilzoom.us/j/1"), None);
    assert_eq!(d("https://zoom.us.evil.com/j/1"), None);
    assert_eq!(d("https://user@meet.google.com.evil.com/x"), None);
    assert_eq!(d("https://evil.com\\@meet.google.com/"), None);
    assert_eq!(d("https://evil.com@meet.google.com/"), None);
    assert_eq!(d("https://meet.google.com:8443/abc"), None);
    assert_eq!(d("https://acme.zoom.us/j/1"), Some(MeetingPlatform::Zoom));
    assert_eq!(d("https://ACME.ZoomGov.com/j/1"), Some(MeetingPlatform::Zoom));
    assert_eq!(d("https://sub.meet.google.com/x"), None);
    assert_eq!(d("http://meet.google.com/abc"), None);
    assert_eq!(d("ftp://zoom.us/1"), None);
    assert_eq!(d("meet.google.com/abc"), None);
    assert_eq!(d("https://example.com"), None);
}

#[test]
fn automatic_leave_is_clamped_to_the_minimums() {
    let a = AutomaticLeave::clamped(Some(AutomaticLeaveInput {
        waiting_room_timeout: Some(1),
        no_one_joined_timeout: Some(120_000),
        everyone_left_timeout: None,
        inactivity_timeout: Some(0),
    }));
    assert_eq!(a.waiting_room_timeout, 600_000);
    assert_eq!(a.no_one_joined_timeout, 120_000);
    assert_eq!(a.everyone_left_timeout, 60_000);
    assert_eq!(AutomaticLeave::clamped(None), AutomaticLeave::MINIMUM);
}

#[test]
fn statuses_round_trip_and_know_what_is_allowed() {
    for s in BotStatus::ALL {
        assert_eq!(BotStatus::parse(s.as_str()), Some(s));
        assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
    }
    assert!(BotStatus::Queued.can_cancel() && !BotStatus::InCall.can_cancel());
    assert!(BotStatus::InCall.can_remove_from_call() && !BotStatus::Leaving.can_remove_from_call());
    assert!(BotStatus::Fatal.is_terminal() && !BotStatus::Fatal.is_active());
}

#[test]
fn every_event_type_has_a_description() {
    assert!(EVENT_TYPES.iter().all(|(_, d)| !d.is_empty()));
    assert_eq!(event_description("IN_CALL"), "The bot is in the call.");
}

#[test]
fn pages_count_correctly() {
    let p: Page<u8> = Page::new(vec![], 101, 2, 50);
    assert_eq!((p.page_count, p.has_next_page, p.has_previous_page), (3, true, true));
    let p: Page<u8> = Page::new(vec![], 0, 1, 50);
    assert_eq!((p.page_count, p.has_next_page), (0, false));
}
