//! The HTML shell, the root component and the route table.

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{lazy_route, path, Lazy, LazyRoute};

use crate::api::auth::{SignIn, SignOut, SignUp};
use crate::components::layout::Layout;
use crate::model::user::CurrentUser;
use crate::pages::{
    account, api_keys, auth, bots, docs, home, infrastructure, not_found::NotFound, templates, usage, webhooks,
};

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
                    <Route path=path!("") view=HomeRoute::route() />
                    <Route path=path!("/auth/sign-in") view=SignInRoute::route() />
                    <Route path=path!("/auth/sign-up") view=SignUpRoute::route() />
                    <Route path=path!("/docs") view=DocsRoute::route() />
                    <Route path=path!("/bots") view=BotsRoute::route() />
                    <Route path=path!("/templates") view=TemplatesRoute::route() />
                    <Route path=path!("/api-keys") view=ApiKeysRoute::route() />
                    <Route path=path!("/webhooks") view=WebhooksRoute::route() />
                    <Route path=path!("/usage") view=UsageRoute::route() />
                    <Route path=path!("/infrastructure") view=InfrastructureRoute::route() />
                    <Route path=path!("/account") view=AccountRoute::route() />
                </Routes>
            </Layout>
        </Router>
    }
}

/// Declares the route of a page as its own wasm chunk.
///
/// Every build of the browser bundle is split (`cargo leptos build --split`, as `./dev` builds
/// it): the main bundle holds the router, the layout and what every page shares, and each page's
/// code is fetched when the page is first shown. A page the server renders names its
/// chunks in `<link rel="preload">` tags, so a first visit fetches them beside the main bundle,
/// and hydration waits for them (`frontend/src/lib.rs`). The page component itself is unchanged.
macro_rules! lazy_page {
    ($route:ident, $page:path) => {
        #[doc = concat!("The lazily loaded route of `", stringify!($page), "`.")]
        struct $route;

        impl $route {
            /// The route's view, for `<Route view=...>`.
            fn route() -> Lazy<$route> {
                Lazy::new()
            }
        }

        #[lazy_route]
        impl LazyRoute for $route {
            fn data() -> Self {
                $route
            }

            fn view(this: Self) -> AnyView {
                let _ = this;
                $page().into_any()
            }
        }
    };
}

lazy_page!(HomeRoute, home::HomePage);
lazy_page!(SignInRoute, auth::SignInPage);
lazy_page!(SignUpRoute, auth::SignUpPage);
lazy_page!(DocsRoute, docs::DocsPage);
lazy_page!(BotsRoute, bots::BotsPage);
lazy_page!(TemplatesRoute, templates::TemplatesPage);
lazy_page!(ApiKeysRoute, api_keys::ApiKeysPage);
lazy_page!(WebhooksRoute, webhooks::WebhooksPage);
lazy_page!(UsageRoute, usage::UsagePage);
lazy_page!(InfrastructureRoute, infrastructure::InfrastructurePage);
lazy_page!(AccountRoute, account::AccountPage);
