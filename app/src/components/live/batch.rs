//! What a burst of live events asks pages to refetch: events are gathered for
//! [`super::DEBOUNCE`] into one [`Batch`], so a burst refetches once.

use std::collections::BTreeSet;

use crate::model::live::{ChangeKind, LiveEvent};

/// The events of one debounce window, reduced to what they change.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Batch {
    /// Refetch everything: the stream (re)opened or fell behind, or the queue moved (the
    /// positions and estimated starts of queued bots changed).
    pub all: bool,
    /// The viewer's own bots changed (lists, counts, the dashboard).
    pub own: bool,
    /// A bot the viewer hears of changed (for an administrator, anyone's: the fleet pages).
    pub fleet: bool,
    /// The bots the changes name (a dialog about one bot refetches when its bot is among them).
    pub bots: BTreeSet<i64>,
}

impl Batch {
    /// Adds one event.
    pub fn add(&mut self, event: &LiveEvent) {
        match event {
            LiveEvent::Ready | LiveEvent::Resync | LiveEvent::Queue => self.all = true,
            LiveEvent::Change(c) => {
                self.bots.insert(c.bot);
                // A new event changes the dialog of its bot, not the lists.
                if c.kind != ChangeKind::Event {
                    self.fleet = true;
                    self.own |= c.mine;
                }
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == Batch::default()
    }

    /// Whether pages that show the viewer's own bots refetch.
    pub fn touches_own(&self) -> bool {
        self.all || self.own
    }

    /// Whether fleet pages refetch.
    pub fn touches_fleet(&self) -> bool {
        self.all || self.fleet
    }

    /// Whether a view of bot `id` refetches.
    pub fn touches_bot(&self, id: i64) -> bool {
        self.all || self.bots.contains(&id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::live::BotChange;

    fn change(bot: i64, kind: ChangeKind, mine: bool) -> LiveEvent {
        LiveEvent::Change(BotChange { bot, status: "IN_CALL".into(), kind, mine })
    }

    #[test]
    fn a_burst_of_own_changes_is_one_refetch_naming_each_bot() {
        let mut b = Batch::default();
        assert!(b.is_empty());
        for bot in [1, 2, 1] {
            b.add(&change(bot, ChangeKind::Status, true));
        }
        assert!(b.touches_own() && b.touches_fleet());
        assert!(b.touches_bot(1) && b.touches_bot(2) && !b.touches_bot(3));
    }

    #[test]
    fn someone_elses_bot_refetches_fleet_pages_only() {
        let mut b = Batch::default();
        b.add(&change(7, ChangeKind::Created, false));
        assert!(b.touches_fleet() && !b.touches_own());
    }

    #[test]
    fn a_new_event_refetches_its_bots_view_only() {
        let mut b = Batch::default();
        b.add(&change(7, ChangeKind::Event, true));
        assert!(!b.is_empty() && b.touches_bot(7));
        assert!(!b.touches_own() && !b.touches_fleet());
    }

    #[test]
    fn opening_resync_and_queue_moves_refetch_everything() {
        for e in [LiveEvent::Ready, LiveEvent::Resync, LiveEvent::Queue] {
            let mut b = Batch::default();
            b.add(&e);
            assert!(b.touches_own() && b.touches_fleet() && b.touches_bot(42), "{e:?}");
        }
    }
}
