//! The audit log: one event per state change of a rule or grant, written in the same
//! transaction as the change; and the refusals and sign-ins around them, whose repeats
//! [`repeats::Repeats`] folds into one event and a summary.

pub mod chain;
pub mod repeats;

use chrono::{DateTime, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditAction {
    Requested,
    Granted,
    Failed,
    Extended,
    Released,
    Revoked,
    Expired,
    EndedByDirectory,
    /// The membership behind an ending grant is gone (or kept for another grant).
    Ended,
    RuleCreated,
    RuleUpdated,
    RuleDeleted,
    ChannelCreated,
    ChannelUpdated,
    ChannelDeleted,
    /// A sample notification sent through a channel's settings (saved or not).
    ChannelTested,
    /// A failed notification sent again.
    NotificationRetried,
    /// Every live grant of a person revoked in one call (the summary; each grant has its own
    /// `Revoked`).
    RevokedAllOfPerson,
    /// Every live grant of a rule revoked in one call (the summary).
    RevokedAllOfRule,
    /// New requests and extensions of a rule, or of every rule, frozen.
    RequestsFrozen,
    RequestsUnfrozen,
    /// A request or extension refused: not allowed, the rule closed or expired, a permanent
    /// member, a disabled account.
    RequestRefused,
    /// A call refused to a known person: an admin call by someone who is not one, any call by
    /// a disabled account.
    CallRefused,
    SignedIn,
    SignedOut,
    /// A browser sign-in that did not end in a session.
    SignInRefused,
    /// How many more times an event repeated within its window (written when it closes).
    Repeated,
    /// A request that waits for approvals was made.
    ApprovalRequested,
    /// One approver approved.
    Approved,
    /// An approver rejected a request.
    Rejected,
    /// The requester cancelled a pending or scheduled request.
    Cancelled,
    /// A request lapsed (undecided in its window, or its scheduled window passed).
    Lapsed,
    /// Access taken through break-glass.
    BreakGlassUsed,
    /// An approver reviewed a break-glass grant.
    BreakGlassAcknowledged,
    /// A request waits for its start time.
    Scheduled,
    /// An earlier version of a rule saved again as its newest.
    RuleRestored,
}

impl AuditAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Granted => "granted",
            Self::Failed => "failed",
            Self::Extended => "extended",
            Self::Released => "released",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
            Self::EndedByDirectory => "ended_by_directory",
            Self::Ended => "ended",
            Self::RuleCreated => "rule_created",
            Self::RuleUpdated => "rule_updated",
            Self::RuleDeleted => "rule_deleted",
            Self::ChannelCreated => "channel_created",
            Self::ChannelUpdated => "channel_updated",
            Self::ChannelDeleted => "channel_deleted",
            Self::ChannelTested => "channel_tested",
            Self::NotificationRetried => "notification_retried",
            Self::RevokedAllOfPerson => "revoked_all_of_person",
            Self::RevokedAllOfRule => "revoked_all_of_rule",
            Self::RequestsFrozen => "requests_frozen",
            Self::RequestsUnfrozen => "requests_unfrozen",
            Self::RequestRefused => "request_refused",
            Self::CallRefused => "call_refused",
            Self::SignedIn => "signed_in",
            Self::SignedOut => "signed_out",
            Self::SignInRefused => "sign_in_refused",
            Self::Repeated => "repeated",
            Self::ApprovalRequested => "approval_requested",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Cancelled => "cancelled",
            Self::Lapsed => "lapsed",
            Self::BreakGlassUsed => "break_glass_used",
            Self::BreakGlassAcknowledged => "break_glass_acknowledged",
            Self::Scheduled => "scheduled",
            Self::RuleRestored => "rule_restored",
        }
    }

    pub const ALL: [AuditAction; 36] = [
        Self::Requested,
        Self::Granted,
        Self::Failed,
        Self::Extended,
        Self::Released,
        Self::Revoked,
        Self::Expired,
        Self::EndedByDirectory,
        Self::Ended,
        Self::RuleCreated,
        Self::RuleUpdated,
        Self::RuleDeleted,
        Self::ChannelCreated,
        Self::ChannelUpdated,
        Self::ChannelDeleted,
        Self::ChannelTested,
        Self::NotificationRetried,
        Self::RevokedAllOfPerson,
        Self::RevokedAllOfRule,
        Self::RequestsFrozen,
        Self::RequestsUnfrozen,
        Self::RequestRefused,
        Self::CallRefused,
        Self::SignedIn,
        Self::SignedOut,
        Self::SignInRefused,
        Self::Repeated,
        Self::ApprovalRequested,
        Self::Approved,
        Self::Rejected,
        Self::Cancelled,
        Self::Lapsed,
        Self::BreakGlassUsed,
        Self::BreakGlassAcknowledged,
        Self::Scheduled,
        Self::RuleRestored,
    ];

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// The actor the scheduler and reconciliation record.
pub const SYSTEM_ACTOR: &str = "jitroles";

/// An event to store with a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAudit {
    pub at: DateTime<Utc>,
    pub action: AuditAction,
    /// Account name of who did it, or [`SYSTEM_ACTOR`].
    pub actor: String,
    pub rule_id: Option<String>,
    pub grant_id: Option<String>,
    pub subject_account: Option<String>,
    pub detail: String,
    /// The client's address, for what a person did from somewhere (sign-ins, refusals).
    pub source: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub id: i64,
    pub event: NewAudit,
}

/// Which events to list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuditFilter {
    pub subject_account: Option<String>,
    pub rule_id: Option<String>,
    pub action: Option<AuditAction>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}
