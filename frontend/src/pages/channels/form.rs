//! The channel editor's state: one signal per field, filled from a saved channel and read
//! back into a `ChannelSpec`.

use leptos::prelude::*;

use super::DEFAULT_LEAD_SECS;
use crate::{
    api::{
        ChannelKind, ChannelSpec, EmailChannel, Header, NotificationEvent, SecretFrom,
        SecretSource, SmtpTls, WebhookChannel, WebhookPreset,
    },
    components::{SecretOrigin, seconds, split},
};

/// The editor's fields, so a server violation can be told apart from one it cannot place.
pub const FIELDS: [&str; 20] = [
    "name",
    "email.host",
    "email.port",
    "email.tls",
    "email.username",
    "email.password",
    "email.sender",
    "email.recipients",
    "email.to_requester",
    "email.to_approvers",
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

/// Addresses entered one per line or separated by commas.
fn addresses(text: &str) -> Vec<String> {
    text.split([',', '\n'])
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The usual port for a TLS mode.
pub fn usual_port(tls: SmtpTls) -> &'static str {
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

/// One extra webhook header. Reference-counted signals: rows come and go with clicks, so they
/// belong to the list rather than to whichever owner was current at the click.
#[derive(Clone)]
pub struct HeaderRow {
    pub id: u64,
    pub name: ArcRwSignal<String>,
    pub value: ArcRwSignal<String>,
}

impl HeaderRow {
    pub fn new(name: String, value: String) -> Self {
        use std::sync::atomic::{AtomicU64, Ordering};
        // a key for the keyed list: rows keep their inputs when others come and go
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Self {
            id: NEXT.fetch_add(1, Ordering::Relaxed),
            name: ArcRwSignal::new(name),
            value: ArcRwSignal::new(value),
        }
    }
}

/// The editor's state: one signal per field.
#[derive(Clone, Copy)]
pub struct ChannelForm {
    pub name: RwSignal<String>,
    pub webhook: RwSignal<bool>,
    pub host: RwSignal<String>,
    pub port: RwSignal<String>,
    pub tls: RwSignal<SmtpTls>,
    pub username: RwSignal<String>,
    pub password_from: RwSignal<SecretOrigin>,
    pub password: RwSignal<String>,
    pub sender: RwSignal<String>,
    pub recipients: RwSignal<String>,
    pub to_requester: RwSignal<bool>,
    pub to_approvers: RwSignal<bool>,
    pub subject_template: RwSignal<String>,
    pub body_template: RwSignal<String>,
    pub url: RwSignal<String>,
    pub preset: RwSignal<WebhookPreset>,
    pub headers: RwSignal<Vec<HeaderRow>>,
    pub signing_from: RwSignal<SecretOrigin>,
    pub signing: RwSignal<String>,
    pub template: RwSignal<String>,
    pub events: RwSignal<Vec<NotificationEvent>>,
    pub lead_amount: RwSignal<String>,
    pub lead_unit: RwSignal<i64>,
    pub enabled: RwSignal<bool>,
}

impl ChannelForm {
    /// A new channel: email with STARTTLS on 587, "expiring soon" 15 minutes ahead, enabled.
    pub fn new() -> Self {
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
            to_approvers: RwSignal::new(false),
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

    pub fn fill(&self, spec: ChannelSpec) {
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
                self.to_approvers.set(e.to_approvers);
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
    pub fn spec(&self) -> Result<ChannelSpec, Vec<(String, String)>> {
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
                to_approvers: self.to_approvers.get_untracked(),
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
