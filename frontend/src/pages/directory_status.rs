use leptos::{prelude::*, task::spawn_local};

use super::admin::{AdminsOnly, shown};
use crate::api::{Api, DirectoryStatus};

/// How jitroles and the directory get on: mechanism, PAM, and per rule whether the service
/// account may write the group's members.
#[component]
pub fn DirectoryStatusPage() -> impl IntoView {
    let status = RwSignal::new(None::<Result<DirectoryStatus, String>>);
    if let Some(api) = use_context::<Api>() {
        spawn_local(async move {
            match api.directory_status().await {
                Ok(s) => status.set(Some(Ok(s))),
                Err(e) => {
                    if let Some(m) = shown(e) {
                        status.set(Some(Err(m)));
                    }
                }
            }
        });
    }
    view! {
        <AdminsOnly>
            <section aria-labelledby="directory-title">
                <h1 id="directory-title">"Directory status"</h1>
                {move || match status.get() {
                    None => view! { <p class="loading">"Asking the directory…"</p> }.into_any(),
                    Some(Err(m)) => view! { <p class="field-error" role="alert">{m}</p> }.into_any(),
                    Some(Ok(s)) => {
                        let ttl = s.mechanism() == jitroles_proto::v1::Mechanism::Ttl;
                        view! {
                            <dl class="facts">
                                <dt>"Mechanism"</dt>
                                <dd>{if ttl { "TTL links: AD removes members itself" } else { "jitroles' scheduler removes members" }}</dd>
                                <dt>"Privileged Access Management"</dt>
                                <dd>{if s.pam_enabled { "enabled" } else { "not enabled" }}</dd>
                                <dt>"Forest functional level"</dt>
                                <dd>{s.forest_functional_level}</dd>
                            </dl>
                            {(!s.pam_advice.is_empty()).then(|| view! { <p class="advice">{s.pam_advice.clone()}</p> })}
                            <table class="data-table">
                                <caption>"Role groups"</caption>
                                <thead>
                                    <tr>
                                        <th scope="col">"Rule"</th>
                                        <th scope="col">"Group"</th>
                                        <th scope="col">"jitroles may write members"</th>
                                        <th scope="col">"Notes"</th>
                                    </tr>
                                </thead>
                                <tbody>
                                    {s.groups
                                        .into_iter()
                                        .map(|g| {
                                            let mut notes = Vec::new();
                                            if g.protected {
                                                notes.push("protected group: AdminSDHolder resets its permissions".to_owned());
                                            }
                                            if !g.problem.is_empty() {
                                                notes.push(g.problem.clone());
                                            }
                                            view! {
                                                <tr>
                                                    <td>{g.rule_name.clone()}</td>
                                                    <td>{g.group.map(|t| t.name).unwrap_or_default()}</td>
                                                    <td>{if g.can_write_members { "yes" } else { "NO" }}</td>
                                                    <td>{notes.join("; ")}</td>
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
            </section>
        </AdminsOnly>
    }
}
