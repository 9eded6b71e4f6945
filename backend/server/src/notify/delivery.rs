//! The worker that delivers the outbox: claims what is due, sends it (several at once), and
//! records the outcome.

use std::{collections::HashMap, sync::Arc, time::Duration};

use chrono::TimeDelta;
use futures_util::{StreamExt, stream};
use jitroles_domain::{
    Clock, DomainError,
    notify::{self, Channel, Event, Notification},
    ports::{GrantStore, NotificationStore},
};

use super::{Sender, template};
use crate::metrics::Metrics;

/// Notifications claimed per pass, and sent at once: a pass takes at most
/// `BATCH / PARALLEL` rounds of one send (≤ 10 s) and one directory lookup (≤ its timeout).
const BATCH: u32 = 32;
const PARALLEL: usize = 8;
/// A claim lasts this long: longer than a whole pass, so no other instance takes a
/// notification while it is still waiting its turn here.
const LEASE: Duration = Duration::from_secs(180);
/// The outbox is looked at at least this often (other instances add to it too).
const POLL: Duration = Duration::from_secs(1);

pub struct Delivery {
    store: Arc<dyn NotificationStore>,
    grants: Arc<dyn GrantStore>,
    clock: Arc<dyn Clock>,
    sender: Arc<Sender>,
    metrics: Arc<Metrics>,
}

impl Delivery {
    pub fn new(
        store: Arc<dyn NotificationStore>,
        grants: Arc<dyn GrantStore>,
        clock: Arc<dyn Clock>,
        sender: Arc<Sender>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            store,
            grants,
            clock,
            sender,
            metrics,
        }
    }

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
        let renderer = self.sender.renderer();
        let (transport, event, facts) = (&c.spec.transport, note.event, &note.facts);
        let after = match template::rendered(renderer, transport, event, &note.grant_id, facts)
            .await
        {
            // the same template fails the same facts again: no retry, the admin fixes it
            Err(e) => {
                let error = format!("the message cannot be rendered: {e}");
                tracing::warn!(notification = %note.id, %error, "notification not delivered");
                notify::failed_for_good(&note, error)
            }
            Ok(rendered) => match self
                .sender
                .send(
                    transport,
                    &note.id,
                    event,
                    facts,
                    rendered,
                    self.clock.now(),
                )
                .await
            {
                Ok(_) => notify::sent(&note, self.clock.now()),
                Err(error) => {
                    tracing::warn!(notification = %note.id, %error, "notification not delivered");
                    notify::attempt_failed(&note, error, self.clock.now())
                }
            },
        };
        self.record(&note, &after).await;
    }

    async fn record(&self, before: &Notification, after: &Notification) {
        self.metrics.notification(after.state.as_str());
        if let Err(e) = self.store.record(before, after).await {
            tracing::warn!(notification = %before.id, error = %e, "delivery outcome not recorded");
        }
    }
}
