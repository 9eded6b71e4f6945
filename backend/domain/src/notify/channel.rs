//! Channels (email, webhooks): an admin's settings, checked field by field before they are
//! stored.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::Event;
use crate::{DomainError, rule::check_text};

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

/// Most approvers one message goes to.
pub const MAX_APPROVER_RECIPIENTS: usize = 100;

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
    /// Also each approver of the grant's rule, from the directory (see
    /// [`crate::reach::reach`]); at most [`MAX_APPROVER_RECIPIENTS`].
    pub to_approvers: bool,
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
                if e.recipients.is_empty() && !e.to_requester && !e.to_approvers {
                    return Err(DomainError::invalid(
                        "email.recipients",
                        "at least one recipient (or the requester, or the approvers)",
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::fixtures::email;

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
}
