//! The page frame: a dark header with navigation (a menu on narrow screens), the page, a footer.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::app::Session;
use crate::components::errors::ErrorView;
use crate::components::toast::ToastRegion;
use crate::model::user::CurrentUser;

/// Header, error boundary around the page, footer.
#[component]
pub fn Layout(children: Children) -> impl IntoView {
    view! {
        <div class="flex min-h-full flex-col">
            <Header />
            <main class="mx-auto w-full min-w-0 max-w-6xl flex-1 px-4 py-8 sm:px-6 lg:px-8">
                <ErrorBoundary fallback=|errors| view! { <ErrorView errors /> }>{children()}</ErrorBoundary>
            </main>
            <footer class="border-t border-slate-200 bg-white">
                <div class="mx-auto flex max-w-6xl flex-col gap-2 px-4 py-6 text-sm text-slate-500 sm:flex-row sm:justify-between sm:px-6 lg:px-8">
                    <span>"Meeboter: meeting bots on your own infrastructure."</span>
                    <a href="/docs" class="hover:text-slate-700">
                        "API documentation"
                    </a>
                </div>
            </footer>
            <ToastRegion />
        </div>
    }
}

/// One navigation entry.
struct NavLink {
    href: &'static str,
    label: &'static str,
}

fn links_for(user: Option<&CurrentUser>) -> Vec<NavLink> {
    let link = |href, label| NavLink { href, label };
    match user {
        None => vec![link("/", "Dashboard"), link("/docs", "Docs")],
        // Every signed-in user sees Infrastructure: their own bots' share of it.
        Some(_) => vec![
            link("/", "Dashboard"),
            link("/bots", "Bots"),
            link("/templates", "Templates"),
            link("/api-keys", "API Keys"),
            link("/webhooks", "Webhooks"),
            link("/usage", "Usage"),
            link("/infrastructure", "Infrastructure"),
            link("/docs", "Docs"),
        ],
    }
}

#[component]
fn Header() -> impl IntoView {
    let session = expect_context::<Session>();
    let user = move || session.user.get();
    let nav_class = "rounded-md px-3 py-2 text-sm font-medium text-slate-300 hover:bg-slate-800 hover:text-white aria-[current=page]:bg-slate-800 aria-[current=page]:text-white";
    view! {
        <header class="bg-slate-900 text-white shadow">
            <div class="mx-auto flex h-16 max-w-6xl items-center gap-6 px-4 sm:px-6 lg:px-8">
                <a href="/" class="flex items-center gap-2 text-lg font-bold tracking-tight">
                    <span class="grid h-8 w-8 place-items-center rounded-lg bg-indigo-500 text-sm">"M"</span>
                    "Meeboter"
                </a>
                <nav class="hidden flex-1 items-center gap-1 md:flex" aria-label="Main">
                    {move || {
                        links_for(user().as_ref())
                            .into_iter()
                            .map(|l| {
                                view! {
                                    <A href=l.href attr:class=nav_class exact=true>
                                        {l.label}
                                    </A>
                                }
                            })
                            .collect_view()
                    }}
                </nav>
                <div class="ml-auto hidden items-center gap-3 md:flex">
                    {move || match user() {
                        Some(u) => view! { <UserMenu user=u /> }.into_any(),
                        None => view! { <SignInLink /> }.into_any(),
                    }}
                </div>
                <details class="relative ml-auto md:hidden">
                    <summary class="cursor-pointer list-none rounded-md px-3 py-2 text-sm font-medium text-slate-200 hover:bg-slate-800">
                        "Menu"
                    </summary>
                    <div class="absolute right-0 z-20 mt-2 flex w-56 flex-col rounded-lg bg-slate-900 p-2 shadow-xl ring-1 ring-slate-700">
                        {move || {
                            links_for(user().as_ref())
                                .into_iter()
                                .map(|l| {
                                    view! {
                                        <A href=l.href attr:class=nav_class exact=true>
                                            {l.label}
                                        </A>
                                    }
                                })
                                .collect_view()
                        }}
                        {move || match user() {
                            Some(u) => view! { <UserMenu user=u /> }.into_any(),
                            None => view! { <SignInLink /> }.into_any(),
                        }}
                    </div>
                </details>
            </div>
        </header>
    }
}

#[component]
fn SignInLink() -> impl IntoView {
    view! {
        <a
            href="/auth/sign-in"
            class="rounded-md bg-indigo-500 px-3 py-2 text-sm font-semibold text-white hover:bg-indigo-400"
        >
            "Sign In"
        </a>
    }
}

#[component]
fn UserMenu(user: CurrentUser) -> impl IntoView {
    let session = expect_context::<Session>();
    view! {
        <span class="px-3 text-sm text-slate-300" data-testid="user-name">
            {user.name}
        </span>
        <a
            href="/account"
            class="rounded-md px-3 py-2 text-sm font-medium text-slate-300 hover:bg-slate-800 hover:text-white"
        >
            "Account"
        </a>
        <ActionForm action=session.sign_out>
            <button
                type="submit"
                class="rounded-md px-3 py-2 text-sm font-medium text-slate-300 hover:bg-slate-800 hover:text-white"
            >
                "Sign out"
            </button>
        </ActionForm>
    }
}
