//! Live data: a tick that advances every few seconds in the browser (never on the server), and
//! the browser's time zone. Resources that read the tick refetch on each one.

use leptos::prelude::*;

/// A counter that increments every `secs` seconds once the page is hydrated.
pub fn use_tick(secs: u64) -> ReadSignal<u64> {
    let (tick, set_tick) = signal(0u64);
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        {
            if let Ok(handle) =
                set_interval_with_handle(move || set_tick.update(|n| *n += 1), std::time::Duration::from_secs(secs))
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
