use leptos::prelude::*;

use crate::{api::Me, app::Section};

/// The app's header: name, main navigation, and who is signed in with a sign-out button.
/// `nav` holds the links the app makes itself (the admin app's are router links); the link to
/// the other app is an ordinary page load. Admin navigation shows only for admins (the server
/// enforces it regardless).
#[component]
pub fn SiteHeader(
    #[prop(into)] me: Signal<Option<Me>>,
    section: Section,
    nav: ViewFn,
) -> impl IntoView {
    let is_admin = move || me.with(|m| m.as_ref().is_some_and(|m| m.is_admin));
    view! {
        <header class="site-header">
            <a class="site-header__brand" href="/" rel="external">"jitroles"</a>
            <nav class="site-header__nav" aria-label="Main">
                {(section == Section::Admin).then(|| view! { <a href="/roles" rel="external">"Roles"</a> })}
                {nav.run()}
                <Show when=move || is_admin() && section == Section::Roles>
                    <a href="/admin" rel="external">"Admin"</a>
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
