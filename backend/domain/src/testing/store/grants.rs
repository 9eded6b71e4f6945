//! [`MemoryStore`] as the [`GrantStore`]: grants (one live grant per rule and person, version
//! checks) and the audit log.

use std::collections::BTreeSet;

use super::*;
use crate::{
    audit::AuditAction,
    usage::{self, Period, UsageGrant},
};

#[async_trait]
impl GrantStore for MemoryStore {
    async fn restored_snapshot(&self) -> Result<Option<DateTime<Utc>>, DomainError> {
        Ok(lock(&self.0).snapshot)
    }

    async fn insert_grant(&self, grant: &Grant, audit: NewAudit) -> Result<(), DomainError> {
        turn().await;
        let mut t = lock(&self.0);
        t.fault(StoreOp::InsertGrant)?;
        if t.live_rule(&grant.rule_id)
            .is_none_or(|r| r.target.sid != grant.group.sid)
        {
            return Err(rule_moved());
        }
        // the database's partial unique index: one open request or live grant per (rule,
        // person)
        let taken = GrantState::OPEN.contains(&grant.state)
            && t.grants.values().any(|g| {
                g.rule_id == grant.rule_id
                    && g.subject.sid == grant.subject.sid
                    && GrantState::OPEN.contains(&g.state)
            });
        if taken {
            return Err(DomainError::AlreadyExists(format!(
                "{} already has a live grant or an open request of {}",
                grant.subject.account, grant.rule_name
            )));
        }
        t.grants.insert(grant.id.clone(), grant.clone());
        t.announce(grant, &audit);
        t.record(audit);
        Ok(())
    }

    async fn update_grant(
        &self,
        before: &Grant,
        after: &Grant,
        audit: Option<NewAudit>,
    ) -> Result<Grant, DomainError> {
        turn().await;
        let mut t = lock(&self.0);
        t.fault(StoreOp::UpdateGrant)?;
        let current = t.grants.get(&before.id).map(|g| g.version);
        if current != Some(before.version) {
            return Err(DomainError::Conflict(
                "the grant changed meanwhile; look at it again".into(),
            ));
        }
        let stored = Grant {
            version: before.version + 1,
            ..after.clone()
        };
        t.grants.insert(stored.id.clone(), stored.clone());
        if let Some(audit) = audit {
            t.announce(&stored, &audit);
            t.record(audit);
        }
        Ok(stored)
    }

    async fn update_grants(
        &self,
        changes: Vec<GrantChange>,
    ) -> Result<Vec<Result<Grant, DomainError>>, DomainError> {
        turn().await;
        let mut t = lock(&self.0);
        t.fault(StoreOp::UpdateGrant)?;
        let mut done = Vec::with_capacity(changes.len());
        for change in changes {
            if t.grants.get(&change.before.id).map(|g| g.version) != Some(change.before.version) {
                done.push(Err(DomainError::Conflict(
                    "the grant changed meanwhile; look at it again".into(),
                )));
                continue;
            }
            let stored = Grant {
                version: change.before.version + 1,
                ..change.after
            };
            t.grants.insert(stored.id.clone(), stored.clone());
            if let Some(audit) = change.audit {
                t.announce(&stored, &audit);
                t.record(audit);
            }
            done.push(Ok(stored));
        }
        Ok(done)
    }

    async fn grant(&self, id: &str) -> Result<Option<Grant>, DomainError> {
        turn().await;
        let mut t = lock(&self.0);
        t.fault(StoreOp::ReadGrants)?;
        Ok(t.grants.get(id).cloned())
    }

    async fn grant_by_request_id(
        &self,
        subject: &Sid,
        client_request_id: &str,
    ) -> Result<Option<Grant>, DomainError> {
        turn().await;
        let mut t = lock(&self.0);
        t.fault(StoreOp::ReadGrants)?;
        Ok(t.grants
            .values()
            .find(|g| {
                &g.subject.sid == subject
                    && g.client_request_id.as_deref() == Some(client_request_id)
            })
            .cloned())
    }

    async fn open_grant(&self, rule_id: &str, subject: &Sid) -> Result<Option<Grant>, DomainError> {
        turn().await;
        let mut t = lock(&self.0);
        t.fault(StoreOp::ReadGrants)?;
        Ok(t.grants
            .values()
            .find(|g| {
                g.rule_id == rule_id
                    && &g.subject.sid == subject
                    && GrantState::OPEN.contains(&g.state)
            })
            .cloned())
    }

    async fn live_on_group(
        &self,
        group: &Sid,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Grant>, DomainError> {
        turn().await;
        let mut t = lock(&self.0);
        t.fault(StoreOp::ReadGrants)?;
        Ok(t.grants
            .values()
            .filter(|g| &g.group.sid == group && GrantState::LIVE.contains(&g.state))
            .filter(|g| after.is_none_or(|a| g.id.as_str() > a))
            .take(limit as usize)
            .cloned()
            .collect())
    }

    async fn covering_any(&self, group: &Sid, subjects: &[Sid]) -> Result<Vec<Grant>, DomainError> {
        turn().await;
        let mut t = lock(&self.0);
        t.fault(StoreOp::ReadGrants)?;
        Ok(t.grants
            .values()
            .filter(|g| {
                &g.group.sid == group
                    && subjects.contains(&g.subject.sid)
                    && GrantState::LIVE.contains(&g.state)
            })
            .cloned()
            .collect())
    }

    async fn take_membership(
        &self,
        group: &Sid,
        subject: &Sid,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, DomainError> {
        turn().await;
        let mut t = lock(&self.0);
        let key = (group.to_string(), subject.to_string());
        let free = t
            .memberships
            .get(&key)
            .is_none_or(|(h, u)| h == holder || *u <= now);
        if free {
            t.memberships.insert(key, (holder.to_owned(), until));
        }
        Ok(free)
    }

    async fn release_membership(
        &self,
        group: &Sid,
        subject: &Sid,
        holder: &str,
    ) -> Result<(), DomainError> {
        let mut t = lock(&self.0);
        let key = (group.to_string(), subject.to_string());
        if t.memberships.get(&key).is_some_and(|(h, _)| h == holder) {
            t.memberships.remove(&key);
        }
        Ok(())
    }

    async fn release_memberships_of(&self, instance: &str) -> Result<(), DomainError> {
        let prefix = format!("{instance}#");
        lock(&self.0)
            .memberships
            .retain(|_, (holder, _)| !holder.starts_with(&prefix));
        Ok(())
    }

    async fn grants_of(
        &self,
        subject: &Sid,
        request: PageRequest,
    ) -> Result<Page<Grant>, DomainError> {
        turn().await;
        let mut t = lock(&self.0);
        t.fault(StoreOp::ReadGrants)?;
        let mut mine: Vec<Grant> = t
            .grants
            .values()
            .filter(|g| &g.subject.sid == subject)
            .cloned()
            .collect();
        mine.sort_by(|a, b| {
            (
                a.ended_at.is_some(),
                std::cmp::Reverse(a.requested_at),
                &a.id,
            )
                .cmp(&(
                    b.ended_at.is_some(),
                    std::cmp::Reverse(b.requested_at),
                    &b.id,
                ))
        });
        Ok(page(&mine, request))
    }

    async fn grants(
        &self,
        filter: &GrantFilter,
        request: PageRequest,
    ) -> Result<Page<Grant>, DomainError> {
        turn().await;
        let mut t = lock(&self.0);
        t.fault(StoreOp::ReadGrants)?;
        let mut all: Vec<Grant> = t
            .grants
            .values()
            .filter(|g| filter.matches(g))
            .cloned()
            .collect();
        all.sort_by(|a, b| {
            (std::cmp::Reverse(a.requested_at), &a.id)
                .cmp(&(std::cmp::Reverse(b.requested_at), &b.id))
        });
        Ok(page(&all, request))
    }

    async fn due(
        &self,
        now: DateTime<Utc>,
        holder: &str,
        limit: u32,
    ) -> Result<Vec<Grant>, DomainError> {
        turn().await;
        let mut t = lock(&self.0);
        t.fault(StoreOp::ReadGrants)?;
        let mut due: Vec<Grant> = t
            .grants
            .values()
            .filter(|g| match g.state {
                GrantState::Active => g.expires_at <= now,
                GrantState::Ending => g.lease.as_ref().is_none_or(|l| l.lets(holder, now)),
                _ => false,
            })
            .cloned()
            .collect();
        due.sort_by_key(|g| g.expires_at);
        due.truncate(limit as usize);
        Ok(due)
    }

    async fn overdue(&self, now: DateTime<Utc>) -> Result<u64, DomainError> {
        turn().await;
        let t = lock(&self.0);
        Ok(t.grants
            .values()
            .filter(|g| {
                g.state == GrantState::Ending
                    || (g.state == GrantState::Active && g.expires_at <= now)
            })
            .count() as u64)
    }

    async fn activating(&self) -> Result<Vec<Grant>, DomainError> {
        turn().await;
        let mut t = lock(&self.0);
        t.fault(StoreOp::ReadGrants)?;
        Ok(t.grants
            .values()
            .filter(|g| g.state == GrantState::Activating)
            .cloned()
            .collect())
    }

    async fn next_expiry(&self) -> Result<Option<DateTime<Utc>>, DomainError> {
        turn().await;
        let t = lock(&self.0);
        let expiry = t
            .grants
            .values()
            .filter(|g| g.state == GrantState::Active)
            .map(|g| g.expires_at);
        let lease_end = t
            .grants
            .values()
            .filter(|g| g.state == GrantState::Ending)
            .filter_map(|g| g.lease.as_ref().map(|l| l.until));
        Ok(expiry.chain(lease_end).min())
    }

    async fn record_audit(&self, audit: NewAudit) -> Result<(), DomainError> {
        lock(&self.0).record(audit);
        Ok(())
    }

    async fn audit_events(
        &self,
        filter: &AuditFilter,
        request: PageRequest,
    ) -> Result<Page<AuditEvent>, DomainError> {
        turn().await;
        let t = lock(&self.0);
        let found: Vec<AuditEvent> = t
            .audit
            .iter()
            .rev()
            .filter(|e| {
                let a = &e.event;
                filter
                    .subject_account
                    .as_ref()
                    .is_none_or(|s| a.subject_account.as_ref() == Some(s))
                    && filter
                        .rule_id
                        .as_ref()
                        .is_none_or(|r| a.rule_id.as_ref() == Some(r))
                    && filter.action.is_none_or(|x| a.action == x)
                    && filter.since.is_none_or(|s| a.at >= s)
                    && filter.until.is_none_or(|u| a.at < u)
            })
            .cloned()
            .collect();
        Ok(page(&found, request))
    }

    async fn usage_requested(
        &self,
        period: &Period,
        after: Option<(DateTime<Utc>, String)>,
        limit: u32,
    ) -> Result<Vec<UsageGrant>, DomainError> {
        turn().await;
        let t = lock(&self.0);
        let mut found: Vec<&Grant> = t
            .grants
            .values()
            .filter(|g| period.contains(g.requested_at))
            .filter(|g| {
                after
                    .as_ref()
                    .is_none_or(|(at, id)| (g.requested_at, &g.id) > (*at, id))
            })
            .collect();
        found.sort_by(|a, b| (a.requested_at, &a.id).cmp(&(b.requested_at, &b.id)));
        Ok(found
            .into_iter()
            .take(limit as usize)
            .map(UsageGrant::of)
            .collect())
    }

    async fn usage_held_into(
        &self,
        period: &Period,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<UsageGrant>, DomainError> {
        turn().await;
        let t = lock(&self.0);
        // BTreeMap by id: already in order
        Ok(t.grants
            .values()
            .filter(|g| g.requested_at < period.from && after.is_none_or(|a| g.id.as_str() > a))
            .filter(|g| match g.state {
                GrantState::Active | GrantState::Ending => true,
                GrantState::Ended => g.ended_at.is_some_and(|e| e > period.from),
                _ => false,
            })
            .take(limit as usize)
            .map(UsageGrant::of)
            .collect())
    }

    async fn usage_refusals(&self, period: &Period) -> Result<Vec<(String, u64)>, DomainError> {
        turn().await;
        let t = lock(&self.0);
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        for a in t.audit.iter().map(|e| &e.event) {
            let Some(rule) = &a.rule_id else { continue };
            if !period.contains(a.at) {
                continue;
            }
            let n = match a.action {
                AuditAction::RequestRefused | AuditAction::Rejected => 1,
                AuditAction::Repeated => usage::repeated_refusals(&a.detail).unwrap_or(0),
                _ => 0,
            };
            if n > 0 {
                *counts.entry(rule.clone()).or_default() += n;
            }
        }
        Ok(counts.into_iter().collect())
    }

    async fn last_use(
        &self,
        rule_id: &str,
        before: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, DomainError> {
        turn().await;
        let t = lock(&self.0);
        Ok(t.grants
            .values()
            .map(UsageGrant::of)
            .filter(|g| g.rule_id == rule_id && g.started_at.is_some_and(|s| s < before))
            .map(|g| g.requested_at)
            .max())
    }

    async fn requesters_since(
        &self,
        rule_id: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<Sid>, DomainError> {
        turn().await;
        let t = lock(&self.0);
        let people: BTreeSet<Sid> = t
            .grants
            .values()
            .filter(|g| g.rule_id == rule_id && g.requested_at >= since)
            .map(|g| g.subject.sid.clone())
            .collect();
        Ok(people.into_iter().collect())
    }
}
