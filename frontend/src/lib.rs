//! The wasm entry point: hydrates the HTML the server rendered into a live app.

// Hydration awaits the whole app's view as one future; without erased view types (clippy, or a
// build outside cargo-leptos) computing its layout needs more than the default depth.
#![recursion_limit = "256"]

/// Called by the generated JS loader once the wasm module is instantiated.
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // Server functions that redirect (sign in, sign up, sign out) change who is signed in: load the
    // target page in full so the server renders it with the new session. Set before the router
    // installs its own client-side hook, which then stays unset.
    let _ = leptos::server_fn::redirect::set_redirect_hook(|to: &str| {
        if let Some(window) = web_sys::window() {
            let _ = window.location().assign(to);
        }
    });
    // The pages are lazily loaded wasm chunks (`app/src/app.rs`): hydration waits for the chunks
    // of the page the server rendered, which its `<link rel="preload">` tags already fetch.
    wasm_bindgen_futures::spawn_local(async {
        let owner = leptos::mount::hydrate_from_async(leptos::tachys::dom::body(), app::App).await;
        owner.forget();
        // Lets browser tests wait for interactivity instead of sleeping.
        if let Some(window) = web_sys::window() {
            let _ = js_sys::Reflect::set(&window, &"__meeboterHydrated".into(), &true.into());
        }
    });
}
