//! A request as an approver sees it: who asks for what, for how long and when, why, the
//! decisions so far, and the approver's own decision (approve with an optional comment, reject
//! with a reason), or, for access taken through break-glass, the review (a comment, required).

use leptos::prelude::*;

use super::field::{Field, FieldKind};
use crate::{
    api::{ApiError, Decide, Grant, GrantState, Verdict},
    format,
};

/// The decisions on a request, one line each: "frank approved on …: looks fine".
#[component]
pub fn Decisions(grant: Grant) -> impl IntoView {
    (!grant.decisions.is_empty()).then(|| {
        view! {
            <ul class="decisions">
                {grant
                    .decisions
                    .into_iter()
                    .map(|d| {
                        let verb = if d.verdict() == Verdict::Reject { "rejected" } else { "approved" };
                        let comment = (!d.comment.is_empty()).then(|| format!(": {}", d.comment));
                        view! {
                            <li>
                                {format!(
                                    "{} {verb} on {}{}",
                                    d.approver_account,
                                    format::local_time(d.decided_at.as_ref()),
                                    comment.unwrap_or_default(),
                                )}
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        }
    })
}

/// How many approvals a request has of those it needs: "1 of 2 approvals".
pub fn approvals(g: &Grant) -> String {
    let given = g
        .decisions
        .iter()
        .filter(|d| d.verdict() == Verdict::Approve)
        .count();
    let needed = g.required_approvals;
    format!(
        "{given} of {needed} approval{}",
        if needed == 1 { "" } else { "s" }
    )
}

/// One request (pending) or break-glass grant (waiting for a review). `mine`: the signed-in
/// person decided it already (then it only waits for the others). Emits (what, grant id, text).
#[component]
pub fn ApprovalCard(
    grant: Grant,
    mine: bool,
    #[prop(into)] busy: Signal<bool>,
    #[prop(into)] error: Signal<Option<ApiError>>,
    on_decide: Callback<(Decide, String, String)>,
) -> impl IntoView {
    let pending = grant.state() == GrantState::Pending;
    let glass = grant.break_glass.clone();
    let who = format!("{} ({})", grant.subject_display_name, grant.subject_account);
    let title = if pending {
        format!("{who} asks for {}", grant.rule_name)
    } else {
        format!("{who} took {} through break-glass", grant.rule_name)
    };
    let title_id = format!("request-{}", grant.id);
    let labelled_by = title_id.clone();
    let text_id = format!("decision-{}", grant.id);
    let text = RwSignal::new(String::new());
    let local = RwSignal::new(None::<String>);
    let (field, label) = if pending {
        (
            "reason",
            "Comment (optional to approve; a reason is required to reject)",
        )
    } else {
        ("comment", "Review comment (required)")
    };
    let send = {
        let id = grant.id.clone();
        move |how: Decide| {
            let said = text.get_untracked();
            if how != Decide::Approve && said.trim().is_empty() {
                local.set(Some(if how == Decide::Reject {
                    "Say why you reject it: the requester reads the reason.".to_owned()
                } else {
                    "Say what your review found.".to_owned()
                }));
                return;
            }
            local.set(None);
            on_decide.run((how, id.clone(), said));
        }
    };
    let text_problem = Signal::derive(move || {
        local.get().or_else(|| {
            error.with(|e| {
                let e = e.as_ref()?;
                e.about(field).or_else(|| e.about("comment"))
            })
        })
    });
    let other_problem = move || {
        error.with(|e| match e {
            Some(e) if e.about(field).is_none() && e.about("comment").is_none() => {
                Some(e.to_string())
            }
            _ => None,
        })
    };
    // the facts as (term, value) pairs: one view type for every line of the list
    let mut facts = vec![(
        "Group",
        grant
            .group
            .as_ref()
            .map(|g| g.name.clone())
            .unwrap_or_default(),
    )];
    if let Some(d) = grant.duration {
        facts.push(("Duration", format::duration(d.seconds)));
    }
    facts.push(("Requested", format::local_time(grant.requested_at.as_ref())));
    if let Some(t) = grant.starts_at.as_ref() {
        facts.push(("Starts", format::local_time(Some(t))));
    }
    if pending && grant.lapses_at.is_some() {
        facts.push(("Lapses", format::local_time(grant.lapses_at.as_ref())));
    }
    if !pending {
        facts.push(("Until", format::local_time(grant.expires_at.as_ref())));
    }
    facts.push((
        "Justification",
        if grant.justification.is_empty() {
            "none given".to_owned()
        } else {
            grant.justification.clone()
        },
    ));
    if let Some(g) = glass {
        facts.push(("Break-glass reason", g.reason));
    }
    if pending {
        facts.push(("Approvals", approvals(&grant)));
    }
    let actions: &[(Decide, &str, &str)] = if pending {
        &[
            (Decide::Approve, "Approve", ""),
            (Decide::Reject, "Reject", "danger"),
        ]
    } else {
        &[(Decide::Acknowledge, "Acknowledge", "")]
    };
    view! {
        <li>
            <article class="approval-card" aria-labelledby=labelled_by>
                <h2 class="approval-card__title" id=title_id>{title}</h2>
                <dl class="facts">
                    {facts.into_iter().map(|(term, value)| view! { <dt>{term}</dt><dd>{value}</dd> }).collect_view()}
                </dl>
                <Decisions grant=grant />
                {mine.then(|| view! { <p class="approval-card__mine">"You decided; it waits for the other approvers."</p> })}
                {(!mine).then(|| view! {
                    <form class="approval-card__form" on:submit=move |ev| ev.prevent_default()>
                        <Field id=text_id label=label value=text kind=FieldKind::Textarea(2)
                            maxlength=1000 error=text_problem />
                        <div class="approval-card__actions">
                            {actions
                                .iter()
                                .map(|&(how, name, class)| {
                                    let send = send.clone();
                                    view! {
                                        <button type="button" class=class disabled=move || busy.get()
                                            on:click=move |_| send(how)>{name}</button>
                                    }
                                })
                                .collect_view()}
                        </div>
                        {move || other_problem().map(|p| view! { <p class="field-error" role="alert">{p}</p> })}
                    </form>
                })}
            </article>
        </li>
    }
}
