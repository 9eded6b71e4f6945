use leptos::prelude::*;

/// Any path neither app knows. Reads the address itself: the requesters' app has no router.
#[component]
pub fn NotFoundPage() -> impl IntoView {
    let path = window().location().pathname().unwrap_or_default();
    view! {
        <section class="not-found" aria-labelledby="not-found-title">
            <h1 id="not-found-title">"Page not found"</h1>
            <p>"There is no page at " <code>{path}</code> "."</p>
            <p>
                // the Roles page may be the other app: a full page load
                <a href="/roles" rel="external">"Go to your roles"</a>
            </p>
        </section>
    }
}
