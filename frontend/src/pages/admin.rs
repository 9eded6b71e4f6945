use leptos::prelude::*;
use leptos_router::components::A;

/// Admins' landing page. Rule editing, grants and the audit log arrive with later work.
#[component]
pub fn AdminPage() -> impl IntoView {
    view! {
        <section class="placeholder" aria-labelledby="admin-title">
            <h1 id="admin-title">"Administration"</h1>
            <p>"Administration is not built yet."</p>
            <ul>
                <li>
                    <A href="/admin/rules">"Role rules"</A>
                </li>
            </ul>
        </section>
    }
}

#[component]
pub fn AdminRulesPage() -> impl IntoView {
    view! {
        <section class="placeholder" aria-labelledby="rules-title">
            <h1 id="rules-title">"Role rules"</h1>
            <p>"Defining role rules is not built yet."</p>
        </section>
    }
}
