//! Notifications: channels (email, webhooks), which events reach which channel, and how often
//! a delivery is tried.
//!
//! A grant transition and its notifications are written in one transaction (the outbox); a
//! worker delivers them later, so a notification never delays or blocks a grant. Templates and
//! transports are the server's; this module decides what is valid and who gets what.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    DomainError,
    access::Caller,
    audit::AuditAction,
    grant::Grant,
    rule::{RoleRule, check_text},
};

pub const MAX_CHANNEL_NAME_CHARS: usize = 100;
pub const MAX_RECIPIENTS: usize = 50;
pub const MAX_HEADERS: usize = 20;
pub const MAX_TEMPLATE_CHARS: usize = 20_000;
pub const MAX_URL_CHARS: usize = 2_048;
/// Host names, user names, addresses, header names, secret file paths and variable names.
pub const MAX_SETTING_CHARS: usize = 320;
pub const MIN_LEAD: Duration = Duration::from_secs(60);
pub const MAX_LEAD: Duration = Duration::from_secs(7 * 24 * 3600);
pub const DEFAULT_LEAD: Duration = Duration::from_secs(15 * 60);
/// Tries per notification: the first and five retries (see [`retry_after`]).
pub const MAX_ATTEMPTS: u32 = 6;

/// What a notification is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    Granted,
    Extended,
    Failed,
    ExpiringSoon,
    Expired,
    Released,
    Revoked,
}

impl Event {
    pub const LIFECYCLE: [Event; 4] = [
        Event::ExpiringSoon,
        Event::Expired,
        Event::Released,
        Event::Revoked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Granted => "granted",
            Self::Extended => "extended",
            Self::Failed => "failed",
            Self::ExpiringSoon => "expiring_soon",
            Self::Expired => "expired",
            Self::Released => "released",
            Self::Revoked => "revoked",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "granted" => Self::Granted,
            "extended" => Self::Extended,
            "failed" => Self::Failed,
            "expiring_soon" => Self::ExpiringSoon,
            "expired" => Self::Expired,
            "released" => Self::Released,
            "revoked" => Self::Revoked,
            _ => return None,
        })
    }

    /// The event an audited grant transition announces, if any. `ended` (the removal done) and
    /// `requested` announce nothing: the decision was announced already, or is about to be.
    pub fn of(action: AuditAction) -> Option<Self> {
        Some(match action {
            AuditAction::Granted => Self::Granted,
            AuditAction::Extended => Self::Extended,
            AuditAction::Failed => Self::Failed,
            AuditAction::Expired => Self::Expired,
            AuditAction::Released => Self::Released,
            AuditAction::Revoked => Self::Revoked,
            _ => return None,
        })
    }

    /// Words for people: "granted", "expiring soon".
    pub fn human(self) -> &'static str {
        match self {
            Self::ExpiringSoon => "expiring soon",
            other => other.as_str(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    None,
    StartTls,
    Implicit,
}

/// Where a secret is read from when it is needed; the secret itself is never stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    File(String),
    Env(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub username: String,
    pub password: Option<SecretSource>,
    pub sender: String,
    pub recipients: Vec<String>,
    pub to_requester: bool,
    pub subject_template: String,
    pub body_template: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    Generic,
    Slack,
    Teams,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub signing_secret: Option<SecretSource>,
    pub preset: Preset,
    pub template: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    Email(Email),
    Webhook(Webhook),
}

/// An admin's settings for a channel, as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelSpec {
    pub name: String,
    pub transport: Transport,
    pub lifecycle: Vec<Event>,
    pub expiring_lead: Option<Duration>,
    pub enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    pub id: String,
    pub spec: ChannelSpec,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A bare address `local@domain` or `Name <local@domain>`: the shape only (the mailer parses
/// it fully when the channel is saved).
fn check_address(field: &str, value: &str) -> Result<(), DomainError> {
    let address = match (value.find('<'), value.strip_suffix('>')) {
        (Some(open), Some(rest)) => &rest[open + 1..],
        _ => value,
    };
    let ok = address.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && (domain.contains('.') || domain == "localhost")
    }) && !address.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(DomainError::invalid(
            field,
            format!("{value:?} is not a mail address"),
        ))
    }
}

/// Header names are HTTP tokens; values have no line breaks.
fn check_header(name: &str, value: &str) -> Result<(), DomainError> {
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(token) {
        return Err(DomainError::invalid(
            "webhook.headers",
            format!("{name:?} is not a header name"),
        ));
    }
    let lower = name.to_ascii_lowercase();
    if [
        "content-type",
        "content-length",
        "host",
        "x-jitroles-signature",
    ]
    .contains(&lower.as_str())
    {
        return Err(DomainError::invalid(
            "webhook.headers",
            format!("{name} is set by jitroles itself"),
        ));
    }
    if value.chars().any(char::is_control) || value.len() > 4096 {
        return Err(DomainError::invalid(
            "webhook.headers",
            format!("the value of {name} has a line break or is too long"),
        ));
    }
    Ok(())
}

/// `value` is at most `max` characters.
fn check_len(field: &str, value: &str, max: usize) -> Result<(), DomainError> {
    if value.chars().count() > max {
        return Err(DomainError::invalid(
            field,
            format!("at most {max} characters"),
        ));
    }
    Ok(())
}

fn check_secret(field: &str, secret: Option<&SecretSource>) -> Result<(), DomainError> {
    if let Some(SecretSource::File(s) | SecretSource::Env(s)) = secret {
        check_len(field, s, MAX_SETTING_CHARS)?;
    }
    match secret {
        None => Ok(()),
        Some(SecretSource::File(path)) if !path.starts_with('/') => Err(DomainError::invalid(
            field,
            "the secret file must be an absolute path",
        )),
        Some(SecretSource::Env(name))
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
        {
            Err(DomainError::invalid(
                field,
                format!("{name:?} is not an environment variable name"),
            ))
        }
        Some(_) => Ok(()),
    }
}

/// An http(s) URL with a host, no spaces (the server parses it fully on save).
fn check_url(url: &str) -> Result<(), DomainError> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| {
            DomainError::invalid("webhook.url", "must start with https:// (or http://)")
        })?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(DomainError::invalid(
            "webhook.url",
            format!("{url:?} is not a URL"),
        ));
    }
    Ok(())
}

impl ChannelSpec {
    /// Every setting checked, with the field at fault; text trimmed.
    pub fn validate(mut self) -> Result<ChannelSpec, DomainError> {
        self.name = self.name.trim().to_owned();
        check_text("name", &self.name, MAX_CHANNEL_NAME_CHARS, false)?;
        if self.name.is_empty() {
            return Err(DomainError::invalid("name", "a channel needs a name"));
        }
        match &mut self.transport {
            Transport::Email(e) => {
                e.host = e.host.trim().to_owned();
                e.username = e.username.trim().to_owned();
                e.sender = e.sender.trim().to_owned();
                e.recipients = e
                    .recipients
                    .iter()
                    .map(|r| r.trim().to_owned())
                    .filter(|r| !r.is_empty())
                    .collect();
                if e.host.is_empty()
                    || e.host.len() > 253
                    || e.host
                        .chars()
                        .any(|c| c.is_whitespace() || c.is_control() || c == '/')
                {
                    return Err(DomainError::invalid("email.host", "a host name or address"));
                }
                if e.port == 0 {
                    return Err(DomainError::invalid("email.port", "a port from 1 to 65535"));
                }
                check_len("email.username", &e.username, MAX_SETTING_CHARS)?;
                check_len("email.sender", &e.sender, MAX_SETTING_CHARS)?;
                for r in &e.recipients {
                    check_len("email.recipients", r, MAX_SETTING_CHARS)?;
                }
                check_address("email.sender", &e.sender)?;
                if e.recipients.is_empty() && !e.to_requester {
                    return Err(DomainError::invalid(
                        "email.recipients",
                        "at least one recipient (or the requester)",
                    ));
                }
                if e.recipients.len() > MAX_RECIPIENTS {
                    return Err(DomainError::invalid(
                        "email.recipients",
                        format!("at most {MAX_RECIPIENTS}"),
                    ));
                }
                for r in &e.recipients {
                    check_address("email.recipients", r)?;
                }
                if e.username.is_empty() != e.password.is_none() {
                    return Err(DomainError::invalid(
                        "email.password",
                        "authentication needs both a username and a password source",
                    ));
                }
                check_secret("email.password", e.password.as_ref())?;
                if e.password.is_some() && e.tls == SmtpTls::None {
                    return Err(DomainError::invalid(
                        "email.tls",
                        "a password is never sent unencrypted: choose STARTTLS or implicit TLS",
                    ));
                }
                check_len(
                    "email.subject_template",
                    &e.subject_template,
                    MAX_TEMPLATE_CHARS,
                )?;
                check_len("email.body_template", &e.body_template, MAX_TEMPLATE_CHARS)?;
            }
            Transport::Webhook(w) => {
                w.url = w.url.trim().to_owned();
                for (name, _) in &mut w.headers {
                    *name = name.trim().to_owned();
                }
                check_len("webhook.url", &w.url, MAX_URL_CHARS)?;
                check_url(&w.url)?;
                if w.headers.len() > MAX_HEADERS {
                    return Err(DomainError::invalid(
                        "webhook.headers",
                        format!("at most {MAX_HEADERS}"),
                    ));
                }
                for (name, value) in &w.headers {
                    check_len("webhook.headers", name, MAX_SETTING_CHARS)?;
                    check_header(name, value)?;
                }
                check_secret("webhook.signing_secret", w.signing_secret.as_ref())?;
                check_len("webhook.template", &w.template, MAX_TEMPLATE_CHARS)?;
            }
        }
        if let Some(e) = self
            .lifecycle
            .iter()
            .find(|e| !Event::LIFECYCLE.contains(e))
        {
            return Err(DomainError::invalid(
                "lifecycle_events",
                format!(
                    "{} is not a lifecycle event (rules choose the channels for it)",
                    e.human()
                ),
            ));
        }
        self.lifecycle.sort();
        self.lifecycle.dedup();
        if let Some(lead) = self.expiring_lead
            && !(MIN_LEAD..=MAX_LEAD).contains(&lead)
        {
            return Err(DomainError::invalid(
                "expiring_lead",
                "from 1 minute to 7 days",
            ));
        }
        Ok(self)
    }

    pub fn lead(&self) -> Duration {
        self.expiring_lead.unwrap_or(DEFAULT_LEAD)
    }
}

/// Which channel ids an event about a grant of a rule goes to: the rule's success channels for
/// granted and extended, its failure channels for failed, and the channels that subscribe to a
/// lifecycle event. Disabled channels get nothing; each channel at most once.
pub fn route(
    event: Event,
    success: &[String],
    failure: &[String],
    channels: &[Channel],
) -> Vec<String> {
    let mut to: Vec<String> = channels
        .iter()
        .filter(|c| c.spec.enabled)
        .filter(|c| match event {
            Event::Granted | Event::Extended => success.contains(&c.id),
            Event::Failed => failure.contains(&c.id),
            _ => c.spec.lifecycle.contains(&event),
        })
        .map(|c| c.id.clone())
        .collect();
    to.sort();
    to.dedup();
    to
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    Pending,
    Sent,
    Failed,
    /// Not sent: no longer true when it fell due (an expiring-soon notice of a grant that
    /// ended or was extended).
    Skipped,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => Self::Pending,
            "sent" => Self::Sent,
            "failed" => Self::Failed,
            "skipped" => Self::Skipped,
            _ => return None,
        })
    }
}

/// What a notification says: the facts at the moment of the event, so a later change of the
/// grant or rule does not rewrite it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Facts {
    pub rule_name: String,
    pub group: String,
    pub subject_account: String,
    pub subject_display_name: String,
    pub subject_sid: String,
    pub requested_by: String,
    pub justification: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub actor: String,
    pub detail: String,
}

impl Facts {
    /// The facts of an event about `g`, by `actor`, with the audit's `detail`.
    pub fn of(g: &Grant, actor: &str, detail: &str) -> Self {
        Self {
            rule_name: g.rule_name.clone(),
            group: g.group.name.clone(),
            subject_account: g.subject.account.clone(),
            subject_display_name: g.subject.display_name.clone(),
            subject_sid: g.subject.sid.to_string(),
            requested_by: g.requested_by.clone(),
            justification: g.justification.clone(),
            expires_at: Some(g.expires_at),
            actor: actor.to_owned(),
            detail: detail.to_owned(),
        }
    }
}

/// A notification to write to the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNotification {
    pub id: String,
    pub channel_id: String,
    pub event: Event,
    pub grant_id: String,
    pub facts: Facts,
    /// Written at most once (an expiring-soon notice per grant, channel and expiry).
    pub dedupe_key: Option<String>,
    pub at: DateTime<Utc>,
    /// When it is sent: `at`, or later for an expiring-soon notice.
    pub due: DateTime<Utc>,
}

/// The expiring-soon notices for `g` (just granted or extended at `at`): one per enabled
/// channel subscribed to them, due the channel's lead time before the expiry (at once if that
/// has passed). An extension schedules new ones; an older notice whose grant ended or moved
/// on is skipped when it falls due (see [`still_expiring`]).
/// `new_id` names each notice.
pub fn expiring_soon(
    g: &Grant,
    channels: &[Channel],
    at: DateTime<Utc>,
    mut new_id: impl FnMut() -> String,
) -> Vec<NewNotification> {
    channels
        .iter()
        .filter(|c| c.spec.enabled && c.spec.lifecycle.contains(&Event::ExpiringSoon))
        .map(|c| {
            let lead = TimeDelta::from_std(c.spec.lead()).unwrap_or(TimeDelta::MAX);
            NewNotification {
                id: new_id(),
                channel_id: c.id.clone(),
                event: Event::ExpiringSoon,
                grant_id: g.id.clone(),
                facts: Facts::of(g, crate::audit::SYSTEM_ACTOR, ""),
                // one per expiry: an extension (a later expiry) schedules another
                dedupe_key: Some(format!(
                    "soon:{}:{}:{}",
                    g.id,
                    c.id,
                    g.expires_at.timestamp_micros()
                )),
                at,
                due: (g.expires_at - lead).max(at),
            }
        })
        .collect()
}

/// Refusal notices of one person for one rule are written at most once per this many
/// seconds (someone who retries, or a script, must not flood the failure channels).
pub const REFUSAL_QUIET_SECONDS: i64 = 600;

/// The dedupe key of a refusal notice at `at` to `channel_id`.
pub fn refusal_key(rule_id: &str, caller_sid: &str, channel_id: &str, at: DateTime<Utc>) -> String {
    format!(
        "refused:{rule_id}:{caller_sid}:{channel_id}:{}",
        at.timestamp().div_euclid(REFUSAL_QUIET_SECONDS)
    )
}

/// The notices of a grant's transition (the audit event `audit` of grant `g`): the event to
/// the channels it is routed to (a rule's `success`/`failure` channels, lifecycle events to
/// subscribers), and for a grant or extension its expiring-soon notices. Written by the store
/// in the transition's own transaction.
pub fn of_transition(
    g: &Grant,
    audit: &crate::audit::NewAudit,
    rule: &crate::rule::RuleChannels,
    channels: &[Channel],
    mut new_id: impl FnMut() -> String,
) -> Vec<NewNotification> {
    let Some(event) = Event::of(audit.action) else {
        return Vec::new();
    };
    let facts = Facts::of(g, &audit.actor, &audit.detail);
    let mut notes: Vec<NewNotification> = route(event, &rule.success, &rule.failure, channels)
        .into_iter()
        .map(|channel_id| NewNotification {
            id: new_id(),
            channel_id,
            event,
            grant_id: g.id.clone(),
            facts: facts.clone(),
            dedupe_key: None,
            at: audit.at,
            due: audit.at,
        })
        .collect();
    if matches!(event, Event::Granted | Event::Extended) {
        notes.extend(expiring_soon(g, channels, audit.at, new_id));
    }
    notes
}

/// Whether a refused request is announced to the rule's failure channels: a refusal of the
/// person (not allowed, the rule closed, a permanent member), not bad input or an outage.
pub fn announces_refusal(why: &DomainError) -> bool {
    matches!(
        why,
        DomainError::Denied(_) | DomainError::FailedPrecondition(_)
    )
}

/// The notices of a refused request of `rule` by `caller` (no grant was made), one per
/// enabled failure channel of the rule, each written at most once per [`REFUSAL_QUIET_SECONDS`].
pub fn refusal(
    rule: &RoleRule,
    caller: &Caller,
    why: &DomainError,
    channels: &[Channel],
    now: DateTime<Utc>,
    mut new_id: impl FnMut() -> String,
) -> Vec<NewNotification> {
    let facts = Facts {
        rule_name: rule.spec.name.clone(),
        group: rule.target.name.clone(),
        subject_account: caller.account_name.clone(),
        subject_display_name: caller.display_name.clone(),
        subject_sid: caller.sid.to_string(),
        requested_by: caller.account_name.clone(),
        actor: caller.account_name.clone(),
        detail: why.said(),
        ..Facts::default()
    };
    route(Event::Failed, &[], &rule.spec.channels.failure, channels)
        .into_iter()
        .map(|channel_id| NewNotification {
            id: new_id(),
            event: Event::Failed,
            grant_id: String::new(),
            facts: facts.clone(),
            dedupe_key: Some(refusal_key(&rule.id, caller.sid.as_str(), &channel_id, now)),
            channel_id,
            at: now,
            due: now,
        })
        .collect()
}

/// Whether an expiring-soon notice written with `facts` still tells the truth about `g`: the
/// grant is active and still expires then.
pub fn still_expiring(facts: &Facts, g: Option<&Grant>) -> bool {
    g.is_some_and(|g| {
        g.state == crate::grant::GrantState::Active && Some(g.expires_at) == facts.expires_at
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub id: String,
    pub channel_id: String,
    pub event: Event,
    pub grant_id: String,
    pub facts: Facts,
    pub state: DeliveryState,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub next_attempt_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    /// Bumped by every stored change: claims are conditional on it.
    pub version: i64,
}

/// The wait before attempt `attempts + 1` after `attempts` failed ones: 2 s, 8 s, 32 s, ~2 min,
/// ~8.5 min (×4 each time), or `None` when none is left.
pub fn retry_after(attempts: u32) -> Option<Duration> {
    (attempts < MAX_ATTEMPTS).then(|| {
        Duration::from_secs(2u64.saturating_mul(4u64.saturating_pow(attempts.saturating_sub(1))))
    })
}

/// `n` after a failed attempt at `now` with `error`: pending again later, or failed for good.
pub fn attempt_failed(n: &Notification, error: String, now: DateTime<Utc>) -> Notification {
    let attempts = n.attempts + 1;
    match retry_after(attempts) {
        Some(wait) => Notification {
            attempts,
            last_error: Some(error),
            next_attempt_at: now + TimeDelta::from_std(wait).unwrap_or(TimeDelta::MAX),
            ..n.clone()
        },
        None => Notification {
            attempts,
            last_error: Some(error),
            state: DeliveryState::Failed,
            ..n.clone()
        },
    }
}

/// `n` not sent at `now`, for the reason `why`.
pub fn skipped(n: &Notification, why: &str, now: DateTime<Utc>) -> Notification {
    Notification {
        state: DeliveryState::Skipped,
        last_error: Some(why.to_owned()),
        sent_at: Some(now),
        ..n.clone()
    }
}

/// `n` (failed) pending again from `now`, with a fresh round of attempts; its last error stays
/// until the next attempt.
pub fn retry(n: &Notification, now: DateTime<Utc>) -> Result<Notification, DomainError> {
    if n.state != DeliveryState::Failed {
        return Err(DomainError::FailedPrecondition(format!(
            "only a failed notification is sent again; this one is {}",
            n.state.as_str()
        )));
    }
    Ok(Notification {
        state: DeliveryState::Pending,
        attempts: 0,
        next_attempt_at: now,
        ..n.clone()
    })
}

/// `n` delivered at `now`.
pub fn sent(n: &Notification, now: DateTime<Utc>) -> Notification {
    Notification {
        attempts: n.attempts + 1,
        state: DeliveryState::Sent,
        sent_at: Some(now),
        ..n.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email() -> ChannelSpec {
        ChannelSpec {
            name: " Ops mail ".into(),
            transport: Transport::Email(Email {
                host: "smtp.example.com".into(),
                port: 587,
                tls: SmtpTls::StartTls,
                username: String::new(),
                password: None,
                sender: "jitroles <jitroles@example.com>".into(),
                recipients: vec!["ops@example.com".into()],
                to_requester: false,
                subject_template: String::new(),
                body_template: String::new(),
            }),
            lifecycle: vec![Event::Expired],
            expiring_lead: None,
            enabled: true,
        }
    }

    fn webhook(url: &str) -> ChannelSpec {
        ChannelSpec {
            transport: Transport::Webhook(Webhook {
                url: url.into(),
                headers: vec![("X-Team".into(), "dba".into())],
                signing_secret: Some(SecretSource::Env("HOOK_SECRET".into())),
                preset: Preset::Generic,
                template: String::new(),
            }),
            ..email()
        }
    }

    fn field(spec: ChannelSpec) -> String {
        match spec.validate() {
            Err(DomainError::Invalid { field, .. }) => field,
            other => panic!("not refused: {other:?}"),
        }
    }

    #[test]
    fn a_sound_channel_is_accepted_with_its_name_trimmed() {
        assert_eq!(email().validate().unwrap().name, "Ops mail");
        let mut spaced = email();
        if let Transport::Email(e) = &mut spaced.transport {
            e.recipients = vec![" ops@example.com ".into(), "  ".into()];
        }
        let Transport::Email(trimmed) = spaced.validate().unwrap().transport else {
            panic!("not a mail channel")
        };
        assert_eq!(
            trimmed.recipients,
            ["ops@example.com"],
            "trimmed, blanks dropped"
        );
        let mut twice = email();
        twice.lifecycle = vec![Event::Revoked, Event::Expired, Event::Revoked];
        assert_eq!(
            twice.validate().unwrap().lifecycle,
            [Event::Expired, Event::Revoked]
        );
        assert!(
            webhook("https://hooks.example.com/x?y=1")
                .validate()
                .is_ok()
        );
    }

    #[test]
    fn bad_settings_are_refused_with_the_field_at_fault() {
        let with_email = |f: &dyn Fn(&mut Email)| {
            let mut spec = email();
            if let Transport::Email(e) = &mut spec.transport {
                f(e);
            }
            field(spec)
        };
        assert_eq!(with_email(&|e| e.port = 0), "email.port");
        assert_eq!(
            with_email(&|e| e.host = "smtp example".into()),
            "email.host"
        );
        assert_eq!(with_email(&|e| e.sender = "nobody".into()), "email.sender");
        assert_eq!(
            with_email(&|e| e.recipients = vec!["ops at example".into()]),
            "email.recipients"
        );
        assert_eq!(with_email(&|e| e.recipients.clear()), "email.recipients");
        assert_eq!(
            with_email(&|e| e.username = "relay".into()),
            "email.password"
        );
        assert_eq!(
            with_email(&|e| {
                e.username = "relay".into();
                e.password = Some(SecretSource::Env("JITROLES_NOTIFY_SMTP".into()));
                e.tls = SmtpTls::None;
            }),
            "email.tls",
            "no password in clear text"
        );
        assert_eq!(
            with_email(&|e| e.sender = format!("{}@x.test", "a".repeat(400))),
            "email.sender"
        );
        assert_eq!(field(webhook("ftp://x")), "webhook.url");
        assert_eq!(field(webhook("https://")), "webhook.url");
        assert_eq!(field(webhook("https://a b")), "webhook.url");
        let mut bad_header = webhook("https://x.test");
        if let Transport::Webhook(w) = &mut bad_header.transport {
            w.headers = vec![("X-A".into(), "1\r\nX-Evil: 2".into())];
        }
        assert_eq!(field(bad_header), "webhook.headers");
        let mut no_name = email();
        no_name.name = "  ".into();
        assert_eq!(field(no_name), "name");
        let mut lead = email();
        lead.expiring_lead = Some(Duration::from_secs(5));
        assert_eq!(field(lead), "expiring_lead");
        let mut granted = email();
        granted.lifecycle = vec![Event::Granted];
        assert_eq!(field(granted), "lifecycle_events");
    }

    fn active_grant(expires_at: DateTime<Utc>) -> Grant {
        use crate::{
            directory::Mechanism,
            grant::{GrantState, Subject},
            rule::TargetGroup,
        };
        Grant {
            id: "g1".into(),
            rule_id: "r1".into(),
            rule_name: "DBA".into(),
            group: TargetGroup {
                sid: "S-1-5-21-1-2-3-2000".parse().unwrap(),
                guid: String::new(),
                dn: "CN=jit-role-dba".into(),
                name: "jit-role-dba".into(),
            },
            subject: Subject {
                sid: "S-1-5-21-1-2-3-1106".parse().unwrap(),
                dn: "CN=Dave Dba".into(),
                account: "dave".into(),
                display_name: "Dave Dba".into(),
            },
            requested_by: "dave".into(),
            justification: String::new(),
            requested_at: DateTime::UNIX_EPOCH,
            expires_at,
            state: GrantState::Active,
            mechanism: Mechanism::Scheduled,
            extension_count: 0,
            ended_at: None,
            end_reason: None,
            end_note: None,
            last_error: None,
            client_request_id: None,
            lease: None,
            version: 1,
        }
    }

    fn channel(id: &str, spec: ChannelSpec) -> Channel {
        Channel {
            id: id.into(),
            spec,
            version: 1,
            created_at: DateTime::UNIX_EPOCH,
            updated_at: DateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn events_go_to_the_rules_channels_or_the_lifecycle_subscribers() {
        let mut off = email();
        off.enabled = false;
        let channels = [
            channel("ok", email()),
            channel("fail", email()),
            channel("off", off),
        ];
        let (success, failure) = (
            vec!["ok".to_owned(), "off".to_owned()],
            vec!["fail".to_owned()],
        );
        assert_eq!(route(Event::Granted, &success, &failure, &channels), ["ok"]);
        assert_eq!(
            route(Event::Failed, &success, &failure, &channels),
            ["fail"]
        );
        assert_eq!(
            route(Event::Expired, &success, &failure, &channels),
            ["fail", "ok"],
            "every enabled subscriber"
        );
        assert!(route(Event::Revoked, &success, &failure, &channels).is_empty());
    }

    #[test]
    fn expiring_soon_notices_fall_due_a_lead_before_the_expiry_and_lapse_when_it_moves() {
        use crate::grant::GrantState;
        let mut soon = email();
        soon.lifecycle = vec![Event::ExpiringSoon];
        soon.expiring_lead = Some(Duration::from_secs(600));
        let channels = [channel("soon", soon), channel("other", email())];
        let at = DateTime::UNIX_EPOCH;
        let g = active_grant(at + TimeDelta::hours(1));
        let notes = expiring_soon(&g, &channels, at, || "n".into());
        assert_eq!(notes.len(), 1);
        assert_eq!(notes[0].due, at + TimeDelta::minutes(50));
        let short = active_grant(at + TimeDelta::minutes(2));
        assert_eq!(
            expiring_soon(&short, &channels, at, || "n".into())[0].due,
            at,
            "at once"
        );
        assert!(still_expiring(&notes[0].facts, Some(&g)));
        let extended = Grant {
            expires_at: g.expires_at + TimeDelta::hours(1),
            ..g.clone()
        };
        assert!(!still_expiring(&notes[0].facts, Some(&extended)));
        let ended = Grant {
            state: GrantState::Ended,
            ..g
        };
        assert!(!still_expiring(&notes[0].facts, Some(&ended)));
        assert!(!still_expiring(&notes[0].facts, None));
    }

    #[test]
    fn failed_attempts_back_off_and_end_failed_after_the_last() {
        let mut n = Notification {
            id: "n".into(),
            channel_id: "c".into(),
            event: Event::Granted,
            grant_id: "g".into(),
            facts: Facts::default(),
            state: DeliveryState::Pending,
            attempts: 0,
            last_error: None,
            created_at: DateTime::UNIX_EPOCH,
            next_attempt_at: DateTime::UNIX_EPOCH,
            sent_at: None,
            version: 1,
        };
        let mut waits = Vec::new();
        while n.state == DeliveryState::Pending {
            let next = attempt_failed(&n, "refused".into(), DateTime::UNIX_EPOCH);
            if next.state == DeliveryState::Pending {
                waits.push((next.next_attempt_at - DateTime::UNIX_EPOCH).num_seconds());
            }
            n = next;
        }
        assert_eq!(n.state, DeliveryState::Failed);
        assert_eq!(n.attempts, MAX_ATTEMPTS);
        assert_eq!(waits, [2, 8, 32, 128, 512]);
        assert_eq!(n.last_error.as_deref(), Some("refused"));
        let again = retry(&n, DateTime::UNIX_EPOCH + TimeDelta::hours(1)).unwrap();
        assert_eq!(
            (again.state, again.attempts),
            (DeliveryState::Pending, 0),
            "a retry starts a fresh round"
        );
        assert!(matches!(
            retry(&again, DateTime::UNIX_EPOCH),
            Err(DomainError::FailedPrecondition(_))
        ));
        assert_eq!(sent(&n, DateTime::UNIX_EPOCH).state, DeliveryState::Sent);
    }
}
