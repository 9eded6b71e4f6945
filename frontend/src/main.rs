//! The requesters' app: the shell and the Roles page. Served for every path but `/admin/…`.
//! It has two paths, so it picks the page from the address once instead of carrying a router.

use jitroles_web::{
    app::{Section, Shell},
    pages::{NotFoundPage, RolesPage},
};
use leptos::prelude::*;

#[component]
fn RolesApp() -> impl IntoView {
    let path = window().location().pathname().unwrap_or_default();
    let roles = matches!(path.as_str(), "/" | "/roles");
    view! {
        <Shell
            section=Section::Roles
            nav=move || view! { <a href="/roles" aria-current=roles.then_some("page")>"Roles"</a> }
        >
            {if roles { view! { <RolesPage /> }.into_any() } else { view! { <NotFoundPage /> }.into_any() }}
        </Shell>
    }
}

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(RolesApp);
}
