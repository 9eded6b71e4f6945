//! Reconciliation: each role group's members against its live grants. An active grant whose
//! member is gone (removed outside jitroles) ends with reason `directory`; members without a
//! grant are only reported ([`super::reports::Reports::directory`]).

use std::{collections::HashSet, sync::Arc};

use jitroles_domain::{
    DomainError,
    audit::{AuditAction, NewAudit, SYSTEM_ACTOR},
    directory::GroupRef,
    grant::{self, EndReason, Grant},
    rule::{RoleRule, TargetGroup},
};

use super::shared::Shared;

/// Live grants of a group read at a time.
pub(super) const LIVE_PAGE: u32 = 2_000;

pub struct Reconciler(Arc<Shared>);

impl Reconciler {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        Self(shared)
    }

    /// Returns how many grants ended. One group that cannot be read (gone, unreadable, the
    /// DC failing on it) is logged and skipped; the others are reconciled all the same, and
    /// the first such failure is returned after them.
    pub async fn reconcile(&self) -> Result<usize, DomainError> {
        let rules = self.0.ports.rules.rules().await?;
        let mut groups: Vec<TargetGroup> = Vec::new();
        for rule in &rules {
            if !groups.iter().any(|g| g.sid == rule.target.sid) {
                groups.push(rule.target.clone());
            }
        }
        let mut ended = 0;
        let mut failed = None;
        for group in groups {
            match self.group(&group, &rules).await {
                Ok(n) => ended += n,
                Err(e) => {
                    tracing::warn!(group = %group.name, error = %e, "this group's reconciliation is postponed; the others went on");
                    failed.get_or_insert(e);
                }
            }
        }
        failed.map_or(Ok(ended), Err)
    }

    async fn group(&self, group: &TargetGroup, rules: &[RoleRule]) -> Result<usize, DomainError> {
        let shared = &self.0;
        let group = self.follow(group, rules).await?;
        // every live grant first, members second: a grant active before the read had its
        // member added before the read, so a missing member really is gone (a grant that
        // became active after the members were read could otherwise look vanished)
        let mut live: Vec<Grant> = Vec::new();
        loop {
            let after = live.last().map(|g| g.id.clone());
            let page = shared
                .ports
                .grants
                .live_on_group(&group.sid, after.as_deref(), LIVE_PAGE)
                .await?;
            let done = page.len() < LIVE_PAGE as usize;
            live.extend(page);
            if done {
                break;
            }
        }
        let members: HashSet<String> = shared
            .ports
            .directory
            .members(&group.address())
            .await?
            .into_iter()
            .map(|m| m.dn.to_lowercase())
            .collect();
        let now = shared.now();
        let mut ended = 0;
        for g in grant::vanished(&live, &members, now) {
            match shared
                .end(
                    g.clone(),
                    EndReason::Directory,
                    SYSTEM_ACTOR,
                    format!(
                        "the member was removed from {} outside jitroles",
                        group.name
                    ),
                )
                .await
            {
                Ok(_) => ended += 1,
                // changed meanwhile (released, expired): nothing to reconcile
                Err(DomainError::Conflict(_) | DomainError::FailedPrecondition(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(ended)
    }

    /// The group as the directory has it now, found by its GUID; when an AD admin renamed or
    /// moved it, every rule on it takes the new name and DN (a version of its own, audited).
    async fn follow(
        &self,
        group: &TargetGroup,
        rules: &[RoleRule],
    ) -> Result<TargetGroup, DomainError> {
        let shared = &self.0;
        let found = shared
            .ports
            .directory
            .group(&GroupRef::Guid(group.guid.clone()))
            .await?
            .ok_or_else(|| DomainError::NotFound {
                what: format!(
                    "the group {} (it was deleted from the directory)",
                    group.name
                ),
            })?;
        let current = TargetGroup {
            sid: found.sid,
            guid: found.guid,
            dn: found.dn,
            name: found.name,
        };
        if current.dn == group.dn && current.name == group.name {
            return Ok(current);
        }
        let now = shared.now();
        for rule in rules.iter().filter(|r| r.target.sid == group.sid) {
            let followed = RoleRule {
                target: current.clone(),
                version: rule.version + 1,
                updated_at: now,
                ..rule.clone()
            };
            let audit = NewAudit {
                at: now,
                action: AuditAction::RuleUpdated,
                actor: SYSTEM_ACTOR.into(),
                rule_id: Some(rule.id.clone()),
                grant_id: None,
                subject_account: None,
                detail: format!(
                    "{}: its group {} was renamed or moved in the directory, now {} ({})",
                    rule.spec.name, group.name, current.name, current.dn
                ),
                source: None,
            };
            match shared
                .ports
                .rules
                .update_rule(&followed, rule.version, audit)
                .await
            {
                // edited meanwhile: the next pass follows the rename
                Ok(()) | Err(DomainError::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(current)
    }
}
