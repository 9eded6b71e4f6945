//! [`MemoryStore`]: the rule, grant and notification stores in memory.
//!
//! This module holds the tables and what every port shares (faults, audit records, the
//! outbox, paging, the version-check errors); each port's implementation is in its own file:
//! `rules.rs` ([`RuleStore`]), `grants.rs` ([`GrantStore`]: grants and the audit log) and
//! `notifications.rs` ([`NotificationStore`]: channels and the outbox) and `approvals.rs`
//! ([`ApprovalStore`]: decisions, the approvals list, waiting requests that fall due).

use super::*;

mod approvals;
mod grants;
mod notifications;
mod rules;

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

/// Which store calls a test makes fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoreOp {
    InsertGrant,
    UpdateGrant,
    /// Any read of grants.
    ReadGrants,
}

#[derive(Default, Clone)]
struct Tables {
    /// By id; deleted rules are kept with their deletion time, like the real soft delete.
    rules: BTreeMap<String, (RoleRule, Option<DateTime<Utc>>)>,
    /// Every saved version of each rule, oldest first.
    rule_versions: BTreeMap<String, Vec<RuleVersion>>,
    grants: BTreeMap<String, Grant>,
    /// Approvers' decisions, in the order made.
    decisions: Vec<Decision>,
    audit: Vec<AuditEvent>,
    /// By scope key (see [`FreezeScope::key`]).
    freezes: BTreeMap<String, Freeze>,
    channels: BTreeMap<String, Channel>,
    outbox: Vec<Notification>,
    dedupe: HashSet<String>,
    /// Membership leases: (group, person) → (holder, until).
    memberships: HashMap<(String, String), (String, DateTime<Utc>)>,
    faults: VecDeque<(StoreOp, DomainError)>,
    next_id: u64,
    /// Set by [`MemoryStore::restored_from`].
    snapshot: Option<DateTime<Utc>>,
}

/// The stores in memory: one mutex stands for the database's transactions.
#[derive(Default)]
pub struct MemoryStore(Mutex<Tables>);

impl MemoryStore {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Makes the store a restored snapshot taken at `taken_at`.
    pub fn restored_from(&self, taken_at: DateTime<Utc>) {
        lock(&self.0).snapshot = Some(taken_at);
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

    /// Keeps `rule` as a version saved by `audit`'s actor and action.
    fn keep_version(&mut self, rule: &RoleRule, audit: &NewAudit) {
        self.rule_versions
            .entry(rule.id.clone())
            .or_default()
            .push(RuleVersion {
                rule: rule.clone(),
                at: audit.at,
                actor: audit.actor.clone(),
                action: audit.action,
            });
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
