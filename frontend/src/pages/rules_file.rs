//! Rules as code in the browser: every rule exported as a YAML file to download, and a file
//! pasted in, planned (what applying it would create, change and delete, with the notes and
//! refusals) and applied in one transaction. The same file `jitroles rules` reads.

use leptos::{prelude::*, task::spawn_local};
use leptos_router::components::A;

use crate::{
    api::{ApiError, RulesPlan},
    components::{Field, FieldKind},
    data::{Failure, use_api},
};

/// The file name a download gets.
const FILE_NAME: &str = "jitroles-rules.yaml";

#[component]
pub fn RulesFilePage() -> impl IntoView {
    let api = use_api();
    let exported = RwSignal::new(None::<String>);
    let yaml = RwSignal::new(String::new());
    let prune = RwSignal::new(false);
    // the plan shown, and whether it was applied
    let outcome = RwSignal::new(None::<(RulesPlan, bool)>);
    let problem = RwSignal::new(None::<ApiError>);
    let busy = RwSignal::new(false);

    let export = {
        let api = api.clone();
        move |_| {
            let api = api.clone();
            spawn_local(async move {
                problem.set(None);
                match api.export_rules().await {
                    Ok(text) => exported.set(Some(text)),
                    Err(e) => problem.set(Some(e)),
                }
            });
        }
    };
    let run = move |apply: bool| {
        let api = api.clone();
        spawn_local(async move {
            busy.set(true);
            problem.set(None);
            match api
                .rules_file(yaml.get_untracked(), prune.get_untracked(), apply)
                .await
            {
                Ok(plan) => outcome.set(Some((plan, apply))),
                Err(e) => {
                    outcome.set(None);
                    problem.set(Some(e));
                }
            }
            busy.set(false);
        });
    };
    let run = StoredValue::new(run);
    // a new text or pruning choice needs a new plan before it is applied
    Effect::new(move |_| {
        yaml.track();
        prune.track();
        outcome.set(None);
    });
    let can_apply = move || {
        outcome.with(|o| {
            o.as_ref().is_some_and(|(p, applied)| {
                !applied && p.refusals.is_empty() && !p.steps.is_empty()
            })
        })
    };
    let download = move || {
        exported.get().map(|text| {
            let href = format!(
                "data:application/yaml;charset=utf-8,{}",
                String::from(js_sys::encode_uri_component(&text))
            );
            view! {
                <p><a href=href download=FILE_NAME>{format!("Download {FILE_NAME}")}</a></p>
                <pre class="rules-file__text" data-testid="exported-rules">{text}</pre>
            }
        })
    };
    let shown = move || {
        outcome.get().map(|(plan, applied)| {
            let heading = if applied { "Applied" } else { "Plan" };
            view! {
                <section class="rules-file__plan" aria-labelledby="plan-title">
                    <h2 id="plan-title">{heading}</h2>
                    <p role="status" data-testid="plan-summary">{plan.summary.clone()}</p>
                    {(plan.steps.is_empty()).then(|| view! { <p class="empty">"Nothing to change."</p> })}
                    <ul class="rules-file__steps">
                        {plan.steps.iter().map(|s| view! { <li><code>{s.text.clone()}</code></li> }).collect_view()}
                    </ul>
                    {(!plan.notes.is_empty()).then(|| view! {
                        <h3>"Notes"</h3>
                        <ul class="rules-file__notes">
                            {plan.notes.iter().map(|n| view! { <li>{n.clone()}</li> }).collect_view()}
                        </ul>
                    })}
                    {(!plan.refusals.is_empty()).then(|| view! {
                        <h3>"Refused: nothing will be applied"</h3>
                        <ul class="rules-file__refusals field-error">
                            {plan.refusals.iter().map(|r| view! { <li>{r.clone()}</li> }).collect_view()}
                        </ul>
                    })}
                </section>
            }
        })
    };
    view! {
        <section aria-labelledby="rules-file-title">
            <h1 id="rules-file-title">"Rules as code"</h1>
            <p><A href="/admin/rules">"Back to the rules"</A></p>
            <h2>"Export"</h2>
            <p class="hint">"Every rule as YAML: groups and people by name and SID, channels by name. Keep it in version control; `jitroles rules plan` and `apply` read the same file."</p>
            <button type="button" on:click=export>"Export rules"</button>
            {download}
            <h2>"Import"</h2>
            <Field id="rules-yaml".into() label="Rules file (YAML)" value=yaml kind=FieldKind::Textarea(16)
                hint="Paste a rules file, then plan it: nothing is written until you apply the plan." />
            <label class="checkbox">
                <input type="checkbox" prop:checked=move || prune.get() on:change=move |ev| prune.set(event_target_checked(&ev)) />
                " Delete rules the file does not hold"
            </label>
            <div class="toolbar">
                <button type="button" class="secondary" disabled=move || busy.get()
                    on:click=move |_| run.with_value(|r| r(false))>"Plan"</button>
                <button type="button" disabled=move || busy.get() || !can_apply()
                    on:click=move |_| run.with_value(|r| r(true))>"Apply the plan"</button>
            </div>
            {move || problem.get().map(|e| view! { <Failure error=e /> })}
            {shown}
        </section>
    }
}
