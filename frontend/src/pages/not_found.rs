use leptos::prelude::*;
use leptos_router::hooks::use_location;

#[component]
pub fn NotFoundPage() -> impl IntoView {
    let location = use_location();
    view! {
        <section class="not-found" aria-labelledby="not-found-title">
            <h1 id="not-found-title">"Page not found"</h1>
            <p>"There is no page at " <code>{move || location.pathname.get()}</code> "."</p>
            <p>
                // the Roles page may be the other app: a full page load
                <a href="/roles" rel="external">"Go to your roles"</a>
            </p>
        </section>
    }
}
