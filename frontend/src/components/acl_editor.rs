//! Allow and deny entries on users and groups, picked in the directory: a rule's ACL and its
//! approvers. One component, so the admin app carries one copy of it.

use leptos::prelude::*;

use super::directory_picker::DirectoryPicker;
use crate::api::{AclEntry, DirectoryEntry, DirectoryObjectKind, Effect, PrincipalKind};

/// The entries with Remove buttons, a "deny the next pick" box and the directory picker.
/// `what` names the entries in the labels ("" for the ACL: "Remove alice"; "approver":
/// "Remove approver alice"), so two editors on one page have labels of their own.
#[component]
pub fn AclEditor(
    entries: RwSignal<Vec<AclEntry>>,
    /// The picker's field id.
    id: String,
    /// The picker's label.
    label: String,
    what: &'static str,
    /// Shown while there is no entry.
    empty: &'static str,
    #[prop(into)] results: RwSignal<Vec<DirectoryEntry>>,
    on_search: Callback<String>,
    #[prop(into)] problem: Signal<Option<String>>,
) -> impl IntoView {
    let deny_next = RwSignal::new(false);
    let named = move |name: &str| {
        if what.is_empty() {
            name.to_owned()
        } else {
            format!("{what} {name}")
        }
    };
    let pick = Callback::new(move |e: DirectoryEntry| {
        let entry = AclEntry {
            principal_sid: e.sid.clone(),
            display_name: e.display_name.clone(),
            kind: if e.kind() == DirectoryObjectKind::Group {
                PrincipalKind::Group
            } else {
                PrincipalKind::User
            }
            .into(),
            effect: if deny_next.get() {
                Effect::Deny
            } else {
                Effect::Allow
            }
            .into(),
        };
        entries.update(|a| {
            if !a
                .iter()
                .any(|x| x.principal_sid == entry.principal_sid && x.effect == entry.effect)
            {
                a.push(entry);
            }
        });
        results.set(Vec::new());
    });
    view! {
        <ul class="acl">
            <For each=move || entries.get() key=|e| (e.principal_sid.clone(), e.effect) let:e>
                {
                    let deny = e.effect() == Effect::Deny;
                    let kind = if e.kind() == PrincipalKind::Group { "group" } else { "user" };
                    let label = format!("Remove {}", named(&e.display_name));
                    let (sid, effect) = (e.principal_sid.clone(), e.effect);
                    view! {
                        <li class=if deny { "acl__entry acl__entry--deny" } else { "acl__entry" }>
                            <span>{format!("{} {} ({kind})", if deny { "Deny" } else { "Allow" }, e.display_name)}</span>
                            <button type="button" class="link-button"
                                on:click=move |_| entries.update(|a| a.retain(|x| !(x.principal_sid == sid && x.effect == effect)))>{label}</button>
                        </li>
                    }
                }
            </For>
        </ul>
        {move || entries.with(Vec::is_empty).then(|| view! { <p class="empty">{empty}</p> })}
        {move || problem.get().map(|m| view! { <p class="field-error">{m}</p> })}
        <label class="checkbox">
            <input type="checkbox" prop:checked=move || deny_next.get() on:change=move |ev| deny_next.set(event_target_checked(&ev)) />
            {format!("Add the next {}pick as a deny entry (deny wins over allow)", if what.is_empty() { String::new() } else { format!("{what} ") })}
        </label>
        <DirectoryPicker id=id label=label results=results on_search=on_search on_pick=pick />
    }
}
