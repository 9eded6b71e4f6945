//! The admins' app: the shell and the admin pages, served for `/admin` and `/admin/…` only, so
//! requesters never download it.

use jitroles_web::{
    app::{Section, Shell},
    pages::{
        AdminChannelsPage, AdminGrantsPage, AdminPage, AdminRulesPage, AdminsOnly, AuditPage,
        ChannelEditorPage, DirectoryStatusPage, NotFoundPage, NotificationsPage, PersonAccessPage,
        RuleEditorPage, RuleHistoryPage, RulesFilePage, UsagePage,
    },
};
use leptos::prelude::*;
use leptos_router::{
    components::{A, Route, Router, Routes},
    path,
};

#[component]
fn AdminApp() -> impl IntoView {
    view! {
        <Router>
            <Shell section=Section::Admin nav=|| view! { <A href="/admin">"Admin"</A> }>
                <AdminsOnly>
                    <Routes fallback=|| view! { <NotFoundPage /> }>
                        <Route path=path!("/admin") view=AdminPage />
                        <Route path=path!("/admin/rules") view=AdminRulesPage />
                        <Route path=path!("/admin/rules/file") view=RulesFilePage />
                        <Route path=path!("/admin/rules/:id") view=RuleEditorPage />
                        <Route path=path!("/admin/rules/:id/history") view=RuleHistoryPage />
                        <Route path=path!("/admin/channels") view=AdminChannelsPage />
                        <Route path=path!("/admin/channels/:id") view=ChannelEditorPage />
                        <Route path=path!("/admin/notifications") view=NotificationsPage />
                        <Route path=path!("/admin/grants") view=AdminGrantsPage />
                        <Route path=path!("/admin/audit") view=AuditPage />
                        <Route path=path!("/admin/directory") view=DirectoryStatusPage />
                        <Route path=path!("/admin/usage") view=UsagePage />
                        <Route path=path!("/admin/access") view=PersonAccessPage />
                    </Routes>
                </AdminsOnly>
            </Shell>
        </Router>
    }
}

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(AdminApp);
}
