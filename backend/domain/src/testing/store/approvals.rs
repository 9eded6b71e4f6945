//! [`MemoryStore`] as the [`ApprovalStore`]: one decision per approver and request, committed
//! with the request's change like the database's transaction.

use super::*;

fn awaits(g: &Grant) -> bool {
    g.state == GrantState::Pending
        || g.deferred
            .as_ref()
            .and_then(|d| d.break_glass.as_ref())
            .is_some_and(|b| b.acknowledged.is_none())
}

#[async_trait]
impl ApprovalStore for MemoryStore {
    async fn decide(
        &self,
        before: &Grant,
        decision: &Decision,
        after: &Grant,
        audits: Vec<NewAudit>,
    ) -> Result<Grant, DomainError> {
        turn().await;
        let mut t = lock(&self.0);
        t.fault(StoreOp::UpdateGrant)?;
        if t.decisions
            .iter()
            .any(|d| d.grant_id == decision.grant_id && d.approver == decision.approver)
        {
            return Err(DomainError::FailedPrecondition(
                "you decided this request already; nothing was changed".into(),
            ));
        }
        if t.grants.get(&before.id).map(|g| g.version) != Some(before.version) {
            return Err(DomainError::Conflict(
                "the request changed meanwhile; look at it again".into(),
            ));
        }
        let stored = Grant {
            version: before.version + 1,
            ..after.clone()
        };
        t.decisions.push(decision.clone());
        t.grants.insert(stored.id.clone(), stored.clone());
        for audit in audits {
            t.announce(&stored, &audit);
            t.record(audit);
        }
        Ok(stored)
    }

    async fn decisions(&self, grant_id: &str) -> Result<Vec<Decision>, DomainError> {
        self.decisions_of(&[grant_id.to_owned()]).await
    }

    async fn decisions_of(&self, grant_ids: &[String]) -> Result<Vec<Decision>, DomainError> {
        turn().await;
        let t = lock(&self.0);
        Ok(t.decisions
            .iter()
            .filter(|d| grant_ids.contains(&d.grant_id))
            .cloned()
            .collect())
    }

    async fn awaiting(
        &self,
        rules: &[String],
        except: &Sid,
        page: PageRequest,
    ) -> Result<Page<Grant>, DomainError> {
        turn().await;
        let mut t = lock(&self.0);
        t.fault(StoreOp::ReadGrants)?;
        let mut found: Vec<Grant> = t
            .grants
            .values()
            .filter(|g| rules.contains(&g.rule_id) && &g.subject.sid != except && awaits(g))
            .cloned()
            .collect();
        found.sort_by(|a, b| {
            (b.state == GrantState::Pending)
                .cmp(&(a.state == GrantState::Pending))
                .then(a.requested_at.cmp(&b.requested_at))
                .then(a.id.cmp(&b.id))
        });
        Ok(super::page(&found, page))
    }

    async fn awaiting_count(&self, rules: &[String], approver: &Sid) -> Result<u64, DomainError> {
        turn().await;
        let t = lock(&self.0);
        let decided: HashSet<&str> = t
            .decisions
            .iter()
            .filter(|d| &d.approver == approver)
            .map(|d| d.grant_id.as_str())
            .collect();
        Ok(t.grants
            .values()
            .filter(|g| {
                rules.contains(&g.rule_id)
                    && g.state == GrantState::Pending
                    && &g.subject.sid != approver
                    && !decided.contains(g.id.as_str())
            })
            .count() as u64)
    }

    async fn due_waiting(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<Grant>, DomainError> {
        turn().await;
        let mut t = lock(&self.0);
        t.fault(StoreOp::ReadGrants)?;
        let mut due: Vec<(DateTime<Utc>, Grant)> = t
            .grants
            .values()
            .filter_map(|g| {
                let d = g.deferred.as_ref()?;
                let at = match g.state {
                    GrantState::Pending => d.lapses_at?,
                    GrantState::Scheduled => d.starts_at?,
                    _ => return None,
                };
                (at <= now).then(|| (at, g.clone()))
            })
            .collect();
        due.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.id.cmp(&b.1.id)));
        due.truncate(limit as usize);
        Ok(due.into_iter().map(|(_, g)| g).collect())
    }

    async fn next_waiting(&self) -> Result<Option<DateTime<Utc>>, DomainError> {
        turn().await;
        let t = lock(&self.0);
        Ok(t.grants
            .values()
            .filter_map(|g| {
                let d = g.deferred.as_ref()?;
                match g.state {
                    GrantState::Pending => d.lapses_at,
                    GrantState::Scheduled => d.starts_at,
                    _ => None,
                }
            })
            .min())
    }
}
