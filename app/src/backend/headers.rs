//! The Content-Security-Policy of rendered pages, and the stylesheet's hashed name they link.
//!
//! Leptos (with `leptos_axum`) gives every page render a fresh nonce and puts it on the
//! hydration script, the module preload and the inline scripts that carry resolved resources.
//! The policy allows scripts only from this origin or with that nonce, WebAssembly compilation
//! (`'wasm-unsafe-eval'`, needed to start the wasm bundle), and nothing framing the page.
//! Inline `style` attributes (progress bars) need `style-src 'unsafe-inline'`; styles cannot run
//! code.

use http::header::CONTENT_SECURITY_POLICY;
use http::HeaderValue;
use leptos::prelude::use_context;
use leptos_axum::ResponseOptions;

/// The policy for a page whose inline scripts carry `nonce`.
pub fn content_security_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; \
         object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// Sets the page's `Content-Security-Policy` header (call while rendering the shell).
pub fn set_page_policy() {
    let Some(nonce) = leptos::nonce::use_nonce() else {
        return;
    };
    if let (Some(res), Ok(v)) =
        (use_context::<ResponseOptions>(), HeaderValue::from_str(&content_security_policy(&nonce)))
    {
        res.insert_header(CONTENT_SECURITY_POLICY, v);
    }
}

/// The stylesheet's content hash from cargo-leptos' hash list (`css: <hash>`), read once. The
/// list's path is taken as Leptos takes it: relative to the running executable's directory
/// (an absolute path stays as it is).
pub fn css_hash(hash_file: &str) -> Option<&'static str> {
    static HASH: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    HASH.get_or_init(|| {
        let dir = std::env::current_exe().ok()?.parent()?.to_path_buf();
        let list = std::fs::read_to_string(dir.join(hash_file)).ok()?;
        css_hash_in(&list).map(str::to_owned)
    })
    .as_deref()
}

/// The `css:` line of a hash list.
fn css_hash_in(list: &str) -> Option<&str> {
    list.lines().find_map(|l| l.trim().strip_prefix("css:")).map(str::trim).filter(|h| !h.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_only_own_and_nonced_scripts_and_no_framing() {
        let p = content_security_policy("abc123");
        assert!(p.contains("script-src 'self' 'nonce-abc123' 'wasm-unsafe-eval';"), "{p}");
        assert!(!p.contains("script-src 'self' 'unsafe-inline'"), "{p}");
        assert!(p.contains("frame-ancestors 'none'") && p.contains("object-src 'none'"), "{p}");
        assert!(HeaderValue::from_str(&p).is_ok());
    }

    #[test]
    fn the_stylesheet_hash_is_read_from_the_css_line() {
        let list = "js: AAAAAAAAAAAAAAAAAAAAAA\nwasm: BBBBBBBBBBBBBBBBBBBBBB\ncss: CCCCCCCCCCCCCCCCCCCCCC\n";
        assert_eq!(css_hash_in(list), Some("CCCCCCCCCCCCCCCCCCCCCC"));
        assert_eq!(css_hash_in("js: A\n"), None);
        assert_eq!(css_hash_in("css: \n"), None);
    }
}
