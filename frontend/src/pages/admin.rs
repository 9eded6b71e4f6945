use leptos::prelude::*;
use leptos_router::components::A;

use crate::api::Me;

/// Admins' landing page.
#[component]
pub fn AdminPage() -> impl IntoView {
    view! {
            <section class="admin-home" aria-labelledby="admin-title">
                <h1 id="admin-title">"Administration"</h1>
                <ul class="admin-home__links">
                    <li><A href="/admin/rules">"Role rules"</A>" — who may request which group, for how long"</li>
                    <li><A href="/admin/channels">"Notification channels"</A>" — email and webhooks for grant events"</li>
                    <li><A href="/admin/notifications">"Deliveries"</A>" — notifications sent, pending and failed"</li>
                    <li><A href="/admin/grants">"Grants"</A>" — everyone's access, now and past; revoke"</li>
                    <li><A href="/admin/audit">"Audit log"</A>" — every request, grant, extension and end"</li>
                    <li><A href="/admin/usage">"Usage report"</A>" — per role: requests, grants, hours held; who is eligible but never asks"</li>
                    <li><A href="/admin/directory">"Directory status"</A>" — mechanism, PAM, write permissions"</li>
                    <li><A href="/admin/access">"Effective access"</A>" — what a person may request, and why"</li>
                </ul>
            </section>
    }
}

/// Shows `children` (the admin app's routes) to admins; tells anyone else why there is nothing
/// here. Only a courtesy:
/// the server refuses admin calls from non-admins whatever the app shows.
#[component]
pub fn AdminsOnly(children: ChildrenFn) -> impl IntoView {
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
