//! Freezes: an admin stops new requests and extensions of one role, or of every role, saying
//! why, until they unfreeze it. What ends access goes on: release, revoke, expiry and
//! reconciliation are never frozen. Freezes are stored (they hold across restarts and on every
//! instance sharing the database); a freeze of every role wins over a role's own in what
//! requesters read.

use chrono::{DateTime, Utc};

use crate::{DomainError, rule::RoleRule, rule::check_text};

pub const MAX_FREEZE_REASON_CHARS: usize = 1_000;

/// What a freeze stops: every role's requests, or one rule's.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FreezeScope {
    All,
    /// A rule id.
    Rule(String),
}

impl FreezeScope {
    /// The key a store keeps the scope under: `*` for every role (never a rule id: those are
    /// UUIDs), else the rule id.
    pub fn key(&self) -> &str {
        match self {
            Self::All => "*",
            Self::Rule(id) => id,
        }
    }

    pub fn from_key(key: &str) -> Self {
        match key {
            "*" => Self::All,
            id => Self::Rule(id.to_owned()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Freeze {
    pub scope: FreezeScope,
    /// Shown to requesters.
    pub reason: String,
    /// Account name of the admin who froze it.
    pub frozen_by: String,
    pub frozen_at: DateTime<Utc>,
}

/// The reason an admin gives for a freeze: required, one line or several, as requesters read
/// it.
pub fn freeze_reason(text: &str) -> Result<String, DomainError> {
    check_text("reason", text, MAX_FREEZE_REASON_CHARS, true)?;
    let text = text.trim();
    if text.is_empty() {
        return Err(DomainError::invalid("reason", "is required"));
    }
    Ok(text.to_owned())
}

/// The freeze that holds for the rule `rule_id`: the freeze of every role first, then the
/// rule's own.
pub fn freeze_on<'a>(freezes: &'a [Freeze], rule_id: &str) -> Option<&'a Freeze> {
    freezes
        .iter()
        .find(|f| f.scope == FreezeScope::All)
        .or_else(|| {
            freezes
                .iter()
                .find(|f| matches!(&f.scope, FreezeScope::Rule(id) if id == rule_id))
        })
}

/// What a requester is asking for, for the refusal's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asking {
    Request,
    Extension,
}

/// `Ok` unless a freeze holds for `rule`; the refusal names the scope, who froze it and why.
pub fn check_unfrozen(
    freezes: &[Freeze],
    rule: &RoleRule,
    asking: Asking,
) -> Result<(), DomainError> {
    let Some(freeze) = freeze_on(freezes, &rule.id) else {
        return Ok(());
    };
    let what = match (&freeze.scope, asking) {
        (FreezeScope::All, Asking::Request) => "requests for all roles".to_owned(),
        (FreezeScope::All, Asking::Extension) => "extensions of all roles".to_owned(),
        (FreezeScope::Rule(_), Asking::Request) => format!("requests for {}", rule.spec.name),
        (FreezeScope::Rule(_), Asking::Extension) => format!("extensions of {}", rule.spec.name),
    };
    Err(DomainError::FailedPrecondition(format!(
        "{what} are frozen by {}: {}",
        freeze.frozen_by, freeze.reason
    )))
}

/// Unfreezing needs a freeze in force: an unfreeze of what is not frozen changes nothing and
/// is refused, so the audit log records only real changes.
pub fn check_frozen(freezes: &[Freeze], scope: &FreezeScope) -> Result<(), DomainError> {
    if freezes.iter().any(|f| &f.scope == scope) {
        Ok(())
    } else {
        Err(not_frozen(scope))
    }
}

/// The refusal of an unfreeze of a scope that is not frozen (stores answer it too).
pub fn not_frozen(scope: &FreezeScope) -> DomainError {
    DomainError::FailedPrecondition(match scope {
        FreezeScope::All => "requests for all roles are not frozen".to_owned(),
        FreezeScope::Rule(_) => "requests for this role are not frozen".to_owned(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::{
        grant::fixtures::{rule, t0},
        rule::JustificationPolicy,
    };

    fn rule_named(name: &str) -> crate::rule::RoleRule {
        let mut r = rule(JustificationPolicy::Optional);
        r.spec.name = name.into();
        r
    }

    fn frozen(scope: FreezeScope, by: &str, reason: &str) -> Freeze {
        Freeze {
            scope,
            reason: reason.into(),
            frozen_by: by.into(),
            frozen_at: t0(),
        }
    }

    #[test]
    fn a_frozen_rule_refuses_requests_and_extensions_naming_who_and_why() {
        let r = rule_named("DBA");
        let freezes = [frozen(
            FreezeScope::Rule(r.id.clone()),
            "alice",
            "incident 42",
        )];
        assert_eq!(
            check_unfrozen(&freezes, &r, Asking::Request).unwrap_err(),
            DomainError::FailedPrecondition(
                "requests for DBA are frozen by alice: incident 42".into()
            )
        );
        assert_eq!(
            check_unfrozen(&freezes, &r, Asking::Extension).unwrap_err(),
            DomainError::FailedPrecondition(
                "extensions of DBA are frozen by alice: incident 42".into()
            )
        );
        let other = crate::rule::RoleRule {
            id: "rule-2".into(),
            ..r
        };
        assert!(check_unfrozen(&freezes, &other, Asking::Request).is_ok());
    }

    #[test]
    fn a_freeze_of_every_role_wins_over_a_rules_own() {
        let r = rule_named("DBA");
        let freezes = [
            frozen(FreezeScope::Rule(r.id.clone()), "bob", "own"),
            frozen(FreezeScope::All, "alice", "breach"),
        ];
        assert_eq!(freeze_on(&freezes, &r.id).unwrap().reason, "breach");
        assert_eq!(
            check_unfrozen(&freezes, &r, Asking::Request).unwrap_err(),
            DomainError::FailedPrecondition(
                "requests for all roles are frozen by alice: breach".into()
            )
        );
    }

    #[test]
    fn a_freeze_needs_a_reason_without_control_characters() {
        assert_eq!(freeze_reason("  breach \n").unwrap(), "breach");
        for bad in ["", "  \n ", "a\u{7}b"] {
            assert!(
                matches!(freeze_reason(bad), Err(DomainError::Invalid { ref field, .. }) if field == "reason"),
                "{bad:?}"
            );
        }
        assert!(freeze_reason(&"x".repeat(MAX_FREEZE_REASON_CHARS + 1)).is_err());
    }

    #[test]
    fn unfreezing_what_is_not_frozen_is_refused() {
        let freezes = [frozen(FreezeScope::All, "alice", "breach")];
        assert!(check_frozen(&freezes, &FreezeScope::All).is_ok());
        assert!(matches!(
            check_frozen(&freezes, &FreezeScope::Rule("r".into())),
            Err(DomainError::FailedPrecondition(_))
        ));
        assert_eq!(
            FreezeScope::from_key(FreezeScope::All.key()),
            FreezeScope::All
        );
    }
}
