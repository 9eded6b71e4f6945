//! Requests that wait: what approvers and requesters do with them (list, look, approve,
//! reject, cancel, acknowledge break-glass) and what the scheduler does when their time comes
//! (a pending window ends, a scheduled start is due). The decisions are the domain's
//! (`jitroles_domain::approval`); each decision is stored with the request's change and its
//! audit events in one transaction, conditional on the request's version, so two approvers
//! deciding at once (on two instances) or an approval racing a cancel end in exactly one
//! outcome: the loser reads the request again and is told what became of it.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures_util::{StreamExt, stream};
use jitroles_domain::{
    DomainError,
    access::Caller,
    approval::{self, Activation, Decided, Decision, Verdict},
    audit::{AuditAction, NewAudit, SYSTEM_ACTOR},
    grant::{Grant, GrantState},
    page::{Page, PageRequest},
    ports::GrantChange,
    rule::RoleRule,
};

use super::{
    activation::{NotNow, Prepared, confirm, confirm_all, prepare, refused},
    shared::{Shared, audit},
};
use crate::deadline;

/// Times a decision is tried again after losing a race with another change of the request.
const ATTEMPTS: usize = 5;
/// Waiting requests handled per pass of the scheduler.
const DUE_BATCH: u32 = 500;
/// Scheduled starts activated at once (each reads the requester again and writes the DC).
const PARALLEL_STARTS: usize = 16;

pub struct Approvals(Arc<Shared>);

/// A request with the decisions made on it so far.
pub struct Decisions {
    pub request: Grant,
    pub decisions: Vec<Decision>,
}

/// A page of the approvals list, and how many pending requests the caller has not decided.
pub struct Awaiting {
    pub page: Page<Decisions>,
    pub pending: u64,
}

impl Approvals {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        Self(shared)
    }

    /// The rules whose requests `caller` approves.
    async fn approved_rules(
        &self,
        caller: &Caller,
        is_service: bool,
    ) -> Result<Vec<String>, DomainError> {
        Ok(self
            .0
            .live_rules()
            .await?
            .iter()
            .filter(|r| approval::approves(caller, is_service, r))
            .map(|r| r.id.clone())
            .collect())
    }

    /// What `caller` may decide or review, pending first, with the decisions so far.
    pub async fn list(
        &self,
        caller: &Caller,
        is_service: bool,
        page: PageRequest,
    ) -> Result<Awaiting, DomainError> {
        let rules = self.approved_rules(caller, is_service).await?;
        let store = &self.0.ports.approvals;
        let found = store.awaiting(&rules, &caller.sid, page).await?;
        let ids: Vec<String> = found.items.iter().map(|g| g.id.clone()).collect();
        let mut decisions = store.decisions_of(&ids).await?;
        let pending = store.awaiting_count(&rules, &caller.sid).await?;
        let items = found
            .items
            .into_iter()
            .map(|request| {
                let (mine, rest) = decisions
                    .drain(..)
                    .partition(|d: &Decision| d.grant_id == request.id);
                decisions = rest;
                Decisions {
                    request,
                    decisions: mine,
                }
            })
            .collect();
        Ok(Awaiting {
            page: Page {
                items,
                next: found.next,
            },
            pending,
        })
    }

    /// One request with its decisions, for its requester or an approver of its rule.
    pub async fn get(
        &self,
        caller: &Caller,
        is_service: bool,
        id: &str,
    ) -> Result<Decisions, DomainError> {
        let request = self.0.grant(id).await?;
        if request.subject.sid != caller.sid {
            let rule = self.rule_of(&request).await?;
            approval::authorize_decision(caller, is_service, &rule, &request)?;
        }
        let decisions = self.0.ports.approvals.decisions(id).await?;
        Ok(Decisions { request, decisions })
    }

    /// The caller's approval; the last one needed starts the access (or schedules it), after
    /// the requester's right is checked again. Runs to its end even if the caller is answered
    /// first (see [`deadline`]).
    pub async fn approve(
        &self,
        caller: &Caller,
        is_service: bool,
        id: &str,
        comment: &str,
    ) -> Result<Grant, DomainError> {
        self.decide(caller, is_service, id, Verdict::Approve, comment)
            .await
    }

    /// Ends the request with the reason.
    pub async fn reject(
        &self,
        caller: &Caller,
        is_service: bool,
        id: &str,
        reason: &str,
    ) -> Result<Grant, DomainError> {
        self.decide(caller, is_service, id, Verdict::Reject, reason)
            .await
    }

    async fn decide(
        &self,
        caller: &Caller,
        is_service: bool,
        id: &str,
        verdict: Verdict,
        comment: &str,
    ) -> Result<Grant, DomainError> {
        let (this, caller, id, comment) = (
            Self(self.0.clone()),
            caller.clone(),
            id.to_owned(),
            comment.to_owned(),
        );
        deadline::detached(async move {
            for _ in 0..ATTEMPTS {
                match this
                    .decide_once(&caller, is_service, &id, verdict, &comment)
                    .await
                {
                    Err(DomainError::Conflict(_)) => {} // another decision came first: again
                    done => return done,
                }
            }
            Err(DomainError::Conflict(
                "the request kept changing while you decided; look at it again".into(),
            ))
        })
        .await
    }

    async fn decide_once(
        &self,
        caller: &Caller,
        is_service: bool,
        id: &str,
        verdict: Verdict,
        comment: &str,
    ) -> Result<Grant, DomainError> {
        let shared = &self.0;
        let request = shared.grant(id).await?;
        let rule = self.rule_of(&request).await?;
        let right = approval::authorize_decision(caller, is_service, &rule, &request)?;
        let store = &shared.ports.approvals;
        let earlier = store.decisions(id).await?;
        let now = shared.now();
        let (decision, after, outcome) =
            approval::decide(&right, &request, &earlier, verdict, comment, now)?;
        let by = &caller.account_name;
        let noted = |c: &str| {
            if c.is_empty() {
                String::new()
            } else {
                format!(": {c}")
            }
        };
        match outcome {
            Decided::Rejected => {
                let event = audit(
                    AuditAction::Rejected,
                    by,
                    &request,
                    format!("rejected{}", noted(&decision.comment)),
                    now,
                );
                store.decide(&request, &decision, &after, vec![event]).await
            }
            Decided::StillPending {
                approvals,
                required,
            } => {
                let event = audit(
                    AuditAction::Approved,
                    by,
                    &request,
                    format!(
                        "approval {approvals} of {required}{}",
                        noted(&decision.comment)
                    ),
                    now,
                );
                store.decide(&request, &decision, &after, vec![event]).await
            }
            Decided::Approved => {
                let required = request.deferred.as_ref().map_or(1, |d| d.required);
                let approved = audit(
                    AuditAction::Approved,
                    by,
                    &request,
                    format!(
                        "approval {required} of {required}{}",
                        noted(&decision.comment)
                    ),
                    now,
                );
                self.approved(request, decision, approved, now).await
            }
        }
    }

    /// The last approval: the request starts now, waits for its start, or has missed its
    /// window; stored with the decision.
    async fn approved(
        &self,
        request: Grant,
        decision: Decision,
        approved: NewAudit,
        now: DateTime<Utc>,
    ) -> Result<Grant, DomainError> {
        let shared = &self.0;
        let store = &shared.ports.approvals;
        match approval::activation(&request, now) {
            Activation::Later(scheduled) => {
                let start = scheduled.deferred.as_ref().and_then(|d| d.starts_at);
                let starts = format!(
                    "access from {} until {}",
                    start.map(|at| at.to_string()).unwrap_or_default(),
                    scheduled.expires_at
                );
                let event = audit(AuditAction::Scheduled, SYSTEM_ACTOR, &request, starts, now);
                let stored = store
                    .decide(&request, &decision, &scheduled, vec![approved, event])
                    .await?;
                shared.wake.notify_one();
                Ok(stored)
            }
            Activation::Lapsed(lapsed) => {
                let why = lapsed.end_note.clone().unwrap_or_default();
                let event = audit(AuditAction::Lapsed, SYSTEM_ACTOR, &request, why, now);
                store
                    .decide(&request, &decision, &lapsed, vec![approved, event])
                    .await
            }
            Activation::Now(activating) => match prepare(shared, activating).await {
                Err(NotNow::Unanswered(e)) => Err(e),
                Err(NotNow::Refused(why)) => {
                    let failed = refused(&request, &why, now);
                    let event = audit(
                        AuditAction::Failed,
                        SYSTEM_ACTOR,
                        &request,
                        format!("approved, but access could not start: {why}"),
                        now,
                    );
                    store
                        .decide(&request, &decision, &failed, vec![approved, event])
                        .await
                }
                Ok(prepared) => {
                    deadline::check()?;
                    let stored = store
                        .decide(&request, &decision, &prepared.grant, vec![approved])
                        .await?;
                    confirm(
                        shared.clone(),
                        stored,
                        prepared.ttl,
                        prepared.covered_by_others,
                        prepared.membership,
                    )
                    .await
                }
            },
        }
    }

    /// The requester takes back a pending or scheduled request.
    pub async fn cancel(&self, caller: &Caller, id: &str) -> Result<Grant, DomainError> {
        let shared = &self.0;
        for _ in 0..ATTEMPTS {
            let request = shared.grant(id).await?;
            let now = shared.now();
            let cancelled = approval::cancel(&request, &caller.sid, now)?;
            let event = audit(
                AuditAction::Cancelled,
                &caller.account_name,
                &request,
                format!("cancelled while {}", request.state.as_str()),
                now,
            );
            match shared
                .ports
                .grants
                .update_grant(&request, &cancelled, Some(event))
                .await
            {
                Err(DomainError::Conflict(_)) => {} // decided meanwhile: look again
                done => return done,
            }
        }
        Err(DomainError::Conflict(
            "the request kept changing; look at it again".into(),
        ))
    }

    /// An approver's review of a break-glass grant, with a comment.
    pub async fn acknowledge(
        &self,
        caller: &Caller,
        is_service: bool,
        id: &str,
        comment: &str,
    ) -> Result<Grant, DomainError> {
        let shared = &self.0;
        for _ in 0..ATTEMPTS {
            let grant = shared.grant(id).await?;
            let rule = self.rule_of(&grant).await?;
            let right = approval::authorize_decision(caller, is_service, &rule, &grant)?;
            let now = shared.now();
            let acknowledged = approval::acknowledge(&right, &grant, comment, now)?;
            let event = audit(
                AuditAction::BreakGlassAcknowledged,
                &caller.account_name,
                &grant,
                format!("reviewed: {}", comment.trim()),
                now,
            );
            match shared
                .ports
                .grants
                .update_grant(&grant, &acknowledged, Some(event))
                .await
            {
                Err(DomainError::Conflict(_)) => {} // the grant moved on (extended, ended)
                done => return done,
            }
        }
        Err(DomainError::Conflict(
            "the grant kept changing; look at it again".into(),
        ))
    }

    /// The rule a request belongs to (as stored, deleted ones included, so a deleted rule's
    /// requests are refused with that reason).
    async fn rule_of(&self, request: &Grant) -> Result<RoleRule, DomainError> {
        match self.0.requested_rule(&request.rule_id).await {
            Err(DomainError::NotFound { .. }) => Err(DomainError::FailedPrecondition(format!(
                "the role {} was deleted; its requests can no longer be decided",
                request.rule_name
            ))),
            found => found,
        }
    }

    /// When the scheduler next has a waiting request to handle.
    pub async fn next_waiting(&self) -> Result<Option<DateTime<Utc>>, DomainError> {
        self.0.ports.approvals.next_waiting().await
    }

    /// Lapses pending requests past their window and starts scheduled requests that are due;
    /// returns how many were handled. Starts go in batches (as expiries do): each requester is
    /// read again (several at once), every start of the batch is stored `activating` in one
    /// commit, the members are written, and every `active` in one more commit. Stops at the
    /// first directory or database error that decides nothing (the caller backs off).
    pub async fn run_waiting(&self) -> Result<usize, DomainError> {
        let mut done = 0;
        loop {
            let now = self.0.now();
            let due = self.0.ports.approvals.due_waiting(now, DUE_BATCH).await?;
            if due.is_empty() {
                return Ok(done);
            }
            let mut starts = Vec::new();
            for request in due {
                let lapsed = match request.state {
                    GrantState::Pending => approval::due_to_lapse(&request, now),
                    GrantState::Scheduled => match approval::activation(&request, now) {
                        Activation::Lapsed(lapsed) => Some(lapsed),
                        Activation::Now(activating) => {
                            starts.push((request.clone(), activating));
                            None
                        }
                        Activation::Later(_) => None,
                    },
                    _ => None,
                };
                if let Some(lapsed) = lapsed {
                    match self.lapse(&request, lapsed, now).await {
                        Ok(()) | Err(DomainError::Conflict(_)) => done += 1,
                        Err(e) => return Err(e),
                    }
                }
            }
            done += self.start(starts, now).await?;
        }
    }

    /// A waiting request whose time passed, stored `lapsed` with the reason.
    async fn lapse(
        &self,
        request: &Grant,
        lapsed: Grant,
        now: DateTime<Utc>,
    ) -> Result<(), DomainError> {
        let why = lapsed.end_note.clone().unwrap_or_default();
        let event = audit(AuditAction::Lapsed, SYSTEM_ACTOR, request, why, now);
        self.0
            .ports
            .grants
            .update_grant(request, &lapsed, Some(event))
            .await
            .map(drop)
    }

    /// Scheduled starts that are due (each with the grant it becomes): checked again, then
    /// written as any request, in one batch; returns how many were handled.
    async fn start(
        &self,
        starts: Vec<(Grant, Grant)>,
        now: DateTime<Utc>,
    ) -> Result<usize, DomainError> {
        let shared = &self.0;
        let grants = &shared.ports.grants;
        let checked: Vec<(Grant, Result<Prepared, NotNow>)> = stream::iter(starts)
            .map(|(scheduled, activating)| async move {
                let prepared = prepare(shared, activating).await;
                (scheduled, prepared)
            })
            .buffer_unordered(PARALLEL_STARTS)
            .collect()
            .await;
        let mut handled = 0;
        let mut unanswered = None;
        let mut ready = Vec::new();
        for (scheduled, prepared) in checked {
            match prepared {
                Ok(prepared) => ready.push((scheduled, prepared)),
                Err(NotNow::Unanswered(e)) => {
                    unanswered.get_or_insert(e);
                }
                Err(NotNow::Refused(why)) => {
                    let failed = refused(&scheduled, &why, now);
                    let event = audit(
                        AuditAction::Failed,
                        SYSTEM_ACTOR,
                        &scheduled,
                        format!("the scheduled access could not start: {why}"),
                        now,
                    );
                    match grants.update_grant(&scheduled, &failed, Some(event)).await {
                        Ok(_) | Err(DomainError::Conflict(_)) => handled += 1,
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        // every start of the batch `activating` in one commit (write-ahead), then the writes
        let changes = ready
            .iter()
            .map(|(scheduled, p)| GrantChange {
                before: scheduled.clone(),
                after: p.grant.clone(),
                audit: None,
            })
            .collect();
        let stored = grants.update_grants(changes).await?;
        let batch: Vec<(Grant, Prepared)> = stored
            .into_iter()
            .zip(ready)
            .filter_map(|(stored, (_, prepared))| match stored {
                Ok(activating) => Some((activating, prepared)),
                // cancelled or taken by another instance meanwhile: theirs now
                Err(_) => None,
            })
            .collect();
        handled += confirm_all(shared, batch).await.len();
        match unanswered {
            Some(e) => Err(e),
            None => Ok(handled),
        }
    }
}
