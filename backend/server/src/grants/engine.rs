//! The grant engine: rules and grants through their whole life, on the store and the
//! directory. The domain decides (validation, ACLs, the state machine); this module orders the
//! I/O so that a failure at any point leaves no stray membership and loses no grant:
//!
//! - request: `activating` is committed before the directory write; `active` after it; if the
//!   write fails, the grant ends `failed` and any membership it may have written is removed;
//! - ending (expiry, release, revoke): `ending` is committed before the removal, `ended` after
//!   it; a removal the directory refuses stays `ending` and the scheduler retries it;
//! - membership is the union of live grants: a removal that another live grant still covers is
//!   skipped (TTL links get the remaining grants' latest expiry instead).

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::Duration,
};

use chrono::{DateTime, Utc};
use jitroles_domain::{
    Clock, DomainError,
    access::{AclEntry, AdminRight, Caller, PrincipalKind, authorize_request},
    audit::{AuditAction, AuditEvent, AuditFilter, NewAudit, SYSTEM_ACTOR},
    directory::{
        Capabilities, Directory, DirectoryGroup, GroupRef, Mechanism, MembershipChange, Sid,
        UserLookup, WriteAccess, find_group,
    },
    grant::{self, Ask, EndReason, Grant, GrantState, Lease, Subject},
    page::{Page, PageRequest},
    ports::{GrantStore, RuleStore},
    rule::{RoleRule, RuleChannels, RuleSpec, TargetGroup, check_text},
};
use tokio::sync::Notify;

use crate::{failpoint, metrics::Metrics, notify::Notifier};

/// Most due grants handled per pass; the scheduler loops until none are left.
const DUE_BATCH: u32 = 500;
/// Most members removed from one group in one directory write.
const REMOVE_BATCH: usize = 250;
/// Live grants of a group read at a time by reconciliation.
const LIVE_PAGE: u32 = 2_000;
/// How long the mechanism (PAM on or off) is reused before the directory is asked again. PAM
/// only ever goes from off to on, and the scheduler works either way.
const MECHANISM_TTL: Duration = Duration::from_secs(60);

pub struct Engine {
    rules: Arc<dyn RuleStore>,
    grants: Arc<dyn GrantStore>,
    directory: Arc<dyn Directory>,
    clock: Arc<dyn Clock>,
    /// Wakes the scheduler when an earlier expiry may have appeared.
    wake: Arc<Notify>,
    mechanism: std::sync::Mutex<Option<(Mechanism, tokio::time::Instant)>>,
    memberships: MembershipLocks,
    metrics: Arc<Metrics>,
    /// This instance's name on the leases it takes, and how long they last.
    leases: Leases,
    /// Refused requests are announced through it (grant transitions announce themselves in
    /// the store); rules may only name its channels.
    notifier: Arc<Notifier>,
}

/// How this instance claims `ending` grants: other instances leave a claimed grant alone until
/// the lease runs out, and then take its removal over.
pub struct Leases {
    pub holder: String,
    pub length: Duration,
}

impl Leases {
    /// Leases named after this host and the address the server listens on: the same
    /// instance restarted finds its own leases and finishes their work at once; another
    /// instance waits until they run out.
    pub fn new(listening: std::net::SocketAddr, length: Duration) -> Self {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_default();
        Self {
            holder: format!("{host}/{listening}"),
            length,
        }
    }
}

/// One lock per (group, person) in this instance: "is another grant covering it?" and the
/// directory write that depends on the answer happen as one step, so an expiry cannot remove
/// a membership a new request has just added for the same person and group.
#[derive(Default)]
struct MembershipLocks(std::sync::Mutex<HashMap<MembershipKey, Arc<tokio::sync::Mutex<()>>>>);

/// (group SID, person SID).
type MembershipKey = (String, String);

impl MembershipLocks {
    async fn lock(&self, group: &Sid, subject: &Sid) -> tokio::sync::OwnedMutexGuard<()> {
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

/// A role someone may request, with their live grant of it.
pub struct RequestableRole {
    pub rule: RoleRule,
    pub live: Option<Grant>,
}

/// Per rule: may jitroles write its group, and who is in it without a grant?
pub struct GroupStatus {
    pub rule: RoleRule,
    pub access: Result<WriteAccess, DomainError>,
    pub unexplained: Result<Vec<String>, DomainError>,
}

pub struct DirectoryReport {
    pub capabilities: Capabilities,
    pub groups: Vec<GroupStatus>,
}

fn audit(
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
    }
}

fn rule_audit(action: AuditAction, actor: &Caller, rule: &RoleRule, at: DateTime<Utc>) -> NewAudit {
    NewAudit {
        at,
        action,
        actor: actor.account_name.clone(),
        rule_id: Some(rule.id.clone()),
        grant_id: None,
        subject_account: None,
        detail: format!("{} on group {}", rule.spec.name, rule.target.name),
    }
}

/// What a failed grant does with the membership it may have written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Undo {
    Remove,
    /// The member was there before us: leave it.
    Keep,
}

fn not_found(what: String) -> DomainError {
    DomainError::NotFound { what }
}

impl Engine {
    pub fn new(
        rules: Arc<dyn RuleStore>,
        grants: Arc<dyn GrantStore>,
        directory: Arc<dyn Directory>,
        clock: Arc<dyn Clock>,
        metrics: Arc<Metrics>,
        leases: Leases,
        notifier: Arc<Notifier>,
    ) -> Self {
        Self {
            rules,
            grants,
            directory,
            clock,
            wake: Arc::new(Notify::new()),
            mechanism: std::sync::Mutex::new(None),
            memberships: MembershipLocks::default(),
            metrics,
            leases,
            notifier,
        }
    }

    /// What wakes the scheduler when an earlier expiry may have appeared.
    pub fn wake_signal(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Every channel a rule names exists.
    async fn check_channels(
        &self,
        right: &AdminRight,
        channels: &RuleChannels,
    ) -> Result<(), DomainError> {
        let known: HashSet<String> = self
            .notifier
            .channels(right)
            .await?
            .into_iter()
            .map(|c| c.id)
            .collect();
        for (field, ids) in [
            ("success_channels", &channels.success),
            ("failure_channels", &channels.failure),
        ] {
            if let Some(id) = ids.iter().find(|id| !known.contains(*id)) {
                return Err(DomainError::Invalid {
                    field: field.into(),
                    reason: format!("there is no channel {id}"),
                });
            }
        }
        Ok(())
    }

    /// A lease of this instance from now on.
    fn lease(&self) -> Lease {
        Lease {
            holder: self.leases.holder.clone(),
            until: self.clock.now()
                + chrono::TimeDelta::from_std(self.leases.length).unwrap_or(chrono::TimeDelta::MAX),
        }
    }

    // ---- rules (admins) ----

    /// The group `name` (SID, GUID, DN or name) names, or a field error.
    async fn target(&self, name: &str) -> Result<TargetGroup, DomainError> {
        check_text("target_group", name, 1024, false)?;
        if name.trim().is_empty() {
            return Err(DomainError::Invalid {
                field: "target_group".into(),
                reason: "is required".into(),
            });
        }
        let group: DirectoryGroup = find_group(self.directory.as_ref(), name.trim())
            .await?
            .ok_or_else(|| DomainError::Invalid {
                field: "target_group".into(),
                reason: format!("the directory has no group {name}"),
            })?;
        Ok(TargetGroup {
            sid: group.sid,
            guid: group.guid,
            dn: group.dn,
            name: group.name,
        })
    }

    /// Every ACL principal must exist in the directory; display names are taken from it.
    async fn resolve_acl(&self, acl: &mut [AclEntry]) -> Result<(), DomainError> {
        for (i, entry) in acl.iter_mut().enumerate() {
            let name = match entry.kind {
                PrincipalKind::User => self
                    .directory
                    .find_user(&UserLookup::Sid(entry.principal.clone()))
                    .await?
                    .map(|u| u.display_name),
                PrincipalKind::Group => self
                    .directory
                    .group(&GroupRef::Sid(entry.principal.clone()))
                    .await?
                    .map(|g| g.name),
            };
            entry.display_name = name.ok_or_else(|| DomainError::Invalid {
                field: format!("acl[{i}]"),
                reason: format!(
                    "the directory has no {} with SID {}",
                    match entry.kind {
                        PrincipalKind::User => "user",
                        PrincipalKind::Group => "group",
                    },
                    entry.principal
                ),
            })?;
        }
        Ok(())
    }

    pub async fn create_rule(
        &self,
        right: &AdminRight,
        actor: &Caller,
        mut spec: RuleSpec,
        target: &str,
    ) -> Result<RoleRule, DomainError> {
        let now = self.clock.now();
        self.resolve_acl(&mut spec.acl).await?;
        let spec = spec.validate(now)?;
        self.check_channels(right, &spec.channels).await?;
        let rule = RoleRule {
            id: uuid::Uuid::new_v4().to_string(),
            spec,
            target: self.target(target).await?,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        self.rules
            .create_rule(
                &rule,
                rule_audit(AuditAction::RuleCreated, actor, &rule, now),
            )
            .await?;
        Ok(rule)
    }

    pub async fn update_rule(
        &self,
        right: &AdminRight,
        actor: &Caller,
        id: &str,
        mut spec: RuleSpec,
        target: &str,
        version: i64,
    ) -> Result<RoleRule, DomainError> {
        let now = self.clock.now();
        let stored = self
            .rules
            .rule(id)
            .await?
            .ok_or_else(|| not_found(format!("rule {id}")))?;
        self.resolve_acl(&mut spec.acl).await?;
        let spec = spec.validate(now)?;
        self.check_channels(right, &spec.channels).await?;
        let rule = RoleRule {
            spec,
            target: self.target(target).await?,
            version: version + 1,
            updated_at: now,
            ..stored
        };
        self.rules
            .update_rule(
                &rule,
                version,
                rule_audit(AuditAction::RuleUpdated, actor, &rule, now),
            )
            .await?;
        Ok(rule)
    }

    pub async fn delete_rule(
        &self,
        _: &AdminRight,
        actor: &Caller,
        id: &str,
        version: i64,
    ) -> Result<(), DomainError> {
        let now = self.clock.now();
        let rule = self
            .rules
            .rule(id)
            .await?
            .ok_or_else(|| not_found(format!("rule {id}")))?;
        self.rules
            .delete_rule(
                id,
                version,
                rule_audit(AuditAction::RuleDeleted, actor, &rule, now),
            )
            .await
    }

    pub async fn rule(&self, _: &AdminRight, id: &str) -> Result<(RoleRule, u32), DomainError> {
        let rule = self
            .rules
            .rule(id)
            .await?
            .ok_or_else(|| not_found(format!("rule {id}")))?;
        let live = self.rules.live_grant_counts().await?;
        let n = live.get(id).copied().unwrap_or(0);
        Ok((rule, n))
    }

    pub async fn rules(
        &self,
        _: &AdminRight,
        query: &str,
    ) -> Result<Vec<(RoleRule, u32)>, DomainError> {
        check_text("query", query, 256, false)?;
        let query = query.to_lowercase();
        let live: HashMap<String, u32> = self.rules.live_grant_counts().await?;
        Ok(self
            .rules
            .rules()
            .await?
            .into_iter()
            .filter(|r| r.spec.name.to_lowercase().contains(&query))
            .map(|r| {
                let n = live.get(&r.id).copied().unwrap_or(0);
                (r, n)
            })
            .collect())
    }

    // ---- requesters ----

    /// The roles `caller` may request now, with their live grant of each.
    pub async fn roles_for(&self, caller: &Caller) -> Result<Vec<RequestableRole>, DomainError> {
        let now = self.clock.now();
        let mut roles = Vec::new();
        for rule in self.rules.rules().await? {
            if rule.check_open(now).is_err()
                || authorize_request(caller, &rule.id, &rule.spec.acl).is_err()
            {
                continue;
            }
            let live = self.grants.live_grant(&rule.id, &caller.sid).await?;
            roles.push(RequestableRole { rule, live });
        }
        Ok(roles)
    }

    async fn mechanism(&self) -> Result<Mechanism, DomainError> {
        let remembered = *self
            .mechanism
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((mechanism, at)) = remembered
            && at.elapsed() < MECHANISM_TTL
        {
            return Ok(mechanism);
        }
        let mechanism = self.directory.capabilities().await?.mechanism;
        *self
            .mechanism
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) =
            Some((mechanism, tokio::time::Instant::now()));
        Ok(mechanism)
    }

    /// Adds `caller` to the role's group until the grant expires. A refusal (not allowed,
    /// the rule closed, a permanent member) goes to the rule's failure channels once.
    pub async fn request(
        &self,
        caller: &Caller,
        rule_id: &str,
        ask: Ask,
    ) -> Result<Grant, DomainError> {
        let rule = self
            .rules
            .rule(rule_id)
            .await?
            .ok_or_else(|| not_found(format!("role {rule_id}")))?;
        self.request_of(caller, &rule, ask).await
    }

    /// `why`, after telling the rule's failure channels when it is a refusal made before any
    /// grant was recorded (a failure after that is announced with the grant's `failed`).
    async fn refuse(&self, rule: &RoleRule, caller: &Caller, why: DomainError) -> DomainError {
        if matches!(
            why,
            DomainError::Denied(_) | DomainError::FailedPrecondition(_)
        ) {
            self.notifier.refused(rule, caller, &why).await;
        }
        why
    }

    async fn request_of(
        &self,
        caller: &Caller,
        rule: &RoleRule,
        ask: Ask,
    ) -> Result<Grant, DomainError> {
        if let Some(id) = &ask.client_request_id
            && let Some(earlier) = self.grants.grant_by_request_id(&caller.sid, id).await?
        {
            return if earlier.rule_id == rule.id {
                Ok(earlier)
            } else {
                Err(DomainError::Invalid {
                    field: "client_request_id".into(),
                    reason: "was used for a request of another role".into(),
                })
            };
        }
        let right = match authorize_request(caller, &rule.id, &rule.spec.acl) {
            Ok(right) => right,
            Err(why) => return Err(self.refuse(rule, caller, why).await),
        };
        let now = self.clock.now();
        let subject = Subject {
            sid: caller.sid.clone(),
            dn: caller.dn.clone(),
            account: caller.account_name.clone(),
            display_name: caller.display_name.clone(),
        };
        let mechanism = self.mechanism().await?;
        let fresh = match grant::open(
            right,
            rule,
            subject,
            &caller.account_name,
            ask,
            mechanism,
            uuid::Uuid::new_v4().to_string(),
            now,
        ) {
            Ok(fresh) => fresh,
            Err(why) => return Err(self.refuse(rule, caller, why).await),
        };
        // Token groups include every direct membership, so only a caller whose token groups
        // list the group can be a member already: only then is the group read. (They may be
        // up to a minute old; a membership added since shows up as "already there" when adding
        // below, and is refused then.)
        let maybe_member = caller.groups.contains(&rule.target.sid);
        let _membership = self.memberships.lock(&rule.target.sid, &caller.sid).await;
        let (live, covering, member) = tokio::join!(
            self.grants.live_grant(&rule.id, &caller.sid),
            self.grants.covering(&rule.target.sid, &caller.sid),
            async {
                if maybe_member {
                    self.is_member(&rule.target, &caller.dn).await
                } else {
                    Ok(false)
                }
            },
        );
        if let Some(live) = live? {
            return Err(DomainError::AlreadyExists(format!(
                "{} already has this role until {}; extend that grant instead",
                caller.account_name, live.expires_at
            )));
        }
        let covering = covering?;
        if covering.is_empty() && member? {
            let why = grant::member_outside(&caller.account_name, &rule.target.name);
            return Err(self.refuse(rule, caller, why).await);
        }

        // write-ahead: the grant exists before the directory changes
        self.grants
            .insert_grant(
                &fresh,
                audit(
                    AuditAction::Requested,
                    &caller.account_name,
                    &fresh,
                    format!(
                        "{} until {}: {}",
                        rule.spec.name, fresh.expires_at, fresh.justification
                    ),
                    now,
                ),
            )
            .await?;
        failpoint::point(failpoint::AFTER_ACTIVATING_COMMIT);
        let ttl = (mechanism == Mechanism::Ttl).then(|| {
            let mut all: Vec<&Grant> = covering.iter().collect();
            all.push(&fresh);
            grant::link_ttl(&all, now)
        });
        match self
            .directory
            .add_member(&fresh.group.dn, &fresh.subject.sid, ttl)
            .await
        {
            Ok(MembershipChange::Changed) => failpoint::point(failpoint::AFTER_DIRECTORY_ADD),
            Ok(MembershipChange::AlreadySo) if covering.is_empty() => {
                // a member already, and not through us: never touch that membership
                let refused = grant::member_outside(&caller.account_name, &rule.target.name);
                self.fail(&fresh, &refused, Undo::Keep).await;
                return Err(refused);
            }
            Ok(MembershipChange::AlreadySo) => {}
            Err(e) => {
                self.fail(&fresh, &e, Undo::Remove).await;
                return Err(e);
            }
        }
        let active = Grant {
            state: GrantState::Active,
            ..fresh.clone()
        };
        let detail = format!(
            "member of {} until {} ({mechanism})",
            fresh.group.name, fresh.expires_at
        );
        match self
            .grants
            .update_grant(
                &fresh,
                &active,
                Some(audit(
                    AuditAction::Granted,
                    SYSTEM_ACTOR,
                    &active,
                    detail,
                    self.clock.now(),
                )),
            )
            .await
        {
            Ok(stored) => {
                self.wake.notify_one();
                Ok(stored)
            }
            Err(e) => {
                // not confirmed: the caller is told it failed, so the membership must go
                self.fail(&fresh, &e, Undo::Remove).await;
                Err(e)
            }
        }
    }

    /// Ends an unconfirmed grant `failed`, removing the membership it may have written
    /// (`Undo::Remove`). Whatever cannot be done now is left `activating` for recovery.
    async fn fail(&self, activating: &Grant, why: &DomainError, undo: Undo) {
        let covered = undo == Undo::Keep
            || match self
                .grants
                .covering(&activating.group.sid, &activating.subject.sid)
                .await
            {
                Ok(covering) => grant::still_covered(activating, &covering),
                Err(e) => {
                    tracing::warn!(grant = %activating.id, error = %e, "cannot check coverage; recovery will finish the failed grant");
                    return;
                }
            };
        if !covered
            && let Err(e) = self
                .directory
                .remove_member(&activating.group.dn, &activating.subject.sid)
                .await
        {
            tracing::warn!(grant = %activating.id, error = %e, "cannot undo the membership of a failed grant; recovery will retry");
            return;
        }
        if let DomainError::Internal(_) = why {
            tracing::error!(grant = %activating.id, error = %why, "grant failed");
        }
        // what the audit log, the caller and the failure channels read
        let said = why.said();
        let failed = Grant {
            state: GrantState::Failed,
            ended_at: Some(self.clock.now()),
            last_error: Some(said.clone()),
            ..activating.clone()
        };
        let now = self.clock.now();
        if let Err(e) = self
            .grants
            .update_grant(
                activating,
                &failed,
                Some(audit(AuditAction::Failed, SYSTEM_ACTOR, &failed, said, now)),
            )
            .await
        {
            tracing::warn!(grant = %activating.id, error = %e, "cannot record a failed grant; recovery will");
        }
    }

    async fn is_member(&self, group: &TargetGroup, user_dn: &str) -> Result<bool, DomainError> {
        Ok(self
            .directory
            .members(&group.dn)
            .await?
            .iter()
            .any(|m| m.dn.eq_ignore_ascii_case(user_dn)))
    }

    async fn own_grant(&self, caller: &Caller, id: &str) -> Result<Grant, DomainError> {
        let g = self
            .grants
            .grant(id)
            .await?
            .ok_or_else(|| not_found(format!("grant {id}")))?;
        grant::check_own(&g, &caller.sid)?;
        Ok(g)
    }

    pub async fn extend(
        &self,
        caller: &Caller,
        id: &str,
        duration: Option<Duration>,
    ) -> Result<Grant, DomainError> {
        let g = self.own_grant(caller, id).await?;
        let rule = self.rules.rule(&g.rule_id).await?.ok_or_else(|| {
            DomainError::FailedPrecondition("the role of this grant was deleted".into())
        })?;
        // the ACL may have changed since the request
        authorize_request(caller, &rule.id, &rule.spec.acl)?;
        rule.check_open(self.clock.now())?;
        let now = self.clock.now();
        let longer = grant::extend(&g, &rule, duration, now)?;
        let _membership = self.memberships.lock(&g.group.sid, &g.subject.sid).await;
        if g.mechanism == Mechanism::Ttl {
            // AD first: if storing fails afterwards, AD keeps the member longer than recorded,
            // and expiry removes it explicitly; never the other way round
            let covering = self.grants.covering(&g.group.sid, &g.subject.sid).await?;
            let mut all: Vec<&Grant> = covering.iter().filter(|c| c.id != g.id).collect();
            all.push(&longer);
            self.directory
                .add_member(
                    &g.group.dn,
                    &g.subject.sid,
                    Some(grant::link_ttl(&all, now)),
                )
                .await?;
        }
        let stored = self
            .grants
            .update_grant(
                &g,
                &longer,
                Some(audit(
                    AuditAction::Extended,
                    &caller.account_name,
                    &longer,
                    format!("until {} (was {})", longer.expires_at, g.expires_at),
                    now,
                )),
            )
            .await?;
        self.wake.notify_one();
        Ok(stored)
    }

    pub async fn release(&self, caller: &Caller, id: &str) -> Result<Grant, DomainError> {
        let g = self.own_grant(caller, id).await?;
        self.end(g, EndReason::Released, &caller.account_name, String::new())
            .await
    }

    pub async fn revoke(
        &self,
        _: &AdminRight,
        actor: &Caller,
        id: &str,
        reason: &str,
    ) -> Result<Grant, DomainError> {
        check_text("reason", reason, grant::MAX_JUSTIFICATION_CHARS, true)?;
        let g = self
            .grants
            .grant(id)
            .await?
            .ok_or_else(|| not_found(format!("grant {id}")))?;
        self.end(
            g,
            EndReason::Revoked,
            &actor.account_name,
            reason.trim().to_owned(),
        )
        .await
    }

    /// `active → ending`, with the audit event of the decision (expired, released, revoked,
    /// ended by the directory).
    async fn begin(
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
        let now = self.clock.now();
        let stored = self
            .grants
            .update_grant(g, &next, Some(audit(action, actor, &next, detail, now)))
            .await?;
        failpoint::point(failpoint::AFTER_ENDING_COMMIT);
        Ok(stored)
    }

    /// `active → ending → ended`. If the directory cannot be changed now, the grant stays
    /// `ending` (returned so, with the error) and the scheduler finishes it.
    async fn end(
        &self,
        g: Grant,
        reason: EndReason,
        actor: &str,
        detail: String,
    ) -> Result<Grant, DomainError> {
        let ending = if g.state == GrantState::Ending {
            g
        } else {
            self.begin(&g, reason, actor, detail).await?
        };
        match self.finish(&ending).await {
            Ok(ended) => Ok(ended),
            Err(e) => {
                tracing::warn!(grant = %ending.id, error = %e, "membership removal postponed");
                self.wake.notify_one();
                let noted = Grant {
                    last_error: Some(e.said()),
                    ..ending.clone()
                };
                Ok(self
                    .grants
                    .update_grant(&ending, &noted, None)
                    .await
                    .unwrap_or(noted))
            }
        }
    }

    /// Removes the membership behind an `ending` grant (unless another live grant covers it)
    /// and records it `ended`.
    async fn finish(&self, ending: &Grant) -> Result<Grant, DomainError> {
        self.finish_all(std::slice::from_ref(ending))
            .await?
            .pop()
            .ok_or_else(|| DomainError::Internal("finishing a grant returned nothing".into()))
    }

    /// [`Engine::finish`] for `ending` grants of one group at once: the memberships no other
    /// live grant covers go in batched removals (one write per [`REMOVE_BATCH`] members), then
    /// each grant is recorded `ended`. A grant another instance finished meanwhile is returned
    /// as stored.
    async fn finish_all(&self, endings: &[Grant]) -> Result<Vec<Grant>, DomainError> {
        let Some(first) = endings.first() else {
            return Ok(Vec::new());
        };
        let group = first.group.clone();
        let mut people: Vec<&Sid> = endings.iter().map(|g| &g.subject.sid).collect();
        people.sort();
        people.dedup();
        let mut _held = Vec::with_capacity(people.len());
        for person in &people {
            _held.push(self.memberships.lock(&group.sid, person).await);
        }
        let subjects: Vec<Sid> = people.iter().map(|p| (*p).clone()).collect();
        let live = self.grants.covering_any(&group.sid, &subjects).await?;
        let mut details: HashMap<String, String> = HashMap::new();
        let mut to_remove: Vec<Sid> = Vec::new();
        for ending in endings {
            let covering: Vec<Grant> = live
                .iter()
                .filter(|g| g.subject.sid == ending.subject.sid)
                .cloned()
                .collect();
            if grant::still_covered(ending, &covering) {
                if ending.mechanism == Mechanism::Ttl {
                    let rest: Vec<&Grant> = covering
                        .iter()
                        .filter(|c| c.id != ending.id && c.state == GrantState::Active)
                        .collect();
                    self.directory
                        .add_member(
                            &group.dn,
                            &ending.subject.sid,
                            Some(grant::link_ttl(&rest, self.clock.now())),
                        )
                        .await?;
                }
                details.insert(
                    ending.id.clone(),
                    format!(
                        "still a member of {}: another live grant covers it",
                        group.name
                    ),
                );
            } else if !to_remove.contains(&ending.subject.sid) {
                to_remove.push(ending.subject.sid.clone());
            }
        }
        let mut removed: HashMap<Sid, MembershipChange> = HashMap::new();
        for batch in to_remove.chunks(REMOVE_BATCH) {
            let changes = self.directory.remove_members(&group.dn, batch).await?;
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
            let now = self.clock.now();
            let done = grant::finish_end(ending, now);
            match self
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
                    if let Some(current) = self.grants.grant(&ending.id).await? {
                        ended.push(current);
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(ended)
    }

    pub async fn my_grants(
        &self,
        caller: &Caller,
        page: PageRequest,
    ) -> Result<Page<Grant>, DomainError> {
        self.grants.grants_of(&caller.sid, page).await
    }

    pub async fn grants(
        &self,
        _: &AdminRight,
        include_ended: bool,
        page: PageRequest,
    ) -> Result<Page<Grant>, DomainError> {
        self.grants.grants(include_ended, page).await
    }

    pub async fn audit_events(
        &self,
        _: &AdminRight,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> Result<Page<AuditEvent>, DomainError> {
        self.grants.audit_events(filter, page).await
    }

    pub async fn directory_status(&self, _: &AdminRight) -> Result<DirectoryReport, DomainError> {
        let capabilities = self.directory.capabilities().await?;
        let mut groups = Vec::new();
        for rule in self.rules.rules().await? {
            let access = self.directory.write_access(&rule.target.dn).await;
            let unexplained = self.unexplained(&rule.target).await;
            groups.push(GroupStatus {
                rule,
                access,
                unexplained,
            });
        }
        Ok(DirectoryReport {
            capabilities,
            groups,
        })
    }

    /// Members of `group` that no live grant explains.
    async fn unexplained(&self, group: &TargetGroup) -> Result<Vec<String>, DomainError> {
        let mut explained: HashSet<String> = HashSet::new();
        let mut after: Option<String> = None;
        loop {
            let page = self
                .grants
                .live_on_group(&group.sid, after.as_deref(), LIVE_PAGE)
                .await?;
            let Some(last) = page.last() else { break };
            after = Some(last.id.clone());
            explained.extend(page.into_iter().map(|g| g.subject.dn.to_lowercase()));
        }
        Ok(self
            .directory
            .members(&group.dn)
            .await?
            .into_iter()
            .map(|m| m.dn)
            .filter(|dn| !explained.contains(&dn.to_lowercase()))
            .collect())
    }

    /// Compares each role group's members with its live grants: an active grant whose member
    /// is gone (removed outside jitroles) ends with reason `directory`. Members without a grant
    /// are only reported ([`Engine::directory_status`]). Returns how many grants ended.
    pub async fn reconcile(&self) -> Result<usize, DomainError> {
        let mut groups: Vec<TargetGroup> = Vec::new();
        for rule in self.rules.rules().await? {
            if !groups.iter().any(|g| g.sid == rule.target.sid) {
                groups.push(rule.target);
            }
        }
        let mut ended = 0;
        for group in groups {
            // grants first, members second: a grant active before the read had its member
            // added before the read, so a missing member really is gone. Grants are read a
            // page at a time: a group may have very many.
            let first = self
                .grants
                .live_on_group(&group.sid, None, LIVE_PAGE)
                .await?;
            let members: HashSet<String> = self
                .directory
                .members(&group.dn)
                .await?
                .into_iter()
                .map(|m| m.dn.to_lowercase())
                .collect();
            let now = self.clock.now();
            let mut page = first;
            while let Some(last) = page.last().map(|g| g.id.clone()) {
                for g in std::mem::take(&mut page) {
                    let present = members.contains(&g.subject.dn.to_lowercase());
                    // a TTL link due now is AD's own doing: the scheduler records that expiry
                    if present
                        || g.state != GrantState::Active
                        || (g.mechanism == Mechanism::Ttl && g.expires_at <= now)
                    {
                        continue;
                    }
                    match self
                        .end(
                            g,
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
                page = self
                    .grants
                    .live_on_group(&group.sid, Some(&last), LIVE_PAGE)
                    .await?;
            }
        }
        Ok(ended)
    }

    // ---- the scheduler's work ----

    /// (live grants, grants due now and not yet ended — counted up to 10,000) for metrics.
    pub async fn gauges(&self) -> Result<(u64, u64), DomainError> {
        let live: u64 = self
            .rules
            .live_grant_counts()
            .await?
            .values()
            .map(|n| u64::from(*n))
            .sum();
        let due = self.grants.overdue(self.clock.now()).await?;
        Ok((live, due))
    }

    /// The earliest expiry of an active grant.
    pub async fn next_expiry(&self) -> Result<Option<DateTime<Utc>>, DomainError> {
        self.grants.next_expiry().await
    }

    /// Ends every grant due now (oldest first) and finishes `ending` ones; returns how many
    /// ended. Stops at the first directory or database error (the caller backs off).
    pub async fn run_due(&self) -> Result<usize, DomainError> {
        let mut done = 0;
        loop {
            let now = self.clock.now();
            let due = self.grants.due(now, &self.leases.holder, DUE_BATCH).await?;
            if due.is_empty() {
                return Ok(done);
            }
            // every due grant to `ending` first (one commit each, with its audit event) ...
            let mut endings: Vec<Grant> = Vec::with_capacity(due.len());
            for g in due {
                if g.state == GrantState::Ending {
                    // left over (a failed removal, or an instance that died mid-removal whose
                    // lease ran out): claimed for this instance, or renewed if it is ours
                    if let Some(taken) = grant::take_over(&g, self.lease(), now) {
                        match self.grants.update_grant(&g, &taken, None).await {
                            Ok(ours) => endings.push(ours),
                            Err(DomainError::Conflict(_)) => {} // someone else took it
                            Err(e) => return Err(e),
                        }
                    }
                    continue;
                }
                match self
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
                for ended in self.finish_all(&batch).await? {
                    if ended.state != GrantState::Ended {
                        continue;
                    }
                    if let Some(at) = ended.ended_at
                        && ended.end_reason == Some(EndReason::Expired)
                    {
                        self.metrics
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
        let cutoff = self.clock.now()
            - chrono::TimeDelta::from_std(older_than).unwrap_or(chrono::TimeDelta::MAX);
        let stale: Vec<Grant> = self
            .grants
            .activating()
            .await?
            .into_iter()
            .filter(|g| g.requested_at <= cutoff)
            .collect();
        let n = stale.len();
        for g in stale {
            let _membership = self.memberships.lock(&g.group.sid, &g.subject.sid).await;
            self.fail(
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
