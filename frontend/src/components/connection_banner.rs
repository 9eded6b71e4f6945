use leptos::prelude::*;

/// A banner that says the server cannot be reached (or another app-wide problem).
#[component]
pub fn ConnectionBanner(#[prop(into)] problem: Signal<Option<String>>) -> impl IntoView {
    move || {
        problem.get().map(|message| {
            view! {
                <div class="connection-banner" role="alert" aria-label="Connection">
                    {message}
                </div>
            }
        })
    }
}
