use leptos::prelude::*;

/// Where a secret comes from, as the form holds it.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum SecretOrigin {
    #[default]
    None,
    File,
    Env,
}

/// Choose where the server reads a secret: nowhere, a file, or an environment variable; never
/// the secret itself. A group of radio buttons (`legend`), then the path or variable name.
#[component]
pub fn SecretSourceInput(
    id: String,
    legend: String,
    hint: String,
    origin: RwSignal<SecretOrigin>,
    value: RwSignal<String>,
    #[prop(into)] problem: Signal<Option<String>>,
) -> impl IntoView {
    let hint_id = format!("{id}-hint");
    let described_by = hint_id.clone();
    let value_id = format!("{id}-value");
    let choices = [
        (SecretOrigin::None, "none", "None"),
        (SecretOrigin::File, "file", "File on the server"),
        (SecretOrigin::Env, "env", "Environment variable"),
    ];
    view! {
        <fieldset class="secret-source" aria-describedby=described_by>
            <legend>{legend}</legend>
            <div class="choice-row">
                {choices
                    .into_iter()
                    .map(|(o, key, text)| {
                        let radio_id = format!("{id}-{key}");
                        let label_for = radio_id.clone();
                        view! {
                            <label class="checkbox" for=label_for>
                                <input
                                    id=radio_id
                                    type="radio"
                                    name=id.clone()
                                    value=key
                                    prop:checked=move || origin.get() == o
                                    on:change=move |_| origin.set(o)
                                />
                                {text}
                            </label>
                        }
                    })
                    .collect_view()}
            </div>
            <Show when=move || origin.get() != SecretOrigin::None>
                <label for=value_id.clone()>
                    {move || if origin.get() == SecretOrigin::File { "Absolute path of the file" } else { "Name of the environment variable" }}
                </label>
                <input
                    id=value_id.clone()
                    type="text"
                    autocomplete="off"
                    spellcheck="false"
                    prop:value=move || value.get()
                    on:input=move |ev| value.set(event_target_value(&ev))
                    aria-invalid=move || problem.with(Option::is_some).to_string()
                />
            </Show>
            <p class="hint" id=hint_id>{hint}</p>
            {move || problem.get().map(|p| view! { <p class="field-error">{p}</p> })}
        </fieldset>
    }
}
