use leptos::prelude::*;

use crate::{api::Me, app::Section};

/// The app's header: name, main navigation, and who is signed in with a sign-out button.
/// `nav` holds the links the app makes itself (the admin app's are router links); the link to
/// the other app is an ordinary page load. Admin navigation shows only for admins (the server
/// enforces it regardless). The Approvals link, with the count of requests waiting for this
/// person, shows once they have something to decide or review.
#[component]
pub fn SiteHeader(
    #[prop(into)] me: Signal<Option<Me>>,
    section: Section,
    nav: ViewFn,
    /// Pending requests this person may decide; `None`: no Approvals link.
    #[prop(into)]
    approvals: Signal<Option<u32>>,
) -> impl IntoView {
    let is_admin = move || me.with(|m| m.as_ref().is_some_and(|m| m.is_admin));
    let here = section == Section::Approvals;
    view! {
        <header class="site-header">
            <a class="site-header__brand" href="/" rel="external">"jitroles"</a>
            <nav class="site-header__nav" aria-label="Main">
                {(section != Section::Roles).then(|| view! { <a href="/roles" rel="external">"Roles"</a> })}
                {nav.run()}
                // the approvers' own app: approvers need not be admins
                {move || approvals.get().map(|n| view! {
                    <a href="/approvals/" rel="external" aria-current=here.then_some("page")>
                        "Approvals"
                        <span class="site-header__count" data-testid="approvals-count">{n.to_string()}</span>
                        <span class="visually-hidden">" waiting for you"</span>
                    </a>
                })}
                <Show when=move || is_admin() && section != Section::Admin>
                    <a href="/admin" rel="external">"Admin"</a>
                </Show>
            </nav>
            {move || {
                me.get()
                    .map(|m| {
                        view! {
                            <div class="site-header__user">
                                <span class="site-header__name" title=m.account_name.clone()>
                                    {m.display_name.clone()}
                                </span>
                                // a form POST: sign-out changes state, so never a GET link
                                <form class="site-header__sign-out" method="post" action="/auth/logout">
                                    <button type="submit">"Sign out"</button>
                                </form>
                            </div>
                        }
                    })
            }}
        </header>
    }
}
