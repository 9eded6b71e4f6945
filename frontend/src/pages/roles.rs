use leptos::prelude::*;

/// Requesters' page. The request flow arrives with the grant engine; until then it says so.
#[component]
pub fn RolesPage() -> impl IntoView {
    view! {
        <section class="placeholder" aria-labelledby="roles-title">
            <h1 id="roles-title">"Roles"</h1>
            <p>"Requesting time-boxed access to a role is not built yet."</p>
        </section>
    }
}
