use leptos::prelude::*;

/// A channel as a choice: id, name, and whether it is enabled.
#[derive(Clone, PartialEq)]
pub struct ChannelChoice {
    pub id: String,
    pub name: String,
    pub enabled: bool,
}

/// A labelled group of checkboxes, one per channel; `chosen` holds the ticked channels' ids.
/// Ids the list does not know stay in `chosen` untouched.
#[component]
pub fn ChannelChoices(
    id: String,
    legend: String,
    #[prop(into)] channels: Signal<Vec<ChannelChoice>>,
    chosen: RwSignal<Vec<String>>,
    #[prop(into)] problem: Signal<Option<String>>,
) -> impl IntoView {
    view! {
        <fieldset class="channel-choices">
            <legend>{legend}</legend>
            {move || {
                channels
                    .get()
                    .into_iter()
                    .map(|c| {
                        let box_id = format!("{id}-{}", c.id);
                        let label_for = box_id.clone();
                        let (mine, theirs) = (c.id.clone(), c.id.clone());
                        let text = if c.enabled { c.name } else { format!("{} (disabled)", c.name) };
                        view! {
                            <label class="checkbox" for=label_for>
                                <input
                                    id=box_id
                                    type="checkbox"
                                    prop:checked=move || chosen.with(|ids| ids.contains(&mine))
                                    on:change=move |ev| {
                                        let on = event_target_checked(&ev);
                                        chosen.update(|ids| {
                                            ids.retain(|x| *x != theirs);
                                            if on {
                                                ids.push(theirs.clone());
                                            }
                                        });
                                    }
                                />
                                {text}
                            </label>
                        }
                    })
                    .collect_view()
            }}
            {move || problem.get().map(|p| view! { <p class="field-error">{p}</p> })}
        </fieldset>
    }
}
