//! What a request becomes under its rule: a grant at once (as without a policy), a request
//! that waits for approvals, one that waits for its start, or break-glass.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use super::{BreakGlass, Deferred, MAX_COMMENT_CHARS, MIN_BREAK_GLASS_REASON_CHARS};
use crate::{
    DomainError,
    grant::{Grant, GrantState, human},
    rule::{RoleRule, check_text},
};

/// When the requester wants access to start, and whether they break the glass.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RequestTiming {
    pub starts_at: Option<DateTime<Utc>>,
    pub break_glass_reason: Option<String>,
}

/// What a request becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opening {
    /// Access now, as for a rule without a policy.
    Now,
    /// Access now without approval; approvers are told and review it afterwards.
    BreakGlass(Deferred),
    /// Waits for approvals (then activates, or waits for its start).
    Pending(Deferred),
    /// Needs no approval; waits for its start.
    Scheduled(Deferred),
}

fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

/// Decides what a request for `duration` (already checked against the rule's maximum)
/// becomes, or refuses its timing with the field and the reason.
pub fn opening(
    rule: &RoleRule,
    timing: &RequestTiming,
    duration: Duration,
    now: DateTime<Utc>,
) -> Result<Opening, DomainError> {
    let spec = &rule.spec;
    if let Some(start) = timing.starts_at {
        let Some(lead) = spec.max_lead else {
            return Err(DomainError::invalid(
                "start_time",
                format!("{} does not take a start time", spec.name),
            ));
        };
        if start < now {
            return Err(DomainError::invalid(
                "start_time",
                "must not be in the past",
            ));
        }
        if start > now + delta(lead) {
            return Err(DomainError::invalid(
                "start_time",
                format!("at most {} ahead for {}", human(lead), spec.name),
            ));
        }
        if spec
            .expires_at
            .is_some_and(|closes| start + delta(duration) > closes)
        {
            return Err(DomainError::invalid(
                "start_time",
                format!("{} closes before this access would end", spec.name),
            ));
        }
    }
    let wait = |required, lapses_at, break_glass| Deferred {
        duration,
        starts_at: timing.starts_at,
        required,
        lapses_at,
        activated_at: None,
        break_glass,
    };
    if let Some(reason) = &timing.break_glass_reason {
        let reason = reason.trim();
        if !spec.approval.as_ref().is_some_and(|p| p.break_glass) {
            return Err(DomainError::invalid(
                "break_glass_reason",
                format!("{} has no break-glass access", spec.name),
            ));
        }
        if timing.starts_at.is_some() {
            return Err(DomainError::invalid(
                "break_glass_reason",
                "break-glass is for access now, not at a later start",
            ));
        }
        check_text("break_glass_reason", reason, MAX_COMMENT_CHARS, true)?;
        if reason.chars().count() < MIN_BREAK_GLASS_REASON_CHARS {
            return Err(DomainError::invalid(
                "break_glass_reason",
                format!("at least {MIN_BREAK_GLASS_REASON_CHARS} characters: say what is on fire"),
            ));
        }
        return Ok(Opening::BreakGlass(wait(
            0,
            None,
            Some(BreakGlass {
                reason: reason.to_owned(),
                acknowledged: None,
            }),
        )));
    }
    Ok(match (&spec.approval, timing.starts_at) {
        (Some(policy), start) => {
            // undecided, it lapses after the window, or once its planned window is over
            let mut lapses_at = now + delta(policy.pending_window);
            if let Some(start) = start {
                lapses_at = lapses_at.min(start + delta(duration));
            }
            Opening::Pending(wait(policy.required, Some(lapses_at), None))
        }
        (None, Some(_)) => Opening::Scheduled(wait(0, None, None)),
        (None, None) => Opening::Now,
    })
}

/// The grant [`crate::grant::open`] made (`activating`), as the request it becomes: `pending`
/// or `scheduled` with what it waits for (its expiry then only provisional: the clock starts
/// at activation), or `activating` at once, marked break-glass.
pub fn waiting(fresh: Grant, opening: Opening) -> Grant {
    let (state, deferred) = match opening {
        Opening::Now => return fresh,
        Opening::BreakGlass(mut d) => {
            d.activated_at = Some(fresh.requested_at);
            (GrantState::Activating, d)
        }
        Opening::Pending(d) => (GrantState::Pending, d),
        Opening::Scheduled(d) => (GrantState::Scheduled, d),
    };
    let start = deferred.starts_at.unwrap_or(fresh.requested_at);
    Grant {
        state,
        expires_at: start + delta(deferred.duration),
        deferred: Some(deferred),
        ..fresh
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        approval::fixtures::{approval_rule, plain_rule, scheduling_rule},
        grant::fixtures::t0,
    };

    fn hours(h: i64) -> TimeDelta {
        TimeDelta::hours(h)
    }

    fn at(start: Option<DateTime<Utc>>) -> RequestTiming {
        RequestTiming {
            starts_at: start,
            break_glass_reason: None,
        }
    }

    fn field(e: DomainError) -> String {
        match e {
            DomainError::Invalid { field, .. } => field,
            other => panic!("not a validation error: {other:?}"),
        }
    }

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn a_rule_without_a_policy_grants_at_once_as_before() {
        assert_eq!(
            opening(&plain_rule(), &at(None), HOUR, t0()).unwrap(),
            Opening::Now
        );
    }

    #[test]
    fn a_rule_with_approvals_makes_the_request_wait_until_its_window_lapses() {
        let Opening::Pending(d) = opening(&approval_rule(2), &at(None), HOUR, t0()).unwrap() else {
            panic!("pending")
        };
        assert_eq!(d.required, 2);
        assert_eq!(d.lapses_at, Some(t0() + hours(24)));
        assert_eq!(d.duration, HOUR);
    }

    #[test]
    fn a_scheduled_request_lapses_no_later_than_its_planned_end() {
        let mut rule = approval_rule(1);
        rule.spec.max_lead = Some(Duration::from_secs(7 * 86_400));
        let start = t0() + hours(2);
        let Opening::Pending(d) = opening(&rule, &at(Some(start)), HOUR, t0()).unwrap() else {
            panic!("pending")
        };
        assert_eq!(d.lapses_at, Some(start + hours(1)));
        assert_eq!(d.starts_at, Some(start));
    }

    #[test]
    fn a_start_time_needs_a_rule_that_takes_one_and_must_fit_its_lead() {
        let start = Some(t0() + hours(1));
        assert_eq!(
            field(opening(&plain_rule(), &at(start), HOUR, t0()).unwrap_err()),
            "start_time"
        );
        let rule = scheduling_rule(Duration::from_secs(86_400));
        assert!(matches!(
            opening(&rule, &at(start), HOUR, t0()).unwrap(),
            Opening::Scheduled(_)
        ));
        for bad in [t0() - hours(1), t0() + hours(25)] {
            assert_eq!(
                field(opening(&rule, &at(Some(bad)), HOUR, t0()).unwrap_err()),
                "start_time",
                "{bad}"
            );
        }
    }

    #[test]
    fn a_window_that_ends_after_the_rule_closes_is_refused() {
        let mut rule = scheduling_rule(Duration::from_secs(86_400));
        rule.spec.expires_at = Some(t0() + hours(2));
        let start = Some(t0() + hours(90) / 60);
        assert!(opening(&rule, &at(start), HOUR, t0()).is_err());
    }

    #[test]
    fn break_glass_needs_the_rule_to_allow_it_and_a_real_reason() {
        let timing = |reason: &str| RequestTiming {
            starts_at: None,
            break_glass_reason: Some(reason.into()),
        };
        let mut rule = approval_rule(2);
        assert_eq!(
            field(opening(&rule, &timing("the database is down, paging"), HOUR, t0()).unwrap_err()),
            "break_glass_reason",
            "off by default"
        );
        rule.spec.approval.as_mut().unwrap().break_glass = true;
        assert_eq!(
            field(opening(&rule, &timing("   urgent   "), HOUR, t0()).unwrap_err()),
            "break_glass_reason"
        );
        let Opening::BreakGlass(d) = opening(
            &rule,
            &timing("  the database is down, paging  "),
            HOUR,
            t0(),
        )
        .unwrap() else {
            panic!("break-glass")
        };
        assert_eq!(d.required, 0);
        assert_eq!(
            d.break_glass.unwrap().reason,
            "the database is down, paging"
        );
    }
}
