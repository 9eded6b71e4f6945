//! A rule's approval settings and its scheduling limit, as sent and as checked.

use std::time::Duration;

use crate::{
    DomainError,
    access::{AclEntry, Effect},
    rule::{MAX_ACL_ENTRIES, check_text},
};

pub const MAX_REQUIRED_APPROVALS: u8 = 5;
pub const DEFAULT_PENDING_WINDOW: Duration = Duration::from_secs(24 * 3600);
pub const MIN_PENDING_WINDOW: Duration = Duration::from_secs(5 * 60);
pub const MAX_PENDING_WINDOW: Duration = Duration::from_secs(7 * 24 * 3600);
/// The shortest and longest "how far ahead may a request start" a rule may set.
pub const MIN_LEAD: Duration = Duration::from_secs(24 * 3600);
pub const MAX_LEAD: Duration = Duration::from_secs(90 * 24 * 3600);
pub const MIN_BREAK_GLASS_REASON_CHARS: usize = 20;

/// Approval settings as an admin sends them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalSpec {
    /// Who may approve: allow and deny entries on users and groups, like the rule's ACL.
    pub approvers: Vec<AclEntry>,
    pub required: u32,
    /// Default [`DEFAULT_PENDING_WINDOW`].
    pub pending_window: Option<Duration>,
    pub break_glass: bool,
    /// Service accounts (client-credentials callers) may approve too.
    pub service_approvers: bool,
}

/// Approval settings that passed [`ApprovalSpec::validate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalPolicy {
    pub approvers: Vec<AclEntry>,
    /// 1 to [`MAX_REQUIRED_APPROVALS`] distinct approvers.
    pub required: u8,
    pub pending_window: Duration,
    pub break_glass: bool,
    pub service_approvers: bool,
}

impl ApprovalSpec {
    pub fn validate(self) -> Result<ApprovalPolicy, DomainError> {
        if self.approvers.len() > MAX_ACL_ENTRIES {
            return Err(DomainError::invalid(
                "approval.approvers",
                format!("at most {MAX_ACL_ENTRIES} entries"),
            ));
        }
        if !self.approvers.iter().any(|e| e.effect == Effect::Allow) {
            return Err(DomainError::invalid(
                "approval.approvers",
                "name at least one user or group who may approve",
            ));
        }
        for (i, entry) in self.approvers.iter().enumerate() {
            check_text(
                &format!("approval.approvers[{i}].display_name"),
                &entry.display_name,
                256,
                false,
            )?;
            if self.approvers[..i]
                .iter()
                .any(|e| e.principal == entry.principal && e.effect == entry.effect)
            {
                return Err(DomainError::invalid(
                    format!("approval.approvers[{i}]"),
                    format!("{} is listed twice", entry.display_name),
                ));
            }
        }
        let required = u8::try_from(self.required)
            .ok()
            .filter(|n| (1..=MAX_REQUIRED_APPROVALS).contains(n))
            .ok_or_else(|| {
                DomainError::invalid(
                    "approval.required",
                    format!("1 to {MAX_REQUIRED_APPROVALS} approvals"),
                )
            })?;
        let pending_window = self.pending_window.unwrap_or(DEFAULT_PENDING_WINDOW);
        if !(MIN_PENDING_WINDOW..=MAX_PENDING_WINDOW).contains(&pending_window) {
            return Err(DomainError::invalid(
                "approval.pending_window",
                "5 minutes to 7 days",
            ));
        }
        Ok(ApprovalPolicy {
            approvers: self.approvers,
            required,
            pending_window,
            break_glass: self.break_glass,
            service_approvers: self.service_approvers,
        })
    }
}

/// A rule's longest lead for a scheduled start: 1 to 90 days.
pub fn validate_lead(lead: Duration) -> Result<Duration, DomainError> {
    if (MIN_LEAD..=MAX_LEAD).contains(&lead) {
        Ok(lead)
    } else {
        Err(DomainError::invalid("max_lead", "1 to 90 days"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::approval::fixtures::{approvers_group, spec};

    fn field(e: DomainError) -> String {
        match e {
            DomainError::Invalid { field, .. } => field,
            other => panic!("not a validation error: {other:?}"),
        }
    }

    #[test]
    fn a_sound_policy_gets_the_default_pending_window() {
        let policy = spec(2).validate().unwrap();
        assert_eq!(policy.required, 2);
        assert_eq!(policy.pending_window, DEFAULT_PENDING_WINDOW);
    }

    #[test]
    fn required_approvals_are_one_to_five() {
        for bad in [0, 6, 300] {
            assert_eq!(
                field(spec(bad).validate().unwrap_err()),
                "approval.required"
            );
        }
        assert!(spec(5).validate().is_ok());
    }

    #[test]
    fn the_pending_window_is_five_minutes_to_seven_days() {
        for (secs, ok) in [
            (299, false),
            (300, true),
            (7 * 86_400, true),
            (7 * 86_400 + 1, false),
        ] {
            let mut s = spec(1);
            s.pending_window = Some(Duration::from_secs(secs));
            assert_eq!(s.validate().is_ok(), ok, "{secs} s");
        }
    }

    #[test]
    fn approvers_need_an_allow_entry_and_no_duplicates() {
        let mut s = spec(1);
        s.approvers.clear();
        assert_eq!(field(s.validate().unwrap_err()), "approval.approvers");
        let mut s = spec(1);
        s.approvers.push(approvers_group());
        assert_eq!(field(s.validate().unwrap_err()), "approval.approvers[1]");
    }

    #[test]
    fn the_lead_is_one_to_ninety_days() {
        assert!(validate_lead(Duration::from_secs(86_399)).is_err());
        assert!(validate_lead(Duration::from_secs(86_400)).is_ok());
        assert!(validate_lead(Duration::from_secs(90 * 86_400)).is_ok());
        assert!(validate_lead(Duration::from_secs(90 * 86_400 + 1)).is_err());
    }
}
