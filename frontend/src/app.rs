//! The app: router, shell, and the contexts provided once (API client, server connection).

use std::time::Duration;

use leptos::{prelude::*, task::spawn_local};
use leptos_router::{
    components::{Route, Router, Routes},
    path,
};

use crate::{
    api::{Api, ApiError, ServerInfo},
    components::{ConnectionBanner, ServerFooter, SiteHeader},
    pages::{AdminPage, AdminRulesPage, NotFoundPage, RolesPage},
};

/// How often the shell checks that the server answers, so an outage shows without a click.
const HEARTBEAT: Duration = Duration::from_secs(5);

#[component]
pub fn App() -> impl IntoView {
    let info = RwSignal::new(None::<ServerInfo>);
    let problem = RwSignal::new(None::<String>);

    match Api::same_origin() {
        Ok(api) => {
            provide_context(api.clone());
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
            <SiteHeader />
            <ConnectionBanner problem=problem />
            <main class="page">
                <Routes fallback=|| view! { <NotFoundPage /> }>
                    <Route path=path!("/") view=RolesPage />
                    <Route path=path!("/roles") view=RolesPage />
                    <Route path=path!("/admin") view=AdminPage />
                    <Route path=path!("/admin/rules") view=AdminRulesPage />
                </Routes>
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
