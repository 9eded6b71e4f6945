use leptos::{prelude::*, task::spawn_local};

use super::admin::{AdminsOnly, shown};
use crate::{
    api::{Api, AuditEvent, AuditQuery, Rule},
    format,
};

const ACTIONS: [&str; 17] = [
    "requested",
    "granted",
    "failed",
    "extended",
    "released",
    "revoked",
    "expired",
    "ended",
    "ended_by_directory",
    "rule_created",
    "rule_updated",
    "rule_deleted",
    "channel_created",
    "channel_updated",
    "channel_deleted",
    "channel_tested",
    "notification_retried",
];

/// The audit log, newest first, filtered by person, rule, action and time; paged.
#[component]
pub fn AuditPage() -> impl IntoView {
    let api = use_context::<Api>();
    let events = RwSignal::new(None::<Result<Vec<AuditEvent>, String>>);
    let next = RwSignal::new(None::<String>);
    let rules = RwSignal::new(Vec::<Rule>::new());
    let (account, rule_id, action, since, until) = (
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
    );
    let query = move || AuditQuery {
        account: account.get().trim().to_owned(),
        rule_id: rule_id.get(),
        action: action.get(),
        since_ms: format::parse_local(&since.get()),
        until_ms: format::parse_local(&until.get()),
    };
    // the filter the list on screen was made with: the next page continues it
    let listed = RwSignal::new(None::<AuditQuery>);
    let fetch = {
        let api = api.clone();
        Callback::new(move |more: bool| {
            let Some(api) = api.clone() else { return };
            let token = if more {
                next.get().unwrap_or_default()
            } else {
                String::new()
            };
            let q = match listed.get_untracked() {
                Some(shown) if more => shown,
                _ => query(),
            };
            spawn_local(async move {
                match api.audit_events(q.clone(), token).await {
                    Ok((page, after)) => {
                        if more {
                            events.update(|e| {
                                if let Some(Ok(list)) = e {
                                    list.extend(page);
                                }
                            });
                        } else {
                            events.set(Some(Ok(page)));
                        }
                        listed.set(Some(q));
                        next.set(after);
                    }
                    Err(e) => {
                        if let Some(m) = shown(e) {
                            events.set(Some(Err(m)));
                        }
                    }
                }
            });
        })
    };
    fetch.run(false);
    if let Some(api) = api.clone() {
        spawn_local(async move {
            if let Ok(list) = api.list_rules(String::new()).await {
                rules.set(list);
            }
        });
    }
    let rule_name = move |id: &str| {
        rules.with(|r| {
            r.iter()
                .find(|r| r.id == id)
                .and_then(|r| r.spec.as_ref().map(|s| s.name.clone()))
                .unwrap_or_else(|| id.to_owned())
        })
    };
    let filter = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        fetch.run(false);
    };
    view! {
        <AdminsOnly>
            <section aria-labelledby="audit-title">
                <h1 id="audit-title">"Audit log"</h1>
                <form class="filters" on:submit=filter>
                    <label>"Person (account)"
                        <input type="text" prop:value=move || account.get() on:input=move |ev| account.set(event_target_value(&ev)) />
                    </label>
                    <label>"Role"
                        <select on:change=move |ev| rule_id.set(event_target_value(&ev))>
                            <option value="">"any"</option>
                            {move || rules.get().into_iter().map(|r| {
                                let name = r.spec.map(|s| s.name).unwrap_or_default();
                                view! { <option value=r.id>{name}</option> }
                            }).collect_view()}
                        </select>
                    </label>
                    <label>"Action"
                        <select on:change=move |ev| action.set(event_target_value(&ev))>
                            <option value="">"any"</option>
                            {ACTIONS.iter().map(|a| view! { <option value=*a>{*a}</option> }).collect_view()}
                        </select>
                    </label>
                    <label>"From"
                        <input type="datetime-local" prop:value=move || since.get() on:input=move |ev| since.set(event_target_value(&ev)) />
                    </label>
                    <label>"Until"
                        <input type="datetime-local" prop:value=move || until.get() on:input=move |ev| until.set(event_target_value(&ev)) />
                    </label>
                    <button type="submit">"Filter"</button>
                </form>
                {move || match events.get() {
                    None => view! { <p class="loading">"Loading events…"</p> }.into_any(),
                    Some(Err(m)) => view! { <p class="field-error" role="alert">{m}</p> }.into_any(),
                    Some(Ok(list)) if list.is_empty() => view! { <p class="empty">"No events match."</p> }.into_any(),
                    Some(Ok(list)) => view! {
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
                                {list.into_iter().map(|e| view! {
                                    <tr>
                                        <td>{format::local_time(e.at.as_ref())}</td>
                                        <td>{e.action.clone()}</td>
                                        <td>{e.actor.clone()}</td>
                                        <td>{e.subject_account.clone()}</td>
                                        <td>{rule_name(&e.rule_id)}</td>
                                        <td>{e.detail.clone()}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                }}
                <Show when=move || next.with(Option::is_some)>
                    <button type="button" on:click=move |_| fetch.run(true)>"Older events"</button>
                </Show>
            </section>
        </AdminsOnly>
    }
}
