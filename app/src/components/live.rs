//! Live data: pages refetch when the server says something they show changed, and the
//! browser's time zone.
//!
//! [`provide_live`] (at the app's root, for a signed-in user) opens one server-sent event stream
//! (`GET /api/live`, see `model::live`) and turns its events, gathered for [`DEBOUNCE`], into
//! counters: [`use_refresh`] for pages of the viewer's own bots, [`use_bot_refresh`] for a view
//! of one bot, [`use_fleet_refresh`] for fleet pages. Each also advances on its own as the
//! fallback: every `fallback_secs` while the stream is not open, every [`SAFETY_REFETCH`] while
//! it is. A page passes the counter to [`use_live`] where it passed [`use_tick`] before.

mod batch;
#[cfg(feature = "hydrate")]
mod stream;

use std::time::Duration;

use leptos::prelude::*;

pub use batch::Batch;

/// How long events are gathered before pages refetch (a burst refetches once).
pub const DEBOUNCE: Duration = Duration::from_millis(150);
/// How often pages refetch while the stream is open, in case an event was lost.
pub const SAFETY_REFETCH: Duration = Duration::from_secs(60);

/// The live stream's state, shared through context.
#[derive(Clone, Copy)]
pub struct Live {
    open: RwSignal<bool>,
    own: RwSignal<u64>,
    fleet: RwSignal<u64>,
    last: RwSignal<Batch>,
}

impl Live {
    #[cfg_attr(not(feature = "hydrate"), expect(dead_code, reason = "the stream runs in the browser only"))]
    fn apply(&self, batch: Batch) {
        if batch.touches_own() {
            self.own.update(|n| *n += 1);
        }
        if batch.touches_fleet() {
            self.fleet.update(|n| *n += 1);
        }
        self.last.set(batch);
    }
}

/// Provides the live stream to every page; opens it in the browser when someone is signed in.
pub fn provide_live(signed_in: bool) {
    let live = Live {
        open: RwSignal::new(false),
        own: RwSignal::new(0),
        fleet: RwSignal::new(0),
        last: RwSignal::new(Batch::default()),
    };
    provide_context(live);
    // Effects run only in the browser.
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        if signed_in {
            stream::connect(live);
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = signed_in;
    });
}

/// Whether the live stream is open now (`false` on the server and without a provider).
pub fn use_live_open() -> Signal<bool> {
    let live = use_context::<Live>();
    Signal::derive(move || live.is_some_and(|l| l.open.get()))
}

/// A counter that advances every `fallback_secs` while the stream is not open, and every
/// [`SAFETY_REFETCH`] while it is.
fn fallback_tick(fallback_secs: u64) -> Signal<u64> {
    let (tick, set_tick) = signal(0u64);
    let open = use_live_open();
    Effect::new(move |_| {
        let period = if open.get() { SAFETY_REFETCH } else { Duration::from_secs(fallback_secs) };
        #[cfg(feature = "hydrate")]
        {
            if let Ok(handle) = set_interval_with_handle(move || set_tick.update(|n| *n += 1), period) {
                on_cleanup(move || handle.clear());
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (set_tick, period);
    });
    tick.into()
}

/// Advances when the viewer's own bots change (or the queue moves, or the stream reopens), and
/// as the fallback (see the module documentation). Pages of the viewer's bots pass it to
/// [`use_live`].
pub fn use_refresh(fallback_secs: u64) -> Signal<u64> {
    let tick = fallback_tick(fallback_secs);
    let own = use_context::<Live>().map(|l| l.own);
    Signal::derive(move || tick.get() + own.map_or(0, |o| o.get()))
}

/// Advances when any bot the viewer hears of changes (for an administrator, the whole fleet),
/// and as the fallback.
pub fn use_fleet_refresh(fallback_secs: u64) -> Signal<u64> {
    let tick = fallback_tick(fallback_secs);
    let fleet = use_context::<Live>().map(|l| l.fleet);
    Signal::derive(move || tick.get() + fleet.map_or(0, |f| f.get()))
}

/// Advances when bot `id` changes or has a new event (or the stream reopens), and as the
/// fallback.
pub fn use_bot_refresh(id: i64, fallback_secs: u64) -> Signal<u64> {
    let tick = fallback_tick(fallback_secs);
    let changes = match use_context::<Live>() {
        Some(live) => {
            let last = live.last;
            Memo::new(move |prev: Option<&u64>| {
                let n = prev.copied().unwrap_or(0);
                if last.with(|b| b.touches_bot(id)) {
                    n + 1
                } else {
                    n
                }
            })
            .into()
        }
        None => Signal::stored(0u64),
    };
    Signal::derive(move || tick.get() + changes.get())
}

/// A counter that increments every `secs` seconds once the page is hydrated (for views that
/// follow something the live stream does not announce, such as a log tail).
pub fn use_tick(secs: u64) -> ReadSignal<u64> {
    let (tick, set_tick) = signal(0u64);
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        {
            if let Ok(handle) =
                set_interval_with_handle(move || set_tick.update(|n| *n += 1), Duration::from_secs(secs))
            {
                on_cleanup(move || handle.clear());
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (set_tick, secs);
    });
    tick
}

/// The browser's IANA time zone ("UTC" on the server and until hydration).
pub fn use_time_zone() -> ReadSignal<String> {
    let (tz, set_tz) = signal("UTC".to_owned());
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        {
            let opts =
                js_sys::Intl::DateTimeFormat::new(&js_sys::Array::new(), &js_sys::Object::new()).resolved_options();
            if let Some(name) = js_sys::Reflect::get(&opts, &"timeZone".into()).ok().and_then(|v| v.as_string()) {
                set_tz.set(name);
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = set_tz;
    });
    tz
}

/// Data the browser loads after hydration and reloads whenever `source` changes (a tick, a
/// filter, a refresh counter): `None` until the first answer, then the latest answer (an older
/// answer that arrives late is dropped).
///
/// Pages load their data this way rather than through `Resource` + `<Suspense>`: server
/// rendering never waits on data, so a response can never stall (leptos' suspense bookkeeping
/// stalled a few streamed responses under load), and the browser hydrates exactly the markup the
/// server sent (the loading state), then fills it in.
pub fn use_live<S, T, Fut>(
    source: impl Fn() -> S + Send + Sync + 'static,
    fetch: impl Fn(S) -> Fut + Send + Sync + 'static,
) -> Signal<Option<T>>
where
    S: 'static,
    T: Send + Sync + 'static,
    Fut: std::future::Future<Output = T> + 'static,
{
    let (value, set_value) = signal(None::<T>);
    let latest = StoredValue::new(0u64);
    // Effects run only in the browser.
    Effect::new(move |_| {
        let request = fetch(source());
        let generation = latest.get_value() + 1;
        latest.set_value(generation);
        leptos::task::spawn_local(async move {
            let answer = request.await;
            if latest.try_get_value() == Some(generation) {
                set_value.set(Some(answer));
            }
        });
    });
    value.into()
}

/// Shows `fallback` until `data` has loaded, then `children` with the data.
#[component]
pub fn Loaded<T, V, F>(data: Signal<Option<T>>, #[prop(into, optional)] fallback: ViewFn, children: F) -> impl IntoView
where
    T: Clone + Send + Sync + 'static,
    F: Fn(T) -> V + Send + Sync + 'static,
    V: IntoView + 'static,
{
    move || match data.get() {
        Some(value) => children(value).into_any(),
        None => fallback.run(),
    }
}
