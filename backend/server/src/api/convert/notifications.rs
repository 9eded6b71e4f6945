//! Notification channels and deliveries, between the wire and the domain.

use jitroles_domain::{
    DomainError,
    notify::{
        Channel, ChannelSpec, DeliveryState, Email, Event, Notification, Preset, SecretSource,
        SmtpTls, Transport, Webhook,
    },
};
use jitroles_proto::v1 as pb;

use super::{duration, proto_duration, timestamp};

fn event_to_proto(e: Event) -> pb::NotificationEvent {
    match e {
        Event::Granted => pb::NotificationEvent::Granted,
        Event::Extended => pb::NotificationEvent::Extended,
        Event::Failed => pb::NotificationEvent::Failed,
        Event::ExpiringSoon => pb::NotificationEvent::ExpiringSoon,
        Event::Expired => pb::NotificationEvent::Expired,
        Event::Released => pb::NotificationEvent::Released,
        Event::Revoked => pb::NotificationEvent::Revoked,
        Event::ApprovalRequested => pb::NotificationEvent::ApprovalRequested,
        Event::Approved => pb::NotificationEvent::Approved,
        Event::Rejected => pb::NotificationEvent::Rejected,
        Event::Cancelled => pb::NotificationEvent::Cancelled,
        Event::Lapsed => pb::NotificationEvent::Lapsed,
        Event::BreakGlassUsed => pb::NotificationEvent::BreakGlassUsed,
    }
}

fn secret_from_proto(s: Option<&pb::SecretSource>) -> Option<SecretSource> {
    match s.and_then(|s| s.source.as_ref()) {
        Some(pb::secret_source::Source::File(f)) if !f.is_empty() => {
            Some(SecretSource::File(f.clone()))
        }
        Some(pb::secret_source::Source::Env(e)) if !e.is_empty() => {
            Some(SecretSource::Env(e.clone()))
        }
        _ => None,
    }
}

fn secret_to_proto(s: &Option<SecretSource>) -> Option<pb::SecretSource> {
    s.as_ref().map(|s| pb::SecretSource {
        source: Some(match s {
            SecretSource::File(f) => pb::secret_source::Source::File(f.clone()),
            SecretSource::Env(e) => pb::secret_source::Source::Env(e.clone()),
        }),
    })
}

/// A channel spec from the API (not yet validated), or the field at fault.
pub fn channel_spec(spec: Option<&pb::ChannelSpec>) -> Result<ChannelSpec, DomainError> {
    let spec = spec.ok_or_else(|| DomainError::invalid("spec", "is required"))?;
    let transport = match &spec.kind {
        Some(pb::channel_spec::Kind::Email(e)) => Transport::Email(Email {
            host: e.host.clone(),
            port: u16::try_from(e.port)
                .map_err(|_| DomainError::invalid("email.port", "a port from 1 to 65535"))?,
            tls: match e.tls() {
                pb::SmtpTls::None => SmtpTls::None,
                pb::SmtpTls::Starttls | pb::SmtpTls::Unspecified => SmtpTls::StartTls,
                pb::SmtpTls::Implicit => SmtpTls::Implicit,
            },
            username: e.username.clone(),
            password: secret_from_proto(e.password.as_ref()),
            sender: e.sender.clone(),
            recipients: e.recipients.clone(),
            to_requester: e.to_requester,
            to_approvers: e.to_approvers,
            subject_template: e.subject_template.clone(),
            body_template: e.body_template.clone(),
        }),
        Some(pb::channel_spec::Kind::Webhook(w)) => Transport::Webhook(Webhook {
            url: w.url.clone(),
            headers: w
                .headers
                .iter()
                .map(|h| (h.name.clone(), h.value.clone()))
                .collect(),
            signing_secret: secret_from_proto(w.signing_secret.as_ref()),
            preset: match w.preset() {
                pb::WebhookPreset::Slack => Preset::Slack,
                pb::WebhookPreset::Teams => Preset::Teams,
                pb::WebhookPreset::Generic | pb::WebhookPreset::Unspecified => Preset::Generic,
            },
            template: w.template.clone(),
        }),
        None => return Err(DomainError::invalid("kind", "email or webhook")),
    };
    let lifecycle = spec
        .lifecycle_events
        .iter()
        .map(|&n| {
            pb::NotificationEvent::try_from(n).map_err(|_| {
                DomainError::invalid("lifecycle_events", format!("{n} is not an event"))
            })
        })
        .map(|e| match e? {
            pb::NotificationEvent::Granted => Ok(Event::Granted),
            pb::NotificationEvent::Extended => Ok(Event::Extended),
            pb::NotificationEvent::Failed => Ok(Event::Failed),
            pb::NotificationEvent::ExpiringSoon => Ok(Event::ExpiringSoon),
            pb::NotificationEvent::Expired => Ok(Event::Expired),
            pb::NotificationEvent::Released => Ok(Event::Released),
            pb::NotificationEvent::Revoked => Ok(Event::Revoked),
            pb::NotificationEvent::ApprovalRequested => Ok(Event::ApprovalRequested),
            pb::NotificationEvent::Approved => Ok(Event::Approved),
            pb::NotificationEvent::Rejected => Ok(Event::Rejected),
            pb::NotificationEvent::Cancelled => Ok(Event::Cancelled),
            pb::NotificationEvent::Lapsed => Ok(Event::Lapsed),
            pb::NotificationEvent::BreakGlassUsed => Ok(Event::BreakGlassUsed),
            pb::NotificationEvent::Unspecified => Err(DomainError::invalid(
                "lifecycle_events",
                "an event is unspecified",
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ChannelSpec {
        name: spec.name.clone(),
        transport,
        lifecycle,
        expiring_lead: duration("expiring_lead", spec.expiring_lead.as_ref())?,
        enabled: spec.enabled,
    })
}

pub fn channel(c: Channel) -> pb::Channel {
    let s = c.spec;
    let kind = match s.transport {
        Transport::Email(e) => pb::channel_spec::Kind::Email(pb::EmailChannel {
            host: e.host,
            port: u32::from(e.port),
            tls: match e.tls {
                SmtpTls::None => pb::SmtpTls::None,
                SmtpTls::StartTls => pb::SmtpTls::Starttls,
                SmtpTls::Implicit => pb::SmtpTls::Implicit,
            }
            .into(),
            username: e.username,
            password: secret_to_proto(&e.password),
            sender: e.sender,
            recipients: e.recipients,
            to_requester: e.to_requester,
            to_approvers: e.to_approvers,
            subject_template: e.subject_template,
            body_template: e.body_template,
        }),
        Transport::Webhook(w) => pb::channel_spec::Kind::Webhook(pb::WebhookChannel {
            url: w.url,
            headers: w
                .headers
                .into_iter()
                .map(|(name, value)| pb::Header { name, value })
                .collect(),
            signing_secret: secret_to_proto(&w.signing_secret),
            preset: match w.preset {
                Preset::Generic => pb::WebhookPreset::Generic,
                Preset::Slack => pb::WebhookPreset::Slack,
                Preset::Teams => pb::WebhookPreset::Teams,
            }
            .into(),
            template: w.template,
        }),
    };
    pb::Channel {
        id: c.id,
        spec: Some(pb::ChannelSpec {
            name: s.name,
            kind: Some(kind),
            lifecycle_events: s
                .lifecycle
                .into_iter()
                .map(|e| event_to_proto(e).into())
                .collect(),
            expiring_lead: s.expiring_lead.map(proto_duration),
            enabled: s.enabled,
        }),
        version: c.version,
        created_at: Some(timestamp(c.created_at)),
        updated_at: Some(timestamp(c.updated_at)),
    }
}

pub fn delivery_state(s: pb::DeliveryState) -> Option<DeliveryState> {
    match s {
        pb::DeliveryState::Unspecified => None,
        pb::DeliveryState::Pending => Some(DeliveryState::Pending),
        pb::DeliveryState::Sent => Some(DeliveryState::Sent),
        pb::DeliveryState::Failed => Some(DeliveryState::Failed),
        pb::DeliveryState::Skipped => Some(DeliveryState::Skipped),
    }
}

pub fn notification(n: Notification, channel_name: String) -> pb::Notification {
    pb::Notification {
        id: n.id,
        channel_id: n.channel_id,
        channel_name,
        event: event_to_proto(n.event).into(),
        grant_id: n.grant_id,
        rule_name: n.facts.rule_name,
        subject_account: n.facts.subject_account,
        state: match n.state {
            DeliveryState::Pending => pb::DeliveryState::Pending,
            DeliveryState::Sent => pb::DeliveryState::Sent,
            DeliveryState::Failed => pb::DeliveryState::Failed,
            DeliveryState::Skipped => pb::DeliveryState::Skipped,
        }
        .into(),
        attempts: n.attempts,
        last_error: n.last_error.unwrap_or_default(),
        created_at: Some(timestamp(n.created_at)),
        next_attempt_at: (n.state == DeliveryState::Pending).then(|| timestamp(n.next_attempt_at)),
        sent_at: n.sent_at.map(timestamp),
    }
}
