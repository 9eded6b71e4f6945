//! The webhook settings of the channel editor: URL, format, extra headers (a keyed list, so
//! removing one row keeps what is typed in the others), signing secret and template.

use leptos::prelude::*;

use super::form::{ChannelForm, HeaderRow};
use crate::{
    api::WebhookPreset,
    components::{Field, FieldKind, FieldNotes, FormProblems, SecretSourceInput, described_by},
};

#[component]
pub fn WebhookSettings(form: ChannelForm, problems: FormProblems) -> impl IntoView {
    let problem = move |field: &'static str| problems.about(field);
    let preset_error = problem("webhook.preset");
    let add_header = move |_| {
        form.headers
            .update(|rows| rows.push(HeaderRow::new(String::new(), String::new())));
    };
    // rows are numbered by position, as people read them
    let position = move |id: u64| {
        form.headers
            .with(|rows| rows.iter().position(|r| r.id == id).map_or(0, |i| i + 1))
    };
    view! {
        <fieldset>
            <legend>"Webhook"</legend>
            <Field id="channel-url".into() label="URL" value=form.url kind=FieldKind::Url literal=true
                hint="An http or https URL. Each notification is POSTed to it as JSON."
                error=problem("webhook.url") />
            <div class="field">
                <label for="channel-preset">"Format"</label>
                <select id="channel-preset"
                    aria-invalid=move || preset_error.with(Option::is_some).to_string()
                    aria-describedby=move || described_by("channel-preset", false, preset_error.with(Option::is_some))
                    on:change=move |ev| form.preset.set(event_target_value(&ev).parse().ok().and_then(|n: i32| WebhookPreset::try_from(n).ok()).unwrap_or(WebhookPreset::Generic))>
                    {[(WebhookPreset::Generic, "Generic JSON (jitroles' event)"), (WebhookPreset::Slack, "Slack incoming webhook"), (WebhookPreset::Teams, "Microsoft Teams Workflows")]
                        .into_iter()
                        .map(|(p, text)| view! { <option value=(p as i32).to_string() selected=move || form.preset.get() == p>{text}</option> })
                        .collect_view()}
                </select>
                <FieldNotes id="channel-preset".into() error=preset_error />
            </div>
            <fieldset class="choice-group">
                <legend>"Extra headers"</legend>
                <p class="hint">"Sent with every request, e.g. an API key. Stored in jitroles' database as entered."</p>
                <For each=move || form.headers.get() key=|row| row.id let:row>
                    {
                        let id = row.id;
                        let (name, value) = (RwSignal::from(row.name), RwSignal::from(row.value));
                        let n = move || position(id);
                        view! {
                            <div class="header-row">
                                <label for=move || format!("channel-header-{}-name", n())>{move || format!("Header {} name", n())}</label>
                                <input id=move || format!("channel-header-{}-name", n()) type="text" autocomplete="off" spellcheck="false"
                                    prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev)) />
                                <label for=move || format!("channel-header-{}-value", n())>{move || format!("Header {} value", n())}</label>
                                <input id=move || format!("channel-header-{}-value", n()) type="text" autocomplete="off" spellcheck="false"
                                    prop:value=move || value.get() on:input=move |ev| value.set(event_target_value(&ev)) />
                                <button type="button" class="link-button"
                                    on:click=move |_| form.headers.update(|rows| rows.retain(|r| r.id != id))>
                                    {move || format!("Remove header {}", n())}
                                </button>
                            </div>
                        }
                    }
                </For>
                <button type="button" class="secondary" on:click=add_header>"Add a header"</button>
                <FieldNotes id="channel-headers".into() error=problem("webhook.headers") />
            </fieldset>
            <SecretSourceInput id="channel-signing".into() legend="Signing secret (optional)".into()
                hint="With a secret, each body is signed with HMAC-SHA256 and the signature sent as X-Jitroles-Signature: sha256=<hex>, so the receiver can check it came from jitroles. jitroles never stores secrets: the server reads it from a file in its secrets folder (notifications.secrets_dir) or an environment variable named JITROLES_NOTIFY_….".into()
                origin=form.signing_from value=form.signing problem=problem("webhook.signing_secret") />
            <Field id="channel-template".into() label="JSON template" value=form.template kind=FieldKind::Textarea(8) code=true
                hint="A MiniJinja template producing JSON; values are JSON-escaped. Empty: the chosen format's own."
                error=problem("webhook.template") />
        </fieldset>
    }
}
