//! Effective access, for admins: who a rule admits now, and what a person may request and why
//! (`jitroles_domain::effective`, decided by the evaluator a request uses).
//!
//! A rule's reach costs one directory search per group and one token-groups read per person:
//! ~10,000 reads for a rule that reaches 10,000 people. It is computed once and held for
//! [`REACH_FRESH`], so the pages and searches that follow read the same answer and cost no
//! directory work; at most [`HELD_PEOPLE`] people are held in all (the oldest answers are
//! dropped first), and one reach is computed at a time on an instance, so a few admins paging
//! at once cannot pile thousands of reads onto the DC.

use std::{collections::VecDeque, sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use jitroles_domain::{
    DomainError,
    access::AdminRight,
    directory::{Sid, UserLookup},
    effective::{self, PersonAccess},
    page::{Page, PageRequest},
    reach::{Reach, Reached},
    rule::{RoleRule, check_text},
};
use tokio::{sync::Mutex as AsyncMutex, time::Instant};

use super::shared::{Shared, not_found};

/// How long a computed reach answers further pages and searches.
pub const REACH_FRESH: Duration = Duration::from_secs(60);
/// The most people held across every held reach (~0.5 KB each: ~25 MB).
pub const HELD_PEOPLE: usize = 50_000;
/// Longest person or search text.
const MAX_TEXT: usize = 256;

/// One page of a rule's effective access.
pub struct RuleAccess {
    pub rule: RoleRule,
    /// Why the rule grants nothing to anyone now (disabled, expired).
    pub closed: Option<String>,
    /// Everyone admitted, and those left out.
    pub admitted: usize,
    pub disabled: usize,
    pub denied: usize,
    pub truncated: bool,
    /// People matching the query, and this page of them.
    pub matching: usize,
    pub page: Page<Reached>,
    pub computed_at: DateTime<Utc>,
}

struct Held {
    rule_id: String,
    version: i64,
    reach: Arc<Reach>,
    computed_at: DateTime<Utc>,
    at: Instant,
}

pub struct Access {
    shared: Arc<Shared>,
    held: std::sync::Mutex<VecDeque<Held>>,
    computing: AsyncMutex<()>,
}

impl Access {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            held: std::sync::Mutex::new(VecDeque::new()),
            computing: AsyncMutex::new(()),
        }
    }

    /// One page of the people `rule_id` admits now whose names or paths hold `query`. A first
    /// page with `refresh` computes the reach again; otherwise an answer at most
    /// [`REACH_FRESH`] old for the rule's current version is read.
    pub async fn rule_access(
        &self,
        _: &AdminRight,
        rule_id: &str,
        query: &str,
        page: PageRequest,
        refresh: bool,
    ) -> Result<RuleAccess, DomainError> {
        let rule_id = rule_id.trim();
        check_text("rule_id", rule_id, 36, false)?;
        if rule_id.is_empty() {
            return Err(DomainError::invalid("rule_id", "is required"));
        }
        check_text("query", query, MAX_TEXT, false)?;
        let rule = self.shared.stored_rule(rule_id).await?;
        let refresh = refresh && page.offset == 0;
        let (reach, computed_at) = self.reach(&rule, refresh).await?;
        let (found, matching) = effective::find_in(&reach, query, page);
        Ok(RuleAccess {
            closed: effective::closed(&rule, self.shared.now()),
            admitted: reach.people.len(),
            disabled: reach.disabled,
            denied: reach.denied,
            truncated: reach.truncated,
            matching,
            page: Page {
                items: found.items.into_iter().cloned().collect(),
                next: found.next,
            },
            computed_at,
            rule,
        })
    }

    async fn reach(
        &self,
        rule: &RoleRule,
        refresh: bool,
    ) -> Result<(Arc<Reach>, DateTime<Utc>), DomainError> {
        if !refresh && let Some(found) = self.held_for(rule) {
            return Ok(found);
        }
        let _one_at_a_time = self.computing.lock().await;
        // another call may have computed it while this one waited
        if !refresh && let Some(found) = self.held_for(rule) {
            return Ok(found);
        }
        let computed_at = self.shared.now();
        let reach = Arc::new(
            effective::rule_reach(self.shared.ports.directory.as_ref(), &rule.spec.acl).await?,
        );
        self.hold(Held {
            rule_id: rule.id.clone(),
            version: rule.version,
            reach: reach.clone(),
            computed_at,
            at: Instant::now(),
        });
        Ok((reach, computed_at))
    }

    fn held(&self) -> std::sync::MutexGuard<'_, VecDeque<Held>> {
        self.held
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn held_for(&self, rule: &RoleRule) -> Option<(Arc<Reach>, DateTime<Utc>)> {
        let mut held = self.held();
        held.retain(|h| h.at.elapsed() < REACH_FRESH);
        held.iter()
            .find(|h| h.rule_id == rule.id && h.version == rule.version)
            .map(|h| (h.reach.clone(), h.computed_at))
    }

    /// Keeps `new`, dropping the rule's older answers and then the oldest others until at most
    /// [`HELD_PEOPLE`] are held (an answer larger than that alone is not held).
    fn hold(&self, new: Held) {
        let mut held = self.held();
        held.retain(|h| h.rule_id != new.rule_id && h.at.elapsed() < REACH_FRESH);
        let size = new.reach.people.len();
        if size > HELD_PEOPLE {
            return;
        }
        while held.iter().map(|h| h.reach.people.len()).sum::<usize>() + size > HELD_PEOPLE {
            held.pop_front();
        }
        held.push_back(new);
    }

    /// Every rule that lists `person` (a SID, a user principal name or an account name) and
    /// what it says about them now; NOT_FOUND when the directory knows no such person.
    pub async fn person_access(
        &self,
        _: &AdminRight,
        person: &str,
    ) -> Result<PersonAccess, DomainError> {
        let person = person.trim();
        check_text("person", person, MAX_TEXT, false)?;
        if person.is_empty() {
            return Err(DomainError::invalid(
                "person",
                "name a person: an account name, a user principal name or a SID",
            ));
        }
        let lookup = if let Ok(sid) = person.parse::<Sid>() {
            UserLookup::Sid(sid)
        } else if person.contains('@') {
            UserLookup::UserPrincipalName(person.to_owned())
        } else {
            UserLookup::SamAccountName(person.to_owned())
        };
        let directory = self.shared.ports.directory.as_ref();
        let user = directory
            .find_user(&lookup)
            .await?
            .ok_or_else(|| not_found(format!("person {person} in the directory")))?;
        let rules = self.shared.ports.rules.rules().await?;
        effective::person_access(directory, user, &rules, self.shared.now()).await
    }
}
