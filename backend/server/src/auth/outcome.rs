//! How a browser sign-in ended, for the audit trail: a session for the account, or refused
//! for a reason (a short, stable name), with the account when it was known by then.

use jitroles_domain::audit::AuditAction;

use crate::{
    audit_trail::{AuditTrail, Event},
    net::ClientAddress,
};

pub(super) enum Ended {
    In(String),
    Refused {
        reason: &'static str,
        account: Option<String>,
    },
}

/// Refused before the provider named anyone.
pub(super) fn not_in(reason: &'static str) -> Ended {
    Ended::Refused {
        reason,
        account: None,
    }
}

impl Ended {
    /// Writes `signed_in`, or `sign_in_refused` (repeats folded, see `audit_trail`).
    pub(super) async fn record(self, trail: &AuditTrail, source: &ClientAddress) {
        let event = |action, actor, detail| Event {
            action,
            actor,
            rule_id: None,
            detail,
            source: &source.0,
        };
        match self {
            Self::In(account) => {
                trail
                    .record(event(AuditAction::SignedIn, &account, "signed in".into()))
                    .await;
            }
            Self::Refused { reason, account } => {
                let actor = account.as_deref().unwrap_or("unknown");
                let detail = format!("sign-in refused: {reason}");
                trail
                    .refusal(event(AuditAction::SignInRefused, actor, detail), reason)
                    .await;
            }
        }
    }
}
