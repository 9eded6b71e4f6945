//! How jitroles and the directory get on: mechanism, PAM, per rule whether the service account
//! may write the group's members, and the members no grant explains (permanent members or
//! additions by hand: reported, never removed). After a restore from a backup, the members the
//! restore cannot explain come first, for an admin to review.

use leptos::prelude::*;

use crate::{
    api::Mechanism,
    data::{Loaded, use_api},
    format::local_time,
};

#[component]
pub fn DirectoryStatusPage() -> impl IntoView {
    let api = use_api();
    let status = LocalResource::new(move || {
        let api = api.clone();
        async move { api.directory_status().await }
    });
    view! {
        <section aria-labelledby="directory-title">
            <h1 id="directory-title">"Directory status"</h1>
            <Loaded data=status loading="Asking the directory…" view=move |s| {
                let ttl = move || s.with(|s| s.mechanism() == Mechanism::Ttl);
                view! {
                    <dl class="facts">
                        <dt>"Mechanism"</dt>
                        <dd>{move || if ttl() { "TTL links: AD removes members itself" } else { "jitroles' scheduler removes members" }}</dd>
                        <dt>"Privileged Access Management"</dt>
                        <dd>{move || if s.with(|s| s.pam_enabled) { "enabled" } else { "not enabled" }}</dd>
                        <dt>"Forest functional level"</dt>
                        <dd>{move || s.with(|s| s.forest_functional_level)}</dd>
                    </dl>
                    {move || s.with(|s| (!s.pam_advice.is_empty()).then(|| view! { <p class="advice">{s.pam_advice.clone()}</p> }))}
                    {move || s.with(|s| s.restored_snapshot_taken_at.as_ref().map(|taken| {
                        let review: Vec<(String, String, String)> = s.groups.iter().flat_map(|g| {
                            let group = g.group.as_ref().map(|t| t.name.clone()).unwrap_or_default();
                            g.added_since_snapshot.iter().map(move |m| (
                                group.clone(),
                                m.dn.clone(),
                                m.added_at.as_ref().map_or("unknown: the DC does not say".to_owned(), |t| local_time(Some(t))),
                            ))
                        }).collect();
                        view! {
                            <section class="restore-review" role="alert" aria-labelledby="restore-title">
                                <h2 id="restore-title">"Restored from a backup: members to review"</h2>
                                <p>
                                    "This database was restored from a backup taken " {local_time(Some(taken))}
                                    ". Grants made after it are not known here, but their members may still be in their groups. Remove those who should not be there (or have them request the role again), then run "
                                    <code>"jitroles backup --reviewed"</code> "."
                                </p>
                                {if review.is_empty() {
                                    view! { <p>"No role group has a member to review."</p> }.into_any()
                                } else {
                                    view! {
                                        <ul class="unexplained">
                                            {review.into_iter().map(|(group, dn, added)| view! {
                                                <li>{group} ": " {dn} " (added: " {added} ")"</li>
                                            }).collect_view()}
                                        </ul>
                                    }.into_any()
                                }}
                            </section>
                        }
                    }))}
                    <div class="table-scroll" tabindex="0" role="region" aria-label="Role groups (scrolls sideways)">
                        <table class="data-table">
                            <caption>"Role groups"</caption>
                            <thead>
                                <tr>
                                    <th scope="col">"Rule"</th>
                                    <th scope="col">"Group"</th>
                                    <th scope="col">"jitroles may write members"</th>
                                    <th scope="col">"Members no grant explains"</th>
                                    <th scope="col">"Notes"</th>
                                </tr>
                            </thead>
                            <tbody>
                                <For each=move || s.get().groups key=|g| format!("{g:?}") let:g>
                                    {
                                        let mut notes = Vec::new();
                                        if g.protected {
                                            notes.push("protected group: AdminSDHolder resets its permissions".to_owned());
                                        }
                                        if !g.problem.is_empty() {
                                            notes.push(g.problem.clone());
                                        }
                                        let unexplained = if g.unexplained_members.is_empty() {
                                            view! { "none" }.into_any()
                                        } else {
                                            view! {
                                                <ul class="unexplained">
                                                    {g.unexplained_members.iter().map(|m| view! { <li>{m.clone()}</li> }).collect_view()}
                                                </ul>
                                            }.into_any()
                                        };
                                        view! {
                                            <tr>
                                                <td>{g.rule_name.clone()}</td>
                                                <td>{g.group.map(|t| t.name).unwrap_or_default()}</td>
                                                <td>{if g.can_write_members { "yes" } else { "NO" }}</td>
                                                <td>{unexplained}</td>
                                                <td>{notes.join("; ")}</td>
                                            </tr>
                                        }
                                    }
                                </For>
                            </tbody>
                        </table>
                    </div>
                    <p class="hint">
                        "Members no grant explains are permanent members or additions by hand. jitroles never removes them, and refuses to grant the role to them."
                    </p>
                }
            } />
        </section>
    }
}
