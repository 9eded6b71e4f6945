//! Notification channels as admins manage them: create, change, delete, list, test; the
//! outbox as they read it, and a failed notification sent again.

use std::{collections::HashMap, sync::Arc};

use jitroles_domain::{
    Clock, DomainError,
    access::{AdminRight, Caller},
    audit::{AuditAction, NewAudit},
    notify::{self, Channel, ChannelSpec, DeliveryState, Event, Facts, Notification, Transport},
    page::{Page, PageRequest},
    ports::NotificationStore,
};

use super::{Sender, send, template};

pub struct Channels {
    store: Arc<dyn NotificationStore>,
    clock: Arc<dyn Clock>,
    sender: Arc<Sender>,
}

/// What TestChannel reports.
pub struct TestOutcome {
    pub delivered: bool,
    pub error: String,
    pub sent: String,
}

/// An audit event by an admin, about no grant.
fn audit(
    action: AuditAction,
    actor: &Caller,
    detail: String,
    at: chrono::DateTime<chrono::Utc>,
) -> NewAudit {
    NewAudit {
        at,
        action,
        actor: actor.account_name.clone(),
        rule_id: None,
        grant_id: None,
        subject_account: None,
        detail,
        source: None,
    }
}

fn about(c: &Channel) -> String {
    format!("channel {} ({})", c.spec.name, c.id)
}

/// Everything about a channel that needs more than the domain's checks: templates, and the
/// addresses and URL as the mailer and HTTP client read them.
async fn check(spec: ChannelSpec, sender: &Sender) -> Result<ChannelSpec, DomainError> {
    let spec = spec.validate()?;
    let outbound = sender.outbound();
    match &spec.transport {
        Transport::Email(e) => {
            send::mailbox("sender", &e.sender)
                .map_err(|r| DomainError::invalid("email.sender", r))?;
            for r in &e.recipients {
                send::mailbox("recipient", r)
                    .map_err(|r| DomainError::invalid("email.recipients", r))?;
            }
            if let Ok(ip) = e.host.trim_matches(['[', ']']).parse()
                && let Some(why) = outbound.network().refuses(ip)
            {
                return Err(DomainError::invalid("email.host", why));
            }
            if let Some(why) = e
                .password
                .as_ref()
                .and_then(|s| outbound.refuses(s, &e.host))
            {
                return Err(DomainError::invalid("email.password", why));
            }
        }
        Transport::Webhook(w) => {
            let host = send::webhook_host(&w.url, outbound.network())
                .map_err(|why| DomainError::invalid("webhook.url", why))?;
            if let Some(why) = w
                .signing_secret
                .as_ref()
                .and_then(|s| outbound.refuses(s, &host))
            {
                return Err(DomainError::invalid("webhook.signing_secret", why));
            }
        }
    }
    template::check(sender.renderer(), &spec.transport).await?;
    Ok(spec)
}

impl Channels {
    pub fn new(
        store: Arc<dyn NotificationStore>,
        clock: Arc<dyn Clock>,
        sender: Arc<Sender>,
    ) -> Self {
        Self {
            store,
            clock,
            sender,
        }
    }

    pub async fn create_channel(
        &self,
        _: &AdminRight,
        actor: &Caller,
        spec: ChannelSpec,
    ) -> Result<Channel, DomainError> {
        let now = self.clock.now();
        let channel = Channel {
            id: uuid::Uuid::new_v4().to_string(),
            spec: check(spec, &self.sender).await?,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        self.store
            .create_channel(
                &channel,
                audit(AuditAction::ChannelCreated, actor, about(&channel), now),
            )
            .await?;
        Ok(channel)
    }

    pub async fn update_channel(
        &self,
        right: &AdminRight,
        actor: &Caller,
        id: &str,
        spec: ChannelSpec,
        version: i64,
    ) -> Result<Channel, DomainError> {
        let before = self.channel(right, id).await?;
        let now = self.clock.now();
        let channel = Channel {
            spec: check(spec, &self.sender).await?,
            version: version + 1,
            updated_at: now,
            ..before
        };
        self.store
            .update_channel(
                &channel,
                version,
                audit(AuditAction::ChannelUpdated, actor, about(&channel), now),
            )
            .await?;
        Ok(channel)
    }

    pub async fn delete_channel(
        &self,
        right: &AdminRight,
        actor: &Caller,
        id: &str,
        version: i64,
    ) -> Result<(), DomainError> {
        let channel = self.channel(right, id).await?;
        let now = self.clock.now();
        self.store
            .delete_channel(
                id,
                version,
                audit(AuditAction::ChannelDeleted, actor, about(&channel), now),
            )
            .await
    }

    pub async fn channel(&self, _: &AdminRight, id: &str) -> Result<Channel, DomainError> {
        self.store
            .channel(id)
            .await?
            .ok_or_else(|| DomainError::NotFound {
                what: format!("channel {id}"),
            })
    }

    pub async fn channels(&self, _: &AdminRight) -> Result<Vec<Channel>, DomainError> {
        self.store.channels().await
    }

    /// The outbox, newest first, with each channel's name.
    pub async fn notifications(
        &self,
        _: &AdminRight,
        state: Option<DeliveryState>,
        page: PageRequest,
    ) -> Result<(Page<Notification>, HashMap<String, String>), DomainError> {
        let names = self
            .store
            .channels()
            .await?
            .into_iter()
            .map(|c| (c.id, c.spec.name))
            .collect();
        Ok((self.store.notifications(state, page).await?, names))
    }

    /// A failed notification pending again (audited), with its channel's name.
    pub async fn retry(
        &self,
        _: &AdminRight,
        actor: &Caller,
        id: &str,
    ) -> Result<(Notification, String), DomainError> {
        let failed = self
            .store
            .notification(id)
            .await?
            .ok_or_else(|| DomainError::NotFound {
                what: format!("notification {id}"),
            })?;
        let now = self.clock.now();
        let pending = notify::retry(&failed, now)?;
        let stored = self.store.record(&failed, &pending).await?;
        let channel = self.store.channel(&stored.channel_id).await?;
        let name = channel.map(|c| c.spec.name).unwrap_or_default();
        self.store
            .audit(NewAudit {
                grant_id: (!stored.grant_id.is_empty()).then(|| stored.grant_id.clone()),
                subject_account: Some(stored.facts.subject_account.clone()),
                ..audit(
                    AuditAction::NotificationRetried,
                    actor,
                    format!("{} to {name}", stored.event.human()),
                    now,
                )
            })
            .await?;
        Ok((stored, name))
    }

    /// Sends a sample "granted" notification about `actor` through `spec` now (not queued).
    /// A broken setting is `Invalid`; a send that fails is an outcome, not an error.
    pub async fn test(
        &self,
        _: &AdminRight,
        actor: &Caller,
        spec: ChannelSpec,
    ) -> Result<TestOutcome, DomainError> {
        let spec = check(spec, &self.sender).await?;
        let now = self.clock.now();
        let where_to = match &spec.transport {
            Transport::Email(e) => format!("mail via {}:{}", e.host, e.port),
            Transport::Webhook(_) => "a webhook".to_owned(),
        };
        self.store
            .audit(audit(
                AuditAction::ChannelTested,
                actor,
                format!("test of {} ({where_to})", spec.name),
                now,
            ))
            .await?;
        let facts = Facts {
            subject_sid: actor.sid.to_string(),
            ..template::sample(&actor.account_name, &actor.display_name)
        };
        let rendered = template::rendered(
            self.sender.renderer(),
            &spec.transport,
            Event::Granted,
            "test",
            &facts,
        )
        .await?;
        let result = self
            .sender
            .send(
                &spec.transport,
                "test",
                Event::Granted,
                &facts,
                rendered.clone(),
                now,
            )
            .await;
        Ok(TestOutcome {
            delivered: result.is_ok(),
            error: result.err().unwrap_or_default(),
            sent: rendered.show(),
        })
    }
}
