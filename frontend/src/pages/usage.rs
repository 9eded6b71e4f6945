//! The usage report for admins: per rule over a period, requests, grants, refusals, hours
//! held, people, median duration and last use; and per rule the people its ACL reaches who
//! have not requested it lately. "Download CSV" saves the same report for a spreadsheet.

use leptos::{html, prelude::*, task::spawn_local};

use crate::{
    api::{UsageQuery, UsageReport},
    components::{Field, FieldKind, RuleFilter},
    data::{Failure, Listing, Loaded, use_api},
    format,
};

impl Listing for UsageReport {
    fn is_empty_listing(&self) -> bool {
        self.rules.is_empty()
    }
}

const DAY_MS: f64 = 86_400_000.0;

fn hours(d: Option<&prost_types::Duration>) -> String {
    format!("{:.2}", d.map_or(0, |d| d.seconds) as f64 / 3600.0)
}

/// `text` as a `data:` URL a link can save.
fn csv_href(text: &str) -> String {
    format!(
        "data:text/csv;charset=utf-8,{}",
        String::from(js_sys::encode_uri_component(text))
    )
}

/// One rule's "eligible but unused" list.
fn unused_section(u: &crate::api::RuleUsage) -> impl IntoView + use<> {
    let title = format!("usage-unused-{}", u.rule_id);
    let labelled_by = title.clone();
    let people = u.eligible_unused.clone();
    view! {
        <section class="usage-report__unused" aria-labelledby=labelled_by>
            <h2 id=title>"Eligible but unused: " {u.rule_name.clone()}</h2>
            {if people.is_empty() {
                view! { <p class="empty">"Everyone the ACL reaches requested it lately."</p> }.into_any()
            } else {
                view! {
                    <ul>
                        {people.into_iter().map(|p| view! {
                            <li>{p.account_name} " (" {p.display_name} "): " <span class="usage-report__path">{p.path}</span></li>
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
            {u.eligible_unused_truncated.then(|| view! {
                <p class="hint">"The ACL reaches more people than one report walks; there may be more."</p>
            })}
        </section>
    }
}

#[component]
pub fn UsagePage() -> impl IntoView {
    let api = use_api();
    let now = format::now_ms();
    let input = |ms: f64| format::to_local_input(Some(&format::timestamp(ms)));
    // the last 30 days, up to the next minute
    let (from, to, days, rule_id) = (
        RwSignal::new(input(now - 30.0 * DAY_MS)),
        RwSignal::new(input(now + 60_000.0)),
        RwSignal::new("90".to_owned()),
        RwSignal::new(String::new()),
    );
    let query = move || UsageQuery {
        from_ms: format::parse_local(&from.get_untracked()),
        to_ms: format::parse_local(&to.get_untracked()),
        // not a number: u32::MAX, which the server refuses with its reason
        unused_days: days.get_untracked().trim().parse().unwrap_or(u32::MAX),
        rule_id: rule_id.get_untracked(),
    };
    // the query as last submitted: the report follows it
    let applied = RwSignal::new(query());
    let report = {
        let api = api.clone();
        LocalResource::new(move || {
            let (api, q) = (api.clone(), applied.get());
            async move { api.usage_report(q, false).await }
        })
    };
    let rules = {
        let api = api.clone();
        LocalResource::new(move || {
            let api = api.clone();
            async move { api.list_rules(String::new()).await }
        })
    };
    let show = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        applied.set(query());
    };
    let link = NodeRef::<html::A>::new();
    let csv_error = RwSignal::new(None);
    let download = move |_| {
        let api = api.clone();
        let q = applied.get_untracked();
        spawn_local(async move {
            match api.usage_report(q, true).await {
                Ok(r) => {
                    csv_error.set(None);
                    if let Some(a) = link.get_untracked() {
                        a.set_href(&csv_href(&r.csv));
                        a.click();
                    }
                }
                Err(e) => csv_error.set(Some(e)),
            }
        });
    };
    view! {
        <section aria-labelledby="usage-title">
            <h1 id="usage-title">"Usage report"</h1>
            <form class="filters" on:submit=show>
                <Field id="usage-from".into() label="From" value=from kind=FieldKind::DateTimeLocal required=true />
                <Field id="usage-to".into() label="Until" value=to kind=FieldKind::DateTimeLocal required=true />
                <Field id="usage-days".into() label="Unused for (days)" value=days kind=FieldKind::Number(1, 3650) />
                <RuleFilter id="usage-rule" rules=rules value=rule_id
                    unreadable="The role filter cannot list the rules; the report covers every rule:" />
                <button type="submit">"Show report"</button>
                <button type="button" class="secondary" on:click=download>"Download CSV"</button>
            </form>
            <a node_ref=link class="visually-hidden" download="jitroles-usage.csv" href="#" tabindex="-1" aria-hidden="true"></a>
            {move || csv_error.get().map(|e| view! { <Failure error=e /> })}
            <Loaded
                data=report
                loading="Counting…"
                empty=|| view! { <p class="empty">"No rules to report on."</p> }
                view=move |r| view! {
                    <p class="usage-report__period">
                        {move || r.with(|r| format!(
                            "From {} until {}; \"unused\" means not requested in the last {} days.",
                            format::local_time(r.from.as_ref()),
                            format::local_time(r.to.as_ref()),
                            r.unused_days,
                        ))}
                    </p>
                    <div class="table-scroll" tabindex="0" role="region" aria-label="Usage per role (scrolls sideways)">
                        <table class="data-table usage-report">
                            <caption>"Usage per role"</caption>
                            <thead>
                                <tr>
                                    <th scope="col">"Role"</th>
                                    <th scope="col">"Requests"</th>
                                    <th scope="col">"Grants"</th>
                                    <th scope="col">"Refusals"</th>
                                    <th scope="col">"Hours held"</th>
                                    <th scope="col">"People"</th>
                                    <th scope="col">"Median duration"</th>
                                    <th scope="col">"Last use"</th>
                                    <th scope="col">"Eligible but unused"</th>
                                </tr>
                            </thead>
                            <tbody>
                                <For each=move || r.get().rules key=|u| format!("{u:?}") let:u>
                                    <tr>
                                        <th scope="row">{u.rule_name.clone()}{u.deleted.then_some(" (deleted)")}</th>
                                        <td>{u.requests}</td>
                                        <td>{u.grants}</td>
                                        <td>{u.refusals}</td>
                                        <td>{hours(u.held.as_ref())}</td>
                                        <td>{u.people}</td>
                                        <td>{u.median_duration.as_ref().map_or("–".to_owned(), |d| format::duration(d.seconds))}</td>
                                        <td>{u.last_use.as_ref().map_or("never".to_owned(), |t| format::local_time(Some(t)))}</td>
                                        <td>{if u.deleted { "–".to_owned() } else { format!("{}{}", u.eligible_unused.len(), if u.eligible_unused_truncated { "+" } else { "" }) }}</td>
                                    </tr>
                                </For>
                            </tbody>
                        </table>
                    </div>
                    {move || r.with(|r| r.rules.iter().filter(|u| !u.deleted).map(unused_section).collect_view())}
                }
            />
        </section>
    }
}
