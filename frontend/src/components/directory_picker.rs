use leptos::prelude::*;

use crate::api::{DirectoryEntry, DirectoryObjectKind};

/// Search the directory and pick a user or group: a labelled search field, and the matches as
/// buttons. The page runs the search (`on_search`) and hands the matches back (`results`).
#[component]
pub fn DirectoryPicker(
    id: String,
    label: String,
    #[prop(into)] results: Signal<Vec<DirectoryEntry>>,
    on_search: Callback<String>,
    on_pick: Callback<DirectoryEntry>,
) -> impl IntoView {
    let query = RwSignal::new(String::new());
    let search = move || on_search.run(query.get());
    view! {
        <div class="directory-picker">
            <label for=id.clone()>{label}</label>
            <div class="directory-picker__row">
                <input
                    id=id
                    type="search"
                    prop:value=move || query.get()
                    on:input=move |ev| query.set(event_target_value(&ev))
                    on:keydown=move |ev| {
                        if ev.key() == "Enter" {
                            ev.prevent_default();
                            search();
                        }
                    }
                />
                <button type="button" on:click=move |_| search()>"Search"</button>
            </div>
            <ul class="directory-picker__results">
                {move || {
                    results
                        .get()
                        .into_iter()
                        .map(|entry| {
                            let kind = if entry.kind() == DirectoryObjectKind::Group { "group" } else { "user" };
                            let text = format!("{} ({kind} {})", entry.display_name, entry.account_name);
                            let warn = entry.protected.then_some(" — protected group (AdminSDHolder)");
                            view! {
                                <li>
                                    <button type="button" class="directory-picker__pick" on:click=move |_| on_pick.run(entry.clone())>
                                        {format!("Pick {text}")}
                                    </button>
                                    {warn}
                                </li>
                            }
                        })
                        .collect_view()
                }}
            </ul>
        </div>
    }
}
