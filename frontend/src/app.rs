//! The shell both apps share: router, header, connection banner, footer, and the contexts
//! provided once (API client, the signed-in person). Nobody sees a page before the server has
//! said who they are. This is also the one place that turns an ended session into the sign-in
//! redirect: the API client it provides calls [`sign_in`] on any `Unauthenticated` answer, so
//! pages only ever show errors.

use std::{
    sync::atomic::{AtomicBool, Ordering},
    time::Duration,
};

use leptos::{prelude::*, task::spawn_local};

use crate::{
    api::{Api, ApiError, Me, ServerInfo},
    components::{ConnectionBanner, ServerFooter, SiteHeader},
};

/// How often the shell checks that the server answers, so an outage shows without a click.
const HEARTBEAT: Duration = Duration::from_secs(5);
/// Heartbeats between two reads of the approvals count (every 30 s).
const COUNT_EVERY: u32 = 6;

/// How many pending requests the signed-in person may decide and has not: `None` while they
/// have nothing to decide or review (then the navigation has no Approvals link). The shell
/// reads it at start and every 30 s; the Approvals page sets it with every load.
#[derive(Clone, Copy)]
pub struct ApprovalCount(pub RwSignal<Option<u32>>);

impl ApprovalCount {
    /// The count from an answer of ListApprovals: `None` when it listed nothing at all.
    pub fn show(self, listed: bool, pending: u32) {
        self.0.set((listed || pending > 0).then_some(pending));
    }
}

/// Which of the two apps this is. Links into the other one are full page loads (the server
/// serves the other app's `index.html` and wasm).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Section {
    /// The shell and the Roles page: what every requester downloads.
    Roles,
    /// The admin pages, under `/admin`.
    Admin,
    /// The Approvals page, under `/approvals/`.
    Approvals,
}

/// The shell around `children` (the app's pages), shown once the server said who this is.
/// `nav` is the app's own navigation links. No router here: the requesters' app has two
/// paths and does without one (a router is most of a small app's size); the admin app wraps
/// the shell in its `<Router>`.
#[component]
pub fn Shell(section: Section, #[prop(into)] nav: ViewFn, children: ChildrenFn) -> impl IntoView {
    let info = RwSignal::new(None::<ServerInfo>);
    let problem = RwSignal::new(None::<String>);
    let me = RwSignal::new(None::<Me>);
    provide_context(me.read_only());
    let count = ApprovalCount(RwSignal::new(None));
    provide_context(count);

    match Api::same_origin(sign_in) {
        Ok(api) => {
            provide_context(api.clone());
            let who = api.clone();
            spawn_local(async move {
                match who.who_am_i().await {
                    Ok(answer) => me.set(Some(answer)),
                    // the client has already sent the browser to sign in
                    Err(ApiError::Unauthenticated) => {}
                    Err(ApiError::Forbidden(why)) => {
                        problem.set(Some(format!("You cannot use jitroles: {why}")));
                    }
                    Err(e) => problem.set(Some(describe(&e))),
                }
            });
            let beats = StoredValue::new(0_u32);
            let check = move || {
                let api = api.clone();
                let beat = beats.get_value();
                beats.set_value(beat.wrapping_add(1));
                spawn_local(async move {
                    match api.server_info().await {
                        Ok(answer) => {
                            info.set(Some(answer));
                            problem.set(None);
                        }
                        Err(e) => problem.set(Some(describe(&e))),
                    }
                    // a failed read leaves the count as it was
                    if beat.is_multiple_of(COUNT_EVERY)
                        && let Ok(a) = api.list_approvals(1, String::new()).await
                    {
                        count.show(!a.page.items.is_empty(), a.pending);
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
        <SiteHeader me=me section=section nav=nav approvals=count.0 />
        <ConnectionBanner problem=problem />
        <main class="page">
            <Show
                when=move || me.with(Option::is_some)
                fallback=|| view! { <p class="page__waiting">"Checking who you are…"</p> }
            >
                {children()}
            </Show>
        </main>
        <ServerFooter info=info />
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

/// Sends the browser to sign in, coming back to the page it is on. Given to the API client,
/// which calls it on every `Unauthenticated` answer; only the first call navigates.
fn sign_in() {
    static LEAVING: AtomicBool = AtomicBool::new(false);
    if LEAVING.swap(true, Ordering::SeqCst) {
        return;
    }
    let location = window().location();
    let here = format!(
        "{}{}",
        location.pathname().unwrap_or_default(),
        location.search().unwrap_or_default()
    );
    let _ = location.assign(&format!("/auth/login?return_to={}", encode(&here)));
}

/// Percent-encodes a query value (RFC 3986 unreserved characters and `/` pass).
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
