//! The requesters' app: the shell and the Roles page. Served for every path but `/admin/…`.

use jitroles_web::{
    app::{Section, Shell},
    pages::{NotFoundPage, RolesPage},
};
use leptos::prelude::*;
use leptos_router::{
    components::{Route, Routes},
    path,
};

#[component]
fn RolesApp() -> impl IntoView {
    view! {
        <Shell section=Section::Roles>
            <Routes fallback=|| view! { <NotFoundPage /> }>
                <Route path=path!("/") view=RolesPage />
                <Route path=path!("/roles") view=RolesPage />
            </Routes>
        </Shell>
    }
}

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(RolesApp);
}
