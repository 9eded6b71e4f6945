//! [`MemoryStore`]: the rule, grant and notification stores in memory.

use super::*;

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
