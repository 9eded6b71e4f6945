//! Effective access for admins: on a rule's page, who its ACL admits now (counted, searched,
//! paged, each with the group path that admits them); and the person lookup page
//! (`/admin/access`): every rule a person may request and why, every rule that refuses them and
//! why.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::{
    api::{RuleAccess, RuleStanding},
    components::{Field, FieldKind},
    data::{Loaded, use_api},
    format,
};

/// What the rule section shows: the search as submitted, the page's token, and whether the
/// server should read the directory again.
#[derive(Clone, PartialEq, Default)]
struct Shown {
    query: String,
    token: String,
    refresh: bool,
}

fn summary(a: &RuleAccess) -> String {
    let mut s = format!(
        "{} people may request this role now ({} left out: {} disabled, {} refused by a deny entry).",
        a.admitted,
        a.left_out_disabled + a.left_out_denied,
        a.left_out_disabled,
        a.left_out_denied
    );
    if a.truncated {
        s.push_str(" More people than jitroles looks at (20,000): the list is incomplete.");
    }
    s
}

/// The people a saved rule admits now. The server computes the answer once and holds it for a
/// minute, so searching and paging are cheap; "Read the directory again" computes it anew.
#[component]
pub fn RuleAccessSection(rule_id: String) -> impl IntoView {
    let api = use_api();
    let search = RwSignal::new(String::new());
    let shown = RwSignal::new(Shown::default());
    // the tokens of the pages before this one, for "Previous page"
    let earlier = RwSignal::new(Vec::<String>::new());
    let answer = LocalResource::new(move || {
        let (api, rule_id, shown) = (api.clone(), rule_id.clone(), shown.get());
        async move {
            api.rule_access(rule_id, shown.query, shown.token, shown.refresh)
                .await
        }
    });
    let apply = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        earlier.set(Vec::new());
        shown.set(Shown {
            query: search.get_untracked().trim().to_owned(),
            ..Shown::default()
        });
    };
    let refresh = move |_| {
        earlier.set(Vec::new());
        shown.set(Shown {
            query: shown.with_untracked(|s| s.query.clone()),
            token: String::new(),
            refresh: true,
        });
    };
    let next = move |token: String| {
        let now = shown.get_untracked();
        earlier.update(|e| e.push(now.token.clone()));
        shown.set(Shown {
            token,
            refresh: false,
            ..now
        });
    };
    let previous = move |_| {
        let mut before = earlier.get_untracked();
        let token = before.pop().unwrap_or_default();
        earlier.set(before);
        shown.update(|s| {
            s.token = token;
            s.refresh = false;
        });
    };
    view! {
        <section class="rule-access" aria-labelledby="rule-access-title">
            <h2 id="rule-access-title">"Effective access"</h2>
            <p class="hint">"Everyone this rule's access list admits now, through nested groups, without disabled accounts and people a deny entry refuses."</p>
            <form class="filters" on:submit=apply>
                <Field id="rule-access-search".into() label="Search people or groups" value=search kind=FieldKind::Search literal=true />
                <button type="submit">"Search"</button>
                <button type="button" class="secondary" on:click=refresh>"Read the directory again"</button>
            </form>
            <Loaded
                data=answer
                loading="Reading who this rule admits…"
                view=move |a| view! {
                    <p class="rule-access__counts" role="status">{move || a.with(summary)}</p>
                    {move || a.with(|a| (!a.closed.is_empty()).then(|| view! {
                        <p class="rule-access__closed">{format!("Nobody can request it now: {}.", a.closed)}</p>
                    }))}
                    <p class="hint">{move || a.with(|a| format!(
                        "{} match the search. Read from the directory at {}.",
                        a.matching,
                        format::local_time(a.computed_at.as_ref())
                    ))}</p>
                    <table class="data-table rule-access__people">
                        <caption class="visually-hidden">"People who may request this role"</caption>
                        <thead>
                            <tr>
                                <th scope="col">"Account"</th>
                                <th scope="col">"Name"</th>
                                <th scope="col">"Admitted through"</th>
                            </tr>
                        </thead>
                        <tbody>
                            <For each=move || a.with(|a| a.people.clone()) key=|p| p.sid.clone() let:p>
                                <tr>
                                    <td><A href=format!("/admin/access?person={}", urlencoding(&p.account_name))>{p.account_name.clone()}</A></td>
                                    <td>{p.display_name}</td>
                                    <td class="rule-access__path">{p.path_text}</td>
                                </tr>
                            </For>
                        </tbody>
                    </table>
                    <div class="pager">
                        <Show when=move || earlier.with(|e| !e.is_empty())>
                            <button type="button" class="secondary" on:click=previous>"Previous page"</button>
                        </Show>
                        {move || a.with(|a| (!a.next_page_token.is_empty()).then(|| {
                            let token = a.next_page_token.clone();
                            view! { <button type="button" class="secondary" on:click=move |_| next(token.clone())>"Next page"</button> }
                        }))}
                    </div>
                }
            />
        </section>
    }
}

fn standing_row(s: RuleStanding) -> impl IntoView {
    view! {
        <tr>
            <td><A href=format!("/admin/rules/{}", s.rule_id)>{s.rule_name}</A></td>
            <td class="person-access__why">{s.why}</td>
        </tr>
    }
}

/// Type a person, see what every rule says about them. The person is in the address
/// (`?person=`), so a lookup can be linked to.
#[component]
pub fn PersonAccessPage() -> impl IntoView {
    let api = use_api();
    let query = leptos_router::hooks::use_query_map();
    let asked = move || query.with(|q| q.get("person").unwrap_or_default());
    let person = RwSignal::new(asked());
    let navigate = leptos_router::hooks::use_navigate();
    let answer = LocalResource::new(move || {
        let (api, who) = (api.clone(), asked());
        async move {
            if who.trim().is_empty() {
                Ok(Default::default())
            } else {
                api.person_access(who).await
            }
        }
    });
    let look_up = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let who = person.get_untracked().trim().to_owned();
        navigate(
            &format!("/admin/access?person={}", urlencoding(&who)),
            Default::default(),
        );
    };
    view! {
        <section class="person-access" aria-labelledby="person-access-title">
            <h1 id="person-access-title">"Effective access"</h1>
            <form class="filters" on:submit=look_up>
                <Field id="person-access-person".into() label="Person (account name, user principal name or SID)" value=person literal=true />
                <button type="submit">"Look up"</button>
            </form>
            <Loaded
                data=answer
                loading="Reading the person's groups…"
                view=move |a| view! {
                    {move || a.with(|a| a.person.clone().map(|p| view! {
                        <p class="person-access__who">
                            {format!("{} ({})", p.display_name, p.account_name)}
                            {p.disabled.then_some(" — the directory account is disabled")}
                        </p>
                    }))}
                    <Show when=move || a.with(|a| a.person.is_some())>
                        <h2 id="person-access-allowed">"May request"</h2>
                        {move || a.with(|a| if a.allowed.is_empty() {
                            view! { <p class="empty">"No rule."</p> }.into_any()
                        } else {
                            view! {
                                <table class="data-table" aria-labelledby="person-access-allowed">
                                    <thead><tr><th scope="col">"Role"</th><th scope="col">"Why"</th></tr></thead>
                                    <tbody>{a.allowed.clone().into_iter().map(standing_row).collect_view()}</tbody>
                                </table>
                            }.into_any()
                        })}
                        <h2 id="person-access-denied">"Refused"</h2>
                        {move || a.with(|a| if a.denied.is_empty() {
                            view! { <p class="empty">"No rule that lists them refuses them."</p> }.into_any()
                        } else {
                            view! {
                                <table class="data-table" aria-labelledby="person-access-denied">
                                    <thead><tr><th scope="col">"Role"</th><th scope="col">"Why"</th></tr></thead>
                                    <tbody>{a.denied.clone().into_iter().map(standing_row).collect_view()}</tbody>
                                </table>
                            }.into_any()
                        })}
                        <p class="hint">{move || a.with(|a| format!("{} other rules do not list them.", a.not_listed))}</p>
                    </Show>
                }
            />
        </section>
    }
}

/// `text` for a query string value.
fn urlencoding(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
