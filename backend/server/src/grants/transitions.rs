//! The write-ahead transitions several use cases share, ordered so that a failure at any point
//! leaves no stray membership and loses no grant:
//!
//! - a request that cannot be confirmed ends `failed` ([`Shared::fail`]), and the membership it
//!   may have written is removed unless another live grant covers it;
//! - ending (expiry, release, revoke, reconciliation) commits `ending` before the removal and
//!   `ended` after it ([`Shared::end`]); a removal the directory refuses stays `ending` and the
//!   scheduler retries it;
//! - membership is the union of live grants: a removal another live grant still covers is
//!   skipped (TTL links get the remaining grants' latest expiry instead).

use std::{collections::HashMap, sync::Arc, time::Duration};

use jitroles_domain::{
    DomainError,
    audit::{AuditAction, SYSTEM_ACTOR},
    directory::{Mechanism, MembershipChange, Sid},
    grant::{self, EndReason, Grant, GrantState},
};

use super::shared::{Shared, audit};
use crate::{deadline, failpoint};

/// Most members removed from one group in one directory write.
const REMOVE_BATCH: usize = 250;
/// Times a failed grant's undo is tried again in the background before recovery takes over.
const SETTLE_ATTEMPTS: usize = 20;
/// How long after undoing an add that got no answer it is undone again: a write a hung DC
/// held is applied within moments of it answering again, on whichever connection.
const UNSURE_GRACE: Duration = Duration::from_secs(2);

/// What a failed grant does with the membership it may have written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Undo {
    Remove,
    /// The write got no answer (a hung or unreachable DC): it may still land later, so it is
    /// undone now and again after [`UNSURE_GRACE`], then the grant is recorded failed.
    RemoveUnsure,
    /// The member was there before us: leave it.
    Keep,
    /// The directory refused the add: nothing was written.
    Nothing,
}

impl Shared {
    /// Ends an unconfirmed grant `failed`, removing the membership it may have written
    /// (`Undo::Remove`). An add that got no answer (`Undo::RemoveUnsure`) may still land
    /// after the undo, so it is undone, and undone again after [`UNSURE_GRACE`] before the
    /// grant is recorded failed. What the directory or the database cannot do now is tried
    /// again in a task of its own, after 1 s and then twice as long each time (at most 30 s,
    /// 20 times), so the grant is settled as soon as the DC answers again; recovery finishes
    /// what is left after that.
    pub async fn fail(self: &Arc<Self>, activating: &Grant, why: &DomainError, undo: Undo) {
        if self.settle(activating, why, undo).await {
            return;
        }
        let (shared, grant, why) = (self.clone(), activating.clone(), why.clone());
        tokio::spawn(async move {
            let mut wait = Duration::from_secs(1);
            for _ in 0..SETTLE_ATTEMPTS {
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(30));
                // finished meanwhile (recovery, another instance)?
                match shared.ports.grants.grant(&grant.id).await {
                    Ok(Some(now)) if now.version == grant.version => {}
                    Ok(_) => return,
                    Err(_) => continue,
                }
                let Ok(_hold) = shared
                    .hold_membership(&grant.group.sid, &grant.subject.sid)
                    .await
                else {
                    continue;
                };
                if shared.settle(&grant, &why, undo).await {
                    return;
                }
            }
        });
    }

    /// One attempt of [`Shared::fail`]; whether the grant is `failed` now.
    async fn settle(&self, activating: &Grant, why: &DomainError, undo: Undo) -> bool {
        if undo == Undo::RemoveUnsure {
            if !self.try_fail(activating, why, Undo::RemoveUnsure).await {
                return false;
            }
            tokio::time::sleep(UNSURE_GRACE).await;
            return self.try_fail(activating, why, Undo::Remove).await;
        }
        self.try_fail(activating, why, undo).await
    }

    /// [`Shared::fail`] once; whether the grant is `failed` now (with `Undo::RemoveUnsure`:
    /// whether the undo went through, without recording anything).
    async fn try_fail(&self, activating: &Grant, why: &DomainError, undo: Undo) -> bool {
        let covered = !matches!(undo, Undo::Remove | Undo::RemoveUnsure)
            || match self
                .ports
                .grants
                .covering(&activating.group.sid, &activating.subject.sid)
                .await
            {
                Ok(covering) => grant::still_covered(activating, &covering),
                Err(e) => {
                    tracing::warn!(grant = %activating.id, error = %e, "cannot check coverage; tried again shortly");
                    return false;
                }
            };
        // undone even when the call's deadline has passed: the add's outcome is unknown
        if !covered
            && let Err(e) = deadline::lifted(
                self.ports
                    .directory
                    .remove_member(&activating.group.address(), &activating.subject.sid),
            )
            .await
        {
            tracing::warn!(grant = %activating.id, error = %e, "cannot undo the membership of a failed grant; tried again shortly");
            return false;
        }
        if undo == Undo::RemoveUnsure {
            tracing::info!(grant = %activating.id, error = %why, "a directory write got no answer; undone, and undone again shortly before the grant is recorded failed");
            return true;
        }
        if let DomainError::Internal(_) = why {
            tracing::error!(grant = %activating.id, error = %why, "grant failed");
        }
        // what the audit log, the caller and the failure channels read
        let said = why.said();
        let now = self.now();
        let failed = Grant {
            state: GrantState::Failed,
            ended_at: Some(now),
            last_error: Some(said.clone()),
            ..activating.clone()
        };
        match self
            .ports
            .grants
            .update_grant(
                activating,
                &failed,
                Some(audit(AuditAction::Failed, SYSTEM_ACTOR, &failed, said, now)),
            )
            .await
        {
            Ok(_) => true,
            // someone else finished it (recovery, another instance)
            Err(DomainError::Conflict(_)) => true,
            Err(e) => {
                tracing::warn!(grant = %activating.id, error = %e, "cannot record a failed grant; tried again shortly");
                false
            }
        }
    }

    /// `active → ending`, with the audit event of the decision (expired, released, revoked,
    /// ended by the directory).
    pub async fn begin(
        &self,
        g: &Grant,
        reason: EndReason,
        actor: &str,
        detail: String,
    ) -> Result<Grant, DomainError> {
        let action = match reason {
            EndReason::Expired => AuditAction::Expired,
            EndReason::Released => AuditAction::Released,
            EndReason::Revoked => AuditAction::Revoked,
            EndReason::Directory => AuditAction::EndedByDirectory,
        };
        let next = grant::begin_end(g, reason, self.lease())?;
        let now = self.now();
        let stored = self
            .ports
            .grants
            .update_grant(g, &next, Some(audit(action, actor, &next, detail, now)))
            .await?;
        failpoint::point(failpoint::AFTER_ENDING_COMMIT);
        Ok(stored)
    }

    /// `active → ending → ended`. If the directory cannot be changed now, the grant stays
    /// `ending` (returned so, with the error) and the scheduler finishes it.
    pub async fn end(
        &self,
        g: Grant,
        reason: EndReason,
        actor: &str,
        detail: String,
    ) -> Result<Grant, DomainError> {
        let mut ending = if g.state == GrantState::Ending {
            g
        } else {
            self.begin(&g, reason, actor, detail).await?
        };
        let mut finished;
        let mut turns = 0;
        loop {
            finished = self
                .finish_all(std::slice::from_ref(&ending))
                .await
                .and_then(|mut ended| {
                    ended.pop().ok_or_else(|| {
                        DomainError::Internal("finishing a grant returned nothing".into())
                    })
                });
            // still ending: the scheduler took this grant's ending over meanwhile (it finishes
            // this instance's own ending grants); finish it after the scheduler's hold, so
            // the caller is answered with the grant ended
            match &finished {
                Ok(current) if current.state == GrantState::Ending && turns < 3 => {
                    ending = current.clone();
                    turns += 1;
                }
                _ => break,
            }
        }
        match finished {
            Ok(ended) => Ok(ended),
            Err(e) => {
                tracing::warn!(grant = %ending.id, error = %e, "membership removal postponed");
                self.wake.notify_one();
                let noted = Grant {
                    last_error: Some(e.said()),
                    ..ending.clone()
                };
                Ok(self
                    .ports
                    .grants
                    .update_grant(&ending, &noted, None)
                    .await
                    .unwrap_or(noted))
            }
        }
    }

    /// Finishes `ending` grants of one group: the memberships no other live grant covers go
    /// in batched removals (one write per [`REMOVE_BATCH`] members), then each grant is
    /// recorded `ended`. A grant another instance finished meanwhile is returned as stored.
    pub async fn finish_all(&self, endings: &[Grant]) -> Result<Vec<Grant>, DomainError> {
        let Some(first) = endings.first() else {
            return Ok(Vec::new());
        };
        let group = first.group.clone();
        let mut people: Vec<&Sid> = endings.iter().map(|g| &g.subject.sid).collect();
        people.sort();
        people.dedup();
        let mut _held = Vec::with_capacity(people.len());
        for person in &people {
            _held.push(self.hold_membership(&group.sid, person).await?);
        }
        let subjects: Vec<Sid> = people.iter().map(|p| (*p).clone()).collect();
        let live = self
            .ports
            .grants
            .covering_any(&group.sid, &subjects)
            .await?;
        // under TTL links a permanent member is told apart from ours, and never removed
        let permanent_dns: Vec<String> = if endings.iter().any(|g| g.mechanism == Mechanism::Ttl) {
            self.ports
                .directory
                .members(&group.address())
                .await?
                .into_iter()
                .filter(|m| m.ttl.is_none())
                .map(|m| m.dn)
                .collect()
        } else {
            Vec::new()
        };
        let plan = grant::plan_endings(endings, &live, &permanent_dns, self.now());
        let mut details: HashMap<String, String> = HashMap::new();
        for kept in plan.kept {
            let change = match kept.ttl.filter(|_| !kept.permanent) {
                Some(ttl) => Some(
                    self.ports
                        .directory
                        .add_member(&group.address(), &kept.subject, Some(ttl))
                        .await?,
                ),
                None => None,
            };
            let why = if kept.permanent || change == Some(MembershipChange::KeptPermanent) {
                "a permanent membership made outside jitroles, left as it is"
            } else {
                "another live grant covers it"
            };
            details.insert(
                kept.grant_id,
                format!("still a member of {}: {why}", group.name),
            );
        }
        if !plan.remove.is_empty() {
            failpoint::pause(failpoint::BEFORE_DIRECTORY_REMOVE, &self.leases.holder).await;
        }
        let mut removed: HashMap<Sid, MembershipChange> = HashMap::new();
        for batch in plan.remove.chunks(REMOVE_BATCH) {
            let changes = self
                .ports
                .directory
                .remove_members(&group.address(), batch)
                .await?;
            removed.extend(batch.iter().cloned().zip(changes));
        }
        failpoint::point(failpoint::AFTER_DIRECTORY_REMOVE);
        let mut ended = Vec::with_capacity(endings.len());
        for ending in endings {
            let detail = details.remove(&ending.id).unwrap_or_else(|| {
                match removed.get(&ending.subject.sid) {
                    Some(MembershipChange::Changed) => format!("removed from {}", group.name),
                    _ => format!(
                        "no longer a member of {} (the directory removed it)",
                        group.name
                    ),
                }
            });
            let now = self.now();
            let done = grant::finish_end(ending, now);
            match self
                .ports
                .grants
                .update_grant(
                    ending,
                    &done,
                    Some(audit(AuditAction::Ended, SYSTEM_ACTOR, &done, detail, now)),
                )
                .await
            {
                Ok(stored) => ended.push(stored),
                Err(DomainError::Conflict(_)) => {
                    if let Some(current) = self.ports.grants.grant(&ending.id).await? {
                        ended.push(current);
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(ended)
    }
}
