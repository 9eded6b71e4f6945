//! Everyone's grants, live ones first: filtered by person, rule and state (live, ended,
//! failed), newest first, paged; Revoke on an active grant, where the admin says why (required;
//! recorded in the audit log, kept on the grant and shown here and to the person).
//!
//! The emergency controls live here too: revoke every live grant of a person (from a grant's
//! row, or the person filter) or of a rule (the rule filter; the rules list links here with
//! `?rule=<id>`), and freeze or unfreeze requests
//! of a rule or of every rule. Each goes through the same form: what it does, the reason, a
//! button that says it.

use leptos::{html, prelude::*};

use crate::{
    api::{ApiError, Grant, GrantQuery, GrantState, Revoked},
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

/// What the form is about to do.
#[derive(Clone)]
enum Ask {
    One(Box<Grant>),
    /// Every live grant of a person (account or SID) or, `of_rule`, of a rule (id); `name`
    /// for people.
    All {
        who: String,
        name: String,
        of_rule: bool,
    },
    /// Freeze (`true`) or unfreeze requests of a rule (id, name) or of every rule.
    Freeze(Option<(String, String)>, bool),
}

impl Ask {
    fn what(rule: &Option<(String, String)>) -> String {
        rule.as_ref()
            .map_or_else(|| "all roles".to_owned(), |(_, name)| name.clone())
    }

    fn title(&self) -> String {
        match self {
            Self::One(g) => format!(
                "Revoke {}'s access to {}",
                g.subject_display_name, g.rule_name
            ),
            Self::All { name, .. } => format!("Revoke every live grant of {name}"),
            Self::Freeze(rule, true) => format!("Freeze requests for {}", Self::what(rule)),
            Self::Freeze(rule, false) => format!("Unfreeze requests for {}", Self::what(rule)),
        }
    }

    fn note(&self) -> String {
        match self {
            Self::One(g) => format!("They are removed from {} at once.", group_of(g)),
            Self::All { .. } => "Each is removed from its group at once.".to_owned(),
            Self::Freeze(..) => "Nobody can request or extend until it is unfrozen; live grants run on. Requesters see the reason.".to_owned(),
        }
    }

    fn verb(&self) -> &'static str {
        match self {
            Self::Freeze(..) => "Freeze",
            _ => "Revoke now",
        }
    }
}

/// What a bulk revoke did, in words.
fn revoked_text(name: &str, done: &Revoked) -> String {
    let mut text = format!("Revoked {} grant(s) of {name}.", done.revoked.len());
    for failed in &done.failed {
        if let Some(g) = &failed.grant {
            text.push_str(&format!(
                " Not revoked: {} for {}: {}.",
                g.rule_name, g.subject_account, failed.error
            ));
        }
    }
    text
}

#[component]
pub fn AdminGrantsPage() -> impl IntoView {
    let api = use_api();
    // `?rule=<id>` (the rules list links here) starts with that rule's grants
    let from_link = leptos_router::hooks::use_query_map()
        .with_untracked(|q| q.get("rule"))
        .unwrap_or_default();
    let (person, rule_id, state) = (
        RwSignal::new(String::new()),
        RwSignal::new(from_link.clone()),
        RwSignal::new("live"),
    );
    // the filters as last submitted: the list follows these, and an answer to filters that
    // were changed meanwhile is dropped (`Paged`)
    let applied = RwSignal::new(GrantQuery {
        rule_id: from_link,
        ..GrantQuery::default()
    });
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

    // a signal rather than a resource: another resource type costs the wasm more
    let freezes = RwSignal::new(Vec::<crate::api::Freeze>::new());
    let load_freezes = {
        let api = api.clone();
        move || {
            let api = api.clone();
            leptos::task::spawn_local(async move {
                if let Ok(all) = api.list_freezes().await {
                    freezes.set(all);
                }
            });
        }
    };
    load_freezes();
    // what is being done, and why
    let revoking = RwSignal::new(None::<Ask>);
    let reason = RwSignal::new(String::new());
    let reason_problem = RwSignal::new(None::<String>);
    let done = RwSignal::new(None::<String>);
    let failure = RwSignal::new(None::<ApiError>);
    let revoke = Action::new_local(move |(ask, why): &(Ask, String)| {
        let (api, ask, why) = (api.clone(), ask.clone(), why.clone());
        async move {
            let answer = match &ask {
                Ask::One(g) => api.revoke_grant(g.id.clone(), why.clone()).await.map(|_| {
                    format!(
                        "Revoked {}'s access to {}. Reason: {why}",
                        g.subject_display_name, g.rule_name
                    )
                }),
                Ask::All { who, name, of_rule } => api
                    .revoke_all(who.clone(), *of_rule, why.clone())
                    .await
                    .map(|r| revoked_text(name, &r)),
                Ask::Freeze(rule, on) => api
                    .freeze(rule.as_ref().map(|(id, _)| id.clone()), on.then_some(why))
                    .await
                    .map(|()| format!("{}: done.", ask.title())),
            };
            if let (Ask::Freeze(_, false), Err(e)) = (&ask, &answer) {
                done.set(Some(e.to_string()));
            }
            failure.set(answer.as_ref().err().cloned());
            if let Ok(text) = answer {
                done.set(Some(text));
                revoking.set(None);
                reason.set(String::new());
                grants.reload();
                if let Ok(all) = api.list_freezes().await {
                    freezes.set(all);
                }
            }
        }
    });
    let ask = move |a: Ask| {
        done.set(None);
        reason_problem.set(None);
        failure.set(None);
        revoking.set(Some(a));
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(a) = revoking.get_untracked() else {
            return;
        };
        let why = reason.get_untracked().trim().to_owned();
        if !matches!(a, Ask::Freeze(_, false)) && why.is_empty() {
            reason_problem.set(Some("Say why: it goes into the audit log.".into()));
            return;
        }
        reason_problem.set(None);
        revoke.dispatch((a, why));
    };
    let rule_name = move |id: &str| {
        rules.with(|r| {
            r.as_ref()
                .and_then(|r| r.as_ref().ok())
                .and_then(|l| l.iter().find(|r| r.id == id))
                .and_then(|r| r.spec.as_ref().map(|s| s.name.clone()))
                .unwrap_or_else(|| id.to_owned())
        })
    };
    let is_frozen = move |rule_id: &str| freezes.with(|l| l.iter().any(|f| f.rule_id == rule_id));
    let frozen_text = move || {
        freezes.with(|all| {
            all.iter()
                .map(|f| {
                    let what = if f.rule_id.is_empty() {
                        "all roles"
                    } else {
                        &f.rule_name
                    };
                    format!(
                        "Requests for {what} are frozen by {}: {}.",
                        f.frozen_by, f.reason
                    )
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
    };
    // the rule and person filters as applied: the targets of the bulk controls
    let chosen_rule = move || {
        applied
            .with(|q| (!q.rule_id.is_empty()).then(|| q.rule_id.clone()))
            .map(|id| (id.clone(), rule_name(&id)))
    };
    let rule_label = move || chosen_rule().map(|(_, name)| name).unwrap_or_default();
    let chosen_person = move || applied.with(|q| q.person.clone());
    // unfreezing needs no reason: a confirmation will do
    let unfreeze = move |rule: Option<(String, String)>| {
        let a = Ask::Freeze(rule, false);
        let sure = window()
            .confirm_with_message(&format!("{}?", a.title()))
            .unwrap_or(false);
        if sure {
            done.set(None);
            revoke.dispatch((a, String::new()));
        }
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
            // static buttons shown and hidden by the state: each conditional view costs the
            // admin app's wasm more than an attribute does
            <section class="emergency" aria-labelledby="emergency-title">
                <h2 id="emergency-title">"Emergency"</h2>
                <p class="emergency__frozen" role="status">{frozen_text}</p>
                <button type="button" class="danger" hidden=move || is_frozen("")
                    on:click=move |_| ask(Ask::Freeze(None, true))>"Freeze all requests…"</button>
                <button type="button" hidden=move || !is_frozen("")
                    on:click=move |_| unfreeze(None)>"Unfreeze all requests"</button>
                <button type="button" class="danger" hidden=move || chosen_rule().is_none()
                    on:click=move |_| if let Some((who, name)) = chosen_rule() { ask(Ask::All { who, name, of_rule: true }) }>
                    {move || format!("Revoke all grants of {}…", rule_label())}
                </button>
                <button type="button" class="danger" hidden=move || chosen_rule().is_none_or(|(id, _)| is_frozen(&id))
                    on:click=move |_| ask(Ask::Freeze(chosen_rule(), true))>
                    {move || format!("Freeze requests for {}…", rule_label())}
                </button>
                <button type="button" hidden=move || !chosen_rule().is_some_and(|(id, _)| is_frozen(&id))
                    on:click=move |_| unfreeze(chosen_rule())>
                    {move || format!("Unfreeze requests for {}", rule_label())}
                </button>
                <button type="button" class="danger" hidden=move || chosen_person().is_empty()
                    on:click=move |_| { let p = chosen_person(); ask(Ask::All { who: p.clone(), name: p, of_rule: false }) }>
                    {move || format!("Revoke all grants of {}…", chosen_person())}
                </button>
            </section>
            {move || revoking.get().map(|a| {
                let title = a.title();
                let form_label = title.clone();
                view! {
                    <form class="revoke-form" aria-label=form_label on:submit=submit>
                        <h2>{title}</h2>
                        <p>{a.note()}</p>
                        <div node_ref=reason_box>
                            <Field id="revoke-reason".into() label="Reason (required)" value=reason
                                kind=FieldKind::Textarea(2) required=true maxlength=1000
                                hint="Recorded in the audit log, and shown to the people concerned."
                                error=reason_problem />
                        </div>
                        {move || failure.get().map(|e| view! { <Failure error=e /> })}
                        <div class="rule-editor__actions">
                            <button type="submit" class="danger" disabled=move || revoke.pending().get()>
                                {move || if revoke.pending().get() { "Working…" } else { a.verb() }}
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
                                        let all_label = format!("Revoke all of {}", g.subject_account);
                                        let person = Ask::All { who: g.subject_sid.clone(), name: g.subject_account.clone(), of_rule: false };
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
                                                        <button type="button" class="danger" on:click=move |_| ask(Ask::One(Box::new(row.clone())))>{label}</button>
                                                        <button type="button" class="danger" on:click=move |_| ask(person.clone())>{all_label}</button>
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
