//! The approvers' app: the shell and the Approvals page, in `dist/approvals/` (served as the
//! directory `/approvals/`). Approvers need not be admins, and requesters should not download
//! what only approvers use: the requesters' wasm has no room for it (`frontend/budget`).

use jitroles_web::{
    app::{Section, Shell},
    pages::ApprovalsPage,
};
use leptos::prelude::*;

#[component]
fn ApprovalsApp() -> impl IntoView {
    view! {
        <Shell section=Section::Approvals nav=|| ()>
            <ApprovalsPage />
        </Shell>
    }
}

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(ApprovalsApp);
}
