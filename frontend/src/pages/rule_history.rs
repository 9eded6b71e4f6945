//! A rule's history: every saved version, newest first, with who saved it, when, how, and what
//! it changed; an earlier version can be restored (saved again as the newest, after the checks
//! an edit gets today).

use leptos::{prelude::*, task::spawn_local};
use leptos_router::{components::A, hooks::use_params_map};

use crate::{
    api::{AuditAction, RuleVersion},
    data::{Failure, Loaded, use_api},
    format,
};

#[component]
pub fn RuleHistoryPage() -> impl IntoView {
    let api = use_api();
    let rule_id = use_params_map()
        .with_untracked(|p| p.get("id"))
        .unwrap_or_default();
    let edit_link = format!("/admin/rules/{rule_id}");
    let versions = {
        let (api, rule_id) = (api.clone(), rule_id.clone());
        LocalResource::new(move || {
            let (api, rule_id) = (api.clone(), rule_id.clone());
            async move { api.rule_versions(rule_id).await }
        })
    };
    let problem = RwSignal::new(None);
    let restored = RwSignal::new(None::<i64>);
    let restore = move |version: i64, newest: i64| {
        let (api, rule_id) = (api.clone(), rule_id.clone());
        spawn_local(async move {
            problem.set(None);
            match api.restore_rule_version(rule_id, version, newest).await {
                Ok(rule) => {
                    restored.set(Some(rule.version));
                    versions.refetch();
                }
                Err(e) => problem.set(Some(e)),
            }
        });
    };
    let restore = StoredValue::new(restore);
    let shown = move |list: Signal<Vec<RuleVersion>>| {
        view! {
            <ol class="rule-history">
                {move || {
                    let list = list.get();
                    let newest = list.first().and_then(|v| v.rule.as_ref()).map_or(0, |r| r.version);
                    let deleted = list.first().is_some_and(|v| v.action() == AuditAction::RuleDeleted);
                    list.into_iter().map(|v| {
                        let number = v.rule.as_ref().map_or(0, |r| r.version);
                        let name = v.rule.as_ref().and_then(|r| r.spec.as_ref()).map(|s| s.name.clone()).unwrap_or_default();
                        let by = if v.saved_by.is_empty() { "someone (before history was kept)".to_owned() } else { v.saved_by.clone() };
                        let can_restore = !deleted && number != newest && v.action() != AuditAction::RuleDeleted;
                        let changes = v.changes.clone();
                        view! {
                            <li class="rule-history__version" data-testid=format!("version-{number}")>
                                <h2>{format!("Version {number}: {}", v.action().label().replace('_', " "))}</h2>
                                <p class="rule-history__meta">
                                    {format!("{by}, {} · {name}", format::local_time(v.saved_at.as_ref()))}
                                </p>
                                {if changes.is_empty() {
                                    view! { <p class="rule-history__none">"No settings changed."</p> }.into_any()
                                } else {
                                    view! {
                                        <ul class="rule-history__changes">
                                            {changes.into_iter().map(|c| view! { <li><code>{c.text}</code></li> }).collect_view()}
                                        </ul>
                                    }.into_any()
                                }}
                                {can_restore.then(|| view! {
                                    <button type="button" class="secondary"
                                        on:click=move |_| restore.with_value(|r| r(number, newest))>
                                        {format!("Restore version {number}")}
                                    </button>
                                })}
                            </li>
                        }
                    }).collect_view()
                }}
            </ol>
        }
    };
    view! {
        <section aria-labelledby="history-title">
            <h1 id="history-title">"Rule history"</h1>
            <p><A href=edit_link>"Back to the rule"</A></p>
            {move || restored.get().map(|v| view! {
                <p class="notice" role="status">{format!("Restored: the rule is now version {v}.")}</p>
            })}
            {move || problem.get().map(|e| view! { <Failure error=e /> })}
            <Loaded
                data=versions
                loading="Loading the history…"
                empty=|| view! { <p class="empty">"No versions kept."</p> }
                view=shown
            />
        </section>
    }
}
