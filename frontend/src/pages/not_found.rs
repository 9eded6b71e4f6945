use leptos::prelude::*;
use leptos_router::{components::A, hooks::use_location};

#[component]
pub fn NotFoundPage() -> impl IntoView {
    let location = use_location();
    view! {
        <section class="not-found" aria-labelledby="not-found-title">
            <h1 id="not-found-title">"Page not found"</h1>
            <p>"There is no page at " <code>{move || location.pathname.get()}</code> "."</p>
            <p>
                <A href="/roles">"Go to your roles"</A>
            </p>
        </section>
    }
}
