use leptos::prelude::*;

use super::field::{FieldNotes, described_by};

/// Units a duration can be entered in, with their length in seconds.
pub const UNITS: [(&str, i64); 4] = [
    ("seconds", 1),
    ("minutes", 60),
    ("hours", 3600),
    ("days", 86_400),
];

/// `secs` as (amount, unit): the largest unit that expresses it in whole numbers.
pub fn split(secs: i64) -> (i64, i64) {
    UNITS
        .iter()
        .rev()
        .find(|(_, unit)| secs >= *unit && secs % unit == 0)
        .map_or((secs.max(1), 1), |(_, unit)| (secs / unit, *unit))
}

/// The entered duration in seconds, or what is wrong with it.
pub fn seconds(amount: &str, unit: i64) -> Result<i64, String> {
    let n: i64 = amount
        .trim()
        .parse()
        .map_err(|_| "Enter a whole number.".to_owned())?;
    if n <= 0 {
        return Err("The duration must be more than zero.".into());
    }
    Ok(n.saturating_mul(unit))
}

/// A duration as a number and a unit, both labelled, with the hint and error of every field
/// (`FieldNotes`). `id` names the number field (its label is `label`); the unit's label is
/// hidden but read out.
#[component]
pub fn DurationInput(
    id: String,
    #[prop(into)] label: String,
    amount: RwSignal<String>,
    unit: RwSignal<i64>,
    #[prop(optional, into)] hint: Option<String>,
    #[prop(optional, into)] problem: MaybeProp<String>,
) -> impl IntoView {
    let unit_id = format!("{id}-unit");
    let has_hint = hint.is_some();
    let describedby = {
        let id = id.clone();
        move || described_by(&id, has_hint, problem.with(Option::is_some))
    };
    view! {
        <div class="duration-input">
            <label for=id.clone()>{label.clone()}</label>
            <input
                id=id.clone()
                type="number"
                min="1"
                inputmode="numeric"
                prop:value=move || amount.get()
                on:input=move |ev| amount.set(event_target_value(&ev))
                aria-invalid=move || problem.with(Option::is_some).to_string()
                aria-describedby=describedby
            />
            <label class="visually-hidden" for=unit_id.clone()>{format!("{label} unit")}</label>
            <select
                id=unit_id
                on:change=move |ev| unit.set(event_target_value(&ev).parse().unwrap_or(60))
            >
                {UNITS
                    .iter()
                    .map(|(name, secs)| {
                        let secs = *secs;
                        view! {
                            <option value=secs.to_string() selected=move || unit.get() == secs>
                                {*name}
                            </option>
                        }
                    })
                    .collect_view()}
            </select>
        </div>
        <FieldNotes id=id hint=hint error=problem />
    }
}
