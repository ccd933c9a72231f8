//! Pages that need a signed-in user. The server redirects signed-out visitors before rendering;
//! in the browser (after a sign-out, say) this component redirects to sign-in and back.

use leptos::prelude::*;
use leptos_router::components::Redirect;
use leptos_router::hooks::use_location;

use crate::app::Session;
use crate::model::user::CurrentUser;

/// Renders `children` with the signed-in user, or redirects to sign-in.
#[component]
pub fn RequireUser<F, IV>(children: F, #[prop(optional)] admin: bool) -> impl IntoView
where
    F: Fn(CurrentUser) -> IV + Send + Sync + 'static,
    IV: IntoView + 'static,
{
    let session = expect_context::<Session>();
    let location = use_location();
    move || match session.user.get() {
        Some(user) if !admin || user.is_admin() => children(user).into_any(),
        Some(_) => view! { <p class="text-sm text-slate-600">"This page is for administrators."</p> }.into_any(),
        None => {
            let next = location.pathname.get_untracked();
            view! { <Redirect path=format!("/auth/sign-in?next={next}") /> }.into_any()
        }
    }
}
