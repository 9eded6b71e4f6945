//! The target check (domain `target::check_target`) with what it reads from the directory: the
//! group as it is now (its `adminCount`), the groups it is nested in, and jitroles' own admin
//! groups. Verdicts are kept per group for [`VERDICT_TTL`], so a request costs no directory
//! read for it most of the time while a group nested into a privileged one since is refused
//! within that time.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use chrono::{DateTime, Utc};
use jitroles_domain::{
    DomainError,
    directory::{DirectoryGroup, GroupRef, Sid},
    rule::TargetGroup,
    target::{TargetPolicy, check_base, check_target},
};

use super::Ports;
use crate::admin_groups::AdminGroups;

/// How long a verdict on a group is reused at request time.
pub const VERDICT_TTL: Duration = Duration::from_secs(60);

/// What an operator configured, for [`super::Engine::configured`].
#[derive(Clone, Default)]
pub struct TargetSettings {
    pub policy: TargetPolicy,
    /// jitroles' admin groups (none in unit tests that do not need them).
    pub admin_groups: Option<Arc<AdminGroups>>,
}

/// A verdict on a group and when it was reached.
type Verdicts = HashMap<Sid, (Result<(), DomainError>, DateTime<Utc>)>;

fn fresh(ports: &Ports, at: DateTime<Utc>) -> bool {
    (ports.clock.now() - at)
        .to_std()
        .is_ok_and(|age| age < VERDICT_TTL)
}

pub(super) struct Targets {
    settings: TargetSettings,
    verdicts: Mutex<Verdicts>,
}

impl Targets {
    pub fn new(settings: TargetSettings) -> Self {
        Self {
            settings,
            verdicts: Mutex::new(HashMap::new()),
        }
    }

    /// For a rule being saved: always asks the directory. `Err` is the refusal (or a
    /// directory failure).
    pub async fn check_new(
        &self,
        ports: &Ports,
        group: &DirectoryGroup,
    ) -> Result<(), DomainError> {
        // the base needs nothing more than the DN: refuse before reading anything else
        check_base(&self.settings.policy, group)?;
        let verdict = self.decide(ports, group).await?;
        self.remember(ports, &group.sid, verdict.clone());
        verdict
    }

    /// For a request: the verdict on the rule's group, as decided at most [`VERDICT_TTL`] ago.
    /// The outer `Err` is a directory failure, the inner one the refusal.
    pub async fn verdict(
        &self,
        ports: &Ports,
        target: &TargetGroup,
    ) -> Result<Result<(), DomainError>, DomainError> {
        let held = self.lock().get(&target.sid).cloned();
        if let Some((verdict, at)) = held
            && fresh(ports, at)
        {
            return Ok(verdict);
        }
        let Some(group) = ports
            .directory
            .group(&GroupRef::Sid(target.sid.clone()))
            .await?
        else {
            return Ok(Err(DomainError::FailedPrecondition(format!(
                "the group {} is no longer in the directory",
                target.name
            ))));
        };
        let verdict = self.decide(ports, &group).await?;
        self.remember(ports, &target.sid, verdict.clone());
        Ok(verdict)
    }

    async fn decide(
        &self,
        ports: &Ports,
        group: &DirectoryGroup,
    ) -> Result<Result<(), DomainError>, DomainError> {
        let containing = ports.directory.groups_containing(&group.dn).await?;
        let admin_groups = match &self.settings.admin_groups {
            Some(groups) => groups.sids().await?,
            None => &[],
        };
        Ok(check_target(
            &self.settings.policy,
            admin_groups,
            group,
            &containing,
        ))
    }

    fn remember(&self, ports: &Ports, group: &Sid, verdict: Result<(), DomainError>) {
        let mut verdicts = self.lock();
        // one entry per group a rule names or an admin tried: bounded by admins' work, and
        // dropped once stale
        verdicts.retain(|_, (_, at)| fresh(ports, *at));
        verdicts.insert(group.clone(), (verdict, ports.clock.now()));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Verdicts> {
        self.verdicts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
