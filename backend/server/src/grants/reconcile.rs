//! Reconciliation: each role group's members against its live grants. An active grant whose
//! member is gone (removed outside jitroles) ends with reason `directory`; members without a
//! grant are only reported ([`super::reports::Reports::directory`]).

use std::{collections::HashSet, sync::Arc};

use jitroles_domain::{
    DomainError,
    audit::SYSTEM_ACTOR,
    grant::{self, EndReason, Grant},
    rule::TargetGroup,
};

use super::shared::Shared;

/// Live grants of a group read at a time.
pub(super) const LIVE_PAGE: u32 = 2_000;

pub struct Reconciler(Arc<Shared>);

impl Reconciler {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        Self(shared)
    }

    /// Returns how many grants ended.
    pub async fn reconcile(&self) -> Result<usize, DomainError> {
        let shared = &self.0;
        let mut groups: Vec<TargetGroup> = Vec::new();
        for rule in shared.ports.rules.rules().await? {
            if !groups.iter().any(|g| g.sid == rule.target.sid) {
                groups.push(rule.target);
            }
        }
        let mut ended = 0;
        for group in groups {
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
                .members(&group.dn)
                .await?
                .into_iter()
                .map(|m| m.dn.to_lowercase())
                .collect();
            let now = shared.now();
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
        }
        Ok(ended)
    }
}
