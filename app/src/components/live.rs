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
