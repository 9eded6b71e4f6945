//! The app: router, shell, and the contexts provided once (API client, the signed-in person,
//! server connection). Nobody sees a page before the server has said who they are; anyone not
//! signed in is sent to sign in and comes back to the page they asked for.

use std::time::Duration;

use leptos::{prelude::*, task::spawn_local};
use leptos_router::{
    components::{Route, Router, Routes},
    path,
};

use crate::{
    api::{self, Api, ApiError, Me, ServerInfo},
    components::{ConnectionBanner, ServerFooter, SiteHeader},
    pages::{
        AdminChannelsPage, AdminGrantsPage, AdminPage, AdminRulesPage, AuditPage,
        ChannelEditorPage, DirectoryStatusPage, NotFoundPage, NotificationsPage, RolesPage,
        RuleEditorPage,
    },
};

/// How often the shell checks that the server answers, so an outage shows without a click.
const HEARTBEAT: Duration = Duration::from_secs(5);

#[component]
pub fn App() -> impl IntoView {
    let info = RwSignal::new(None::<ServerInfo>);
    let problem = RwSignal::new(None::<String>);
    let me = RwSignal::new(None::<Me>);
    provide_context(me.read_only());

    match Api::same_origin() {
        Ok(api) => {
            provide_context(api.clone());
            let who = api.clone();
            spawn_local(async move {
                match who.who_am_i().await {
                    Ok(answer) => me.set(Some(answer)),
                    Err(ApiError::Unauthenticated) => api::sign_in(),
                    Err(ApiError::Forbidden(why)) => {
                        problem.set(Some(format!("You cannot use jitroles: {why}")));
                    }
                    Err(e) => problem.set(Some(describe(&e))),
                }
            });
            let check = move || {
                let api = api.clone();
                spawn_local(async move {
                    match api.server_info().await {
                        Ok(answer) => {
                            info.set(Some(answer));
                            problem.set(None);
                        }
                        Err(e) => problem.set(Some(describe(&e))),
                    }
                });
            };
            check();
            if let Err(e) = set_interval_with_handle(check, HEARTBEAT) {
                problem.set(Some(format!("cannot schedule server checks: {e:?}")));
            }
        }
        Err(e) => problem.set(Some(describe(&e))),
    }

    view! {
        <Router>
            <SiteHeader me=me />
            <ConnectionBanner problem=problem />
            <main class="page">
                <Show
                    when=move || me.with(Option::is_some)
                    fallback=|| view! { <p class="page__waiting">"Checking who you are…"</p> }
                >
                    <Routes fallback=|| view! { <NotFoundPage /> }>
                        <Route path=path!("/") view=RolesPage />
                        <Route path=path!("/roles") view=RolesPage />
                        <Route path=path!("/admin") view=AdminPage />
                        <Route path=path!("/admin/rules") view=AdminRulesPage />
                        <Route path=path!("/admin/rules/:id") view=RuleEditorPage />
                        <Route path=path!("/admin/channels") view=AdminChannelsPage />
                        <Route path=path!("/admin/channels/:id") view=ChannelEditorPage />
                        <Route path=path!("/admin/notifications") view=NotificationsPage />
                        <Route path=path!("/admin/grants") view=AdminGrantsPage />
                        <Route path=path!("/admin/audit") view=AuditPage />
                        <Route path=path!("/admin/directory") view=DirectoryStatusPage />
                    </Routes>
                </Show>
            </main>
            <ServerFooter info=info />
        </Router>
    }
}

fn describe(error: &ApiError) -> String {
    match error {
        ApiError::Unavailable(_) => {
            "Cannot reach the jitroles server. Retrying every few seconds…".into()
        }
        other => other.to_string(),
    }
}
