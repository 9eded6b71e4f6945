use leptos::{prelude::*, task::spawn_local};

use super::admin::{AdminsOnly, shown};
use crate::{
    api::{Api, Grant},
    format,
};

/// Everyone's live grants, with Revoke.
#[component]
pub fn AdminGrantsPage() -> impl IntoView {
    let api = use_context::<Api>();
    let grants = RwSignal::new(None::<Result<Vec<Grant>, String>>);
    let problem = RwSignal::new(None::<String>);
    let next = RwSignal::new(None::<String>);
    // the first page, or (`more`) the next one after those shown
    let load = {
        let api = api.clone();
        Callback::new(move |more: bool| {
            let Some(api) = api.clone() else { return };
            let token = if more {
                next.get_untracked().unwrap_or_default()
            } else {
                String::new()
            };
            spawn_local(async move {
                match api.list_grants(token).await {
                    Ok(page) => {
                        if more {
                            grants.update(|g| {
                                if let Some(Ok(list)) = g {
                                    list.extend(page.grants);
                                }
                            });
                        } else {
                            grants.set(Some(Ok(page.grants)));
                        }
                        next.set(page.next);
                    }
                    Err(e) => {
                        if let Some(m) = shown(e) {
                            grants.set(Some(Err(m)));
                        }
                    }
                }
            });
        })
    };
    load.run(false);
    let revoke = Callback::new(move |grant: Grant| {
        let Some(api) = api.clone() else { return };
        let question = format!(
            "Revoke {}'s access to {} now? They are removed from {} at once.",
            grant.subject_display_name,
            grant.rule_name,
            grant
                .group
                .as_ref()
                .map(|g| g.name.as_str())
                .unwrap_or("the group")
        );
        if !window().confirm_with_message(&question).unwrap_or(false) {
            return;
        }
        spawn_local(async move {
            match api
                .revoke_grant(grant.id.clone(), "revoked in the admin pages".into())
                .await
            {
                Ok(_) => {
                    problem.set(None);
                    load.run(false);
                }
                Err(e) => problem.set(shown(e)),
            }
        });
    });
    view! {
        <AdminsOnly>
            <section aria-labelledby="grants-title">
                <h1 id="grants-title">"Live grants"</h1>
                {move || problem.get().map(|m| view! { <p class="field-error" role="alert">{m}</p> })}
                {move || match grants.get() {
                    None => view! { <p class="loading">"Loading grants…"</p> }.into_any(),
                    Some(Err(m)) => view! { <p class="field-error" role="alert">{m}</p> }.into_any(),
                    Some(Ok(list)) if list.is_empty() => view! { <p class="empty">"Nobody holds a role right now."</p> }.into_any(),
                    Some(Ok(list)) => {
                        view! {
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
                                    {list
                                        .into_iter()
                                        .map(|g| {
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
                                                        <button type="button" class="danger" on:click=move |_| revoke.run(row.clone())>{label}</button>
                                                    </td>
                                                </tr>
                                            }
                                        })
                                        .collect_view()}
                                </tbody>
                            </table>
                        }
                            .into_any()
                    }
                }}
                <Show when=move || next.with(Option::is_some)>
                    <button type="button" on:click=move |_| load.run(true)>"More grants"</button>
                </Show>
            </section>
        </AdminsOnly>
    }
}
