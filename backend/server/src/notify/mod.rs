//! Notifications: channels managed by admins, and the worker that delivers the outbox.
//!
//! Grant transitions write their notifications in their own transaction (the store does it,
//! routed by the domain); this worker claims due ones, sends them, and records the outcome:
//! sent, or another attempt later with exponential backoff, or failed after the last. It runs
//! beside the grant engine and never holds it up. Several instances share the outbox: a claim
//! moves the next attempt a lease ahead, so a notification is sent by one instance at a time,
//! and one whose instance died is tried again when the lease runs out (at least once).

pub mod send;
pub mod template;

use std::{collections::HashMap, sync::Arc, time::Duration};

use chrono::TimeDelta;
use futures_util::{StreamExt, stream};
use jitroles_domain::{
    Clock, DomainError,
    access::{AdminRight, Caller},
    audit::{AuditAction, NewAudit},
    directory::{Directory, UserLookup},
    notify::{self, Channel, ChannelSpec, DeliveryState, Event, Facts, Notification, Transport},
    page::{Page, PageRequest},
    ports::{GrantStore, NotificationStore},
};

use crate::metrics::Metrics;
use send::Outbound;
use template::Rendered;

/// Notifications claimed per pass, and sent at once: a pass takes at most
/// `BATCH / PARALLEL` rounds of one send (≤ 10 s) and one directory lookup (≤ its timeout).
const BATCH: u32 = 32;
const PARALLEL: usize = 8;
/// A claim lasts this long: longer than a whole pass, so no other instance takes a
/// notification while it is still waiting its turn here.
const LEASE: Duration = Duration::from_secs(180);
/// The outbox is looked at at least this often (other instances add to it too).
const POLL: Duration = Duration::from_secs(1);

pub struct Notifier {
    store: Arc<dyn NotificationStore>,
    grants: Arc<dyn GrantStore>,
    directory: Arc<dyn Directory>,
    clock: Arc<dyn Clock>,
    outbound: Outbound,
    http: reqwest::Client,
    metrics: Arc<Metrics>,
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
    }
}

fn about(c: &Channel) -> String {
    format!("channel {} ({})", c.spec.name, c.id)
}

fn invalid(field: &str, reason: String) -> DomainError {
    DomainError::Invalid {
        field: field.into(),
        reason,
    }
}

/// Everything about a channel that needs more than the domain's checks: templates, and the
/// addresses and URL as the mailer and HTTP client read them.
fn check(spec: ChannelSpec, outbound: &Outbound) -> Result<ChannelSpec, DomainError> {
    let spec = spec.validate()?;
    let (field, secret) = match &spec.transport {
        Transport::Email(e) => ("email.password", e.password.as_ref()),
        Transport::Webhook(w) => ("webhook.signing_secret", w.signing_secret.as_ref()),
    };
    if let Some(why) = secret.and_then(|s| outbound.refuses(s)) {
        return Err(invalid(field, why));
    }
    match &spec.transport {
        Transport::Email(e) => {
            send::mailbox("sender", &e.sender).map_err(|r| invalid("email.sender", r))?;
            for r in &e.recipients {
                send::mailbox("recipient", r).map_err(|r| invalid("email.recipients", r))?;
            }
        }
        Transport::Webhook(w) => {
            reqwest::Url::parse(&w.url)
                .map_err(|e| invalid("webhook.url", format!("{:?} is not a URL: {e}", w.url)))?;
        }
    }
    template::check(&spec.transport)?;
    Ok(spec)
}

impl Notifier {
    pub fn new(
        store: Arc<dyn NotificationStore>,
        grants: Arc<dyn GrantStore>,
        directory: Arc<dyn Directory>,
        clock: Arc<dyn Clock>,
        outbound: Outbound,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            http: outbound.http_client()?,
            store,
            grants,
            directory,
            clock,
            outbound,
            metrics,
        })
    }

    // ---- channels (admins) ----

    pub async fn create_channel(
        &self,
        _: &AdminRight,
        actor: &Caller,
        spec: ChannelSpec,
    ) -> Result<Channel, DomainError> {
        let now = self.clock.now();
        let channel = Channel {
            id: uuid::Uuid::new_v4().to_string(),
            spec: check(spec, &self.outbound)?,
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
            spec: check(spec, &self.outbound)?,
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
        let spec = check(spec, &self.outbound)?;
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
        let rendered = template::rendered(&spec.transport, Event::Granted, "test", &facts)?;
        let result = self
            .send(
                &spec.transport,
                "test",
                Event::Granted,
                &facts,
                rendered.clone(),
            )
            .await;
        Ok(TestOutcome {
            delivered: result.is_ok(),
            error: result.err().unwrap_or_default(),
            sent: rendered.show(),
        })
    }

    // ---- the worker ----

    /// Delivers the outbox until the process ends.
    pub async fn run(self: Arc<Self>) {
        loop {
            let sleep = match self.deliver_due().await {
                Ok(n) if n >= BATCH as usize => Duration::ZERO,
                Ok(_) => match self.store.next_attempt().await {
                    Ok(Some(at)) => (at - self.clock.now())
                        .to_std()
                        .unwrap_or_default()
                        .min(POLL),
                    _ => POLL,
                },
                Err(e) => {
                    tracing::warn!(error = %e, "notifications postponed");
                    POLL
                }
            };
            tokio::time::sleep(sleep).await;
        }
    }

    /// Claims what is due and sends it; how many were claimed.
    pub async fn deliver_due(&self) -> Result<usize, DomainError> {
        let now = self.clock.now();
        let lease = now + TimeDelta::from_std(LEASE).unwrap_or(TimeDelta::MAX);
        let due = self.store.claim_due(now, lease, BATCH).await?;
        if due.is_empty() {
            return Ok(0);
        }
        let channels: HashMap<String, Channel> = self
            .store
            .channels()
            .await?
            .into_iter()
            .map(|c| (c.id.clone(), c))
            .collect();
        let n = due.len();
        stream::iter(due)
            .for_each_concurrent(PARALLEL, |note| {
                let channel = channels.get(&note.channel_id);
                async move { self.deliver(note, channel).await }
            })
            .await;
        Ok(n)
    }

    async fn deliver(&self, note: Notification, channel: Option<&Channel>) {
        if note.event == Event::ExpiringSoon {
            let grant = self.grants.grant(&note.grant_id).await;
            if let Ok(g) = &grant
                && !notify::still_expiring(&note.facts, g.as_ref())
            {
                let why = "the grant ended or was extended before this notice fell due";
                let after = notify::skipped(&note, why, self.clock.now());
                self.record(&note, &after).await;
                return;
            }
        }
        let c = match channel {
            Some(c) if c.spec.enabled => c,
            gone_or_off => {
                let why = if gone_or_off.is_none() {
                    "the channel was deleted"
                } else {
                    "the channel is disabled"
                };
                let after = notify::skipped(&note, why, self.clock.now());
                self.record(&note, &after).await;
                return;
            }
        };
        let outcome =
            match template::rendered(&c.spec.transport, note.event, &note.grant_id, &note.facts) {
                Ok(rendered) => {
                    let (transport, facts) = (&c.spec.transport, &note.facts);
                    self.send(transport, &note.id, note.event, facts, rendered)
                        .await
                }
                Err(e) => Err(e.to_string()),
            };
        let now = self.clock.now();
        let after = match outcome {
            Ok(_) => notify::sent(&note, now),
            Err(error) => {
                tracing::warn!(notification = %note.id, %error, "notification not delivered");
                notify::attempt_failed(&note, error, now)
            }
        };
        self.record(&note, &after).await;
    }

    async fn record(&self, before: &Notification, after: &Notification) {
        self.metrics.notification(after.state.as_str());
        if let Err(e) = self.store.record(before, after).await {
            tracing::warn!(notification = %before.id, error = %e, "delivery outcome not recorded");
        }
    }

    async fn send(
        &self,
        transport: &Transport,
        delivery: &str,
        event: Event,
        facts: &Facts,
        rendered: Rendered,
    ) -> Result<String, String> {
        match (transport, rendered) {
            (Transport::Email(e), Rendered::Mail(mail)) => {
                let mut to = e.recipients.clone();
                if e.to_requester {
                    to.extend(self.requester_mail(facts).await?);
                }
                if to.is_empty() {
                    return Err("no recipient: the requester has no mail address".into());
                }
                send::email(e, &self.outbound, &to, &mail).await
            }
            (Transport::Webhook(w), Rendered::Json(body)) => {
                send::webhook(
                    w,
                    &self.outbound,
                    &self.http,
                    delivery,
                    event.as_str(),
                    body,
                )
                .await
            }
            _ => Err("the rendered message does not fit the channel".into()),
        }
    }

    /// The requester's `mail` from the directory (none if the account has none).
    async fn requester_mail(&self, facts: &Facts) -> Result<Option<String>, String> {
        let Ok(sid) = facts.subject_sid.parse() else {
            return Ok(None);
        };
        match self.directory.find_user(&UserLookup::Sid(sid)).await {
            Ok(user) => Ok(user.and_then(|u| u.mail)),
            Err(e) => Err(format!("the requester's mail address cannot be read: {e}")),
        }
    }
}
