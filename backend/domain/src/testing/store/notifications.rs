//! [`MemoryStore`] as the [`NotificationStore`]: channels and the outbox.

use super::*;

#[async_trait]
impl NotificationStore for MemoryStore {
    async fn create_channel(&self, channel: &Channel, audit: NewAudit) -> Result<(), DomainError> {
        let mut t = lock(&self.0);
        // the name's unique key ignores case, as the database's does
        let name = channel.spec.name.to_lowercase();
        if t.channels
            .values()
            .any(|c| c.spec.name.to_lowercase() == name)
        {
            return Err(DomainError::AlreadyExists(format!(
                "a channel named {} exists",
                channel.spec.name
            )));
        }
        t.channels.insert(channel.id.clone(), channel.clone());
        t.record(audit);
        Ok(())
    }

    async fn update_channel(
        &self,
        channel: &Channel,
        expected_version: i64,
        audit: NewAudit,
    ) -> Result<(), DomainError> {
        let mut t = lock(&self.0);
        let stored = t
            .channels
            .get(&channel.id)
            .map(|c| c.version)
            .ok_or_else(|| DomainError::NotFound {
                what: format!("channel {}", channel.id),
            })?;
        if stored != expected_version {
            return Err(stale("channel", stored, expected_version));
        }
        let name = channel.spec.name.to_lowercase();
        if t.channels
            .values()
            .any(|c| c.id != channel.id && c.spec.name.to_lowercase() == name)
        {
            return Err(DomainError::AlreadyExists(format!(
                "a channel named {} exists",
                channel.spec.name
            )));
        }
        t.channels.insert(channel.id.clone(), channel.clone());
        t.record(audit);
        Ok(())
    }

    async fn delete_channel(
        &self,
        id: &str,
        expected_version: i64,
        audit: NewAudit,
    ) -> Result<(), DomainError> {
        let mut t = lock(&self.0);
        let users: Vec<String> = t
            .rules
            .values()
            .filter(|(r, deleted)| {
                deleted.is_none()
                    && (r.spec.channels.success.iter().any(|c| c == id)
                        || r.spec.channels.failure.iter().any(|c| c == id))
            })
            .map(|(r, _)| r.spec.name.clone())
            .collect();
        if !users.is_empty() {
            return Err(DomainError::FailedPrecondition(format!(
                "the channel is used by the rules {}: remove it there first",
                users.join(", ")
            )));
        }
        let stored =
            t.channels
                .get(id)
                .map(|c| c.version)
                .ok_or_else(|| DomainError::NotFound {
                    what: format!("channel {id}"),
                })?;
        if stored != expected_version {
            return Err(stale("channel", stored, expected_version));
        }
        t.channels.remove(id);
        t.record(audit);
        Ok(())
    }

    async fn channel(&self, id: &str) -> Result<Option<Channel>, DomainError> {
        Ok(lock(&self.0).channels.get(id).cloned())
    }

    async fn audit(&self, audit: NewAudit) -> Result<(), DomainError> {
        lock(&self.0).record(audit);
        Ok(())
    }

    async fn channels(&self) -> Result<Vec<Channel>, DomainError> {
        let mut all: Vec<Channel> = lock(&self.0).channels.values().cloned().collect();
        all.sort_by(|a, b| a.spec.name.cmp(&b.spec.name));
        Ok(all)
    }

    async fn enqueue(&self, notes: &[NewNotification]) -> Result<usize, DomainError> {
        Ok(lock(&self.0).push_notes(notes.to_vec()))
    }

    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Notification>, DomainError> {
        let mut t = lock(&self.0);
        // oldest due first, as the database orders them
        let mut due: Vec<usize> = (0..t.outbox.len())
            .filter(|i| {
                let n = &t.outbox[*i];
                n.state == DeliveryState::Pending && n.next_attempt_at <= now
            })
            .collect();
        due.sort_by_key(|i| t.outbox[*i].next_attempt_at);
        due.truncate(limit as usize);
        let mut claimed = Vec::with_capacity(due.len());
        for i in due {
            let n = &mut t.outbox[i];
            n.next_attempt_at = lease_until;
            n.version += 1;
            claimed.push(n.clone());
        }
        Ok(claimed)
    }

    async fn record(
        &self,
        before: &Notification,
        after: &Notification,
    ) -> Result<Notification, DomainError> {
        let mut t = lock(&self.0);
        // like the conditional update: a missing or moved-on row is a lost claim
        let Some(n) = t
            .outbox
            .iter_mut()
            .find(|n| n.id == before.id && n.version == before.version)
        else {
            return Err(DomainError::Conflict(
                "the notification was claimed by another instance".into(),
            ));
        };
        *n = Notification {
            version: before.version + 1,
            ..after.clone()
        };
        Ok(n.clone())
    }

    async fn notification(&self, id: &str) -> Result<Option<Notification>, DomainError> {
        Ok(lock(&self.0).outbox.iter().find(|n| n.id == id).cloned())
    }

    async fn next_attempt(&self) -> Result<Option<DateTime<Utc>>, DomainError> {
        Ok(lock(&self.0)
            .outbox
            .iter()
            .filter(|n| n.state == DeliveryState::Pending)
            .map(|n| n.next_attempt_at)
            .min())
    }

    async fn notifications(
        &self,
        state: Option<DeliveryState>,
        request: PageRequest,
    ) -> Result<Page<Notification>, DomainError> {
        let found: Vec<Notification> = lock(&self.0)
            .outbox
            .iter()
            .rev()
            .filter(|n| state.is_none_or(|s| n.state == s))
            .cloned()
            .collect();
        Ok(page(&found, request))
    }
}
