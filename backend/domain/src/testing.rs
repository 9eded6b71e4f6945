//! In-memory stand-ins for the ports (feature `testing`), for unit tests of what uses them:
//! [`MemoryStore`] (rules, grants, the audit log, channels and the outbox) and
//! [`FakeDirectory`] (people, groups and membership, with AD's answers and TTL links that
//! lapse on the test's clock). Each behaves as its real adapter does where the engine can
//! tell: the same errors for the same cases, one live grant per (rule, person), version
//! checks, "already so" for a duplicate add (AD's 68) or the removal of a non-member (16, 53).
//! The contract tests of the store and directory crates hold both to the same answers.
//!
//! Faults are injected one call at a time ([`MemoryStore::fail_next`],
//! [`FakeDirectory::fail_next`]) or for as long as a test says
//! ([`FakeDirectory::set_unavailable`]).

use std::{
    collections::{BTreeMap, HashMap, HashSet, VecDeque},
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};

use crate::{
    Clock, DomainError,
    audit::{AuditEvent, AuditFilter, NewAudit},
    directory::{
        Capabilities, Directory, DirectoryGroup, DirectoryObject, DirectoryUser, GroupRef, Member,
        MembershipChange, SearchPage, SearchScope, Sid, UserLookup, WriteAccess, choose_mechanism,
    },
    grant::{Grant, GrantState},
    grant_filter::GrantFilter,
    notify::{self, Channel, DeliveryState, NewNotification, Notification},
    page::{Page, PageRequest},
    ports::{GrantStore, NotificationStore, RuleStore},
    rule::RoleRule,
};

/// Gives other tasks a turn once, as a real store's I/O would: without it, two engines joined
/// in one test would each run to the end before the other starts, and races would go unseen.
async fn turn() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            std::task::Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    })
    .await;
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

// ---- the store ----

/// Which store calls a test makes fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoreOp {
    InsertGrant,
    UpdateGrant,
    /// Any read of grants.
    ReadGrants,
}

#[derive(Default)]
struct Tables {
    /// By id; deleted rules are kept with their deletion time, like the real soft delete.
    rules: BTreeMap<String, (RoleRule, Option<DateTime<Utc>>)>,
    grants: BTreeMap<String, Grant>,
    audit: Vec<AuditEvent>,
    channels: BTreeMap<String, Channel>,
    outbox: Vec<Notification>,
    dedupe: HashSet<String>,
    faults: VecDeque<(StoreOp, DomainError)>,
    next_id: u64,
}

/// The stores in memory: one mutex stands for the database's transactions.
#[derive(Default)]
pub struct MemoryStore(Mutex<Tables>);

impl MemoryStore {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// The next call of `op` fails with `error` (queued in order).
    pub fn fail_next(&self, op: StoreOp, error: DomainError) {
        lock(&self.0).faults.push_back((op, error));
    }

    /// Every grant, by id (tests look at what was stored).
    pub fn all_grants(&self) -> Vec<Grant> {
        lock(&self.0).grants.values().cloned().collect()
    }

    /// The audit log, oldest first.
    pub fn audit_log(&self) -> Vec<NewAudit> {
        lock(&self.0)
            .audit
            .iter()
            .map(|e| e.event.clone())
            .collect()
    }

    /// The outbox, oldest first.
    pub fn outbox(&self) -> Vec<Notification> {
        lock(&self.0).outbox.clone()
    }

    /// Stores a channel as it is (no audit event), for set-ups.
    pub fn put_channel(&self, channel: Channel) {
        lock(&self.0).channels.insert(channel.id.clone(), channel);
    }

    /// Stores a grant as it is (no audit event, no checks): a state left by a crash.
    pub fn put_grant(&self, grant: Grant) {
        lock(&self.0).grants.insert(grant.id.clone(), grant);
    }
}

impl Tables {
    fn fault(&mut self, op: StoreOp) -> Result<(), DomainError> {
        match self.faults.iter().position(|(o, _)| *o == op) {
            Some(i) => Err(self
                .faults
                .remove(i)
                .map(|(_, e)| e)
                .unwrap_or_else(|| DomainError::Internal("the injected fault vanished".into()))),
            None => Ok(()),
        }
    }

    fn live_rule(&self, id: &str) -> Option<&RoleRule> {
        self.rules
            .get(id)
            .and_then(|(r, deleted)| deleted.is_none().then_some(r))
    }

    fn live_count(&self, rule_id: &str) -> usize {
        self.grants
            .values()
            .filter(|g| g.rule_id == rule_id && GrantState::LIVE.contains(&g.state))
            .count()
    }

    fn name_taken(&self, rule: &RoleRule) -> bool {
        self.rules.values().any(|(r, deleted)| {
            deleted.is_none()
                && r.id != rule.id
                && r.spec.name.to_lowercase() == rule.spec.name.to_lowercase()
        })
    }

    fn record(&mut self, audit: NewAudit) {
        let id = i64::try_from(self.audit.len()).unwrap_or(i64::MAX) + 1;
        self.audit.push(AuditEvent { id, event: audit });
    }

    fn new_id(&mut self) -> String {
        self.next_id += 1;
        format!("n{}", self.next_id)
    }

    fn push_notes(&mut self, notes: Vec<NewNotification>) -> usize {
        let mut added = 0;
        for n in notes {
            if let Some(key) = &n.dedupe_key
                && !self.dedupe.insert(key.clone())
            {
                continue;
            }
            self.outbox.push(Notification {
                id: n.id,
                channel_id: n.channel_id,
                event: n.event,
                grant_id: n.grant_id,
                facts: n.facts,
                state: DeliveryState::Pending,
                attempts: 0,
                last_error: None,
                created_at: n.at,
                next_attempt_at: n.due,
                sent_at: None,
                version: 1,
            });
            added += 1;
        }
        added
    }

    /// The transition's notifications, as the real store writes them with its audit event.
    fn announce(&mut self, g: &Grant, audit: &NewAudit) {
        let Some(rule) = self
            .rules
            .get(&g.rule_id)
            .map(|(r, _)| r.spec.channels.clone())
        else {
            return;
        };
        let channels: Vec<Channel> = self.channels.values().cloned().collect();
        let notes = notify::of_transition(g, audit, &rule, &channels, || self.new_id());
        self.push_notes(notes);
    }
}

fn page<T: Clone>(items: &[T], page: PageRequest) -> Page<T> {
    let start = usize::try_from(page.offset).unwrap_or(usize::MAX);
    let fetched: Vec<T> = items
        .iter()
        .skip(start)
        .take(page.size as usize + 1)
        .cloned()
        .collect();
    page.page(fetched)
}

fn rule_moved() -> DomainError {
    DomainError::FailedPrecondition(
        "the role was deleted or moved to another group meanwhile; look at it again".into(),
    )
}

fn stale(what: &str, now: i64, read: i64) -> DomainError {
    DomainError::Conflict(format!(
        "the {what} was changed by someone else (now version {now}, you read version {read}); reload it and apply your change again"
    ))
}

#[async_trait]
impl RuleStore for MemoryStore {
    async fn create_rule(&self, rule: &RoleRule, audit: NewAudit) -> Result<(), DomainError> {
        let mut t = lock(&self.0);
        if t.name_taken(rule) {
            return Err(DomainError::AlreadyExists(format!(
                "a rule named {} exists",
                rule.spec.name
            )));
        }
        t.rules.insert(rule.id.clone(), (rule.clone(), None));
        t.record(audit);
        Ok(())
    }

    async fn rule(&self, id: &str) -> Result<Option<RoleRule>, DomainError> {
        Ok(lock(&self.0).live_rule(id).cloned())
    }

    async fn rules(&self) -> Result<Vec<RoleRule>, DomainError> {
        let mut rules: Vec<RoleRule> = lock(&self.0)
            .rules
            .values()
            .filter(|(_, deleted)| deleted.is_none())
            .map(|(r, _)| r.clone())
            .collect();
        rules.sort_by_key(|r| r.spec.name.to_lowercase());
        Ok(rules)
    }

    async fn update_rule(
        &self,
        rule: &RoleRule,
        expected_version: i64,
        audit: NewAudit,
    ) -> Result<(), DomainError> {
        let mut t = lock(&self.0);
        let stored = t
            .live_rule(&rule.id)
            .cloned()
            .ok_or_else(|| DomainError::NotFound {
                what: format!("rule {}", rule.id),
            })?;
        if stored.target.sid != rule.target.sid && t.live_count(&rule.id) > 0 {
            return Err(DomainError::FailedPrecondition(
                "the rule has live grants: its group cannot change until they end".into(),
            ));
        }
        if stored.version != expected_version {
            return Err(stale("rule", stored.version, expected_version));
        }
        if t.name_taken(rule) {
            return Err(DomainError::AlreadyExists(format!(
                "a rule named {} exists",
                rule.spec.name
            )));
        }
        let kept = RoleRule {
            created_at: stored.created_at,
            ..rule.clone()
        };
        t.rules.insert(rule.id.clone(), (kept, None));
        t.record(audit);
        Ok(())
    }

    async fn delete_rule(
        &self,
        id: &str,
        expected_version: i64,
        audit: NewAudit,
    ) -> Result<(), DomainError> {
        let mut t = lock(&self.0);
        if t.live_count(id) > 0 {
            return Err(DomainError::FailedPrecondition(
                "the rule has live grants: revoke them or let them expire first".into(),
            ));
        }
        let Some(stored) = t.live_rule(id).cloned() else {
            return Err(DomainError::NotFound {
                what: format!("rule {id}"),
            });
        };
        if stored.version != expected_version {
            return Err(stale("rule", stored.version, expected_version));
        }
        let deleted = RoleRule {
            version: stored.version + 1,
            ..stored
        };
        t.rules.insert(id.to_owned(), (deleted, Some(audit.at)));
        t.record(audit);
        Ok(())
    }

    async fn live_grant_counts(&self) -> Result<HashMap<String, u32>, DomainError> {
        let t = lock(&self.0);
        let mut counts: HashMap<String, u32> = HashMap::new();
        for g in t.grants.values() {
            if GrantState::LIVE.contains(&g.state) {
                *counts.entry(g.rule_id.clone()).or_default() += 1;
            }
        }
        Ok(counts)
    }
}

#[async_trait]
impl GrantStore for MemoryStore {
    async fn insert_grant(&self, grant: &Grant, audit: NewAudit) -> Result<(), DomainError> {
        turn().await;
        let mut t = lock(&self.0);
        t.fault(StoreOp::InsertGrant)?;
        if t.live_rule(&grant.rule_id)
            .is_none_or(|r| r.target.sid != grant.group.sid)
        {
            return Err(rule_moved());
        }
        // the database's partial unique index: one live grant per (rule, person)
        let taken = GrantState::LIVE.contains(&grant.state)
            && t.grants.values().any(|g| {
                g.rule_id == grant.rule_id
                    && g.subject.sid == grant.subject.sid
                    && GrantState::LIVE.contains(&g.state)
            });
        if taken {
            return Err(DomainError::AlreadyExists(format!(
                "{} already has a live grant of {}; extend it instead",
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

    async fn live_grant(&self, rule_id: &str, subject: &Sid) -> Result<Option<Grant>, DomainError> {
        turn().await;
        let mut t = lock(&self.0);
        t.fault(StoreOp::ReadGrants)?;
        Ok(t.grants
            .values()
            .find(|g| {
                g.rule_id == rule_id
                    && &g.subject.sid == subject
                    && GrantState::LIVE.contains(&g.state)
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
}

#[async_trait]
impl NotificationStore for MemoryStore {
    async fn create_channel(&self, channel: &Channel, audit: NewAudit) -> Result<(), DomainError> {
        let mut t = lock(&self.0);
        // the name's unique key ignores case, as the database's does
        let name = channel.spec.name.to_lowercase();
        if t.channels
            .values()
            .any(|c| c.spec.name.to_lowercase() == name)
        {
            return Err(DomainError::AlreadyExists(format!(
                "a channel named {} exists",
                channel.spec.name
            )));
        }
        t.channels.insert(channel.id.clone(), channel.clone());
        t.record(audit);
        Ok(())
    }

    async fn update_channel(
        &self,
        channel: &Channel,
        expected_version: i64,
        audit: NewAudit,
    ) -> Result<(), DomainError> {
        let mut t = lock(&self.0);
        let stored = t
            .channels
            .get(&channel.id)
            .map(|c| c.version)
            .ok_or_else(|| DomainError::NotFound {
                what: format!("channel {}", channel.id),
            })?;
        if stored != expected_version {
            return Err(stale("channel", stored, expected_version));
        }
        let name = channel.spec.name.to_lowercase();
        if t.channels
            .values()
            .any(|c| c.id != channel.id && c.spec.name.to_lowercase() == name)
        {
            return Err(DomainError::AlreadyExists(format!(
                "a channel named {} exists",
                channel.spec.name
            )));
        }
        t.channels.insert(channel.id.clone(), channel.clone());
        t.record(audit);
        Ok(())
    }

    async fn delete_channel(
        &self,
        id: &str,
        expected_version: i64,
        audit: NewAudit,
    ) -> Result<(), DomainError> {
        let mut t = lock(&self.0);
        let users: Vec<String> = t
            .rules
            .values()
            .filter(|(r, deleted)| {
                deleted.is_none()
                    && (r.spec.channels.success.iter().any(|c| c == id)
                        || r.spec.channels.failure.iter().any(|c| c == id))
            })
            .map(|(r, _)| r.spec.name.clone())
            .collect();
        if !users.is_empty() {
            return Err(DomainError::FailedPrecondition(format!(
                "the channel is used by the rules {}: remove it there first",
                users.join(", ")
            )));
        }
        let stored =
            t.channels
                .get(id)
                .map(|c| c.version)
                .ok_or_else(|| DomainError::NotFound {
                    what: format!("channel {id}"),
                })?;
        if stored != expected_version {
            return Err(stale("channel", stored, expected_version));
        }
        t.channels.remove(id);
        t.record(audit);
        Ok(())
    }

    async fn channel(&self, id: &str) -> Result<Option<Channel>, DomainError> {
        Ok(lock(&self.0).channels.get(id).cloned())
    }

    async fn audit(&self, audit: NewAudit) -> Result<(), DomainError> {
        lock(&self.0).record(audit);
        Ok(())
    }

    async fn channels(&self) -> Result<Vec<Channel>, DomainError> {
        let mut all: Vec<Channel> = lock(&self.0).channels.values().cloned().collect();
        all.sort_by(|a, b| a.spec.name.cmp(&b.spec.name));
        Ok(all)
    }

    async fn enqueue(&self, notes: &[NewNotification]) -> Result<usize, DomainError> {
        Ok(lock(&self.0).push_notes(notes.to_vec()))
    }

    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Notification>, DomainError> {
        let mut t = lock(&self.0);
        // oldest due first, as the database orders them
        let mut due: Vec<usize> = (0..t.outbox.len())
            .filter(|i| {
                let n = &t.outbox[*i];
                n.state == DeliveryState::Pending && n.next_attempt_at <= now
            })
            .collect();
        due.sort_by_key(|i| t.outbox[*i].next_attempt_at);
        due.truncate(limit as usize);
        let mut claimed = Vec::with_capacity(due.len());
        for i in due {
            let n = &mut t.outbox[i];
            n.next_attempt_at = lease_until;
            n.version += 1;
            claimed.push(n.clone());
        }
        Ok(claimed)
    }

    async fn record(
        &self,
        before: &Notification,
        after: &Notification,
    ) -> Result<Notification, DomainError> {
        let mut t = lock(&self.0);
        // like the conditional update: a missing or moved-on row is a lost claim
        let Some(n) = t
            .outbox
            .iter_mut()
            .find(|n| n.id == before.id && n.version == before.version)
        else {
            return Err(DomainError::Conflict(
                "the notification was claimed by another instance".into(),
            ));
        };
        *n = Notification {
            version: before.version + 1,
            ..after.clone()
        };
        Ok(n.clone())
    }

    async fn notification(&self, id: &str) -> Result<Option<Notification>, DomainError> {
        Ok(lock(&self.0).outbox.iter().find(|n| n.id == id).cloned())
    }

    async fn next_attempt(&self) -> Result<Option<DateTime<Utc>>, DomainError> {
        Ok(lock(&self.0)
            .outbox
            .iter()
            .filter(|n| n.state == DeliveryState::Pending)
            .map(|n| n.next_attempt_at)
            .min())
    }

    async fn notifications(
        &self,
        state: Option<DeliveryState>,
        request: PageRequest,
    ) -> Result<Page<Notification>, DomainError> {
        let found: Vec<Notification> = lock(&self.0)
            .outbox
            .iter()
            .rev()
            .filter(|n| state.is_none_or(|s| n.state == s))
            .cloned()
            .collect();
        Ok(page(&found, request))
    }
}

// ---- the directory ----

/// Which directory calls a test makes fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DirectoryOp {
    AddMember,
    RemoveMember,
    Members,
    Capabilities,
}

struct Link {
    member: Sid,
    /// When AD removes a TTL link by itself.
    until: Option<DateTime<Utc>>,
}

struct FakeGroup {
    group: DirectoryGroup,
    links: Vec<Link>,
    writable: bool,
}

struct Forest {
    users: Vec<DirectoryUser>,
    token_groups: HashMap<String, Vec<Sid>>,
    groups: Vec<FakeGroup>,
    pam: bool,
    unavailable: bool,
    faults: VecDeque<(DirectoryOp, DomainError)>,
    /// Writes (adds and removes) and member reads, by operation, as the engine made them.
    counts: HashMap<DirectoryOp, usize>,
}

/// A directory in memory. Time-to-live links lapse on the test's clock, as AD removes them.
pub struct FakeDirectory {
    forest: Mutex<Forest>,
    clock: Arc<dyn Clock>,
}

fn unavailable() -> DomainError {
    DomainError::Unavailable("the directory does not answer".into())
}

impl FakeDirectory {
    pub fn new(clock: Arc<dyn Clock>) -> Arc<Self> {
        Arc::new(Self {
            forest: Mutex::new(Forest {
                users: Vec::new(),
                token_groups: HashMap::new(),
                groups: Vec::new(),
                pam: false,
                unavailable: false,
                faults: VecDeque::new(),
                counts: HashMap::new(),
            }),
            clock,
        })
    }

    /// A person, in the security groups `groups` (their token groups).
    pub fn add_user(&self, user: DirectoryUser, groups: Vec<Sid>) {
        let mut f = lock(&self.forest);
        f.token_groups.insert(user.dn.to_lowercase(), groups);
        f.users.push(user);
    }

    /// A group the service account may write (`writable`) or not.
    pub fn add_group(&self, group: DirectoryGroup, writable: bool) {
        lock(&self.forest).groups.push(FakeGroup {
            group,
            links: Vec::new(),
            writable,
        });
    }

    /// Adds or removes a member as someone outside jitroles would.
    pub fn set_member(&self, group: &Sid, member: &Sid, present: bool) {
        let mut f = lock(&self.forest);
        if let Some(g) = f.groups.iter_mut().find(|g| &g.group.sid == group) {
            g.links.retain(|l| &l.member != member);
            if present {
                g.links.push(Link {
                    member: member.clone(),
                    until: None,
                });
            }
        }
    }

    /// The SIDs in a group now (TTL links that lapsed are gone).
    pub fn members_of(&self, group: &Sid) -> Vec<Sid> {
        let now = self.clock.now();
        let f = lock(&self.forest);
        f.groups
            .iter()
            .find(|g| &g.group.sid == group)
            .map(|g| {
                g.links
                    .iter()
                    .filter(|l| l.until.is_none_or(|u| u > now))
                    .map(|l| l.member.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// When a member's TTL link lapses, if it is one.
    pub fn link_until(&self, group: &Sid, member: &Sid) -> Option<DateTime<Utc>> {
        let f = lock(&self.forest);
        f.groups
            .iter()
            .find(|g| &g.group.sid == group)
            .and_then(|g| g.links.iter().find(|l| &l.member == member))
            .and_then(|l| l.until)
    }

    /// Turns the forest's Privileged Access Management feature on or off.
    pub fn set_pam(&self, on: bool) {
        lock(&self.forest).pam = on;
    }

    /// Every call fails as an unreachable DC does, until set back.
    pub fn set_unavailable(&self, down: bool) {
        lock(&self.forest).unavailable = down;
    }

    /// The next call of `op` fails with `error` (queued in order).
    pub fn fail_next(&self, op: DirectoryOp, error: DomainError) {
        lock(&self.forest).faults.push_back((op, error));
    }

    /// How many calls of `op` were made.
    pub fn count(&self, op: DirectoryOp) -> usize {
        lock(&self.forest).counts.get(&op).copied().unwrap_or(0)
    }

    fn call(&self, op: DirectoryOp) -> Result<MutexGuard<'_, Forest>, DomainError> {
        let mut f = lock(&self.forest);
        *f.counts.entry(op).or_default() += 1;
        if f.unavailable {
            return Err(unavailable());
        }
        if let Some(i) = f.faults.iter().position(|(o, _)| *o == op) {
            let (_, e) = f
                .faults
                .remove(i)
                .ok_or_else(|| DomainError::Internal("the injected fault vanished".into()))?;
            return Err(e);
        }
        Ok(f)
    }

    fn read(&self) -> Result<MutexGuard<'_, Forest>, DomainError> {
        let f = lock(&self.forest);
        if f.unavailable {
            return Err(unavailable());
        }
        Ok(f)
    }
}

impl Forest {
    fn group_mut(&mut self, dn: &str) -> Result<&mut FakeGroup, DomainError> {
        self.groups
            .iter_mut()
            .find(|g| g.group.dn.eq_ignore_ascii_case(dn))
            .ok_or_else(|| DomainError::NotFound {
                what: format!("group {dn}"),
            })
    }
}

#[async_trait]
impl Directory for FakeDirectory {
    async fn find_user(&self, by: &UserLookup) -> Result<Option<DirectoryUser>, DomainError> {
        let f = self.read()?;
        Ok(f.users
            .iter()
            .find(|u| match by {
                UserLookup::SamAccountName(n) => u.account_name.eq_ignore_ascii_case(n),
                UserLookup::UserPrincipalName(n) => {
                    u.upn.as_deref().is_some_and(|x| x.eq_ignore_ascii_case(n))
                }
                UserLookup::Mail(n) => u.mail.as_deref().is_some_and(|x| x.eq_ignore_ascii_case(n)),
                UserLookup::Sid(s) => &u.sid == s,
            })
            .cloned())
    }

    async fn token_groups(&self, user_dn: &str) -> Result<Vec<Sid>, DomainError> {
        let f = self.read()?;
        Ok(f.token_groups
            .get(&user_dn.to_lowercase())
            .cloned()
            .unwrap_or_default())
    }

    async fn search(
        &self,
        text: &str,
        scope: SearchScope,
        limit: usize,
    ) -> Result<SearchPage, DomainError> {
        let f = self.read()?;
        let text = text.to_lowercase();
        let mut objects: Vec<DirectoryObject> = Vec::new();
        if scope != SearchScope::Groups {
            objects.extend(
                f.users
                    .iter()
                    .filter(|u| {
                        u.account_name.to_lowercase().starts_with(&text)
                            || u.display_name.to_lowercase().starts_with(&text)
                    })
                    .cloned()
                    .map(DirectoryObject::User),
            );
        }
        if scope != SearchScope::Users {
            objects.extend(
                f.groups
                    .iter()
                    .filter(|g| g.group.name.to_lowercase().starts_with(&text))
                    .map(|g| DirectoryObject::Group(g.group.clone())),
            );
        }
        let more = objects.len() > limit;
        objects.truncate(limit);
        Ok(SearchPage { objects, more })
    }

    async fn group(&self, by: &GroupRef) -> Result<Option<DirectoryGroup>, DomainError> {
        let f = self.read()?;
        Ok(f.groups
            .iter()
            .map(|g| &g.group)
            .find(|g| match by {
                GroupRef::Sid(s) => &g.sid == s,
                GroupRef::Guid(x) => g.guid.eq_ignore_ascii_case(x),
                GroupRef::Dn(dn) => g.dn.eq_ignore_ascii_case(dn),
            })
            .cloned())
    }

    async fn add_member(
        &self,
        group_dn: &str,
        member: &Sid,
        ttl: Option<Duration>,
    ) -> Result<MembershipChange, DomainError> {
        let now = self.clock.now();
        let mut f = self.call(DirectoryOp::AddMember)?;
        if ttl.is_some() && !f.pam {
            // Samba and AD without PAM refuse the TTL form with 34, which the adapter reports
            return Err(DomainError::invalid(
                "directory",
                "invalid DN syntax: <TTL=…> needs the PAM feature",
            ));
        }
        let g = f.group_mut(group_dn)?;
        if !g.writable {
            // insufficientAccessRights (50), as the adapter reports it
            return Err(DomainError::FailedPrecondition(format!(
                "the service account may not change the members of {}",
                g.group.name
            )));
        }
        let until = ttl.map(|t| now + TimeDelta::from_std(t).unwrap_or(TimeDelta::MAX));
        g.links.retain(|l| l.until.is_none_or(|u| u > now));
        match g.links.iter_mut().find(|l| &l.member == member) {
            // AD answers a TTL add of a member with a new TTL (the link's expiry is replaced);
            // a plain add of a member is "entry exists" (68)
            Some(link) if until.is_some() => {
                link.until = until;
                Ok(MembershipChange::Changed)
            }
            Some(_) => Ok(MembershipChange::AlreadySo),
            None => {
                g.links.push(Link {
                    member: member.clone(),
                    until,
                });
                Ok(MembershipChange::Changed)
            }
        }
    }

    async fn remove_member(
        &self,
        group_dn: &str,
        member: &Sid,
    ) -> Result<MembershipChange, DomainError> {
        let now = self.clock.now();
        let mut f = self.call(DirectoryOp::RemoveMember)?;
        let g = f.group_mut(group_dn)?;
        g.links.retain(|l| l.until.is_none_or(|u| u > now));
        let before = g.links.len();
        g.links.retain(|l| &l.member != member);
        // a never-member (16) or one already removed (53) is "already so"
        Ok(if g.links.len() < before {
            MembershipChange::Changed
        } else {
            MembershipChange::AlreadySo
        })
    }

    async fn members(&self, group_dn: &str) -> Result<Vec<Member>, DomainError> {
        let now = self.clock.now();
        let mut f = self.call(DirectoryOp::Members)?;
        let links: Vec<(Sid, Option<DateTime<Utc>>)> = f
            .group_mut(group_dn)?
            .links
            .iter()
            .filter(|l| l.until.is_none_or(|u| u > now))
            .map(|l| (l.member.clone(), l.until))
            .collect();
        Ok(links
            .into_iter()
            .map(|(sid, until)| Member {
                dn: f
                    .users
                    .iter()
                    .find(|u| u.sid == sid)
                    .map(|u| u.dn.clone())
                    .unwrap_or_else(|| format!("CN={sid}")),
                ttl: until.map(|u| (u - now).to_std().unwrap_or_default()),
            })
            .collect())
    }

    async fn capabilities(&self) -> Result<Capabilities, DomainError> {
        let f = self.call(DirectoryOp::Capabilities)?;
        Ok(Capabilities {
            forest_functional_level: if f.pam { 7 } else { 6 },
            pam_enabled: f.pam,
            mechanism: choose_mechanism(f.pam, false),
        })
    }

    async fn write_access(&self, group_dn: &str) -> Result<WriteAccess, DomainError> {
        let mut f = lock(&self.forest);
        if f.unavailable {
            return Err(unavailable());
        }
        let g = f.group_mut(group_dn)?;
        Ok(WriteAccess {
            can_write_members: g.writable,
            protected: g.group.protected,
        })
    }
}

/// The contract every [`Directory`] keeps, run against the real adapter (on Samba) and
/// against [`FakeDirectory`], so the fake cannot drift from what the engine meets in AD.
/// Each check panics with what broke it.
pub mod contract {
    use super::*;

    fn expect<T: PartialEq + std::fmt::Debug>(got: Result<T, DomainError>, want: T, what: &str) {
        match got {
            Ok(got) => assert_eq!(got, want, "{what}"),
            Err(e) => panic!("{what}: {e:?}"),
        }
    }

    async fn dns(dir: &dyn Directory, group_dn: &str) -> Vec<String> {
        let mut dns: Vec<String> = match dir.members(group_dn).await {
            Ok(m) => m.into_iter().map(|m| m.dn.to_lowercase()).collect(),
            Err(e) => panic!("members: {e:?}"),
        };
        dns.sort();
        dns
    }

    /// Membership writes are idempotent and say whether they changed anything: a duplicate
    /// add is "already so" (AD's 68), a removal of a member already removed (53) or of a
    /// never-member (16) too; a batch removal answers per member, in order. `group_dn` is an
    /// empty group the service account may write; `a` and `b` are users (`a_dn` is `a`'s DN).
    pub async fn membership(dir: &dyn Directory, group_dn: &str, a: &Sid, a_dn: &str, b: &Sid) {
        assert!(
            dns(dir, group_dn).await.is_empty(),
            "the group starts empty"
        );
        use MembershipChange::{AlreadySo, Changed};
        expect(
            dir.add_member(group_dn, a, None).await,
            Changed,
            "first add",
        );
        expect(
            dir.add_member(group_dn, a, None).await,
            AlreadySo,
            "second add (68)",
        );
        assert_eq!(
            dns(dir, group_dn).await,
            [a_dn.to_lowercase()],
            "members after the add"
        );
        expect(
            dir.remove_member(group_dn, a).await,
            Changed,
            "first removal",
        );
        expect(
            dir.remove_member(group_dn, a).await,
            AlreadySo,
            "second removal (53)",
        );
        expect(
            dir.remove_member(group_dn, b).await,
            AlreadySo,
            "never a member (16)",
        );
        assert!(
            dns(dir, group_dn).await.is_empty(),
            "empty after the removals"
        );
        for who in [a, b] {
            expect(
                dir.add_member(group_dn, who, None).await,
                Changed,
                "add for a batch",
            );
        }
        expect(
            dir.remove_members(group_dn, &[a.clone(), b.clone()]).await,
            vec![Changed, Changed],
            "a batch of two members",
        );
        expect(
            dir.add_member(group_dn, b, None).await,
            Changed,
            "add b again",
        );
        expect(
            dir.remove_members(group_dn, &[a.clone(), b.clone()]).await,
            vec![AlreadySo, Changed],
            "a batch with one already gone",
        );
        assert!(dns(dir, group_dn).await.is_empty(), "empty at the end");
    }

    /// A directory that does not answer says so as `Unavailable`, for reads and writes alike.
    pub async fn unavailable(dir: &dyn Directory, group_dn: &str, member: &Sid) {
        let lookup = dir
            .find_user(&UserLookup::SamAccountName("dave".into()))
            .await;
        assert!(
            matches!(lookup, Err(DomainError::Unavailable(_))),
            "a lookup: {lookup:?}"
        );
        let add = dir.add_member(group_dn, member, None).await;
        assert!(
            matches!(add, Err(DomainError::Unavailable(_))),
            "an add: {add:?}"
        );
        let members = dir.members(group_dn).await;
        assert!(
            matches!(members, Err(DomainError::Unavailable(_))),
            "a member read: {members:?}"
        );
    }
}
