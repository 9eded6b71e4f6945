//! The audit log for admins, newest first, filtered by person, rule, action and time; paged.

use leptos::prelude::*;

use crate::{
    api::{AuditAction, AuditQuery},
    components::{Field, FieldKind, RuleFilter},
    data::{Loaded, MoreButton, Paged, use_api},
    format,
};

/// The audit log: the filters apply when submitted; a newer answer always replaces an older
/// one still in flight. A rule list that cannot be read is said, not hidden.
#[component]
pub fn AuditPage() -> impl IntoView {
    let api = use_api();
    let (account, rule_id, action, since, until) = (
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
    );
    // the filters as last submitted: the list follows these
    let applied = RwSignal::new(AuditQuery::default());
    let events = {
        let api = api.clone();
        Paged::new(
            move || applied.get(),
            move |query, token| {
                let api = api.clone();
                async move { api.audit_events(query, token).await }
            },
        )
    };
    let rules = LocalResource::new(move || {
        let api = api.clone();
        async move { api.list_rules(String::new()).await }
    });
    let rule_name = move |id: &str| {
        rules.with(|r| {
            r.as_ref()
                .and_then(|r| r.as_ref().ok())
                .and_then(|r| r.iter().find(|r| r.id == id))
                .and_then(|r| r.spec.as_ref().map(|s| s.name.clone()))
                .unwrap_or_else(|| id.to_owned())
        })
    };
    let filter = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let query = AuditQuery {
            account: account.get_untracked().trim().to_owned(),
            rule_id: rule_id.get_untracked(),
            action: action.get_untracked().parse().unwrap_or_default(),
            since_ms: format::parse_local(&since.get_untracked()),
            until_ms: format::parse_local(&until.get_untracked()),
        };
        events.apply(applied, query);
    };
    view! {
        <section aria-labelledby="audit-title">
            <h1 id="audit-title">"Audit log"</h1>
            <form class="filters" on:submit=filter>
                <Field id="audit-account".into() label="Person (account)" value=account literal=true />
                <RuleFilter id="audit-rule" rules=rules value=rule_id
                    unreadable="The role filter cannot list the rules, and events show rule ids:" />
                <div class="field">
                    <label for="audit-action">"Action"</label>
                    <select id="audit-action" on:change=move |ev| action.set(event_target_value(&ev))>
                        <option value="">"any"</option>
                        {AuditAction::all()
                            .map(|a| view! { <option value=(a as i32).to_string()>{a.label()}</option> })
                            .collect_view()}
                    </select>
                </div>
                <Field id="audit-since".into() label="From" value=since kind=FieldKind::DateTimeLocal />
                <Field id="audit-until".into() label="Until" value=until kind=FieldKind::DateTimeLocal />
                <button type="submit">"Filter"</button>
            </form>
            <Loaded
                data=events.first
                loading="Loading events…"
                empty=|| view! { <p class="empty">"No events match."</p> }
                view=move |_| view! {
                        <table class="data-table audit-log">
                            <caption class="visually-hidden">"Audit events"</caption>
                            <thead>
                                <tr>
                                    <th scope="col">"When"</th>
                                    <th scope="col">"Action"</th>
                                    <th scope="col">"By"</th>
                                    <th scope="col">"Person"</th>
                                    <th scope="col">"Role"</th>
                                    <th scope="col">"Detail"</th>
                                </tr>
                            </thead>
                            <tbody>
                                <For each=move || events.items() key=|e| e.id let:e>
                                    {
                                        let rule = e.rule_id.clone();
                                        view! {
                                            <tr>
                                                <td>{format::local_time(e.at.as_ref())}</td>
                                                <td>{e.action().label()}</td>
                                                <td>{e.actor}</td>
                                                <td>{e.subject_account}</td>
                                                <td>{move || rule_name(&rule)}</td>
                                                <td>
                                                    {e.detail}
                                                    {(!e.source.is_empty()).then(|| view! {
                                                        <span class="audit-log__source">" from " {e.source}</span>
                                                    })}
                                                </td>
                                            </tr>
                                        }
                                    }
                                </For>
                            </tbody>
                        </table>
                }
            />
            <MoreButton paged=events label="Older events" />
        </section>
    }
}
