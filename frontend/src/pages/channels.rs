//! Notification channels for admins: the list, and the editor (email over SMTP or a webhook,
//! the lifecycle events it receives, and a test send of the form as it stands).

use leptos::{prelude::*, task::spawn_local};
use leptos_router::{
    components::A,
    hooks::{use_navigate, use_params_map},
};

use super::admin::{AdminsOnly, shown};
use crate::{
    api::{
        self, Api, ApiError, Channel, ChannelKind, ChannelSpec, EmailChannel, Header,
        NotificationEvent, SecretFrom, SecretSource, SmtpTls, TestOutcome, WebhookChannel,
        WebhookPreset,
    },
    components::{DurationInput, SecretOrigin, SecretSourceInput, seconds, split},
    format,
};

/// The events a channel subscribes to for every rule, in the order the editor lists them.
const LIFECYCLE: [NotificationEvent; 4] = [
    NotificationEvent::ExpiringSoon,
    NotificationEvent::Expired,
    NotificationEvent::Released,
    NotificationEvent::Revoked,
];

/// The editor's fields, so a server violation can be told apart from one it cannot place.
const FIELDS: [&str; 19] = [
    "name",
    "email.host",
    "email.port",
    "email.tls",
    "email.username",
    "email.password",
    "email.sender",
    "email.recipients",
    "email.to_requester",
    "email.subject_template",
    "email.body_template",
    "webhook.url",
    "webhook.preset",
    "webhook.headers",
    "webhook.signing_secret",
    "webhook.template",
    "lifecycle_events",
    "expiring_lead",
    "enabled",
];

const DEFAULT_LEAD_SECS: i64 = 15 * 60;

const STALE: &str = "Someone else saved this channel after you opened it. Reload the page to see their version, then make your change again.";

/// An event as people read it.
pub fn event_label(event: NotificationEvent) -> &'static str {
    match event {
        NotificationEvent::Granted => "Granted",
        NotificationEvent::Extended => "Extended",
        NotificationEvent::Failed => "Failed",
        NotificationEvent::ExpiringSoon => "Expiring soon",
        NotificationEvent::Expired => "Expired",
        NotificationEvent::Released => "Released",
        NotificationEvent::Revoked => "Revoked",
        NotificationEvent::Unspecified => "Unknown",
    }
}

/// The host (and port) of a URL, for the list: "hooks.slack.com".
fn url_host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host)
}

/// Addresses entered one per line or separated by commas.
fn addresses(text: &str) -> Vec<String> {
    text.split([',', '\n'])
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The usual port for a TLS mode.
fn usual_port(tls: SmtpTls) -> &'static str {
    match tls {
        SmtpTls::None => "25",
        SmtpTls::Implicit => "465",
        SmtpTls::Starttls | SmtpTls::Unspecified => "587",
    }
}

fn secret_in(source: Option<SecretSource>) -> (SecretOrigin, String) {
    match source.and_then(|s| s.source) {
        Some(SecretFrom::File(path)) => (SecretOrigin::File, path),
        Some(SecretFrom::Env(name)) => (SecretOrigin::Env, name),
        None => (SecretOrigin::None, String::new()),
    }
}

fn secret_out(origin: SecretOrigin, value: &str) -> Option<SecretSource> {
    let value = value.trim().to_owned();
    let source = match origin {
        SecretOrigin::None => return None,
        SecretOrigin::File => SecretFrom::File(value),
        SecretOrigin::Env => SecretFrom::Env(value),
    };
    Some(SecretSource {
        source: Some(source),
    })
}

/// The channels, with kind, target and the lifecycle events each receives.
#[component]
pub fn AdminChannelsPage() -> impl IntoView {
    let api = use_context::<Api>();
    let channels = RwSignal::new(None::<Result<Vec<Channel>, String>>);
    if let Some(api) = api {
        spawn_local(async move {
            match api.list_channels().await {
                Ok(list) => channels.set(Some(Ok(list))),
                Err(e) => {
                    if let Some(m) = shown(e) {
                        channels.set(Some(Err(m)));
                    }
                }
            }
        });
    }
    let kind_of = |spec: &ChannelSpec| match &spec.kind {
        Some(ChannelKind::Email(e)) => format!("Email ({})", e.host),
        Some(ChannelKind::Webhook(w)) => format!("Webhook ({})", url_host(&w.url)),
        None => "none".into(),
    };
    let events_of = |spec: &ChannelSpec| {
        let names: Vec<String> = LIFECYCLE
            .iter()
            .filter(|e| spec.lifecycle_events.contains(&(**e as i32)))
            .map(|e| match e {
                NotificationEvent::ExpiringSoon => format!(
                    "Expiring soon ({} before)",
                    format::duration(spec.expiring_lead.map_or(DEFAULT_LEAD_SECS, |d| d.seconds))
                ),
                other => event_label(*other).to_owned(),
            })
            .collect();
        if names.is_empty() {
            "none".to_owned()
        } else {
            names.join(", ")
        }
    };
    view! {
        <AdminsOnly>
            <section aria-labelledby="channels-title">
                <h1 id="channels-title">"Notification channels"</h1>
                <p>
                    "Email and webhooks that hear about grants. Granted, extended and failed requests go to the channels a rule lists; the lifecycle events below go to every channel that subscribes. "
                    <A href="/admin/notifications">"Deliveries"</A>
                    " shows what was sent and what failed."
                </p>
                <div class="toolbar">
                    <A href="/admin/channels/new" attr:class="button">"New channel"</A>
                </div>
                {move || match channels.get() {
                    None => view! { <p class="loading">"Loading channels…"</p> }.into_any(),
                    Some(Err(m)) => view! { <p class="field-error" role="alert">{m}</p> }.into_any(),
                    Some(Ok(list)) if list.is_empty() => view! { <p class="empty">"No channels yet."</p> }.into_any(),
                    Some(Ok(list)) => view! {
                        <div class="table-scroll">
                            <table class="data-table">
                                <caption class="visually-hidden">"Notification channels"</caption>
                                <thead>
                                    <tr>
                                        <th scope="col">"Name"</th>
                                        <th scope="col">"Kind"</th>
                                        <th scope="col">"Lifecycle events"</th>
                                        <th scope="col">"Enabled"</th>
                                    </tr>
                                </thead>
                                <tbody>
                                    {list.into_iter().map(|c| {
                                        let spec = c.spec.unwrap_or_default();
                                        let (kind, events) = (kind_of(&spec), events_of(&spec));
                                        view! {
                                            <tr>
                                                <td><A href=format!("/admin/channels/{}", c.id)>{spec.name}</A></td>
                                                <td>{kind}</td>
                                                <td>{events}</td>
                                                <td>{if spec.enabled { "yes" } else { "no" }}</td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </div>
                    }.into_any(),
                }}
            </section>
        </AdminsOnly>
    }
}

/// One extra webhook header. Reference-counted signals: rows come and go with clicks, so they
/// belong to the list rather than to whichever owner was current at the click.
#[derive(Clone)]
struct HeaderRow {
    name: ArcRwSignal<String>,
    value: ArcRwSignal<String>,
}

impl HeaderRow {
    fn new(name: String, value: String) -> Self {
        Self {
            name: ArcRwSignal::new(name),
            value: ArcRwSignal::new(value),
        }
    }
}

/// The editor's state: one signal per field.
#[derive(Clone, Copy)]
struct ChannelForm {
    name: RwSignal<String>,
    webhook: RwSignal<bool>,
    host: RwSignal<String>,
    port: RwSignal<String>,
    tls: RwSignal<SmtpTls>,
    username: RwSignal<String>,
    password_from: RwSignal<SecretOrigin>,
    password: RwSignal<String>,
    sender: RwSignal<String>,
    recipients: RwSignal<String>,
    to_requester: RwSignal<bool>,
    subject_template: RwSignal<String>,
    body_template: RwSignal<String>,
    url: RwSignal<String>,
    preset: RwSignal<WebhookPreset>,
    headers: RwSignal<Vec<HeaderRow>>,
    signing_from: RwSignal<SecretOrigin>,
    signing: RwSignal<String>,
    template: RwSignal<String>,
    events: RwSignal<Vec<NotificationEvent>>,
    lead_amount: RwSignal<String>,
    lead_unit: RwSignal<i64>,
    enabled: RwSignal<bool>,
}

impl ChannelForm {
    /// A new channel: email with STARTTLS on 587, "expiring soon" 15 minutes ahead, enabled.
    fn new() -> Self {
        let (amount, unit) = split(DEFAULT_LEAD_SECS);
        Self {
            name: RwSignal::new(String::new()),
            webhook: RwSignal::new(false),
            host: RwSignal::new(String::new()),
            port: RwSignal::new(usual_port(SmtpTls::Starttls).to_owned()),
            tls: RwSignal::new(SmtpTls::Starttls),
            username: RwSignal::new(String::new()),
            password_from: RwSignal::new(SecretOrigin::None),
            password: RwSignal::new(String::new()),
            sender: RwSignal::new(String::new()),
            recipients: RwSignal::new(String::new()),
            to_requester: RwSignal::new(false),
            subject_template: RwSignal::new(String::new()),
            body_template: RwSignal::new(String::new()),
            url: RwSignal::new(String::new()),
            preset: RwSignal::new(WebhookPreset::Generic),
            headers: RwSignal::new(Vec::new()),
            signing_from: RwSignal::new(SecretOrigin::None),
            signing: RwSignal::new(String::new()),
            template: RwSignal::new(String::new()),
            events: RwSignal::new(Vec::new()),
            lead_amount: RwSignal::new(amount.to_string()),
            lead_unit: RwSignal::new(unit),
            enabled: RwSignal::new(true),
        }
    }

    fn fill(&self, spec: ChannelSpec) {
        self.name.set(spec.name);
        self.events.set(
            spec.lifecycle_events
                .iter()
                .filter_map(|e| NotificationEvent::try_from(*e).ok())
                .collect(),
        );
        let (amount, unit) = split(spec.expiring_lead.map_or(DEFAULT_LEAD_SECS, |d| d.seconds));
        self.lead_amount.set(amount.to_string());
        self.lead_unit.set(unit);
        self.enabled.set(spec.enabled);
        match spec.kind {
            Some(ChannelKind::Email(e)) => {
                self.webhook.set(false);
                let tls = match e.tls() {
                    SmtpTls::Unspecified => SmtpTls::Starttls,
                    tls => tls,
                };
                self.tls.set(tls);
                self.port.set(e.port.to_string());
                self.host.set(e.host);
                self.username.set(e.username);
                let (from, value) = secret_in(e.password);
                self.password_from.set(from);
                self.password.set(value);
                self.sender.set(e.sender);
                self.recipients.set(e.recipients.join("\n"));
                self.to_requester.set(e.to_requester);
                self.subject_template.set(e.subject_template);
                self.body_template.set(e.body_template);
            }
            Some(ChannelKind::Webhook(w)) => {
                self.webhook.set(true);
                self.preset.set(match w.preset() {
                    WebhookPreset::Unspecified => WebhookPreset::Generic,
                    preset => preset,
                });
                self.url.set(w.url);
                self.headers.set(
                    w.headers
                        .into_iter()
                        .map(|h| HeaderRow::new(h.name, h.value))
                        .collect(),
                );
                let (from, value) = secret_in(w.signing_secret);
                self.signing_from.set(from);
                self.signing.set(value);
                self.template.set(w.template);
            }
            None => {}
        }
    }

    /// The spec as entered, or what is wrong with the fields the browser can check itself.
    fn spec(&self) -> Result<ChannelSpec, Vec<(String, String)>> {
        let mut problems = Vec::new();
        let lead = seconds(
            &self.lead_amount.get_untracked(),
            self.lead_unit.get_untracked(),
        )
        .map_err(|m| problems.push(("expiring_lead".to_owned(), m)))
        .ok();
        let kind = if self.webhook.get_untracked() {
            ChannelKind::Webhook(WebhookChannel {
                url: self.url.get_untracked().trim().to_owned(),
                headers: self.headers.with_untracked(|rows| {
                    rows.iter()
                        .map(|r| Header {
                            name: r.name.get_untracked().trim().to_owned(),
                            value: r.value.get_untracked(),
                        })
                        .filter(|h| !(h.name.is_empty() && h.value.is_empty()))
                        .collect()
                }),
                signing_secret: secret_out(
                    self.signing_from.get_untracked(),
                    &self.signing.get_untracked(),
                ),
                preset: self.preset.get_untracked().into(),
                template: self.template.get_untracked(),
            })
        } else {
            let port = self
                .port
                .get_untracked()
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|p| (1..=65_535).contains(p))
                .unwrap_or_else(|| {
                    problems.push((
                        "email.port".to_owned(),
                        "Enter a port number from 1 to 65535.".to_owned(),
                    ));
                    0
                });
            ChannelKind::Email(EmailChannel {
                host: self.host.get_untracked().trim().to_owned(),
                port,
                tls: self.tls.get_untracked().into(),
                username: self.username.get_untracked().trim().to_owned(),
                password: secret_out(
                    self.password_from.get_untracked(),
                    &self.password.get_untracked(),
                ),
                sender: self.sender.get_untracked().trim().to_owned(),
                recipients: addresses(&self.recipients.get_untracked()),
                to_requester: self.to_requester.get_untracked(),
                subject_template: self.subject_template.get_untracked(),
                body_template: self.body_template.get_untracked(),
            })
        };
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(ChannelSpec {
            name: self.name.get_untracked().trim().to_owned(),
            kind: Some(kind),
            lifecycle_events: self
                .events
                .with_untracked(|e| e.iter().map(|e| *e as i32).collect()),
            expiring_lead: lead.map(|seconds| prost_types::Duration { seconds, nanos: 0 }),
            enabled: self.enabled.get_untracked(),
        })
    }
}

/// Create (`/admin/channels/new`) or edit (`/admin/channels/:id`) a channel.
#[component]
pub fn ChannelEditorPage() -> impl IntoView {
    let api = use_context::<Api>();
    let params = use_params_map();
    let channel_id = params
        .with_untracked(|p| p.get("id"))
        .filter(|id| id != "new");
    let navigate = use_navigate();

    let form = ChannelForm::new();
    let existing = RwSignal::new(None::<(String, i64)>);
    let loading = RwSignal::new(channel_id.is_some());
    let missing = RwSignal::new(None::<String>);
    let error = RwSignal::new(None::<ApiError>);
    let local = RwSignal::new(Vec::<(String, String)>::new());
    let busy = RwSignal::new(None::<&'static str>);
    let outcome = RwSignal::new(None::<Result<TestOutcome, String>>);
    let refusal = RwSignal::new(None::<String>);

    if let (Some(api), Some(id)) = (api, channel_id) {
        spawn_local(async move {
            match api.list_channels().await {
                Ok(list) => match list.into_iter().find(|c| c.id == id) {
                    Some(c) => {
                        existing.set(Some((c.id, c.version)));
                        form.fill(c.spec.unwrap_or_default());
                    }
                    None => missing.set(Some(
                        "There is no such channel: someone may have deleted it.".into(),
                    )),
                },
                Err(e) => missing.set(shown(e)),
            }
            loading.set(false);
        });
    }

    let problem = move |field: &'static str| {
        Signal::derive(move || {
            local
                .with(|l| l.iter().find(|(f, _)| f == field).map(|(_, m)| m.clone()))
                .or_else(|| error.with(|e| e.as_ref().and_then(|e| e.about(field))))
        })
    };
    let field_error = move |field: &'static str| {
        move || {
            problem(field)
                .get()
                .map(|m| view! { <p class="field-error">{m}</p> })
        }
    };
    let invalid =
        move |field: &'static str| move || problem(field).with(Option::is_some).to_string();
    let other_error = move || {
        if let Some(m) = refusal.get() {
            return Some(m);
        }
        if !local.with(Vec::is_empty) {
            return Some("Some settings need attention: see the messages next to them.".to_owned());
        }
        error.with(|e| match e {
            Some(e @ ApiError::Invalid(..)) => e.invalid_summary(&FIELDS),
            Some(ApiError::Conflict(_)) => Some(STALE.to_owned()),
            Some(e) => Some(e.to_string()),
            None => None,
        })
    };

    let save = StoredValue::new_local({
        let navigate = navigate.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            let Some(api) = use_context::<Api>() else {
                return;
            };
            let spec = match form.spec() {
                Ok(spec) => spec,
                Err(problems) => {
                    local.set(problems);
                    return;
                }
            };
            local.set(Vec::new());
            refusal.set(None);
            let navigate = navigate.clone();
            busy.set(Some("save"));
            spawn_local(async move {
                match api.save_channel(existing.get_untracked(), spec).await {
                    Ok(_) => navigate("/admin/channels", Default::default()),
                    Err(ApiError::Unauthenticated) => api::sign_in(),
                    Err(e) => error.set(Some(e)),
                }
                busy.set(None);
            });
        }
    });
    let delete = StoredValue::new_local(move || {
        let (Some(api), Some((id, version))) = (use_context::<Api>(), existing.get_untracked())
        else {
            return;
        };
        let question = format!(
            "Delete the channel {}? Deliveries already queued for it are dropped.",
            form.name.get_untracked()
        );
        if !window().confirm_with_message(&question).unwrap_or(false) {
            return;
        }
        let navigate = navigate.clone();
        refusal.set(None);
        error.set(None);
        busy.set(Some("delete"));
        spawn_local(async move {
            match api.delete_channel(id, version).await {
                Ok(()) => navigate("/admin/channels", Default::default()),
                Err(ApiError::Unauthenticated) => api::sign_in(),
                // FAILED_PRECONDITION (a rule still lists it) names the rule in its message
                Err(ApiError::Other(m)) => {
                    refusal.set(Some(format!("The channel was not deleted: {m}")));
                }
                Err(e) => error.set(Some(e)),
            }
            busy.set(None);
        });
    });
    let send_test = move |_| {
        let Some(api) = use_context::<Api>() else {
            return;
        };
        let spec = match form.spec() {
            Ok(spec) => spec,
            Err(problems) => {
                local.set(problems);
                outcome.set(Some(Err("Not sent: some settings need attention.".into())));
                return;
            }
        };
        local.set(Vec::new());
        refusal.set(None);
        error.set(None);
        outcome.set(None);
        busy.set(Some("test"));
        spawn_local(async move {
            match api.test_channel(spec).await {
                Ok(answer) => outcome.set(Some(Ok(answer))),
                Err(ApiError::Unauthenticated) => api::sign_in(),
                Err(e @ ApiError::Invalid(..)) => {
                    outcome.set(Some(Err("Not sent: some settings need attention.".into())));
                    error.set(Some(e));
                }
                Err(e) => outcome.set(Some(Err(format!("Not sent. {e}")))),
            }
            busy.set(None);
        });
    };

    let toggle_event = move |event: NotificationEvent, on: bool| {
        form.events.update(|events| {
            events.retain(|e| *e != event);
            if on {
                events.push(event);
            }
        });
    };
    let set_tls = move |tls: SmtpTls| {
        let port = form.port.get_untracked();
        let port = port.trim();
        if port.is_empty() || ["25", "465", "587"].contains(&port) {
            form.port.set(usual_port(tls).to_owned());
        }
        form.tls.set(tls);
    };
    let add_header = move |_| {
        form.headers
            .update(|rows| rows.push(HeaderRow::new(String::new(), String::new())));
    };

    view! {
        <AdminsOnly>
            <section aria-labelledby="editor-title">
                <h1 id="editor-title">{move || if existing.with(Option::is_some) { "Edit channel" } else { "New channel" }}</h1>
                {move || missing.get().map(|m| view! {
                    <p class="field-error" role="alert">{m}</p>
                    <p><A href="/admin/channels">"Back to the channels"</A></p>
                })}
                <Show when=move || !loading.get() && missing.with(Option::is_none) fallback=move || loading.get().then(|| view! { <p class="loading">"Loading the channel…"</p> })>
                <form class="rule-editor channel-editor" on:submit=move |ev| save.with_value(|save| save(ev))>
                    <fieldset>
                        <legend>"Channel"</legend>
                        <label for="channel-name">"Name"</label>
                        <input id="channel-name" type="text" maxlength="100" required
                            aria-invalid=invalid("name")
                            prop:value=move || form.name.get() on:input=move |ev| form.name.set(event_target_value(&ev)) />
                        {field_error("name")}
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

                    <Show when=move || !form.webhook.get()>
                        <fieldset>
                            <legend>"Email (SMTP)"</legend>
                            <label for="channel-host">"SMTP server (host name or address)"</label>
                            <input id="channel-host" type="text" autocomplete="off" spellcheck="false"
                                aria-invalid=invalid("email.host")
                                prop:value=move || form.host.get() on:input=move |ev| form.host.set(event_target_value(&ev)) />
                            {field_error("email.host")}
                            <label for="channel-tls">"Encryption"</label>
                            <select id="channel-tls" aria-invalid=invalid("email.tls")
                                on:change=move |ev| set_tls(event_target_value(&ev).parse().ok().and_then(|n: i32| SmtpTls::try_from(n).ok()).unwrap_or(SmtpTls::Starttls))>
                                {[(SmtpTls::Starttls, "STARTTLS (required)"), (SmtpTls::Implicit, "Implicit TLS (SMTPS)"), (SmtpTls::None, "None (plain SMTP)")]
                                    .into_iter()
                                    .map(|(t, text)| view! { <option value=(t as i32).to_string() selected=move || form.tls.get() == t>{text}</option> })
                                    .collect_view()}
                            </select>
                            {field_error("email.tls")}
                            <label for="channel-port">"Port"</label>
                            <input id="channel-port" type="number" min="1" max="65535" inputmode="numeric"
                                aria-describedby="channel-port-hint" aria-invalid=invalid("email.port")
                                prop:value=move || form.port.get() on:input=move |ev| form.port.set(event_target_value(&ev)) />
                            <p class="hint" id="channel-port-hint">"Usually 587 with STARTTLS, 465 with implicit TLS, 25 without encryption (trusted networks only)."</p>
                            {field_error("email.port")}
                            <label for="channel-username">"User name (optional)"</label>
                            <input id="channel-username" type="text" autocomplete="off" spellcheck="false"
                                aria-describedby="channel-username-hint" aria-invalid=invalid("email.username")
                                prop:value=move || form.username.get() on:input=move |ev| form.username.set(event_target_value(&ev)) />
                            <p class="hint" id="channel-username-hint">"Only when the server wants a login; it then needs a password too."</p>
                            {field_error("email.username")}
                            <SecretSourceInput id="channel-password".into() legend="Password".into()
                                hint="jitroles never stores secrets: the server reads the password each time it sends, from a file in its secrets folder (notifications.secrets_dir) or an environment variable named JITROLES_NOTIFY_…; a password is only sent over TLS.".into()
                                origin=form.password_from value=form.password problem=problem("email.password") />
                            <label for="channel-sender">"Sender"</label>
                            <input id="channel-sender" type="text" autocomplete="off" spellcheck="false"
                                aria-describedby="channel-sender-hint" aria-invalid=invalid("email.sender")
                                prop:value=move || form.sender.get() on:input=move |ev| form.sender.set(event_target_value(&ev)) />
                            <p class="hint" id="channel-sender-hint">"An address, or a name and an address: jitroles <jitroles@example.com>"</p>
                            {field_error("email.sender")}
                            <label for="channel-recipients">"Recipients"</label>
                            <textarea id="channel-recipients" rows="3" spellcheck="false"
                                aria-describedby="channel-recipients-hint" aria-invalid=invalid("email.recipients")
                                prop:value=move || form.recipients.get() on:input=move |ev| form.recipients.set(event_target_value(&ev))></textarea>
                            <p class="hint" id="channel-recipients-hint">"One address per line, or separated by commas."</p>
                            {field_error("email.recipients")}
                            <label class="checkbox">
                                <input type="checkbox" prop:checked=move || form.to_requester.get() on:change=move |ev| form.to_requester.set(event_target_checked(&ev)) />
                                "Also send to the requester (their mail address in the directory)"
                            </label>
                            {field_error("email.to_requester")}
                            <label for="channel-subject">"Subject template"</label>
                            <input id="channel-subject" class="code-input" type="text" spellcheck="false"
                                aria-describedby="channel-subject-hint" aria-invalid=invalid("email.subject_template")
                                prop:value=move || form.subject_template.get() on:input=move |ev| form.subject_template.set(event_target_value(&ev)) />
                            <p class="hint" id="channel-subject-hint">"A MiniJinja template. Empty: the built-in subject."</p>
                            {field_error("email.subject_template")}
                            <label for="channel-body">"Body template (HTML)"</label>
                            <textarea id="channel-body" class="code-input" rows="8" spellcheck="false"
                                aria-describedby="channel-body-hint" aria-invalid=invalid("email.body_template")
                                prop:value=move || form.body_template.get() on:input=move |ev| form.body_template.set(event_target_value(&ev))></textarea>
                            <p class="hint" id="channel-body-hint">"A MiniJinja template producing HTML; values are escaped. Empty: the built-in body."</p>
                            {field_error("email.body_template")}
                        </fieldset>
                    </Show>

                    <Show when=move || form.webhook.get()>
                        <fieldset>
                            <legend>"Webhook"</legend>
                            <label for="channel-url">"URL"</label>
                            <input id="channel-url" type="url" autocomplete="off" spellcheck="false"
                                aria-describedby="channel-url-hint" aria-invalid=invalid("webhook.url")
                                prop:value=move || form.url.get() on:input=move |ev| form.url.set(event_target_value(&ev)) />
                            <p class="hint" id="channel-url-hint">"An http or https URL. Each notification is POSTed to it as JSON."</p>
                            {field_error("webhook.url")}
                            <label for="channel-preset">"Format"</label>
                            <select id="channel-preset" aria-invalid=invalid("webhook.preset")
                                on:change=move |ev| form.preset.set(event_target_value(&ev).parse().ok().and_then(|n: i32| WebhookPreset::try_from(n).ok()).unwrap_or(WebhookPreset::Generic))>
                                {[(WebhookPreset::Generic, "Generic JSON (jitroles' event)"), (WebhookPreset::Slack, "Slack incoming webhook"), (WebhookPreset::Teams, "Microsoft Teams Workflows")]
                                    .into_iter()
                                    .map(|(p, text)| view! { <option value=(p as i32).to_string() selected=move || form.preset.get() == p>{text}</option> })
                                    .collect_view()}
                            </select>
                            {field_error("webhook.preset")}
                            <fieldset class="choice-group">
                                <legend>"Extra headers"</legend>
                                <p class="hint">"Sent with every request, e.g. an API key. Stored in jitroles' database as entered."</p>
                                {move || form.headers.get().into_iter().enumerate().map(|(i, row)| {
                                    let n = i + 1;
                                    let (name, value) = (row.name.clone(), row.value.clone());
                                    let (name_in, value_in) = (row.name, row.value);
                                    view! {
                                        <div class="header-row">
                                            <label for=format!("channel-header-{n}-name")>{format!("Header {n} name")}</label>
                                            <input id=format!("channel-header-{n}-name") type="text" autocomplete="off" spellcheck="false"
                                                prop:value=move || name.get() on:input=move |ev| name_in.set(event_target_value(&ev)) />
                                            <label for=format!("channel-header-{n}-value")>{format!("Header {n} value")}</label>
                                            <input id=format!("channel-header-{n}-value") type="text" autocomplete="off" spellcheck="false"
                                                prop:value=move || value.get() on:input=move |ev| value_in.set(event_target_value(&ev)) />
                                            <button type="button" class="link-button"
                                                on:click=move |_| form.headers.update(|rows| { rows.remove(i); })>
                                                {format!("Remove header {n}")}
                                            </button>
                                        </div>
                                    }
                                }).collect_view()}
                                <button type="button" class="secondary" on:click=add_header>"Add a header"</button>
                                {field_error("webhook.headers")}
                            </fieldset>
                            <SecretSourceInput id="channel-signing".into() legend="Signing secret (optional)".into()
                                hint="With a secret, each body is signed with HMAC-SHA256 and the signature sent as X-Jitroles-Signature: sha256=<hex>, so the receiver can check it came from jitroles. jitroles never stores secrets: the server reads it from a file in its secrets folder (notifications.secrets_dir) or an environment variable named JITROLES_NOTIFY_….".into()
                                origin=form.signing_from value=form.signing problem=problem("webhook.signing_secret") />
                            <label for="channel-template">"JSON template"</label>
                            <textarea id="channel-template" class="code-input" rows="8" spellcheck="false"
                                aria-describedby="channel-template-hint" aria-invalid=invalid("webhook.template")
                                prop:value=move || form.template.get() on:input=move |ev| form.template.set(event_target_value(&ev))></textarea>
                            <p class="hint" id="channel-template-hint">"A MiniJinja template producing JSON; values are JSON-escaped. Empty: the chosen format's own."</p>
                            {field_error("webhook.template")}
                        </fieldset>
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
                            {field_error("lifecycle_events")}
                        </fieldset>
                        <DurationInput id="channel-lead".into() label="Send \u{201c}expiring soon\u{201d} this long before the expiry".into()
                            amount=form.lead_amount unit=form.lead_unit problem=problem("expiring_lead") />
                        <p class="hint">"From 1 minute to 7 days; 15 minutes unless changed."</p>
                        <label class="checkbox">
                            <input type="checkbox" prop:checked=move || form.enabled.get() on:change=move |ev| form.enabled.set(event_target_checked(&ev)) />
                            "Enabled"
                        </label>
                        {field_error("enabled")}
                    </fieldset>

                    {move || other_error().map(|m| view! { <p class="field-error" role="alert">{m}</p> })}
                    <div class="rule-editor__actions">
                        <button type="submit" disabled=move || busy.with(Option::is_some)>
                            {move || if busy.get() == Some("save") { "Saving…" } else { "Save channel" }}
                        </button>
                        <button type="button" class="secondary" disabled=move || busy.with(Option::is_some) on:click=send_test>
                            {move || if busy.get() == Some("test") { "Sending…" } else { "Send test" }}
                        </button>
                        <Show when=move || existing.with(Option::is_some)>
                            <button type="button" class="danger" disabled=move || busy.with(Option::is_some)
                                on:click=move |_| delete.with_value(|delete| delete())>
                                {move || if busy.get() == Some("delete") { "Deleting…" } else { "Delete channel" }}
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
                </Show>
            </section>
        </AdminsOnly>
    }
}
