//! The wasm entry point: hydrates the HTML the server rendered into a live app.

/// Called by the generated JS loader once the wasm module is instantiated.
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
    // Lets browser tests wait for interactivity instead of sleeping.
    if let Some(window) = web_sys::window() {
        let _ = js_sys::Reflect::set(&window, &"__meeboterHydrated".into(), &true.into());
    }
}
