//! What the use cases share: the ports, this instance's leases, the per-membership locks, the
//! mechanism in use, and the audit events they write.

use std::{collections::HashMap, sync::Arc, time::Duration};

use chrono::{DateTime, TimeDelta, Utc};
use jitroles_domain::{
    DomainError,
    access::Caller,
    audit::{AuditAction, NewAudit},
    directory::{Mechanism, Sid},
    freeze::Freeze,
    grant::{self, EndReason, Grant, Lease},
    ports::GrantStore,
    rule::RoleRule,
};
use tokio::sync::Notify;

use super::{
    Observer, Ports,
    targets::{TargetSettings, Targets},
};

/// How long a rule (or freeze) read for a request is reused. Edits on this instance take
/// effect at once (they drop the copy); edits on another instance within this long (a new deny
/// entry, or a freeze, must hold on every instance within 5 s).
const RULES_FRESH: Duration = Duration::from_secs(3);

/// How long the mechanism (PAM on or off) is reused before the directory is asked again. PAM
/// only ever goes from off to on, and the scheduler works either way.
const MECHANISM_TTL: Duration = Duration::from_secs(60);

pub(super) struct Shared {
    pub ports: Ports,
    /// Wakes the scheduler when an earlier expiry may have appeared.
    pub wake: Arc<Notify>,
    pub memberships: MembershipLocks,
    pub leases: Leases,
    pub observer: Arc<dyn Observer>,
    /// Which groups rules may target.
    pub targets: Targets,
    mechanism: std::sync::Mutex<Option<(Mechanism, tokio::time::Instant)>>,
    /// Live rules as last read, for requests (see [`RULES_FRESH`]).
    rules: std::sync::Mutex<RuleCopy>,
}

/// The rules as read at `at`, and how many edits this instance has made: a read that started
/// before an edit is not kept after it.
#[derive(Default)]
struct RuleCopy {
    held: Option<(Arc<Vec<RoleRule>>, tokio::time::Instant)>,
    /// The freezes in force, read and dropped as the rules are.
    freezes: Option<(Arc<Vec<Freeze>>, tokio::time::Instant)>,
    edits: u64,
}

impl Shared {
    pub fn new(
        ports: Ports,
        leases: Leases,
        observer: Arc<dyn Observer>,
        targets: TargetSettings,
    ) -> Self {
        Self {
            ports,
            wake: Arc::new(Notify::new()),
            memberships: MembershipLocks::default(),
            leases,
            observer,
            targets: Targets::new(targets),
            mechanism: std::sync::Mutex::new(None),
            rules: std::sync::Mutex::new(RuleCopy::default()),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.ports.clock.now()
    }

    /// A lease of this instance from now on.
    pub fn lease(&self) -> Lease {
        Lease {
            holder: self.leases.holder.clone(),
            until: self.now()
                + chrono::TimeDelta::from_std(self.leases.length).unwrap_or(chrono::TimeDelta::MAX),
        }
    }

    /// The mechanism in use, asked of the directory at most once per [`MECHANISM_TTL`].
    pub async fn mechanism(&self) -> Result<Mechanism, DomainError> {
        let remembered = *self
            .mechanism
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((mechanism, at)) = remembered
            && at.elapsed() < MECHANISM_TTL
        {
            return Ok(mechanism);
        }
        let mechanism = self.ports.directory.capabilities().await?.mechanism;
        *self
            .mechanism
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) =
            Some((mechanism, tokio::time::Instant::now()));
        Ok(mechanism)
    }

    /// The live rules, as read at most [`RULES_FRESH`] ago (requests read them on every call;
    /// admins' reads go to the store).
    pub async fn live_rules(&self) -> Result<Arc<Vec<RoleRule>>, DomainError> {
        let (held, edits) = {
            let copy = self.rule_copy();
            (copy.held.clone(), copy.edits)
        };
        if let Some((rules, at)) = held
            && at.elapsed() < RULES_FRESH
        {
            return Ok(rules);
        }
        // the time is taken before the read, so a slow read does not stretch the 3 s
        let at = tokio::time::Instant::now();
        let rules = Arc::new(self.ports.rules.rules().await?);
        let mut copy = self.rule_copy();
        if copy.edits == edits {
            copy.held = Some((rules.clone(), at));
        }
        Ok(rules)
    }

    /// The freezes in force, as read at most [`RULES_FRESH`] ago (a freeze on this instance
    /// drops the copy, as a rule edit does).
    pub async fn live_freezes(&self) -> Result<Arc<Vec<Freeze>>, DomainError> {
        let (held, edits) = {
            let copy = self.rule_copy();
            (copy.freezes.clone(), copy.edits)
        };
        if let Some((freezes, at)) = held
            && at.elapsed() < RULES_FRESH
        {
            return Ok(freezes);
        }
        let at = tokio::time::Instant::now();
        let freezes = Arc::new(self.ports.rules.freezes().await?);
        let mut copy = self.rule_copy();
        if copy.edits == edits {
            copy.freezes = Some((freezes.clone(), at));
        }
        Ok(freezes)
    }

    /// A live rule for a request, or NOT_FOUND naming it as a role. A rule made since the
    /// copy was read (on another instance) is read from the store, alone.
    pub async fn requested_rule(&self, id: &str) -> Result<RoleRule, DomainError> {
        if let Some(rule) = self.live_rules().await?.iter().find(|r| r.id == id) {
            return Ok(rule.clone());
        }
        let rule = self
            .ports
            .rules
            .rule(id)
            .await?
            .ok_or_else(|| not_found(format!("role {id}")))?;
        // new here: the next request reads them all again
        self.rules_changed();
        Ok(rule)
    }

    /// Drops the copy of the rules: this instance changed one.
    pub fn rules_changed(&self) {
        let mut copy = self.rule_copy();
        copy.held = None;
        copy.freezes = None;
        copy.edits += 1;
    }

    fn rule_copy(&self) -> std::sync::MutexGuard<'_, RuleCopy> {
        self.rules
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A grant, or NOT_FOUND naming it.
    pub async fn grant(&self, id: &str) -> Result<Grant, DomainError> {
        self.ports
            .grants
            .grant(id)
            .await?
            .ok_or_else(|| not_found(format!("grant {id}")))
    }

    /// An admin ends grant `id` now, saying why: the one way a revoke ends a grant, alone or
    /// among many. The reason is checked by the caller ([`grant::revoke_reason`]).
    pub async fn revoke(
        &self,
        actor: &Caller,
        id: &str,
        reason: &str,
    ) -> Result<Grant, DomainError> {
        // kept on the grant for the person to read, and in the audit event's detail
        let g = grant::noting_end(self.grant(id).await?, reason.to_owned());
        self.end(
            g,
            EndReason::Revoked,
            &actor.account_name,
            reason.to_owned(),
        )
        .await
    }

    /// A live rule as stored now, or NOT_FOUND.
    pub async fn stored_rule(&self, id: &str) -> Result<RoleRule, DomainError> {
        self.ports
            .rules
            .rule(id)
            .await?
            .ok_or_else(|| not_found(format!("rule {id}")))
    }
}

/// How this instance claims `ending` grants: other instances leave a claimed grant alone until
/// the lease runs out, and then take its removal over.
pub struct Leases {
    /// This instance's name: the same instance restarted must find its own leases (and finish
    /// their work at once); another instance waits until they run out.
    pub holder: String,
    pub length: Duration,
    /// Whether other instances may share the database (PostgreSQL): only then are membership
    /// holds also taken as lease rows. SQLite serves one instance, whose mutex suffices, and
    /// two more commits per hold would only compete for its one writer.
    pub shared_database: bool,
}

/// One lock per (group, person): "is another grant covering it?" and the directory write that
/// depends on the answer happen as one step, so an expiry cannot remove a membership a new
/// request has just added for the same person and group. In this instance a mutex; across
/// instances a lease row in the database ([`Shared::hold_membership`]), taken after the mutex
/// and given back when the [`MembershipHold`] drops.
#[derive(Default)]
pub(super) struct MembershipLocks(
    std::sync::Mutex<HashMap<MembershipKey, Arc<tokio::sync::Mutex<()>>>>,
);

/// A membership held by this instance: its mutex, and the database lease (under a holder name
/// of its own, so no later hold in this instance is mistaken for it).
pub(super) struct MembershipHold {
    _local: tokio::sync::OwnedMutexGuard<()>,
    lease: Option<(Arc<dyn GrantStore>, Sid, Sid, String)>,
}

impl Drop for MembershipHold {
    fn drop(&mut self) {
        if let Some((grants, group, subject, holder)) = self.lease.take() {
            // the lease runs out by itself if this does not happen (the process ends)
            tokio::spawn(async move {
                if let Err(e) = grants.release_membership(&group, &subject, &holder).await {
                    tracing::warn!(error = %e, "a membership lease was not given back; it runs out");
                }
            });
        }
    }
}

/// How often a hold another instance has is looked at again.
const HOLD_POLL: Duration = Duration::from_millis(25);

/// (group SID, person SID).
type MembershipKey = (String, String);

impl MembershipLocks {
    pub async fn lock(&self, group: &Sid, subject: &Sid) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut all = self
                .0
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if all.len() > 10_000 {
                all.retain(|_, l| Arc::strong_count(l) > 1);
            }
            all.entry((group.to_string(), subject.to_string()))
                .or_default()
                .clone()
        };
        lock.lock_owned().await
    }
}

impl Shared {
    /// Holds the membership (group, person) in this instance and across instances: waits while
    /// another instance holds it, at most one lease length (by then its lease has run out).
    pub async fn hold_membership(
        &self,
        group: &Sid,
        subject: &Sid,
    ) -> Result<MembershipHold, DomainError> {
        let local = self.memberships.lock(group, subject).await;
        if !self.leases.shared_database {
            return Ok(MembershipHold {
                _local: local,
                lease: None,
            });
        }
        let holder = format!("{}#{}", self.leases.holder, uuid::Uuid::new_v4().simple());
        let length = TimeDelta::from_std(self.leases.length).unwrap_or(TimeDelta::MAX);
        let started = tokio::time::Instant::now();
        loop {
            let now = self.now();
            let grants = &self.ports.grants;
            if grants
                .take_membership(group, subject, &holder, now, now + length)
                .await?
            {
                return Ok(MembershipHold {
                    _local: local,
                    lease: Some((grants.clone(), group.clone(), subject.clone(), holder)),
                });
            }
            if started.elapsed() >= self.leases.length {
                return Err(DomainError::Unavailable(
                    "another jitroles instance is changing this membership; try again".into(),
                ));
            }
            tokio::time::sleep(HOLD_POLL).await;
        }
    }
}

impl Shared {
    /// Whether `person` is listed in `target` now. Token groups hold every direct membership,
    /// so only someone whose token groups list the group can be a member already: only then
    /// is the group read (they may be up to a minute old; a membership added since shows up
    /// as "already there" when adding, and is refused then). Under TTL links the group is
    /// always read: a TTL add never answers "already there".
    pub async fn listed_in(
        &self,
        person: &Caller,
        target: &jitroles_domain::rule::TargetGroup,
        mechanism: Mechanism,
    ) -> Result<bool, DomainError> {
        if !person.groups.contains(&target.sid) && mechanism != Mechanism::Ttl {
            return Ok(false);
        }
        let members = self.ports.directory.members(&target.address()).await?;
        Ok(members
            .iter()
            .any(|m| m.dn.eq_ignore_ascii_case(&person.dn)))
    }
}

pub(super) fn not_found(what: String) -> DomainError {
    DomainError::NotFound { what }
}

/// The audit event of a grant's transition.
pub(super) fn audit(
    action: AuditAction,
    actor: &str,
    grant: &Grant,
    detail: impl Into<String>,
    at: DateTime<Utc>,
) -> NewAudit {
    NewAudit {
        at,
        action,
        actor: actor.to_owned(),
        rule_id: Some(grant.rule_id.clone()),
        grant_id: Some(grant.id.clone()),
        subject_account: Some(grant.subject.account.clone()),
        detail: detail.into(),
        source: None,
    }
}

/// The audit event of a rule edit.
pub(super) fn rule_audit(
    action: AuditAction,
    actor: &Caller,
    rule: &RoleRule,
    at: DateTime<Utc>,
) -> NewAudit {
    NewAudit {
        at,
        action,
        actor: actor.account_name.clone(),
        rule_id: Some(rule.id.clone()),
        grant_id: None,
        subject_account: None,
        detail: format!("{} on group {}", rule.spec.name, rule.target.name),
        source: None,
    }
}
