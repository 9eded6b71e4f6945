use leptos::prelude::*;
use leptos_router::components::A;

/// The app's header: name and main navigation. The current page's link gets `aria-current`.
#[component]
pub fn SiteHeader() -> impl IntoView {
    view! {
        <header class="site-header">
            <a class="site-header__brand" href="/">"jitroles"</a>
            <nav class="site-header__nav" aria-label="Main">
                <A href="/roles">"Roles"</A>
                <A href="/admin">"Admin"</A>
            </nav>
        </header>
    }
}
