//! The HTML shell, the root component and the route table.

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{path, SsrMode};

use crate::api::auth::{get_current_user, SignIn, SignOut, SignUp};
use crate::components::layout::Layout;
use crate::model::error::AppError;
use crate::model::user::CurrentUser;
use crate::pages::{api_keys, auth, bots, docs, home, infrastructure, not_found::NotFound, templates, usage};

/// The document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en" class="h-full">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
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

/// Who is signed in, shared by every page. It refetches after sign-in, sign-up and sign-out.
#[derive(Clone, Copy)]
pub struct Session {
    pub user: Resource<Result<Option<CurrentUser>, AppError>>,
    pub sign_in: ServerAction<SignIn>,
    pub sign_up: ServerAction<SignUp>,
    pub sign_out: ServerAction<SignOut>,
}

/// The root component.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let sign_in = ServerAction::<SignIn>::new();
    let sign_up = ServerAction::<SignUp>::new();
    let sign_out = ServerAction::<SignOut>::new();
    let user = Resource::new(
        move || (sign_in.version().get(), sign_up.version().get(), sign_out.version().get()),
        |_| get_current_user(),
    );
    provide_context(Session { user, sign_in, sign_up, sign_out });

    view! {
        <Stylesheet id="leptos" href="/pkg/meeboter.css" />
        <Title formatter=|t: String| if t.is_empty() { "Meeboter".to_owned() } else { format!("{t} · Meeboter") } />
        // The list pages render in one piece (SsrMode::Async): out-of-order streaming of their
        // nested suspense boundaries hydrated inconsistently (the API keys page panicked). The
        // dashboard and usage pages stay streamed: their time-zone-driven resources never settle
        // in async mode (server rendering waited for ever).
        <Router>
            <Layout>
                <Routes fallback=NotFound>
                    <Route path=path!("") view=home::HomePage />
                    <Route path=path!("/auth/sign-in") view=auth::SignInPage />
                    <Route path=path!("/auth/sign-up") view=auth::SignUpPage />
                    <Route path=path!("/docs") view=docs::DocsPage />
                    <Route path=path!("/bots") view=bots::BotsPage ssr=SsrMode::Async />
                    <Route path=path!("/templates") view=templates::TemplatesPage ssr=SsrMode::Async />
                    <Route path=path!("/api-keys") view=api_keys::ApiKeysPage ssr=SsrMode::Async />
                    <Route path=path!("/usage") view=usage::UsagePage />
                    <Route path=path!("/infrastructure") view=infrastructure::InfrastructurePage ssr=SsrMode::Async />
                </Routes>
            </Layout>
        </Router>
    }
}
