//! Create (`/admin/channels/new`) or edit (`/admin/channels/:id`) a channel: name and kind,
//! the email or webhook settings, the lifecycle events it receives, and a test send of the
//! form as it stands.

use leptos::prelude::*;
use leptos_router::{
    components::A,
    hooks::{use_navigate, use_params_map},
};

use super::{
    LIFECYCLE,
    email::EmailSettings,
    event_label,
    form::{ChannelForm, FIELDS},
    webhook::WebhookSettings,
};
use crate::{
    api::{ApiError, ChannelSpec, NotificationEvent, TestOutcome},
    components::{DurationInput, Field, FieldNotes, FormProblems},
    data::{Loaded, use_api},
};

const STALE: &str = "Someone else saved this channel after you opened it. Reload the page to see their version, then make your change again.";

/// What the editor's buttons do.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Act {
    Save,
    Delete,
}

#[component]
pub fn ChannelEditorPage() -> impl IntoView {
    let api = use_api();
    let params = use_params_map();
    let channel_id = params
        .with_untracked(|p| p.get("id"))
        .filter(|id| id != "new");
    let navigate = use_navigate();

    let form = ChannelForm::new();
    let existing = RwSignal::new(None::<(String, i64)>);
    let problems = FormProblems::default();
    // a refused delete (a rule still lists the channel) says so above the buttons
    let refusal = RwSignal::new(None::<String>);

    // the channel as saved (a new one: none), filled into the form once it arrives
    let loaded = {
        let api = api.clone();
        LocalResource::new(move || {
            let (api, id) = (api.clone(), channel_id.clone());
            async move {
                let Some(id) = id else {
                    return Ok(ChannelSpec::default());
                };
                let found = api
                    .list_channels()
                    .await?
                    .into_iter()
                    .find(|c| c.id == id)
                    .ok_or_else(|| {
                        ApiError::Other(
                            "There is no such channel: someone may have deleted it.".into(),
                        )
                    })?;
                existing.set(Some((found.id.clone(), found.version)));
                Ok(found.spec.unwrap_or_default())
            }
        })
    };
    Effect::new(move |filled: Option<bool>| {
        if filled == Some(true) {
            return true;
        }
        match loaded.get() {
            Some(Ok(spec)) if existing.with_untracked(Option::is_some) => {
                form.fill(spec);
                true
            }
            _ => false,
        }
    });

    let act = {
        let api = api.clone();
        Action::new_local(move |(act, spec): &(Act, Option<ChannelSpec>)| {
            let (api, act, spec, navigate) = (api.clone(), *act, spec.clone(), navigate.clone());
            async move {
                let answer = match (act, spec, existing.get_untracked()) {
                    (Act::Save, Some(spec), existing) => {
                        api.save_channel(existing, spec).await.map(|_| ())
                    }
                    (Act::Delete, _, Some((id, version))) => api.delete_channel(id, version).await,
                    _ => Ok(()),
                };
                match answer {
                    Ok(()) => navigate("/admin/channels", Default::default()),
                    // FAILED_PRECONDITION (a rule still lists it) names the rule in its message
                    Err(ApiError::Other(m)) if act == Act::Delete => {
                        refusal.set(Some(format!("The channel was not deleted: {m}")));
                    }
                    Err(e) => problems.server.set(Some(e)),
                }
            }
        })
    };
    let outcome = RwSignal::new(None::<Result<TestOutcome, String>>);
    let test = Action::new_local(move |spec: &ChannelSpec| {
        let (api, spec) = (api.clone(), spec.clone());
        async move {
            outcome.set(Some(match api.test_channel(spec).await {
                Ok(answer) => Ok(answer),
                Err(e @ ApiError::Invalid(..)) => {
                    problems.server.set(Some(e));
                    Err("Not sent: some settings need attention.".to_owned())
                }
                Err(e) => Err(format!("Not sent. {e}")),
            }));
        }
    });
    let busy = move || {
        if act.pending().get() {
            act.input().with(|i| i.as_ref().map(|(a, _)| *a))
        } else {
            None
        }
    };
    let any_busy = move || act.pending().get() || test.pending().get();

    // the spec as entered, or the problems found in the browser (shown next to the fields)
    let checked = move || {
        problems.clear();
        refusal.set(None);
        form.spec().map_err(|found| problems.local.set(found)).ok()
    };
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if let Some(spec) = checked() {
            act.dispatch((Act::Save, Some(spec)));
        }
    };
    let delete = move |_| {
        let question = format!(
            "Delete the channel {}? Deliveries already queued for it are dropped.",
            form.name.get_untracked()
        );
        if window().confirm_with_message(&question).unwrap_or(false) {
            problems.clear();
            refusal.set(None);
            act.dispatch((Act::Delete, None));
        }
    };
    let send_test = move |_| {
        outcome.set(None);
        match checked() {
            Some(spec) => {
                test.dispatch(spec);
            }
            None => outcome.set(Some(Err("Not sent: some settings need attention.".into()))),
        }
    };
    let toggle_event = move |event: NotificationEvent, on: bool| {
        form.events.update(|events| {
            events.retain(|e| *e != event);
            if on {
                events.push(event);
            }
        });
    };
    let problem = move |field: &'static str| problems.about(field);
    let other_error = move || refusal.get().or_else(|| problems.summary(&FIELDS, STALE));

    view! {
        <section aria-labelledby="editor-title">
            <h1 id="editor-title">{move || if existing.with(Option::is_some) { "Edit channel" } else { "New channel" }}</h1>
            <Loaded data=loaded loading="Loading the channel…" view=move |_| view! {
            <form class="rule-editor channel-editor" on:submit=save>
                <fieldset>
                    <legend>"Channel"</legend>
                    <Field id="channel-name".into() label="Name" value=form.name required=true maxlength=100 error=problem("name") />
                    <Show
                        when=move || existing.with(Option::is_none)
                        fallback=move || view! {
                            <p>"Kind: "<strong>{move || if form.webhook.get() { "Webhook" } else { "Email" }}</strong></p>
                        }
                    >
                        <fieldset class="choice-group">
                            <legend>"Kind"</legend>
                            <div class="choice-row">
                                <label class="checkbox" for="channel-kind-email">
                                    <input id="channel-kind-email" type="radio" name="channel-kind" value="email"
                                        prop:checked=move || !form.webhook.get() on:change=move |_| form.webhook.set(false) />
                                    "Email"
                                </label>
                                <label class="checkbox" for="channel-kind-webhook">
                                    <input id="channel-kind-webhook" type="radio" name="channel-kind" value="webhook"
                                        prop:checked=move || form.webhook.get() on:change=move |_| form.webhook.set(true) />
                                    "Webhook"
                                </label>
                            </div>
                        </fieldset>
                    </Show>
                </fieldset>

                <Show when=move || !form.webhook.get() fallback=move || view! { <WebhookSettings form=form problems=problems /> }>
                    <EmailSettings form=form problems=problems />
                </Show>

                <fieldset>
                    <legend>"Events"</legend>
                    <fieldset class="choice-group" aria-describedby="channel-events-hint">
                        <legend>"Lifecycle events, for every rule"</legend>
                        {LIFECYCLE.into_iter().map(|event| {
                            let box_id = format!("channel-event-{}", event.as_str_name().to_lowercase());
                            let label_for = box_id.clone();
                            view! {
                                <label class="checkbox" for=label_for>
                                    <input id=box_id type="checkbox"
                                        prop:checked=move || form.events.with(|e| e.contains(&event))
                                        on:change=move |ev| toggle_event(event, event_target_checked(&ev)) />
                                    {event_label(event)}
                                </label>
                            }
                        }).collect_view()}
                        <p class="hint" id="channel-events-hint">"Granted, extended and failed requests are chosen per rule, in the rule editor."</p>
                        <FieldNotes id="channel-events".into() error=problem("lifecycle_events") />
                    </fieldset>
                    <DurationInput id="channel-lead".into() label="Send \u{201c}expiring soon\u{201d} this long before the expiry"
                        amount=form.lead_amount unit=form.lead_unit hint="From 1 minute to 7 days; 15 minutes unless changed."
                        problem=problem("expiring_lead") />
                    <label class="checkbox">
                        <input type="checkbox" prop:checked=move || form.enabled.get() on:change=move |ev| form.enabled.set(event_target_checked(&ev)) />
                        "Enabled"
                    </label>
                    <FieldNotes id="channel-enabled".into() error=problem("enabled") />
                </fieldset>

                {move || other_error().map(|m| view! { <p class="field-error" role="alert">{m}</p> })}
                <div class="rule-editor__actions">
                    <button type="submit" disabled=any_busy>
                        {move || if busy() == Some(Act::Save) { "Saving…" } else { "Save channel" }}
                    </button>
                    <button type="button" class="secondary" disabled=any_busy on:click=send_test>
                        {move || if test.pending().get() { "Sending…" } else { "Send test" }}
                    </button>
                    <Show when=move || existing.with(Option::is_some)>
                        <button type="button" class="danger" disabled=any_busy on:click=delete>
                            {move || if busy() == Some(Act::Delete) { "Deleting…" } else { "Delete channel" }}
                        </button>
                    </Show>
                    <A href="/admin/channels">"Cancel"</A>
                </div>
                <p class="hint">"Send test sends a sample notification now with the settings as they are in this form, saved or not."</p>
                <div class="channel-test" aria-live="polite">
                    {move || match outcome.get() {
                        None => None,
                        Some(Err(m)) => Some(view! { <p class="field-error">{m}</p> }.into_any()),
                        Some(Ok(answer)) => Some(view! {
                            <h2 class="channel-test__title">"Test result"</h2>
                            {if answer.delivered {
                                view! { <p class="channel-test__ok">"Delivered."</p> }.into_any()
                            } else {
                                view! { <p class="field-error">{format!("Not delivered: {}", answer.error)}</p> }.into_any()
                            }}
                            {(!answer.sent.is_empty()).then(|| view! {
                                <h3 class="channel-test__title">"What was sent"</h3>
                                <pre class="channel-test__sent">{answer.sent.clone()}</pre>
                            })}
                        }.into_any()),
                    }}
                </div>
            </form>
            } />
        </section>
    }
}
