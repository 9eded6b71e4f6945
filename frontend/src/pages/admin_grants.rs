//! Everyone's grants, live ones first: filtered by person, rule and state (live, ended,
//! failed), newest first, paged; Revoke on an active grant, where the admin says why (required;
//! recorded in the audit log, kept on the grant and shown here and to the person).

use leptos::{html, prelude::*};

use crate::{
    api::{ApiError, Grant, GrantQuery, GrantState},
    components::{Field, FieldKind, RuleFilter, outcome},
    data::{Failure, Loaded, MoreButton, Paged, use_api},
    format,
};

/// The state filter: (value, label, the server's state names; none: every state).
const STATES: [(&str, &str, &[&str]); 5] = [
    ("live", "Live", &["live"]),
    ("past", "Ended or failed", &["ended", "failed"]),
    ("ended", "Ended", &["ended"]),
    ("failed", "Failed", &["failed"]),
    ("any", "Any", &[]),
];

fn states_of(value: &str) -> Vec<&'static str> {
    STATES
        .iter()
        .find(|(v, _, _)| *v == value)
        .map_or_else(|| vec!["live"], |(_, _, states)| states.to_vec())
}

fn group_of(g: &Grant) -> String {
    g.group
        .as_ref()
        .map_or_else(|| "the group".to_owned(), |t| t.name.clone())
}

#[component]
pub fn AdminGrantsPage() -> impl IntoView {
    let api = use_api();
    let (person, rule_id, state) = (
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new("live"),
    );
    // the filters as last submitted: the list follows these, and an answer to filters that
    // were changed meanwhile is dropped (`Paged`)
    let applied = RwSignal::new(GrantQuery::default());
    let grants = {
        let api = api.clone();
        Paged::new(
            move || applied.get(),
            move |query, token| {
                let api = api.clone();
                async move { api.list_grants(query, token).await }
            },
        )
    };
    let rules = {
        let api = api.clone();
        LocalResource::new(move || {
            let api = api.clone();
            async move { api.list_rules(String::new()).await }
        })
    };
    let filter = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let query = GrantQuery {
            person: person.get_untracked().trim().to_owned(),
            rule_id: rule_id.get_untracked(),
            states: states_of(state.get_untracked()),
        };
        grants.apply(applied, query);
    };
    let empty_text = move || {
        if applied.with(|q| *q == GrantQuery::default()) {
            "Nobody holds a role right now."
        } else {
            "No grants match."
        }
    };
    let summary = move || {
        if !grants.first.with(|r| matches!(r, Some(Ok(_)))) {
            return String::new();
        }
        match grants.items().len() {
            // not the words of the empty list below, which says it where everyone sees it
            0 => "No grants shown.".to_owned(),
            1 => "1 grant shown.".to_owned(),
            n => format!("{n} grants shown."),
        }
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
            <h1 id="grants-title">"Grants"</h1>
            <form class="filters" on:submit=filter>
                <Field id="grants-person".into() label="Person (account or SID)" value=person literal=true />
                <RuleFilter id="grants-rule" rules=rules value=rule_id
                    unreadable="The role filter cannot list the rules:" />
                <div class="field">
                    <label for="grants-state">"State"</label>
                    <select id="grants-state" on:change=move |ev| {
                        let wanted = event_target_value(&ev);
                        let value = STATES.iter().find(|(v, _, _)| *v == wanted).map_or("live", |(v, _, _)| *v);
                        state.set(value);
                    }>
                        {STATES.into_iter().map(|(value, text, _)| view! {
                            <option value=value selected=move || state.get() == value>{text}</option>
                        }).collect_view()}
                    </select>
                </div>
                <button type="submit">"Filter"</button>
            </form>
            <p class="visually-hidden" role="status">{summary}</p>
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
                                hint="Recorded in the audit log with the revocation, and shown to them."
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
                empty=move || view! { <p class="empty">{empty_text}</p> }
                view=move |_| view! {
                    // focusable, so a keyboard can scroll a table wider than a phone
                    <div class="table-scroll" tabindex="0" role="region" aria-label="Grants table">
                        <table class="data-table">
                            <caption class="visually-hidden">"Grants"</caption>
                            <thead>
                                <tr>
                                    <th scope="col">"Person"</th>
                                    <th scope="col">"Role"</th>
                                    <th scope="col">"Group"</th>
                                    <th scope="col">"State"</th>
                                    <th scope="col">"Requested"</th>
                                    <th scope="col">"Until / ended"</th>
                                    <th scope="col">"Justification"</th>
                                    <th scope="col">"Reason ended"</th>
                                    <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                                </tr>
                            </thead>
                            <tbody>
                                <For
                                    each=move || grants.items()
                                    key=|g| (g.id.clone(), g.state, g.end_reason, g.expires_at.map(|t| t.seconds))
                                    let:g
                                >
                                    {
                                        let label = format!("Revoke {} for {}", g.rule_name, g.subject_account);
                                        let active = g.state() == GrantState::Active;
                                        let until = if g.ended_at.is_some() { g.ended_at } else { g.expires_at };
                                        let row = g.clone();
                                        view! {
                                            <tr>
                                                <td>{format!("{} ({})", g.subject_display_name, g.subject_account)}</td>
                                                <td>{g.rule_name.clone()}</td>
                                                <td>{g.group.as_ref().map(|t| t.name.clone()).unwrap_or_default()}</td>
                                                <td>{outcome(&g)}</td>
                                                <td>{format::local_time(g.requested_at.as_ref())}</td>
                                                <td>{format::local_time(until.as_ref())}</td>
                                                <td>{g.justification.clone()}</td>
                                                <td>{g.end_note.clone()}</td>
                                                <td>
                                                    {active.then(|| view! {
                                                        <button type="button" class="danger" on:click=move |_| ask(row.clone())>{label}</button>
                                                    })}
                                                </td>
                                            </tr>
                                        }
                                    }
                                </For>
                            </tbody>
                        </table>
                    </div>
                }
            />
            <MoreButton paged=grants label="More grants" />
        </section>
    }
}
