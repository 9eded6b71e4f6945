use leptos::prelude::*;
use leptos_router::components::A;

use crate::api::Me;

/// The app's header: name, main navigation, and who is signed in with a sign-out button.
/// Admin navigation shows only for admins (the server enforces it regardless). The current
/// page's link gets `aria-current`.
#[component]
pub fn SiteHeader(#[prop(into)] me: Signal<Option<Me>>) -> impl IntoView {
    let is_admin = move || me.with(|m| m.as_ref().is_some_and(|m| m.is_admin));
    view! {
        <header class="site-header">
            <a class="site-header__brand" href="/">"jitroles"</a>
            <nav class="site-header__nav" aria-label="Main">
                <A href="/roles">"Roles"</A>
                <Show when=is_admin>
                    <A href="/admin">"Admin"</A>
                </Show>
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
