//! The scheduler's work: grants due now end (oldest first, removals batched per group),
//! left-over `ending` grants are taken over once their lease allows, and `activating` grants
//! nobody confirmed end `failed`.

use std::{collections::HashMap, sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use jitroles_domain::{
    DomainError,
    audit::SYSTEM_ACTOR,
    directory::Sid,
    grant::{self, EndReason, Grant, GrantState},
};

use super::{shared::Shared, transitions::Undo};

/// Most due grants handled per pass; the scheduler loops until none are left.
const DUE_BATCH: u32 = 500;

pub struct Expiry(Arc<Shared>);

impl Expiry {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        Self(shared)
    }

    /// (live grants, grants due now and not yet ended) for metrics.
    pub async fn gauges(&self) -> Result<(u64, u64), DomainError> {
        let live: u64 = self
            .0
            .ports
            .rules
            .live_grant_counts()
            .await?
            .values()
            .map(|n| u64::from(*n))
            .sum();
        let due = self.0.ports.grants.overdue(self.0.now()).await?;
        Ok((live, due))
    }

    /// When the scheduler next has work.
    pub async fn next_expiry(&self) -> Result<Option<DateTime<Utc>>, DomainError> {
        self.0.ports.grants.next_expiry().await
    }

    /// Ends every grant due now (oldest first) and finishes `ending` ones; returns how many
    /// ended. Stops at the first directory or database error (the caller backs off).
    pub async fn run_due(&self) -> Result<usize, DomainError> {
        let shared = &self.0;
        let mut done = 0;
        loop {
            let now = shared.now();
            let due = shared
                .ports
                .grants
                .due(now, &shared.leases.holder, DUE_BATCH)
                .await?;
            if due.is_empty() {
                return Ok(done);
            }
            // every due grant to `ending` first (one commit each, with its audit event) ...
            let mut endings: Vec<Grant> = Vec::with_capacity(due.len());
            for g in due {
                if g.state == GrantState::Ending {
                    // left over (a failed removal, or an instance that died mid-removal whose
                    // lease ran out): claimed for this instance, or renewed if it is ours
                    if let Some(taken) = grant::take_over(&g, shared.lease(), now) {
                        match shared.ports.grants.update_grant(&g, &taken, None).await {
                            Ok(ours) => endings.push(ours),
                            Err(DomainError::Conflict(_)) => {} // someone else took it
                            Err(e) => return Err(e),
                        }
                    }
                    continue;
                }
                match shared
                    .begin(
                        &g,
                        EndReason::Expired,
                        SYSTEM_ACTOR,
                        "the grant's time ran out".into(),
                    )
                    .await
                {
                    Ok(ending) => endings.push(ending),
                    // another instance (or a release) got there first
                    Err(DomainError::Conflict(_) | DomainError::FailedPrecondition(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            // ... then the removals, batched per group
            let mut groups: HashMap<Sid, Vec<Grant>> = HashMap::new();
            for ending in endings {
                groups
                    .entry(ending.group.sid.clone())
                    .or_default()
                    .push(ending);
            }
            let before = done;
            for batch in groups.into_values() {
                for ended in shared.finish_all(&batch).await? {
                    if ended.state != GrantState::Ended {
                        continue;
                    }
                    if let Some(at) = ended.ended_at
                        && ended.end_reason == Some(EndReason::Expired)
                    {
                        shared
                            .observer
                            .expired_late((at - ended.expires_at).to_std().unwrap_or_default());
                    }
                    done += 1;
                }
            }
            if done == before {
                return Ok(done);
            }
        }
    }

    /// `activating` grants requested at least `older_than` ago were never confirmed to anyone
    /// (a crash, or a failed write that could not be undone then), so they end `failed` and
    /// their membership (if written) is removed. At start-up every one qualifies.
    pub async fn recover(&self, older_than: Duration) -> Result<usize, DomainError> {
        let shared = &self.0;
        let cutoff = shared.now()
            - chrono::TimeDelta::from_std(older_than).unwrap_or(chrono::TimeDelta::MAX);
        let stale: Vec<Grant> = shared
            .ports
            .grants
            .activating()
            .await?
            .into_iter()
            .filter(|g| g.requested_at <= cutoff)
            .collect();
        let n = stale.len();
        for g in stale {
            let _membership = shared.hold_membership(&g.group.sid, &g.subject.sid).await?;
            shared
                .fail(
                    &g,
                    &DomainError::Unavailable(
                        "the server stopped before the grant was confirmed".into(),
                    ),
                    Undo::Remove,
                )
                .await;
        }
        Ok(n)
    }
}
