//! Everyone's live grants, with Revoke: the admin says why (required; recorded in the audit
//! log and shown here once done).

use leptos::{html, prelude::*};

use crate::{
    api::{ApiError, Grant},
    components::{Field, FieldKind},
    data::{Failure, Loaded, MoreButton, Paged, use_api},
    format,
};

fn group_of(g: &Grant) -> String {
    g.group
        .as_ref()
        .map_or_else(|| "the group".to_owned(), |t| t.name.clone())
}

#[component]
pub fn AdminGrantsPage() -> impl IntoView {
    let api = use_api();
    let grants = {
        let api = api.clone();
        Paged::new(
            || (),
            move |(), token| {
                let api = api.clone();
                async move { api.list_grants(token).await }
            },
        )
    };
    // the grant being revoked, and why
    let revoking = RwSignal::new(None::<Grant>);
    let reason = RwSignal::new(String::new());
    let reason_problem = RwSignal::new(None::<String>);
    let done = RwSignal::new(None::<String>);
    let failure = RwSignal::new(None::<ApiError>);
    let revoke = Action::new_local(move |(grant, why): &(Grant, String)| {
        let (api, grant, why) = (api.clone(), grant.clone(), why.clone());
        async move {
            let answer = api.revoke_grant(grant.id.clone(), why.clone()).await;
            failure.set(answer.as_ref().err().cloned());
            if answer.is_ok() {
                done.set(Some(format!(
                    "Revoked {}'s access to {}. Reason: {why}",
                    grant.subject_display_name, grant.rule_name
                )));
                revoking.set(None);
                reason.set(String::new());
                grants.reload();
            }
        }
    });
    let ask = move |g: Grant| {
        done.set(None);
        reason_problem.set(None);
        failure.set(None);
        revoking.set(Some(g));
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(g) = revoking.get_untracked() else {
            return;
        };
        let why = reason.get_untracked().trim().to_owned();
        if why.is_empty() {
            reason_problem.set(Some("Say why: it goes into the audit log.".into()));
            return;
        }
        reason_problem.set(None);
        revoke.dispatch((g, why));
    };
    let reason_box = NodeRef::<html::Div>::new();
    // move the focus to the reason when the form opens, so keyboard users land there
    Effect::new(move |_| {
        if revoking.with(Option::is_some)
            && let Some(field) = reason_box.get()
            && let Ok(Some(input)) = field.query_selector("textarea")
            && let Ok(input) = wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(input)
        {
            let _ = input.focus();
        }
    });

    view! {
        <section aria-labelledby="grants-title">
            <h1 id="grants-title">"Live grants"</h1>
            {move || done.get().map(|m| view! { <p class="notice" role="status">{m}</p> })}
            {move || revoking.get().map(|g| {
                let title = format!(
                    "Revoke {}'s access to {}",
                    g.subject_display_name, g.rule_name
                );
                let form_label = title.clone();
                view! {
                    <form class="revoke-form" aria-label=form_label on:submit=submit>
                        <h2>{title}</h2>
                        <p>{format!("They are removed from {} at once.", group_of(&g))}</p>
                        <div node_ref=reason_box>
                            <Field id="revoke-reason".into() label="Reason (required)" value=reason
                                kind=FieldKind::Textarea(2) required=true maxlength=1000
                                hint="Recorded in the audit log with the revocation."
                                error=reason_problem />
                        </div>
                        {move || failure.get().map(|e| view! { <Failure error=e /> })}
                        <div class="rule-editor__actions">
                            <button type="submit" class="danger" disabled=move || revoke.pending().get()>
                                {move || if revoke.pending().get() { "Revoking…" } else { "Revoke now" }}
                            </button>
                            <button type="button" class="secondary" on:click=move |_| revoking.set(None)>"Cancel"</button>
                        </div>
                    </form>
                }
            })}
            <Loaded
                data=grants.first
                loading="Loading grants…"
                empty=|| view! { <p class="empty">"Nobody holds a role right now."</p> }
                view=move |_| view! {
                        <table class="data-table">
                            <caption class="visually-hidden">"Live grants"</caption>
                            <thead>
                                <tr>
                                    <th scope="col">"Person"</th>
                                    <th scope="col">"Role"</th>
                                    <th scope="col">"Group"</th>
                                    <th scope="col">"Until"</th>
                                    <th scope="col">"Justification"</th>
                                    <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                                </tr>
                            </thead>
                            <tbody>
                                <For each=move || grants.items() key=|g| (g.id.clone(), g.expires_at.map(|t| t.seconds)) let:g>
                                    {
                                        let label = format!("Revoke {} for {}", g.rule_name, g.subject_account);
                                        let row = g.clone();
                                        view! {
                                            <tr>
                                                <td>{format!("{} ({})", g.subject_display_name, g.subject_account)}</td>
                                                <td>{g.rule_name.clone()}</td>
                                                <td>{g.group.as_ref().map(|t| t.name.clone()).unwrap_or_default()}</td>
                                                <td>{format::local_time(g.expires_at.as_ref())}</td>
                                                <td>{g.justification.clone()}</td>
                                                <td>
                                                    <button type="button" class="danger" on:click=move |_| ask(row.clone())>{label}</button>
                                                </td>
                                            </tr>
                                        }
                                    }
                                </For>
                            </tbody>
                        </table>
                }
            />
            <MoreButton paged=grants label="More grants" />
        </section>
    }
}
