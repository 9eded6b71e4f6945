//! Requests that wait: approvals (N of M distinct approvers, any one rejection ends it, a
//! pending window), break-glass, and a scheduled start.
//!
//! A request that does not become a grant at once is a grant in a state of its own
//! (`pending`, then `scheduled` until its start, then the usual `activating → active → …`; or
//! `rejected`, `cancelled`, `lapsed`, `failed`): the one-open-request-or-live-grant rule per
//! (rule, person) is then the same unique index that already holds for live grants, the
//! activation is the request path's write-ahead from `activating` on, and the request keeps
//! one id from the moment it is asked to the moment it ends (a link in a notification still
//! leads to it). What waits is kept in [`Deferred`] on the grant; each approver's decision is
//! a [`Decision`] of its own.
//!
//! The decisions sit in submodules and are re-exported here: `policy` (a rule's approval
//! settings and scheduling limits), `ask` (what a request with a start time or break-glass
//! becomes), `decide` (who may decide, what a decision does, cancel, acknowledge) and `timing`
//! (when a request activates, lapses, and how long the access then lasts).

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::directory::Sid;

mod ask;
mod decide;
mod policy;
mod timing;

pub use ask::{Opening, RequestTiming, opening, waiting};
pub use decide::{
    Decided, MayDecide, acknowledge, approves, authorize_decision, cancel, decide, reject_reason,
};
pub use policy::{
    ApprovalPolicy, ApprovalSpec, DEFAULT_PENDING_WINDOW, MAX_LEAD, MAX_PENDING_WINDOW,
    MAX_REQUIRED_APPROVALS, MIN_BREAK_GLASS_REASON_CHARS, MIN_LEAD, MIN_PENDING_WINDOW,
    validate_lead,
};
pub use timing::{Activation, activation, due_to_lapse};

/// Longest comment or reason an approver may give.
pub const MAX_COMMENT_CHARS: usize = 1_000;

/// What a request that waits (or came through break-glass) carries besides the grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deferred {
    /// What was asked: the clock starts when access starts, so the expiry is known only then.
    pub duration: Duration,
    /// A scheduled start: the access is the window `[starts_at, starts_at + duration]`, and
    /// ends at its planned end even when it starts late (after downtime).
    pub starts_at: Option<DateTime<Utc>>,
    /// Distinct approvals needed (0: none, e.g. a scheduled request of a rule without
    /// approvals, or break-glass).
    pub required: u8,
    /// An undecided request lapses at this time (`None` when nothing is to be decided).
    pub lapses_at: Option<DateTime<Utc>>,
    /// When access started (approval, or the scheduled start if later); `None` before.
    pub activated_at: Option<DateTime<Utc>>,
    pub break_glass: Option<BreakGlass>,
}

/// Access taken without approval, with a reason; it stays on the approvers' "needs review"
/// list until one of them acknowledges it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakGlass {
    pub reason: String,
    pub acknowledged: Option<Acknowledgement>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acknowledgement {
    pub by: Sid,
    pub by_account: String,
    pub comment: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    Approve,
    Reject,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approve => "approve",
            Self::Reject => "reject",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "approve" => Some(Self::Approve),
            "reject" => Some(Self::Reject),
            _ => None,
        }
    }
}

/// One approver's decision on one request (at most one each).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub grant_id: String,
    pub approver: Sid,
    pub approver_account: String,
    pub verdict: Verdict,
    /// Optional for an approval, required for a rejection.
    pub comment: String,
    pub at: DateTime<Utc>,
}

#[cfg(test)]
pub(crate) mod fixtures;
