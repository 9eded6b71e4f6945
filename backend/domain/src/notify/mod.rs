//! Notifications: channels (email, webhooks), which events reach which channel, and how often
//! a delivery is tried.
//!
//! A grant transition and its notifications are written in one transaction (the outbox); a
//! worker delivers them later, so a notification never delays or blocks a grant. Templates and
//! transports are the server's; this module decides what is valid and who gets what.
//!
//! What a notification is about ([`Event`]) and what it says ([`Facts`]) are here; the rest
//! sits in submodules re-exported here, so callers write `notify::route`: `channel` (an
//! admin's channel settings and their validation), `routing` (which notices a transition or a
//! refused request writes, and to which channels) and `delivery` (a notice's delivery state and
//! its retry schedule).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{audit::AuditAction, grant::Grant};

mod channel;
mod delivery;
#[cfg(test)]
mod fixtures;
mod routing;

pub use channel::{
    Channel, ChannelSpec, DEFAULT_LEAD, Email, MAX_APPROVER_RECIPIENTS, MAX_CHANNEL_NAME_CHARS,
    MAX_HEADERS, MAX_LEAD, MAX_RECIPIENTS, MAX_SETTING_CHARS, MAX_TEMPLATE_CHARS, MAX_URL_CHARS,
    MIN_LEAD, Preset, SecretSource, SmtpTls, Transport, Webhook,
};
pub use delivery::{
    DeliveryState, MAX_ATTEMPTS, Notification, attempt_failed, failed_for_good, retry, retry_after,
    sent, skipped,
};
pub use routing::{
    NewNotification, REFUSAL_QUIET_SECONDS, announces_refusal, expiring_soon, of_transition,
    refusal, refusal_key, route, still_expiring,
};

/// What a notification is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    Granted,
    Extended,
    Failed,
    ExpiringSoon,
    Expired,
    Released,
    Revoked,
    /// A request waits for approvers.
    ApprovalRequested,
    /// One approver approved (the others are told).
    Approved,
    /// One approver rejected.
    Rejected,
    Cancelled,
    Lapsed,
    BreakGlassUsed,
}

impl Event {
    /// The events a rule's approval channels get.
    pub const APPROVAL: [Event; 6] = [
        Event::ApprovalRequested,
        Event::Approved,
        Event::Rejected,
        Event::Cancelled,
        Event::Lapsed,
        Event::BreakGlassUsed,
    ];

    pub const LIFECYCLE: [Event; 4] = [
        Event::ExpiringSoon,
        Event::Expired,
        Event::Released,
        Event::Revoked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Granted => "granted",
            Self::Extended => "extended",
            Self::Failed => "failed",
            Self::ExpiringSoon => "expiring_soon",
            Self::Expired => "expired",
            Self::Released => "released",
            Self::Revoked => "revoked",
            Self::ApprovalRequested => "approval_requested",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Cancelled => "cancelled",
            Self::Lapsed => "lapsed",
            Self::BreakGlassUsed => "break_glass_used",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "granted" => Self::Granted,
            "extended" => Self::Extended,
            "failed" => Self::Failed,
            "expiring_soon" => Self::ExpiringSoon,
            "expired" => Self::Expired,
            "released" => Self::Released,
            "revoked" => Self::Revoked,
            "approval_requested" => Self::ApprovalRequested,
            "approved" => Self::Approved,
            "rejected" => Self::Rejected,
            "cancelled" => Self::Cancelled,
            "lapsed" => Self::Lapsed,
            "break_glass_used" => Self::BreakGlassUsed,
            _ => return None,
        })
    }

    /// The event an audited grant transition announces, if any. `ended` (the removal done) and
    /// `requested` announce nothing: the decision was announced already, or is about to be.
    pub fn of(action: AuditAction) -> Option<Self> {
        Some(match action {
            AuditAction::Granted => Self::Granted,
            AuditAction::Extended => Self::Extended,
            AuditAction::Failed => Self::Failed,
            AuditAction::Expired => Self::Expired,
            AuditAction::Released => Self::Released,
            AuditAction::Revoked => Self::Revoked,
            AuditAction::ApprovalRequested => Self::ApprovalRequested,
            AuditAction::Approved => Self::Approved,
            AuditAction::Rejected => Self::Rejected,
            AuditAction::Cancelled => Self::Cancelled,
            AuditAction::Lapsed => Self::Lapsed,
            AuditAction::BreakGlassUsed => Self::BreakGlassUsed,
            _ => return None,
        })
    }

    /// Words for people: "granted", "expiring soon".
    pub fn human(self) -> &'static str {
        match self {
            Self::ExpiringSoon => "expiring soon",
            Self::ApprovalRequested => "approval requested",
            Self::BreakGlassUsed => "break-glass used",
            other => other.as_str(),
        }
    }
}

/// What a notification says: the facts at the moment of the event, so a later change of the
/// grant or rule does not rewrite it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Facts {
    /// The rule's id (to find its approvers when a message goes to them); empty in notices
    /// written before it was kept.
    #[serde(default)]
    pub rule_id: String,
    pub rule_name: String,
    pub group: String,
    pub subject_account: String,
    pub subject_display_name: String,
    pub subject_sid: String,
    pub requested_by: String,
    pub justification: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub actor: String,
    pub detail: String,
}

impl Facts {
    /// The facts of an event about `g`, by `actor`, with the audit's `detail`.
    pub fn of(g: &Grant, actor: &str, detail: &str) -> Self {
        Self {
            rule_id: g.rule_id.clone(),
            rule_name: g.rule_name.clone(),
            group: g.group.name.clone(),
            subject_account: g.subject.account.clone(),
            subject_display_name: g.subject.display_name.clone(),
            subject_sid: g.subject.sid.to_string(),
            requested_by: g.requested_by.clone(),
            justification: g.justification.clone(),
            expires_at: Some(g.expires_at),
            actor: actor.to_owned(),
            detail: detail.to_owned(),
        }
    }
}
