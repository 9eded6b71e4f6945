//! How a channel's transport and events are stored: the store's own JSON layout, so renaming a
//! domain type or field never changes what is on disk or makes a stored channel unreadable.
//! The layout is the one the first release wrote (pinned by the test below).

use jitroles_domain::notify::{Email, Event, Preset, SecretSource, SmtpTls, Transport, Webhook};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum TransportRecord {
    Email(EmailRecord),
    Webhook(WebhookRecord),
}

#[derive(Serialize, Deserialize)]
struct EmailRecord {
    host: String,
    port: u16,
    tls: TlsRecord,
    username: String,
    password: Option<SecretRecord>,
    sender: String,
    recipients: Vec<String>,
    to_requester: bool,
    /// Added with approvals: absent in older rows, and left out while off, so a row written
    /// before reads back and writes the same layout.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    to_approvers: bool,
    subject_template: String,
    body_template: String,
}

#[derive(Serialize, Deserialize)]
struct WebhookRecord {
    url: String,
    headers: Vec<(String, String)>,
    signing_secret: Option<SecretRecord>,
    preset: PresetRecord,
    template: String,
}

#[derive(Serialize, Deserialize)]
enum TlsRecord {
    None,
    StartTls,
    Implicit,
}

#[derive(Serialize, Deserialize)]
enum PresetRecord {
    Generic,
    Slack,
    Teams,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum SecretRecord {
    File(String),
    Env(String),
}

impl From<&SecretSource> for SecretRecord {
    fn from(s: &SecretSource) -> Self {
        match s {
            SecretSource::File(p) => Self::File(p.clone()),
            SecretSource::Env(v) => Self::Env(v.clone()),
        }
    }
}

impl From<SecretRecord> for SecretSource {
    fn from(s: SecretRecord) -> Self {
        match s {
            SecretRecord::File(p) => Self::File(p),
            SecretRecord::Env(v) => Self::Env(v),
        }
    }
}

impl From<&Transport> for TransportRecord {
    fn from(t: &Transport) -> Self {
        match t {
            Transport::Email(e) => Self::Email(EmailRecord {
                host: e.host.clone(),
                port: e.port,
                tls: match e.tls {
                    SmtpTls::None => TlsRecord::None,
                    SmtpTls::StartTls => TlsRecord::StartTls,
                    SmtpTls::Implicit => TlsRecord::Implicit,
                },
                username: e.username.clone(),
                password: e.password.as_ref().map(SecretRecord::from),
                sender: e.sender.clone(),
                recipients: e.recipients.clone(),
                to_requester: e.to_requester,
                to_approvers: e.to_approvers,
                subject_template: e.subject_template.clone(),
                body_template: e.body_template.clone(),
            }),
            Transport::Webhook(w) => Self::Webhook(WebhookRecord {
                url: w.url.clone(),
                headers: w.headers.clone(),
                signing_secret: w.signing_secret.as_ref().map(SecretRecord::from),
                preset: match w.preset {
                    Preset::Generic => PresetRecord::Generic,
                    Preset::Slack => PresetRecord::Slack,
                    Preset::Teams => PresetRecord::Teams,
                },
                template: w.template.clone(),
            }),
        }
    }
}

impl From<TransportRecord> for Transport {
    fn from(t: TransportRecord) -> Self {
        match t {
            TransportRecord::Email(e) => Self::Email(Email {
                host: e.host,
                port: e.port,
                tls: match e.tls {
                    TlsRecord::None => SmtpTls::None,
                    TlsRecord::StartTls => SmtpTls::StartTls,
                    TlsRecord::Implicit => SmtpTls::Implicit,
                },
                username: e.username,
                password: e.password.map(SecretSource::from),
                sender: e.sender,
                recipients: e.recipients,
                to_requester: e.to_requester,
                to_approvers: e.to_approvers,
                subject_template: e.subject_template,
                body_template: e.body_template,
            }),
            TransportRecord::Webhook(w) => Self::Webhook(Webhook {
                url: w.url,
                headers: w.headers,
                signing_secret: w.signing_secret.map(SecretSource::from),
                preset: match w.preset {
                    PresetRecord::Generic => Preset::Generic,
                    PresetRecord::Slack => Preset::Slack,
                    PresetRecord::Teams => Preset::Teams,
                },
                template: w.template,
            }),
        }
    }
}

pub fn transport_json(t: &Transport) -> String {
    serde_json::to_string(&TransportRecord::from(t)).expect("plain data serialises")
}

pub fn transport_of(json: &str) -> Result<Transport, serde_json::Error> {
    serde_json::from_str::<TransportRecord>(json).map(Transport::from)
}

/// Events as their stable names (`granted`, `expiring_soon`, …).
pub fn events_json(events: &[Event]) -> String {
    let names: Vec<&str> = events.iter().map(|e| e.as_str()).collect();
    serde_json::to_string(&names).expect("strings serialise")
}

pub fn events_of(json: &str) -> Result<Vec<Event>, String> {
    let names: Vec<String> = serde_json::from_str(json).map_err(|e| e.to_string())?;
    names
        .iter()
        .map(|n| Event::parse(n).ok_or_else(|| format!("unknown event {n:?}")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the first release wrote; a change of the domain's types must still read it.
    const EMAIL: &str = r#"{"email":{"host":"smtp.example.org","port":587,"tls":"StartTls","username":"jit","password":{"file":"/etc/jitroles/smtp"},"sender":"jit@example.org","recipients":["sec@example.org"],"to_requester":true,"subject_template":"s","body_template":"b"}}"#;
    const WEBHOOK: &str = r#"{"webhook":{"url":"https://hooks.example.org/x","headers":[["X-Team","sec"]],"signing_secret":{"env":"HOOK_KEY"},"preset":"Slack","template":""}}"#;

    #[test]
    fn stored_transports_read_back_and_write_the_same_layout() {
        for json in [EMAIL, WEBHOOK] {
            let transport = transport_of(json).unwrap();
            assert_eq!(transport_json(&transport), json);
        }
    }

    #[test]
    fn the_approvers_option_is_stored_when_on() {
        let on = EMAIL.replace(
            r#""to_requester":true"#,
            r#""to_requester":true,"to_approvers":true"#,
        );
        let transport = transport_of(&on).unwrap();
        assert!(matches!(&transport, Transport::Email(e) if e.to_approvers));
        assert_eq!(transport_json(&transport), on);
    }

    #[test]
    fn stored_events_are_their_names() {
        let json = r#"["granted","expiring_soon"]"#;
        let events = events_of(json).unwrap();
        assert_eq!(events, [Event::Granted, Event::ExpiringSoon]);
        assert_eq!(events_json(&events), json);
        assert!(events_of(r#"["exploded"]"#).is_err());
    }
}
