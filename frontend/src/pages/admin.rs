use leptos::prelude::*;
use leptos_router::components::A;

use crate::api::Me;

/// Admins' landing page. Rule editing, grants and the audit log arrive with later work.
#[component]
pub fn AdminPage() -> impl IntoView {
    view! {
        <AdminsOnly>
            <section class="placeholder" aria-labelledby="admin-title">
                <h1 id="admin-title">"Administration"</h1>
                <p>"Administration is not built yet."</p>
                <ul>
                    <li>
                        <A href="/admin/rules">"Role rules"</A>
                    </li>
                </ul>
            </section>
        </AdminsOnly>
    }
}

#[component]
pub fn AdminRulesPage() -> impl IntoView {
    view! {
        <AdminsOnly>
            <section class="placeholder" aria-labelledby="rules-title">
                <h1 id="rules-title">"Role rules"</h1>
                <p>"Defining role rules is not built yet."</p>
            </section>
        </AdminsOnly>
    }
}

/// Shows `children` to admins; tells anyone else why there is nothing here. Only a courtesy:
/// the server refuses admin calls from non-admins whatever the app shows.
#[component]
fn AdminsOnly(children: ChildrenFn) -> impl IntoView {
    let me = use_context::<ReadSignal<Option<Me>>>();
    let is_admin = move || me.is_some_and(|me| me.with(|m| m.as_ref().is_some_and(|m| m.is_admin)));
    view! {
        <Show
            when=is_admin
            fallback=|| {
                view! {
                    <section class="placeholder" aria-labelledby="not-admin-title">
                        <h1 id="not-admin-title">"Administrators only"</h1>
                        <p>
                            "You are not in a jitroles administrators group. Ask your directory administrators if you need to manage roles."
                        </p>
                    </section>
                }
            }
        >
            {children()}
        </Show>
    }
}
