//! Ports: what the domain needs from the outside world, shaped around use cases.
//! Adapters implement them in their own crates; the server holds them as `Arc<dyn Port>`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use std::collections::HashMap;

use crate::{
    DomainError,
    approval::Decision,
    audit::{AuditEvent, AuditFilter, NewAudit},
    directory::Sid,
    freeze::{Freeze, FreezeScope},
    grant::Grant,
    grant_filter::GrantFilter,
    notify::{Channel, DeliveryState, NewNotification, Notification},
    page::{Page, PageRequest},
    rule::{RoleRule, history::RuleVersion},
    secret::Secret,
    system::Installation,
    usage::{Period, UsageGrant},
};

#[async_trait]
pub trait Store: Send + Sync {
    /// The deployment this database belongs to, made on first use at `now`.
    async fn installation(&self, now: DateTime<Utc>) -> Result<Installation, DomainError>;

    /// The key that seals pending browser sign-ins: `fresh` when none is stored yet (the first
    /// instance to ask wins), else the stored one, so every instance seals alike.
    async fn sign_in_key(&self, fresh: &Secret) -> Result<Secret, DomainError>;

    /// Cheap round trip for health checks.
    async fn ping(&self) -> Result<(), DomainError>;
}

/// One change of a grant for [`GrantStore::update_grants`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantChange {
    pub before: Grant,
    pub after: Grant,
    pub audit: Option<NewAudit>,
}

/// Rule changes to make at once ([`RuleStore::apply_rules`]).
#[derive(Debug, Clone, Default)]
pub struct RuleBatch {
    pub create: Vec<(RoleRule, NewAudit)>,
    /// The rule, the version it was read at, the event.
    pub update: Vec<(RoleRule, i64, NewAudit)>,
    /// The rule's id, the version it was read at, the event.
    pub delete: Vec<(String, i64, NewAudit)>,
}

/// Role rules. Each change stores its audit event in the same transaction.
#[async_trait]
pub trait RuleStore: Send + Sync {
    /// `AlreadyExists` when another live rule has the name.
    async fn create_rule(&self, rule: &RoleRule, audit: NewAudit) -> Result<(), DomainError>;
    /// Live (not deleted) rule.
    async fn rule(&self, id: &str) -> Result<Option<RoleRule>, DomainError>;
    /// Live rules, by name.
    async fn rules(&self) -> Result<Vec<RoleRule>, DomainError>;
    /// Stores `rule` (its version one more than `expected_version`) if the stored version is
    /// `expected_version` (`Conflict` otherwise); `FailedPrecondition` if the target group
    /// changes while the rule has live grants.
    async fn update_rule(
        &self,
        rule: &RoleRule,
        expected_version: i64,
        audit: NewAudit,
    ) -> Result<(), DomainError>;
    /// Soft delete, with the same version check; `FailedPrecondition` while grants are live.
    /// A freeze of the rule goes with it.
    async fn delete_rule(
        &self,
        id: &str,
        expected_version: i64,
        audit: NewAudit,
    ) -> Result<(), DomainError>;
    /// Creates, changes and deletes several rules in one transaction (deletions first, then
    /// changes, then creations), each with its audit event and version and under the same
    /// checks as one at a time; nothing is written when any of them fails.
    async fn apply_rules(&self, batch: RuleBatch) -> Result<(), DomainError>;
    /// The newest `limit` saved versions of rule `id`, newest first; a deleted rule keeps its
    /// history (its last version is the deletion).
    async fn rule_history(&self, id: &str, limit: u32) -> Result<Vec<RuleVersion>, DomainError>;
    /// Version `version` of rule `id`, if kept.
    async fn rule_version(
        &self,
        id: &str,
        version: i64,
    ) -> Result<Option<RuleVersion>, DomainError>;
    /// Live grants per rule id.
    async fn live_grant_counts(&self) -> Result<HashMap<String, u32>, DomainError>;
    /// The freezes in force: every role's first, then by rule id.
    async fn freezes(&self) -> Result<Vec<Freeze>, DomainError>;
    /// Stores `freeze` with its audit event, replacing a freeze of the same scope.
    async fn freeze(&self, freeze: &Freeze, audit: NewAudit) -> Result<(), DomainError>;
    /// Removes the freeze of `scope` with its audit event; `FailedPrecondition`
    /// ([`crate::freeze::not_frozen`]) and nothing written when there is none.
    async fn unfreeze(&self, scope: &FreezeScope, audit: NewAudit) -> Result<(), DomainError>;
}

/// Grants and the audit log.
#[async_trait]
pub trait GrantStore: Send + Sync {
    /// Stores a new grant; `AlreadyExists` when the subject has a live grant of the rule.
    async fn insert_grant(&self, grant: &Grant, audit: NewAudit) -> Result<(), DomainError>;
    /// Stores `after` (version + 1) if the stored grant is still at `before.version`;
    /// `Conflict` otherwise. Returns what was stored.
    async fn update_grant(
        &self,
        before: &Grant,
        after: &Grant,
        audit: Option<NewAudit>,
    ) -> Result<Grant, DomainError>;
    /// Many [`update_grant`](Self::update_grant)s in one transaction (one commit for a batch
    /// of the scheduler's work): each is stored if its version is still the one read, with
    /// its audit event; one that changed meanwhile is `Conflict` in its place and the others
    /// are stored all the same.
    async fn update_grants(
        &self,
        changes: Vec<GrantChange>,
    ) -> Result<Vec<Result<Grant, DomainError>>, DomainError>;
    async fn grant(&self, id: &str) -> Result<Option<Grant>, DomainError>;
    async fn grant_by_request_id(
        &self,
        subject: &Sid,
        client_request_id: &str,
    ) -> Result<Option<Grant>, DomainError>;
    /// The subject's open request (pending, scheduled) or live grant of a rule: at most one.
    async fn open_grant(&self, rule_id: &str, subject: &Sid) -> Result<Option<Grant>, DomainError>;
    /// When this store is a restored backup an admin has not yet reviewed: the time the
    /// snapshot was taken. Grants made after it are not in the store, while their members may
    /// still be in AD (the review lists them).
    async fn restored_snapshot(&self) -> Result<Option<DateTime<Utc>>, DomainError>;
    /// Live grants on a group, of any rule and person, by id, a page at a time: those with an
    /// id after `after` (all when `None`), at most `limit`.
    async fn live_on_group(
        &self,
        group: &Sid,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Grant>, DomainError>;
    /// Live grants on a group that cover any of `subjects`.
    async fn covering_any(&self, group: &Sid, subjects: &[Sid]) -> Result<Vec<Grant>, DomainError>;
    /// Live grants that cover (group, subject), of any rule.
    async fn covering(&self, group: &Sid, subject: &Sid) -> Result<Vec<Grant>, DomainError> {
        self.covering_any(group, std::slice::from_ref(subject))
            .await
    }
    /// Takes the lease on the membership (group, person) for instance `holder` until `until`:
    /// whoever holds it may check "does another grant cover it?" and write the directory, so
    /// two instances never interleave those for one membership. Refused (`false`) while
    /// another holder's lease runs past `now`; a holder may take its own again.
    async fn take_membership(
        &self,
        group: &Sid,
        subject: &Sid,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, DomainError>;
    /// Gives the lease back (only `holder`'s own).
    async fn release_membership(
        &self,
        group: &Sid,
        subject: &Sid,
        holder: &str,
    ) -> Result<(), DomainError>;
    /// Gives back every membership lease of `instance` (holders named `<instance>#…`): on a
    /// clean stop, and at start for what the same instance left when it died.
    async fn release_memberships_of(&self, instance: &str) -> Result<(), DomainError>;
    /// The subject's grants, live first, then newest first.
    async fn grants_of(&self, subject: &Sid, page: PageRequest)
    -> Result<Page<Grant>, DomainError>;
    /// Everyone's grants that match `filter`, newest first.
    async fn grants(
        &self,
        filter: &GrantFilter,
        page: PageRequest,
    ) -> Result<Page<Grant>, DomainError>;
    /// Work for the scheduler of instance `holder`, oldest first: `active` grants due at `now`
    /// and `ending` ones whose lease is `holder`'s own or has run out.
    async fn due(
        &self,
        now: DateTime<Utc>,
        holder: &str,
        limit: u32,
    ) -> Result<Vec<Grant>, DomainError>;
    /// How many grants are past their expiry and not ended yet (`active` due at `now`, and
    /// `ending`), whoever holds them.
    async fn overdue(&self, now: DateTime<Utc>) -> Result<u64, DomainError>;
    /// `activating` grants (a crash between the write-ahead and the reply).
    async fn activating(&self) -> Result<Vec<Grant>, DomainError>;
    /// When the scheduler next has work: the earliest expiry of an active grant or end of an
    /// `ending` grant's lease.
    async fn next_expiry(&self) -> Result<Option<DateTime<Utc>>, DomainError>;
    /// An audit event that goes with no single grant's change: a bulk revoke's summary, a
    /// sign-in, a refusal.
    async fn record_audit(&self, audit: NewAudit) -> Result<(), DomainError>;
    async fn audit_events(
        &self,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> Result<Page<AuditEvent>, DomainError>;

    /// Usage reports ([`crate::usage`]): the grants requested in `period`, by
    /// (requested_at, id), a page at a time: those after `after`, at most `limit`.
    async fn usage_requested(
        &self,
        period: &Period,
        after: Option<(DateTime<Utc>, String)>,
        limit: u32,
    ) -> Result<Vec<UsageGrant>, DomainError>;
    /// Grants requested before the period that still held access at its start (live with
    /// access, or ended after it), by id: those after `after`, at most `limit`.
    async fn usage_held_into(
        &self,
        period: &Period,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<UsageGrant>, DomainError>;
    /// Refusals in `period` by rule id: refused requests (with those a `repeated` summary
    /// stands for, [`crate::usage::repeated_refusals`]) and rejected ones.
    async fn usage_refusals(&self, period: &Period) -> Result<Vec<(String, u64)>, DomainError>;
    /// When the latest request of `rule_id` that got access, its access starting before
    /// `before`, was made.
    async fn last_use(
        &self,
        rule_id: &str,
        before: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, DomainError>;
    /// The people with a request of `rule_id` (any state) made at or after `since`.
    async fn requesters_since(
        &self,
        rule_id: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<Sid>, DomainError>;
}

/// Notification channels and the outbox. Grant transitions put their notifications in the
/// outbox themselves ([`GrantStore::insert_grant`], [`GrantStore::update_grant`]: in the same
/// transaction as the audit event, routed by [`crate::notify::route`]).
#[async_trait]
pub trait NotificationStore: Send + Sync {
    /// `AlreadyExists` when another channel has the name.
    async fn create_channel(&self, channel: &Channel, audit: NewAudit) -> Result<(), DomainError>;
    /// Stores `channel` (its version one more than `expected_version`) if the stored version
    /// is `expected_version` (`Conflict` otherwise).
    async fn update_channel(
        &self,
        channel: &Channel,
        expected_version: i64,
        audit: NewAudit,
    ) -> Result<(), DomainError>;
    /// With the same version check; `FailedPrecondition` while a rule lists the channel.
    async fn delete_channel(
        &self,
        id: &str,
        expected_version: i64,
        audit: NewAudit,
    ) -> Result<(), DomainError>;
    async fn channel(&self, id: &str) -> Result<Option<Channel>, DomainError>;
    /// An audit event of its own (a channel test).
    async fn audit(&self, audit: NewAudit) -> Result<(), DomainError>;
    /// Every channel, by name.
    async fn channels(&self) -> Result<Vec<Channel>, DomainError>;
    /// Adds notifications not tied to a grant transition (a refused request);
    /// one whose `dedupe_key` is there already is skipped. Returns how many were added.
    async fn enqueue(&self, notes: &[NewNotification]) -> Result<usize, DomainError>;
    /// Pending notifications due at `now`, oldest first, each claimed until `lease_until`
    /// (its next attempt moves there, so if this instance dies the claim runs out and any
    /// instance tries again). Claimed by a conditional update: never by two at once.
    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Notification>, DomainError>;
    /// Stores the outcome of an attempt (`Conflict` if the claim was lost meanwhile).
    async fn record(
        &self,
        before: &Notification,
        after: &Notification,
    ) -> Result<Notification, DomainError>;
    async fn notification(&self, id: &str) -> Result<Option<Notification>, DomainError>;
    /// When the next pending notification falls due.
    async fn next_attempt(&self) -> Result<Option<DateTime<Utc>>, DomainError>;
    /// The outbox, newest first, of one state or all.
    async fn notifications(
        &self,
        state: Option<DeliveryState>,
        page: PageRequest,
    ) -> Result<Page<Notification>, DomainError>;
}

/// Requests that wait: the approvers' decisions, the approvals list, and what falls due.
#[async_trait]
pub trait ApprovalStore: Send + Sync {
    /// Records one decision and the request's change (`after`, if the stored version is still
    /// `before`'s) with its audit events (the decision's, and the change it made: scheduled,
    /// failed, lapsed), all in one transaction: `FailedPrecondition` when the approver
    /// decided this request already, `Conflict` when it changed meanwhile (nothing is written
    /// then).
    async fn decide(
        &self,
        before: &Grant,
        decision: &Decision,
        after: &Grant,
        audits: Vec<NewAudit>,
    ) -> Result<Grant, DomainError>;
    /// The decisions on one request, oldest first.
    async fn decisions(&self, grant_id: &str) -> Result<Vec<Decision>, DomainError>;
    /// The decisions on several requests (a page of the approvals list), oldest first.
    async fn decisions_of(&self, grant_ids: &[String]) -> Result<Vec<Decision>, DomainError>;
    /// What the approvers of `rules` have to look at: pending requests (oldest first), then
    /// break-glass grants nobody acknowledged yet (oldest first), none of `except`'s own; a
    /// page at a time.
    async fn awaiting(
        &self,
        rules: &[String],
        except: &Sid,
        page: PageRequest,
    ) -> Result<Page<Grant>, DomainError>;
    /// Pending requests of `rules` not decided by `approver` (the navigation's count).
    async fn awaiting_count(&self, rules: &[String], approver: &Sid) -> Result<u64, DomainError>;
    /// Requests whose time has come at `now`: pending ones past their window and scheduled
    /// ones whose start is due; at most `limit`, earliest first.
    async fn due_waiting(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<Grant>, DomainError>;
    /// When the next waiting request falls due (a window ends or a start comes).
    async fn next_waiting(&self) -> Result<Option<DateTime<Utc>>, DomainError>;
}
