use leptos::prelude::*;
use leptos_router::components::A;

use crate::{api::Me, app::Section};

/// The app's header: name, main navigation, and who is signed in with a sign-out button.
/// Admin navigation shows only for admins (the server enforces it regardless). The current
/// section's link is a router link (with `aria-current`); the other section's is a full page
/// load (`rel="external"`), since it is the other app.
#[component]
pub fn SiteHeader(#[prop(into)] me: Signal<Option<Me>>, section: Section) -> impl IntoView {
    let is_admin = move || me.with(|m| m.as_ref().is_some_and(|m| m.is_admin));
    let roles = match section {
        Section::Roles => view! { <A href="/roles">"Roles"</A> }.into_any(),
        Section::Admin => view! { <a href="/roles" rel="external">"Roles"</a> }.into_any(),
    };
    let admin = move || match section {
        Section::Admin => view! { <A href="/admin">"Admin"</A> }.into_any(),
        Section::Roles => view! { <a href="/admin" rel="external">"Admin"</a> }.into_any(),
    };
    view! {
        <header class="site-header">
            <a class="site-header__brand" href="/" rel="external">"jitroles"</a>
            <nav class="site-header__nav" aria-label="Main">
                {roles}
                <Show when=is_admin>{admin}</Show>
            </nav>
            {move || {
                me.get()
                    .map(|m| {
                        view! {
                            <div class="site-header__user">
                                <span class="site-header__name" title=m.account_name.clone()>
                                    {m.display_name.clone()}
                                </span>
                                // a form POST: sign-out changes state, so never a GET link
                                <form class="site-header__sign-out" method="post" action="/auth/logout">
                                    <button type="submit">"Sign out"</button>
                                </form>
                            </div>
                        }
                    })
            }}
        </header>
    }
}
