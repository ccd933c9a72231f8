//! The HTML shell, the root component and the route table.

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

use crate::api::auth::{SignIn, SignOut, SignUp};
use crate::components::layout::Layout;
use crate::model::user::CurrentUser;
use crate::pages::{account, api_keys, auth, bots, docs, home, infrastructure, not_found::NotFound, templates, usage};

/// The document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    crate::backend::headers::set_page_policy();
    let stylesheet = stylesheet_href(&options);
    view! {
        <!DOCTYPE html>
        <html lang="en" class="h-full">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <link rel="stylesheet" id="leptos" href=stylesheet />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body class="h-full bg-slate-50 text-slate-900 antialiased">
                <App />
            </body>
        </html>
    }
}

/// The stylesheet's address: `/pkg/meeboter.<hash>.css` when cargo-leptos hashed the file
/// names (`hash-files`; the hash comes from the same list `HydrationScripts` reads for the JS and
/// the wasm), else `/pkg/meeboter.css`.
fn stylesheet_href(options: &LeptosOptions) -> String {
    let name = &options.output_name;
    let pkg = &options.site_pkg_dir;
    #[cfg(feature = "ssr")]
    if options.hash_files {
        if let Some(hash) = crate::backend::headers::css_hash(&options.hash_file) {
            return format!("/{pkg}/{name}.{hash}.css");
        }
    }
    format!("/{pkg}/{name}.css")
}

/// Who is signed in, shared by every page.
///
/// The server resolves the session before rendering (see `server/src/http/guard.rs`) and the user
/// travels to the browser inside the page as a [`SharedValue`], so no page waits on a "who am I"
/// request and no suspense boundary depends on one. Signing in, up or out ends in a full page load
/// (the redirect hook in `frontend/`), which renders the new session.
#[derive(Clone, Copy)]
pub struct Session {
    pub user: Signal<Option<CurrentUser>>,
    pub sign_in: ServerAction<SignIn>,
    pub sign_up: ServerAction<SignUp>,
    pub sign_out: ServerAction<SignOut>,
}

/// The signed-in user the server found for this request, as a request extension.
#[derive(Clone, Debug, Default)]
pub struct RequestUser(pub Option<CurrentUser>);

/// The user of the page being rendered: from the request on the server, from the page during
/// hydration, and nobody when the app starts in the browser without server rendering.
fn initial_user() -> Option<CurrentUser> {
    SharedValue::new(|| {
        #[cfg(feature = "ssr")]
        {
            use_context::<http::request::Parts>()
                .and_then(|parts| parts.extensions.get::<RequestUser>().cloned())
                .and_then(|u| u.0)
        }
        #[cfg(not(feature = "ssr"))]
        None
    })
    .into_inner()
}

/// The root component.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let sign_in = ServerAction::<SignIn>::new();
    let sign_up = ServerAction::<SignUp>::new();
    let sign_out = ServerAction::<SignOut>::new();
    let user = Signal::stored(initial_user());
    provide_context(Session { user, sign_in, sign_up, sign_out });
    crate::components::live::provide_live(user.with_untracked(Option::is_some));
    crate::components::toast::provide_toasts();

    view! {
        <Title formatter=|t: String| if t.is_empty() { "Meeboter".to_owned() } else { format!("{t} · Meeboter") } />
        <Router>
            <Layout>
                <Routes fallback=NotFound>
                    <Route path=path!("") view=home::HomePage />
                    <Route path=path!("/auth/sign-in") view=auth::SignInPage />
                    <Route path=path!("/auth/sign-up") view=auth::SignUpPage />
                    <Route path=path!("/docs") view=docs::DocsPage />
                    <Route path=path!("/bots") view=bots::BotsPage />
                    <Route path=path!("/templates") view=templates::TemplatesPage />
                    <Route path=path!("/api-keys") view=api_keys::ApiKeysPage />
                    <Route path=path!("/usage") view=usage::UsagePage />
                    <Route path=path!("/infrastructure") view=infrastructure::InfrastructurePage />
                    <Route path=path!("/account") view=account::AccountPage />
                </Routes>
            </Layout>
        </Router>
    }
}
