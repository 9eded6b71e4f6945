use leptos::prelude::*;

use super::{
    duration_input::{DurationInput, seconds, split},
    field::{Field, FieldKind},
};
use crate::{
    api::{ApiError, Ask, JustificationPolicy, Role},
    format,
};

/// A role the person may request: what it is, and the request form (duration pre-filled with
/// the default and capped at the maximum; justification as the rule asks; how many approvals
/// it needs; a start time where the rule allows scheduling; a separate break-glass form where
/// the rule allows it). Emits the request; shows the server's answer it is given. While
/// requests of the role are frozen it says by whom and why, and Request is disabled.
#[component]
pub fn RoleCard(
    role: Role,
    /// Set when the person holds a live grant of this role or has a request of it waiting:
    /// the note that replaces the form.
    #[prop(into)]
    held: Signal<Option<&'static str>>,
    #[prop(into)] busy: Signal<bool>,
    #[prop(into)] error: Signal<Option<ApiError>>,
    #[prop(into)] confirmation: Signal<Option<String>>,
    on_request: Callback<Ask>,
) -> impl IntoView {
    let default_secs = role.default_duration.map_or(3600, |d| d.seconds);
    let max_secs = role.max_duration.map_or(3600, |d| d.seconds);
    let (amount0, unit0) = split(default_secs);
    let amount = RwSignal::new(amount0.to_string());
    let unit = RwSignal::new(unit0);
    let justification = RwSignal::new(String::new());
    let start = RwSignal::new(String::new());
    let glass_reason = RwSignal::new(String::new());
    let local_problem = RwSignal::new(None::<String>);
    // (field, message) found before sending: start_time, break_glass_reason
    let local_field = RwSignal::new(None::<(&'static str, String)>);
    let lead_secs = role.max_lead.map(|d| d.seconds);
    let needs = role.required_approvals;
    let break_glass = role.break_glass;
    let policy = role.justification();
    let id = role.rule_id.clone();
    let field_id = |name: &str| format!("{name}-{id}");
    let duration_id = field_id("duration");
    let start_id = field_id("start");
    let glass_id = field_id("glass");
    // used inside a nested <Show>, which may render its children many times
    let why_id = StoredValue::new(field_id("why"));
    let title_id = field_id("role");
    let labelled_by = title_id.clone();
    let frozen = role
        .frozen
        .as_ref()
        .map(|f| format!("Requests are frozen by {}: {}", f.frozen_by, f.reason));
    let is_frozen = frozen.is_some();

    // the duration as entered, or what is wrong with it (said next to it)
    let entered = move || {
        let secs = seconds(&amount.get_untracked(), unit.get_untracked())
            .and_then(|secs| {
                if secs > max_secs {
                    Err(format!("At most {}.", format::duration(max_secs)))
                } else {
                    Ok(secs)
                }
            })
            .map_err(|p| local_problem.set(Some(p)))
            .ok()?;
        local_problem.set(None);
        Some(secs)
    };
    let submit = {
        let rule_id = role.rule_id.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            local_field.set(None);
            let Some(secs) = entered() else { return };
            let typed = start.get_untracked();
            let start_ms = format::parse_local(&typed);
            let now = format::now_ms();
            let wrong = match (lead_secs, start_ms) {
                _ if typed.trim().is_empty() => None,
                (_, None) => Some("Not a date and time.".to_owned()),
                (_, Some(ms)) if ms < now => Some("The start must not be in the past.".to_owned()),
                (Some(lead), Some(ms)) if ms > now + lead as f64 * 1000.0 => {
                    Some(format!("At most {} ahead.", format::duration(lead)))
                }
                _ => None,
            };
            if let Some(wrong) = wrong {
                local_field.set(Some(("start_time", wrong)));
                return;
            }
            on_request.run(Ask {
                rule_id: rule_id.clone(),
                secs,
                justification: justification.get_untracked(),
                start_ms,
                break_glass: String::new(),
            });
        }
    };
    let glass_submit = {
        let rule_id = role.rule_id.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            local_field.set(None);
            let Some(secs) = entered() else { return };
            let reason = glass_reason.get_untracked().trim().to_owned();
            if reason.chars().count() < 20 {
                local_field.set(Some((
                    "break_glass_reason",
                    "At least 20 characters: say what is on fire.".to_owned(),
                )));
                return;
            }
            on_request.run(Ask {
                rule_id: rule_id.clone(),
                secs,
                justification: justification.get_untracked(),
                start_ms: None,
                break_glass: reason,
            });
        }
    };
    let duration_problem = move || {
        local_problem
            .get()
            .or_else(|| error.with(|e| e.as_ref().and_then(|e| e.about("duration"))))
    };
    let about = move |field: &'static str| {
        Signal::derive(move || {
            local_field
                .get()
                .filter(|(f, _)| *f == field)
                .map(|(_, m)| m)
                .or_else(|| error.with(|e| e.as_ref().and_then(|e| e.about(field))))
        })
    };
    let why_problem = move || error.with(|e| e.as_ref().and_then(|e| e.about("justification")));
    let other_problem = move || {
        error.with(|e| match e {
            Some(e)
                if [
                    "duration",
                    "justification",
                    "start_time",
                    "break_glass_reason",
                ]
                .iter()
                .all(|f| e.about(f).is_none()) =>
            {
                Some(e.to_string())
            }
            _ => None,
        })
    };

    view! {
        <article class="role-card" aria-labelledby=labelled_by>
            <h3 class="role-card__name" id=title_id>{role.name.clone()}</h3>
            <p class="role-card__description">{role.description.clone()}</p>
            <p class="role-card__limits">
                {format!(
                    "Group {} · default {} · at most {}",
                    role.group_name,
                    format::duration(default_secs),
                    format::duration(max_secs),
                )}
            </p>
            {(needs > 0).then(|| view! {
                <p class="role-card__approvals">
                    {format!("Needs {needs} approval{} before access starts.", if needs == 1 { "" } else { "s" })}
                </p>
            })}
            {frozen.map(|f| view! { <p class="role-card__frozen" role="note">{f}</p> })}
            <Show
                when=move || held.with(Option::is_none)
                fallback=move || view! { <p class="role-card__held">{held.get()}</p> }
            >
                <form class="role-card__form" on:submit=submit.clone()>
                    <DurationInput
                        id=duration_id.clone()
                        label="Duration".to_owned()
                        amount=amount
                        unit=unit
                        problem=Signal::derive(duration_problem)
                    />
                    <Show when=move || policy != JustificationPolicy::Hidden>
                        <Field
                            id=why_id.get_value()
                            label=if policy == JustificationPolicy::Required {
                                "Justification (required)"
                            } else {
                                "Justification (optional)"
                            }
                            value=justification
                            kind=FieldKind::Textarea(2)
                            required=policy == JustificationPolicy::Required
                            maxlength=1000
                            error=Signal::derive(why_problem)
                        />
                    </Show>
                    {lead_secs.map(|lead| view! {
                        <Field
                            id=start_id.clone()
                            label="Start (optional)"
                            value=start
                            kind=FieldKind::DateTimeLocal
                            hint=format!("Empty: as soon as possible. At most {} ahead.", format::duration(lead))
                            error=about("start_time")
                        />
                    })}
                    <button type="submit" disabled=move || is_frozen || busy.get()>
                        {move || if busy.get() { "Requesting…" } else { "Request" }}
                    </button>
                    {move || other_problem().map(|p| view! { <p class="field-error" role="alert">{p}</p> })}
                </form>
                {break_glass.then(|| view! {
                    <form class="role-card__break-glass" on:submit=glass_submit.clone()>
                        <Field
                            id=glass_id.clone()
                            label="Break-glass reason (at least 20 characters)"
                            value=glass_reason
                            kind=FieldKind::Textarea(2)
                            maxlength=1000
                            hint="Access now, without approval, for the duration above. Every approver is told at once and reviews it afterwards."
                            error=about("break_glass_reason")
                        />
                        <button type="submit" class="danger" disabled=move || is_frozen || busy.get()>"Break glass"</button>
                    </form>
                })}
            </Show>
            {move || {
                confirmation
                    .get()
                    .map(|c| view! { <p class="role-card__confirmation" role="status">{c}</p> })
            }}
        </article>
    }
}
