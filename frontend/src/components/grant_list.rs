use leptos::prelude::*;

use crate::{
    api::{Grant, GrantState},
    format,
};

/// A live grant: role, expiry in the person's time zone, a live countdown, and Extend (when
/// the rule allows it) and Release.
#[component]
pub fn LiveGrant(
    grant: Grant,
    #[prop(into)] now: Signal<f64>,
    can_extend: bool,
    #[prop(into)] problem: Signal<Option<String>>,
    on_extend: Callback<String>,
    on_release: Callback<String>,
) -> impl IntoView {
    let until = format::epoch_ms(grant.expires_at.as_ref());
    let (id_extend, id_release) = (grant.id.clone(), grant.id.clone());
    let title = grant.rule_name.clone();
    let (extend_label, release_label) = (
        format!("Extend {}", grant.rule_name),
        format!("Release {}", grant.rule_name),
    );
    view! {
        <li class="live-grant">
            <div class="live-grant__what">
                <strong>{grant.rule_name.clone()}</strong>
                <span class="live-grant__group">
                    {format!(" · {}", grant.group.as_ref().map(|g| g.name.clone()).unwrap_or_default())}
                </span>
            </div>
            <div class="live-grant__when">
                <span class="live-grant__countdown" role="timer" aria-label=format!("Time left for {title}")>
                    {move || format::countdown(until, now.get())}
                </span>
                <span class="live-grant__expiry">
                    {format!(" · until {}", format::local_time(grant.expires_at.as_ref()))}
                </span>
            </div>
            <div class="live-grant__actions">
                <Show when=move || can_extend>
                    <button type="button" on:click={
                        let id = id_extend.clone();
                        move |_| on_extend.run(id.clone())
                    }>{extend_label.clone()}</button>
                </Show>
                <button type="button" class="live-grant__release" on:click=move |_| on_release.run(id_release.clone())>
                    {release_label}
                </button>
            </div>
            {move || problem.get().map(|p| view! { <p class="field-error" role="alert">{p}</p> })}
        </li>
    }
}

fn state_text(g: &Grant) -> String {
    match g.state() {
        GrantState::Ended => match g.end_reason() {
            jitroles_proto::v1::EndReason::Expired => "expired".into(),
            jitroles_proto::v1::EndReason::Released => "released".into(),
            jitroles_proto::v1::EndReason::Revoked => "revoked".into(),
            jitroles_proto::v1::EndReason::Directory => "removed in the directory".into(),
            jitroles_proto::v1::EndReason::Unspecified => "ended".into(),
        },
        GrantState::Failed => format!("failed: {}", g.last_error),
        GrantState::Ending => "ending".into(),
        GrantState::Activating => "starting".into(),
        GrantState::Active => "active".into(),
        GrantState::Unspecified => "unknown".into(),
    }
}

/// Past grants, newest first.
#[component]
pub fn GrantHistory(#[prop(into)] grants: Signal<Vec<Grant>>) -> impl IntoView {
    view! {
        <Show
            when=move || grants.with(|g| !g.is_empty())
            fallback=|| view! { <p class="empty">"No past grants yet."</p> }
        >
            <table class="grant-history">
                <caption class="visually-hidden">"Past grants"</caption>
                <thead>
                    <tr>
                        <th scope="col">"Role"</th>
                        <th scope="col">"Requested"</th>
                        <th scope="col">"Ended"</th>
                        <th scope="col">"Outcome"</th>
                    </tr>
                </thead>
                <tbody>
                    {move || {
                        grants
                            .get()
                            .into_iter()
                            .map(|g| {
                                view! {
                                    <tr>
                                        <td>{g.rule_name.clone()}</td>
                                        <td>{format::local_time(g.requested_at.as_ref())}</td>
                                        <td>{format::local_time(g.ended_at.as_ref())}</td>
                                        <td>{state_text(&g)}</td>
                                    </tr>
                                }
                            })
                            .collect_view()
                    }}
                </tbody>
            </table>
        </Show>
    }
}
