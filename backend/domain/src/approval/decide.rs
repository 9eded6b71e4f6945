//! Who may decide a request, what one decision does, and the requester's cancel and the
//! approvers' acknowledgement of break-glass.

use chrono::{DateTime, Utc};

use super::{Acknowledgement, Decision, MAX_COMMENT_CHARS, Verdict};
use crate::{
    DomainError,
    access::{AclDecision, Caller, evaluate},
    directory::Sid,
    grant::{Grant, GrantState, check_own},
    rule::{RoleRule, check_text},
};

/// Proof that the caller may decide requests of one rule (and acknowledge its break-glass
/// grants). Made only by [`authorize_decision`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MayDecide {
    rule: String,
    approver: Sid,
    account: String,
}

impl MayDecide {
    pub fn approver(&self) -> &Sid {
        &self.approver
    }
}

/// The caller may decide `grant`, a request of `rule`: an approver by the rule's approvers
/// (deny wins, nested groups through token groups), never for their own request (not even as
/// an approver or an admin), a service only where the rule allows service approvers.
pub fn authorize_decision(
    caller: &Caller,
    is_service: bool,
    rule: &RoleRule,
    grant: &Grant,
) -> Result<MayDecide, DomainError> {
    if caller.disabled {
        return Err(DomainError::Denied(format!(
            "{} is disabled in the directory",
            caller.account_name
        )));
    }
    let name = &rule.spec.name;
    let Some(policy) = &rule.spec.approval else {
        return Err(DomainError::FailedPrecondition(format!(
            "{name} has no approvals"
        )));
    };
    if grant.rule_id != rule.id {
        return Err(DomainError::Internal(
            "the request was checked against another rule".into(),
        ));
    }
    if grant.subject.sid == caller.sid {
        return Err(DomainError::Denied(
            "nobody decides their own request, approvers and admins included".into(),
        ));
    }
    if is_service && !policy.service_approvers {
        return Err(DomainError::Denied(format!(
            "service accounts may not decide requests of {name}"
        )));
    }
    match evaluate(&policy.approvers, caller) {
        AclDecision::Allowed => Ok(MayDecide {
            rule: rule.id.clone(),
            approver: caller.sid.clone(),
            account: caller.account_name.clone(),
        }),
        AclDecision::Denied { by } => Err(DomainError::Denied(format!(
            "{} may not decide requests of {name} (denied by the entry for {by})",
            caller.account_name
        ))),
        AclDecision::NotListed => Err(DomainError::Denied(format!(
            "{} is not an approver of {name}",
            caller.account_name
        ))),
    }
}

/// Whether the caller approves requests of `rule` at all (the approvals list): what
/// [`authorize_decision`] checks, without a request.
pub fn approves(caller: &Caller, is_service: bool, rule: &RoleRule) -> bool {
    !caller.disabled
        && rule.spec.approval.as_ref().is_some_and(|policy| {
            (!is_service || policy.service_approvers)
                && evaluate(&policy.approvers, caller) == AclDecision::Allowed
        })
}

/// What one decision did to the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decided {
    /// More approvals are needed.
    StillPending { approvals: u8, required: u8 },
    /// The last approval needed: the request activates (or waits for its start) once the
    /// requester's right is checked again.
    Approved,
    /// One rejection ends the request.
    Rejected,
}

/// A rejection's reason: required, trimmed.
pub fn reject_reason(text: &str) -> Result<String, DomainError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(DomainError::invalid(
            "reason",
            "is required: say why the request is rejected",
        ));
    }
    check_text("reason", text, MAX_COMMENT_CHARS, true)?;
    Ok(text.to_owned())
}

fn still_pending(grant: &Grant, now: DateTime<Utc>) -> Result<(), DomainError> {
    if grant.state != GrantState::Pending {
        return Err(DomainError::FailedPrecondition(format!(
            "this request is {} already; nothing was changed",
            grant.state.as_str()
        )));
    }
    let lapses = grant.deferred.as_ref().and_then(|d| d.lapses_at);
    if lapses.is_some_and(|at| at <= now) {
        return Err(DomainError::FailedPrecondition(
            "this request lapsed without a decision; nothing was changed".into(),
        ));
    }
    Ok(())
}

/// One approver's decision on a pending request, given the decisions made so far: the
/// decision to record, the request as it becomes (rejected, or unchanged), and what happened.
pub fn decide(
    right: &MayDecide,
    grant: &Grant,
    earlier: &[Decision],
    verdict: Verdict,
    comment: &str,
    now: DateTime<Utc>,
) -> Result<(Decision, Grant, Decided), DomainError> {
    if right.rule != grant.rule_id {
        return Err(DomainError::Internal(
            "the decision right was made for another rule".into(),
        ));
    }
    still_pending(grant, now)?;
    if earlier.iter().any(|d| d.approver == right.approver) {
        return Err(DomainError::FailedPrecondition(
            "you decided this request already; nothing was changed".into(),
        ));
    }
    let comment = match verdict {
        Verdict::Reject => reject_reason(comment)?,
        Verdict::Approve => {
            let c = comment.trim();
            check_text("comment", c, MAX_COMMENT_CHARS, true)?;
            c.to_owned()
        }
    };
    let decision = Decision {
        grant_id: grant.id.clone(),
        approver: right.approver.clone(),
        approver_account: right.account.clone(),
        verdict,
        comment: comment.clone(),
        at: now,
    };
    let required = grant.deferred.as_ref().map_or(1, |d| d.required.max(1));
    let approvals = earlier
        .iter()
        .filter(|d| d.verdict == Verdict::Approve)
        .count()
        + usize::from(verdict == Verdict::Approve);
    let approvals = u8::try_from(approvals).unwrap_or(u8::MAX);
    Ok(match verdict {
        Verdict::Reject => {
            let rejected = Grant {
                state: GrantState::Rejected,
                ended_at: Some(now),
                end_note: Some(comment),
                ..grant.clone()
            };
            (decision, rejected, Decided::Rejected)
        }
        Verdict::Approve if approvals >= required => (decision, grant.clone(), Decided::Approved),
        Verdict::Approve => (
            decision,
            grant.clone(),
            Decided::StillPending {
                approvals,
                required,
            },
        ),
    })
}

/// The requester takes back a request that is not active yet.
pub fn cancel(grant: &Grant, caller: &Sid, now: DateTime<Utc>) -> Result<Grant, DomainError> {
    check_own(grant, caller)?;
    match grant.state {
        GrantState::Pending | GrantState::Scheduled => Ok(Grant {
            state: GrantState::Cancelled,
            ended_at: Some(now),
            ..grant.clone()
        }),
        GrantState::Activating | GrantState::Active => Err(DomainError::FailedPrecondition(
            "this request is active already: release the grant instead".into(),
        )),
        other => Err(DomainError::FailedPrecondition(format!(
            "this request is {} already; nothing was changed",
            other.as_str()
        ))),
    }
}

/// An approver acknowledges a break-glass grant, with a comment, taking it off the "needs
/// review" list.
pub fn acknowledge(
    right: &MayDecide,
    grant: &Grant,
    comment: &str,
    now: DateTime<Utc>,
) -> Result<Grant, DomainError> {
    if right.rule != grant.rule_id {
        return Err(DomainError::Internal(
            "the decision right was made for another rule".into(),
        ));
    }
    let comment = comment.trim();
    if comment.is_empty() {
        return Err(DomainError::invalid(
            "comment",
            "is required: say what the review found",
        ));
    }
    check_text("comment", comment, MAX_COMMENT_CHARS, true)?;
    let mut acknowledged = grant.clone();
    let Some(glass) = acknowledged
        .deferred
        .as_mut()
        .and_then(|d| d.break_glass.as_mut())
    else {
        return Err(DomainError::FailedPrecondition(
            "this grant did not come through break-glass".into(),
        ));
    };
    if let Some(done) = &glass.acknowledged {
        return Err(DomainError::FailedPrecondition(format!(
            "{} acknowledged it already; nothing was changed",
            done.by_account
        )));
    }
    glass.acknowledged = Some(Acknowledgement {
        by: right.approver.clone(),
        by_account: right.account.clone(),
        comment: comment.to_owned(),
        at: now,
    });
    Ok(acknowledged)
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;
    use crate::{
        approval::fixtures::{approval_rule, approver, pending, requester},
        grant::fixtures::t0,
    };

    fn right(n: u32) -> MayDecide {
        let rule = approval_rule(2);
        authorize_decision(&approver(n), false, &rule, &pending(&rule)).unwrap()
    }

    #[test]
    fn nobody_decides_their_own_request_even_as_an_approver() {
        let rule = approval_rule(1);
        let mut own = requester();
        own.groups = approver(1).groups;
        let e = authorize_decision(&own, false, &rule, &pending(&rule)).unwrap_err();
        assert!(matches!(e, DomainError::Denied(m) if m.contains("own request")));
    }

    #[test]
    fn only_approvers_decide_and_services_only_where_allowed() {
        let mut rule = approval_rule(1);
        let g = pending(&rule);
        assert!(authorize_decision(&approver(1), false, &rule, &g).is_ok());
        let outsider = Caller {
            groups: vec![],
            ..approver(1)
        };
        assert!(matches!(
            authorize_decision(&outsider, false, &rule, &g),
            Err(DomainError::Denied(_))
        ));
        assert!(authorize_decision(&approver(1), true, &rule, &g).is_err());
        rule.spec.approval.as_mut().unwrap().service_approvers = true;
        assert!(authorize_decision(&approver(1), true, &rule, &g).is_ok());
    }

    #[test]
    fn the_nth_distinct_approval_approves_and_one_rejection_ends_it() {
        let rule = approval_rule(2);
        let g = pending(&rule);
        let (first, same, outcome) =
            decide(&right(1), &g, &[], Verdict::Approve, "", t0()).unwrap();
        assert_eq!(same, g);
        assert_eq!(
            outcome,
            Decided::StillPending {
                approvals: 1,
                required: 2
            }
        );
        let again = decide(
            &right(1),
            &g,
            std::slice::from_ref(&first),
            Verdict::Approve,
            "",
            t0(),
        );
        assert!(
            matches!(again, Err(DomainError::FailedPrecondition(_))),
            "one vote each"
        );
        let (_, _, outcome) = decide(
            &right(2),
            &g,
            std::slice::from_ref(&first),
            Verdict::Approve,
            "ok",
            t0(),
        )
        .unwrap();
        assert_eq!(outcome, Decided::Approved);
        let (_, rejected, outcome) =
            decide(&right(2), &g, &[first], Verdict::Reject, " not now ", t0()).unwrap();
        assert_eq!(outcome, Decided::Rejected);
        assert_eq!(rejected.state, GrantState::Rejected);
        assert_eq!(rejected.end_note.as_deref(), Some("not now"));
    }

    #[test]
    fn a_rejection_needs_a_reason() {
        let rule = approval_rule(1);
        let e = decide(&right(1), &pending(&rule), &[], Verdict::Reject, "  ", t0()).unwrap_err();
        assert!(matches!(e, DomainError::Invalid { field, .. } if field == "reason"));
    }

    #[test]
    fn a_decided_or_lapsed_request_takes_no_decision() {
        let rule = approval_rule(1);
        let lapsed_at = pending(&rule).deferred.unwrap().lapses_at.unwrap();
        assert!(matches!(
            decide(
                &right(1),
                &pending(&rule),
                &[],
                Verdict::Approve,
                "",
                lapsed_at
            ),
            Err(DomainError::FailedPrecondition(_))
        ));
        let cancelled = Grant {
            state: GrantState::Cancelled,
            ..pending(&rule)
        };
        assert!(matches!(
            decide(&right(1), &cancelled, &[], Verdict::Approve, "", t0()),
            Err(DomainError::FailedPrecondition(_))
        ));
    }

    #[test]
    fn only_the_requester_cancels_and_only_before_access_starts() {
        let rule = approval_rule(1);
        let g = pending(&rule);
        assert!(cancel(&g, &approver(1).sid, t0()).is_err());
        let cancelled = cancel(&g, &requester().sid, t0()).unwrap();
        assert_eq!(cancelled.state, GrantState::Cancelled);
        let active = Grant {
            state: GrantState::Active,
            ..g
        };
        assert!(matches!(
            cancel(&active, &requester().sid, t0()),
            Err(DomainError::FailedPrecondition(m)) if m.contains("release")
        ));
    }

    #[test]
    fn break_glass_is_acknowledged_once_with_a_comment() {
        let rule = approval_rule(1);
        let mut g = Grant {
            state: GrantState::Active,
            ..pending(&rule)
        };
        g.deferred.as_mut().unwrap().break_glass = Some(super::super::BreakGlass {
            reason: "the database is down, paging".into(),
            acknowledged: None,
        });
        assert!(acknowledge(&right(1), &g, " ", t0()).is_err());
        let done = acknowledge(&right(1), &g, "seen, fine", t0() + TimeDelta::hours(1)).unwrap();
        let ack = done
            .deferred
            .as_ref()
            .unwrap()
            .break_glass
            .as_ref()
            .unwrap();
        assert_eq!(ack.acknowledged.as_ref().unwrap().comment, "seen, fine");
        assert!(acknowledge(&right(2), &done, "me too", t0()).is_err());
        assert!(acknowledge(&right(1), &pending(&rule), "x", t0()).is_err());
    }
}
