//! What the live stream (`GET /api/live`, server-sent events) tells a page. Events carry ids
//! and a status only: a page that hears of a change refetches what it shows through its usual
//! server functions, which check who may see what.

use serde::{Deserialize, Serialize};

/// What happened to a bot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    /// The bot was created.
    Created,
    /// The bot was deleted.
    Deleted,
    /// Its status changed.
    Status,
    /// Something else a page shows changed (name, platform, identifier, log level, ...).
    Updated,
    /// It has a new event (the details dialog lists them).
    Event,
}

/// One bot's change, as a viewer receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BotChange {
    pub bot: i64,
    pub status: String,
    pub kind: ChangeKind,
    /// Whether the bot is the viewer's own (an administrator also hears of everyone else's).
    pub mine: bool,
}

/// An event of the live stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveEvent {
    /// The stream is open (its first event).
    Ready,
    /// A bot the viewer may see changed.
    Change(BotChange),
    /// The queue moved: positions and estimated starts of queued bots changed.
    Queue,
    /// Changes may have been missed (the server fell behind or reconnected to the database):
    /// refetch everything shown.
    Resync,
}

impl LiveEvent {
    /// The SSE event name.
    pub fn name(&self) -> &'static str {
        match self {
            LiveEvent::Ready => "ready",
            LiveEvent::Change(_) => "change",
            LiveEvent::Queue => "queue",
            LiveEvent::Resync => "resync",
        }
    }

    /// The SSE data line (JSON).
    pub fn data(&self) -> String {
        match self {
            LiveEvent::Change(c) => serde_json::to_string(c).unwrap_or_else(|_| "{}".to_owned()),
            _ => "{}".to_owned(),
        }
    }

    /// Reads an event back from its name and data; `None` for anything unknown.
    pub fn parse(name: &str, data: &str) -> Option<LiveEvent> {
        match name {
            "ready" => Some(LiveEvent::Ready),
            "change" => serde_json::from_str(data).ok().map(LiveEvent::Change),
            "queue" => Some(LiveEvent::Queue),
            "resync" => Some(LiveEvent::Resync),
            _ => None,
        }
    }

    /// Every event name a client listens for.
    pub const NAMES: [&'static str; 4] = ["ready", "change", "queue", "resync"];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_read_back_as_written() {
        let change = BotChange { bot: 7, status: "IN_CALL".into(), kind: ChangeKind::Status, mine: true };
        for e in [LiveEvent::Ready, LiveEvent::Change(change), LiveEvent::Queue, LiveEvent::Resync] {
            assert!(LiveEvent::NAMES.contains(&e.name()));
            assert_eq!(LiveEvent::parse(e.name(), &e.data()), Some(e));
        }
        assert_eq!(LiveEvent::parse("change", "not json"), None);
        assert_eq!(LiveEvent::parse("other", "{}"), None);
    }

    #[test]
    fn a_change_carries_ids_and_status_only() {
        let change = BotChange { bot: 7, status: "QUEUED".into(), kind: ChangeKind::Created, mine: false };
        assert_eq!(LiveEvent::Change(change).data(), r#"{"bot":7,"status":"QUEUED","kind":"created","mine":false}"#);
    }
}
