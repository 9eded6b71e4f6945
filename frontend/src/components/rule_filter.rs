//! The "Role" filter of the admin lists: a select of the rules, and, when the rules cannot be
//! read, the failure with a retry instead of a silently empty select.

use leptos::prelude::*;

use crate::{
    api::{ApiError, Rule},
    data::Failure,
};

#[component]
pub fn RuleFilter(
    id: &'static str,
    rules: LocalResource<Result<Vec<Rule>, ApiError>>,
    /// The chosen rule's id; empty: any.
    value: RwSignal<String>,
    /// What the page loses without the rules, said before the failure.
    unreadable: &'static str,
) -> impl IntoView {
    view! {
        <div class="field">
            <label for=id>"Role"</label>
            <select id=id on:change=move |ev| value.set(event_target_value(&ev))>
                <option value="">"any"</option>
                {move || rules.with(|r| match r {
                    Some(Ok(list)) => list.iter().map(|r| {
                        let name = r.spec.as_ref().map(|s| s.name.clone()).unwrap_or_default();
                        view! { <option value=r.id.clone()>{name}</option> }
                    }).collect_view().into_any(),
                    _ => ().into_any(),
                })}
            </select>
        </div>
        {move || rules.with(|r| match r {
            Some(Err(e)) => Some(view! {
                <p class="field-error">{unreadable}</p>
                <Failure error=e.clone() retry=Callback::new(move |()| rules.refetch()) />
            }),
            _ => None,
        })}
    }
}
