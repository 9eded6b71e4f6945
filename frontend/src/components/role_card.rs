use leptos::prelude::*;

use super::{
    duration_input::{DurationInput, seconds, split},
    field::{Field, FieldKind},
};
use crate::{
    api::{ApiError, JustificationPolicy, Role},
    format,
};

/// A role the person may request: what it is, and the request form (duration pre-filled with
/// the default and capped at the maximum; justification as the rule asks). Emits
/// `(rule id, seconds, justification)`; shows the server's answer it is given. While requests
/// of the role are frozen it says by whom and why, and Request is disabled.
#[component]
pub fn RoleCard(
    role: Role,
    /// The person holds a live grant of this role (then the form is replaced by a note).
    #[prop(into)]
    held: Signal<bool>,
    #[prop(into)] busy: Signal<bool>,
    #[prop(into)] error: Signal<Option<ApiError>>,
    #[prop(into)] confirmation: Signal<Option<String>>,
    on_request: Callback<(String, i64, String)>,
) -> impl IntoView {
    let default_secs = role.default_duration.map_or(3600, |d| d.seconds);
    let max_secs = role.max_duration.map_or(3600, |d| d.seconds);
    let (amount0, unit0) = split(default_secs);
    let amount = RwSignal::new(amount0.to_string());
    let unit = RwSignal::new(unit0);
    let justification = RwSignal::new(String::new());
    let local_problem = RwSignal::new(None::<String>);
    let policy = role.justification();
    let id = role.rule_id.clone();
    let field_id = |name: &str| format!("{name}-{id}");
    let duration_id = field_id("duration");
    // used inside a nested <Show>, which may render its children many times
    let why_id = StoredValue::new(field_id("why"));
    let title_id = field_id("role");
    let labelled_by = title_id.clone();
    let frozen = role
        .frozen
        .as_ref()
        .map(|f| format!("Requests are frozen by {}: {}", f.frozen_by, f.reason));
    let is_frozen = frozen.is_some();

    let submit = {
        let rule_id = role.rule_id.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            let secs = match seconds(&amount.get(), unit.get()) {
                Ok(secs) => secs,
                Err(problem) => {
                    local_problem.set(Some(problem));
                    return;
                }
            };
            if secs > max_secs {
                local_problem.set(Some(format!("At most {}.", format::duration(max_secs))));
                return;
            }
            local_problem.set(None);
            on_request.run((rule_id.clone(), secs, justification.get()));
        }
    };
    let duration_problem = move || {
        local_problem
            .get()
            .or_else(|| error.with(|e| e.as_ref().and_then(|e| e.about("duration"))))
    };
    let why_problem = move || error.with(|e| e.as_ref().and_then(|e| e.about("justification")));
    let other_problem = move || {
        error.with(|e| match e {
            Some(e) if e.about("duration").is_none() && e.about("justification").is_none() => {
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
            {frozen.map(|f| view! { <p class="role-card__frozen" role="note">{f}</p> })}
            <Show
                when=move || !held.get()
                fallback=|| view! { <p class="role-card__held">"You have this role now (see My access)."</p> }
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
                    <button type="submit" disabled=move || is_frozen || busy.get()>
                        {move || if busy.get() { "Requesting…" } else { "Request" }}
                    </button>
                    {move || other_problem().map(|p| view! { <p class="field-error" role="alert">{p}</p> })}
                </form>
            </Show>
            {move || {
                confirmation
                    .get()
                    .map(|c| view! { <p class="role-card__confirmation" role="status">{c}</p> })
            }}
        </article>
    }
}
