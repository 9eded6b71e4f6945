//! Grants: one person's time-boxed membership of a role's group, and the rules of its life.
//!
//! States: `activating → active → ending → ended`, and `activating → failed`. `activating` is
//! committed before the directory write (write-ahead); `ending` before the removal. Every
//! transition is stored together with an [`AuditEvent`](crate::audit::NewAudit). A request
//! that waits starts earlier: `pending` (approvals) and `scheduled` (its start), or ends
//! `rejected`, `cancelled` or `lapsed` without access (see [`crate::approval`]).
//!
//! Membership is the union of live grants: several grants (two rules on one group) may cover
//! one (group, person); the person stays a member while any of them is live.
//!
//! The decisions sit in submodules by stage and are re-exported here, so callers write
//! `grant::admit`: `request` (a request's ask, extensions, whose grant it is), `admission`
//! (whether a request may go ahead, what the directory's answer to the add means), `ending`
//! (ending grants, who stays covered, taking over another instance's work), `reconcile`
//! (grants and members the directory disagrees with) and `tickets` (how long Kerberos tickets
//! may carry a grant's group after it ends).

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::{
    approval::Deferred,
    directory::{Mechanism, Sid},
    rule::TargetGroup,
};

mod admission;
mod bulk;
mod ending;
#[cfg(test)]
pub(crate) mod fixtures;
mod reconcile;
mod request;
mod tickets;

pub use admission::{
    Admission, RequestCase, add_may_have_happened, admit, after_add, link_ttl, member_outside,
};
pub use bulk::{Revocable, Revocations, STILL_ACTIVATING, revocable};
pub use ending::{
    EndingPlan, Kept, begin_end, finish_end, noting_end, plan_endings, revoke_reason,
    still_covered, take_over,
};
pub use reconcile::{AddedSinceSnapshot, added_since_snapshot, unexplained, vanished};
pub use request::{check_own, extend, human, open};
pub use tickets::tickets_may_last_until;

pub const MAX_JUSTIFICATION_CHARS: usize = 1_000;
pub const MAX_CLIENT_REQUEST_ID_CHARS: usize = 100;
pub const MAX_END_NOTE_CHARS: usize = 1_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GrantState {
    /// Waits for approvals.
    Pending,
    /// Approved (or needing none), waits for its start.
    Scheduled,
    Activating,
    Active,
    Ending,
    Ended,
    Failed,
    /// An approver rejected it.
    Rejected,
    /// The requester took it back before it started.
    Cancelled,
    /// Undecided when its window passed, or its scheduled window was over before it started.
    Lapsed,
}

impl GrantState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Scheduled => "scheduled",
            Self::Activating => "activating",
            Self::Active => "active",
            Self::Ending => "ending",
            Self::Ended => "ended",
            Self::Failed => "failed",
            Self::Rejected => "rejected",
            Self::Cancelled => "cancelled",
            Self::Lapsed => "lapsed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => Self::Pending,
            "scheduled" => Self::Scheduled,
            "activating" => Self::Activating,
            "active" => Self::Active,
            "ending" => Self::Ending,
            "ended" => Self::Ended,
            "failed" => Self::Failed,
            "rejected" => Self::Rejected,
            "cancelled" => Self::Cancelled,
            "lapsed" => Self::Lapsed,
            _ => return None,
        })
    }

    /// A request that waits or ended without ever giving access.
    pub fn never_had_access(self) -> bool {
        matches!(
            self,
            Self::Pending | Self::Scheduled | Self::Rejected | Self::Cancelled | Self::Lapsed
        )
    }

    /// The states of a grant that holds (or is about to hold, or still holds) the membership:
    /// the union of these is who should be in the group.
    pub const LIVE: [GrantState; 3] = [Self::Activating, Self::Active, Self::Ending];

    /// The states that count for "one open request or live grant per (rule, subject)" (the
    /// database's unique index lists the same).
    pub const OPEN: [GrantState; 5] = [
        Self::Pending,
        Self::Scheduled,
        Self::Activating,
        Self::Active,
        Self::Ending,
    ];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    Expired,
    Released,
    Revoked,
    /// The membership was removed outside jitroles.
    Directory,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Expired => "expired",
            Self::Released => "released",
            Self::Revoked => "revoked",
            Self::Directory => "directory",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "expired" => Self::Expired,
            "released" => Self::Released,
            "revoked" => Self::Revoked,
            "directory" => Self::Directory,
            _ => return None,
        })
    }
}

/// Whose membership a grant is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub sid: Sid,
    pub dn: String,
    pub account: String,
    pub display_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub id: String,
    pub rule_id: String,
    pub rule_name: String,
    /// The group this grant wrote, so rule edits cannot orphan it.
    pub group: TargetGroup,
    pub subject: Subject,
    pub requested_by: String,
    pub justification: String,
    pub requested_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub state: GrantState,
    pub mechanism: Mechanism,
    pub extension_count: u32,
    pub ended_at: Option<DateTime<Utc>>,
    pub end_reason: Option<EndReason>,
    /// Why it ended, in the words of whoever ended it (an admin's revoke reason), for the
    /// person and the admins to read.
    pub end_note: Option<String>,
    pub last_error: Option<String>,
    pub client_request_id: Option<String>,
    /// Held while an instance finishes an `ending` grant: others leave it alone until it
    /// runs out (then any instance takes the work over).
    pub lease: Option<Lease>,
    /// Bumped by every stored change: a change based on a stale copy is refused.
    pub version: i64,
    /// A request that waited (approvals, a scheduled start) or came through break-glass;
    /// `None` for a grant made at once.
    pub deferred: Option<Deferred>,
}

/// An instance's claim on finishing an `ending` grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The claiming server instance.
    pub holder: String,
    pub until: DateTime<Utc>,
}

impl Lease {
    /// Whether `holder` may work on a grant under this lease at `now`.
    pub fn lets(&self, holder: &str, now: DateTime<Utc>) -> bool {
        self.holder == holder || self.until <= now
    }
}

/// What a requester asks for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ask {
    pub duration: Option<Duration>,
    pub justification: String,
    pub client_request_id: Option<String>,
    /// A start time and break-glass (see [`crate::approval::opening`]).
    pub timing: crate::approval::RequestTiming,
}
