use leptos::prelude::*;

use super::{
    approval_card::{Decisions, approvals},
    duration_input::{DurationInput, seconds, split},
};
use crate::{
    api::{EndReason, Grant, GrantState, Mechanism},
    format,
};

/// How long access through Kerberos tickets may outlast `g`, in one sentence, under jitroles'
/// scheduler only: with TTL links AD caps a ticket's lifetime at the link's TTL, so tickets end
/// with the grant, whose end the row already shows.
fn kerberos_note(g: &Grant) -> Option<(String, String)> {
    if g.mechanism() != Mechanism::Scheduled {
        return None;
    }
    let (until, end) = (g.tickets_may_last_until.as_ref()?, g.expires_at.as_ref()?);
    let lifetime = format::duration(until.seconds - end.seconds);
    Some((format::local_time(Some(until)), lifetime))
}

/// A live grant: role, expiry in the person's time zone, a live countdown, Extend (when the
/// rule allows it) by a duration the person chooses (the rule's default at first, at most its
/// maximum; the server also keeps it within the rule's total-lifetime cap), Release, and how
/// long Kerberos tickets may carry the group after it ends.
#[component]
pub fn LiveGrant(
    grant: Grant,
    #[prop(into)] now: Signal<f64>,
    /// The rule's (default, maximum) duration when it allows extension; `None`: no Extend.
    #[prop(into)]
    extension: Signal<Option<(i64, i64)>>,
    #[prop(into)] problem: Signal<Option<String>>,
    /// (grant id, seconds from now)
    on_extend: Callback<(String, i64)>,
    on_release: Callback<String>,
) -> impl IntoView {
    let until = format::epoch_ms(grant.expires_at.as_ref());
    let (id_extend, id_release) = (grant.id.clone(), grant.id.clone());
    let title = grant.rule_name.clone();
    let release_label = format!("Release {}", grant.rule_name);
    let rule = grant.rule_name.clone();
    let kerberos = kerberos_note(&grant).map(|(until, lifetime)| {
        view! {
            <p class="live-grant__kerberos">
                {format!(
                    "Access through Kerberos tickets issued before the end may last until {until} \
                     (tickets live up to {lifetime}): sign out and back in, or run "
                )}
                <code>"klist purge"</code>
                ", to drop it sooner."
            </p>
        }
    });
    // a request that waited counts from when access started, not from the request
    let started = grant
        .activated_at
        .as_ref()
        .map(|t| format!(" · started {}", format::local_time(Some(t))));
    let glass = grant.break_glass.as_ref().map(|b| {
        let review = if b.acknowledged_by.is_empty() {
            "the approvers were told and will review it".to_owned()
        } else {
            format!("reviewed by {}: {}", b.acknowledged_by, b.acknowledgement)
        };
        view! { <p class="live-grant__kerberos">{format!("Break-glass access: {review}.")}</p> }
    });
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
                    {started}
                    {format!(" · until {}", format::local_time(grant.expires_at.as_ref()))}
                </span>
            </div>
            <div class="live-grant__actions">
                {move || extension.get().map(|(default_secs, max_secs)| view! {
                    <ExtendForm grant_id=id_extend.clone() rule=rule.clone() default_secs max_secs on_extend />
                })}
                <button type="button" class="live-grant__release" on:click=move |_| on_release.run(id_release.clone())>
                    {release_label}
                </button>
            </div>
            {kerberos}
            {glass}
            {move || problem.get().map(|p| view! { <p class="field-error" role="alert">{p}</p> })}
        </li>
    }
}

/// Extend by a duration: the rule's default at first, at most its maximum.
#[component]
fn ExtendForm(
    grant_id: String,
    rule: String,
    default_secs: i64,
    max_secs: i64,
    on_extend: Callback<(String, i64)>,
) -> impl IntoView {
    let extend_label = format!("Extend {rule}");
    let field_id = format!("extend-{grant_id}");
    let (amount0, unit0) = split(default_secs);
    let amount = RwSignal::new(amount0.to_string());
    let unit = RwSignal::new(unit0);
    let local_problem = RwSignal::new(None::<String>);
    let extend = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        match seconds(&amount.get_untracked(), unit.get_untracked()) {
            Ok(secs) if secs > max_secs => local_problem.set(Some(format!(
                "At most {} from now.",
                format::duration(max_secs)
            ))),
            Ok(secs) => {
                local_problem.set(None);
                on_extend.run((grant_id.clone(), secs));
            }
            Err(m) => local_problem.set(Some(m)),
        }
    };
    view! {
        <form class="live-grant__extend" on:submit=extend>
            <DurationInput
                id=field_id
                label=format!("{extend_label} by")
                amount=amount
                unit=unit
                hint=format!("From now; at most {}.", format::duration(max_secs))
                problem=local_problem
            />
            <button type="submit">{extend_label.clone()}</button>
        </form>
    }
}

/// What keeps a grant's row on a reload: a change in any of these rebuilds it.
type RowKey = (String, i32, i32, usize, Option<i64>);

fn row_key(g: &Grant) -> RowKey {
    (
        g.id.clone(),
        g.state,
        g.end_reason,
        g.decisions.len(),
        g.expires_at.map(|t| t.seconds),
    )
}

/// Grants as keyed rows, `row` making each. Every list of grants goes through this one
/// `<For>`: each distinct `<For>` costs ~7 KB of wasm (docs/benchmarks.md, "Web app split").
#[component]
pub fn GrantRows(
    #[prop(into)] grants: Signal<Vec<Grant>>,
    row: Callback<Grant, AnyView>,
) -> impl IntoView {
    view! { <For each=move || grants.get() key=row_key children=move |g| row.run(g) /> }
}

/// A request that waits, for approvals (how many of how many, the decisions so far where
/// known, when it lapses) or for its start time, with Cancel.
#[component]
pub fn WaitingRequest(
    grant: Grant,
    #[prop(into)] problem: Signal<Option<String>>,
    on_cancel: Callback<String>,
) -> impl IntoView {
    let pending = grant.state() == GrantState::Pending;
    let state = if pending {
        format!("Waiting for approval: {}", approvals(&grant))
    } else {
        "Approved; waiting for its start".to_owned()
    };
    let mut when = Vec::new();
    if let Some(d) = grant.duration {
        when.push(format!("for {}", format::duration(d.seconds)));
    }
    if let Some(t) = grant.starts_at.as_ref() {
        when.push(format!("starts {}", format::local_time(Some(t))));
    }
    if let Some(t) = grant.lapses_at.as_ref().filter(|_| pending) {
        when.push(format!(
            "lapses {} if undecided",
            format::local_time(Some(t))
        ));
    }
    let id = grant.id.clone();
    let cancel = format!("Cancel request for {}", grant.rule_name);
    view! {
        <li class="live-grant waiting-request">
            <div class="live-grant__what">
                <strong>{grant.rule_name.clone()}</strong>
                <span class="live-grant__group">
                    {format!(" · {}", grant.group.as_ref().map(|g| g.name.clone()).unwrap_or_default())}
                </span>
            </div>
            <div class="waiting-request__state" role="status">{state}</div>
            <div class="live-grant__expiry">{when.join(" · ")}</div>
            <div class="live-grant__actions">
                <button type="button" class="live-grant__release" on:click=move |_| on_cancel.run(id.clone())>
                    {cancel}
                </button>
            </div>
            <Decisions grant=grant />
            {move || problem.get().map(|p| view! { <p class="field-error" role="alert">{p}</p> })}
        </li>
    }
}

/// How a grant stands, or how it ended: "active", "expired", "revoked", "failed: …".
pub fn outcome(g: &Grant) -> String {
    match g.state() {
        GrantState::Ended => match g.end_reason() {
            EndReason::Expired => "expired".into(),
            EndReason::Released => "released".into(),
            EndReason::Revoked => "revoked".into(),
            EndReason::Directory => "removed in the directory".into(),
            EndReason::Unspecified => "ended".into(),
        },
        GrantState::Failed => format!("failed: {}", g.last_error),
        GrantState::Ending => "ending".into(),
        GrantState::Activating => "starting".into(),
        GrantState::Active => "active".into(),
        GrantState::Pending => "waiting for approval".into(),
        GrantState::Scheduled => "scheduled".into(),
        // the reason (end_note) shows next to it
        GrantState::Rejected => "rejected".into(),
        GrantState::Cancelled => "cancelled".into(),
        GrantState::Lapsed => "lapsed".into(),
        GrantState::Unspecified => "unknown".into(),
    }
}

/// Past grants, newest first, with the reason an admin gave for a revocation; rows keyed by
/// grant, so a reload keeps the rows it already shows.
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
                    <GrantRows grants=grants row=Callback::new(|g: Grant| view! {
                        <tr>
                            <td>{g.rule_name.clone()}</td>
                            <td>{format::local_time(g.requested_at.as_ref())}</td>
                            <td>{format::local_time(g.ended_at.as_ref())}</td>
                            <td>
                                {outcome(&g)}
                                {(!g.end_note.is_empty()).then(|| view! {
                                    <span class="grant-history__note">{format!("Reason: {}", g.end_note)}</span>
                                })}
                            </td>
                        </tr>
                    }.into_any()) />
                </tbody>
            </table>
        </Show>
    }
}
