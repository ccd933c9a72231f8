//! The browser's end of the live stream: an `EventSource` on `/api/live` that feeds
//! [`super::Live`]. Events are gathered into a [`Batch`] for [`super::DEBOUNCE`]; the stream's
//! state is mirrored on `<html data-live="open|closed">` (for people debugging, and the
//! end-to-end tests). A stream the browser gives up on (a refusal such as 401 or 429, or a reply
//! that is not a stream) is reopened after a back-off of 2 s doubling to 60 s; a dropped
//! connection the browser reopens itself (after the server's `retry`).

use std::cell::{Cell, OnceCell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use leptos::prelude::*;
use leptos::wasm_bindgen::closure::Closure;
use leptos::wasm_bindgen::JsCast;
use web_sys::{EventSource, MessageEvent};

use super::batch::Batch;
use super::{Live, DEBOUNCE};
use crate::model::live::LiveEvent;

const FIRST_BACKOFF: Duration = Duration::from_secs(2);
const MAX_BACKOFF: Duration = Duration::from_secs(60);

type Handler<E> = Closure<dyn FnMut(E)>;

struct Stream {
    live: Live,
    pending: RefCell<Batch>,
    flush_scheduled: Cell<bool>,
    opened_before: Cell<bool>,
    backoff: Cell<Duration>,
    source: RefCell<Option<EventSource>>,
    on_message: OnceCell<Handler<MessageEvent>>,
    on_error: OnceCell<Handler<web_sys::Event>>,
}

fn mark(state: &str) {
    if let Some(root) = document().document_element() {
        let _ = root.set_attribute("data-live", state);
    }
}

impl Stream {
    fn event(self: &Rc<Self>, e: MessageEvent) {
        let data = e.data().as_string().unwrap_or_default();
        let Some(event) = LiveEvent::parse(&e.type_(), &data) else { return };
        if event == LiveEvent::Ready {
            self.backoff.set(FIRST_BACKOFF);
            self.live.open.set(true);
            mark("open");
            // The page loaded its data as it opened the stream: only a reopened stream refetches
            // (a refetch right after loading re-renders forms under the first keystrokes).
            if !self.opened_before.replace(true) {
                return;
            }
        }
        self.pending.borrow_mut().add(&event);
        if !self.flush_scheduled.replace(true) {
            let me = self.clone();
            set_timeout(move || me.flush(), DEBOUNCE);
        }
    }

    fn flush(&self) {
        self.flush_scheduled.set(false);
        let batch = std::mem::take(&mut *self.pending.borrow_mut());
        if !batch.is_empty() {
            self.live.apply(batch);
        }
    }

    fn error(self: &Rc<Self>) {
        self.live.open.set(false);
        mark("closed");
        let closed = self.source.borrow().as_ref().is_none_or(|s| s.ready_state() == EventSource::CLOSED);
        if closed {
            if let Some(s) = self.source.borrow_mut().take() {
                s.close();
            }
            let wait = self.backoff.get();
            self.backoff.set((wait * 2).min(MAX_BACKOFF));
            let me = self.clone();
            set_timeout(move || me.open(), wait);
        }
    }

    fn open(self: &Rc<Self>) {
        let Ok(source) = EventSource::new("/api/live") else {
            mark("closed");
            return;
        };
        if let Some(f) = self.on_message.get() {
            for name in LiveEvent::NAMES {
                let _ = source.add_event_listener_with_callback(name, f.as_ref().unchecked_ref());
            }
        }
        if let Some(f) = self.on_error.get() {
            source.set_onerror(Some(f.as_ref().unchecked_ref()));
        }
        *self.source.borrow_mut() = Some(source);
    }
}

/// Opens the stream for the rest of the page's life.
pub(super) fn connect(live: Live) {
    mark("connecting");
    let stream = Rc::new(Stream {
        live,
        pending: RefCell::default(),
        flush_scheduled: Cell::new(false),
        opened_before: Cell::new(false),
        backoff: Cell::new(FIRST_BACKOFF),
        source: RefCell::default(),
        on_message: OnceCell::new(),
        on_error: OnceCell::new(),
    });
    // The handlers hold the stream weakly, so the stream and its handlers do not keep each other.
    let weak = Rc::downgrade(&stream);
    let _ = stream.on_message.set(Closure::new(move |e: MessageEvent| {
        if let Some(s) = weak.upgrade() {
            s.event(e);
        }
    }));
    let weak = Rc::downgrade(&stream);
    let _ = stream.on_error.set(Closure::new(move |_: web_sys::Event| {
        if let Some(s) = weak.upgrade() {
            s.error();
        }
    }));
    stream.open();
    // The root component lives as long as the page: so does its stream.
    std::mem::forget(stream);
}
