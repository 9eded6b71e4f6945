//! Ending grants: `active → ending → ended`, who stays covered by another grant, who is
//! removed, TTL rewrites, and taking over an `ending` grant whose lease ran out.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{EndReason, Grant, GrantState, Lease, MAX_END_NOTE_CHARS, link_ttl};
use crate::{
    DomainError,
    directory::{Mechanism, Sid},
    rule::check_text,
};

/// `grant` moved to `ending` for `reason`.
/// The claim comes with `lease`: another instance may take an `ending` grant over only once the
/// lease has run out (see [`take_over`]).
pub fn begin_end(grant: &Grant, reason: EndReason, lease: Lease) -> Result<Grant, DomainError> {
    match grant.state {
        GrantState::Active | GrantState::Ending => Ok(Grant {
            state: GrantState::Ending,
            end_reason: Some(grant.end_reason.unwrap_or(reason)),
            lease: Some(lease),
            ..grant.clone()
        }),
        _ => Err(DomainError::FailedPrecondition(format!(
            "the grant is {} already",
            grant.state.as_str()
        ))),
    }
}

/// The reason an admin gives for revoking a grant: required, as the person and the audit log
/// read it.
pub fn revoke_reason(text: &str) -> Result<String, DomainError> {
    check_text("reason", text, MAX_END_NOTE_CHARS, true)?;
    let text = text.trim();
    if text.is_empty() {
        return Err(DomainError::invalid("reason", "is required"));
    }
    Ok(text.to_owned())
}

/// `grant` carrying `note` on why it ends, for [`begin_end`] to store. A grant already ending
/// keeps the note of the decision that ended it, as it keeps that decision's reason.
pub fn noting_end(grant: Grant, note: String) -> Grant {
    match grant.state {
        GrantState::Active => Grant {
            end_note: Some(note),
            ..grant
        },
        _ => grant,
    }
}

/// `grant` (ending) finished at `now`.
pub fn finish_end(grant: &Grant, now: DateTime<Utc>) -> Grant {
    Grant {
        state: GrantState::Ended,
        ended_at: Some(now),
        last_error: None,
        lease: None,
        ..grant.clone()
    }
}

/// `grant` (ending) claimed by `lease.holder`, when its current lease lets that holder work on
/// it at `now` (its own lease, a lapsed one, or none).
pub fn take_over(grant: &Grant, lease: Lease, now: DateTime<Utc>) -> Option<Grant> {
    let free = grant
        .lease
        .as_ref()
        .is_none_or(|held| held.lets(&lease.holder, now));
    (grant.state == GrantState::Ending && free).then(|| Grant {
        lease: Some(lease),
        ..grant.clone()
    })
}

/// Whether another live grant still covers the membership `ending` would remove.
pub fn still_covered(ending: &Grant, others: &[Grant]) -> bool {
    others.iter().any(|g| {
        g.id != ending.id
            && matches!(g.state, GrantState::Active | GrantState::Activating)
            && g.group.sid == ending.group.sid
            && g.subject.sid == ending.subject.sid
    })
}

/// What finishing a batch of `ending` grants of one group does in the directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndingPlan {
    /// Grants whose membership another live grant still covers, by grant id: nothing is
    /// removed; a TTL link is rewritten to the covering grants' latest expiry.
    pub kept: Vec<Kept>,
    /// People to remove from the group, each once.
    pub remove: Vec<Sid>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kept {
    pub grant_id: String,
    pub subject: Sid,
    /// The TTL to write again (TTL links only).
    pub ttl: Option<Duration>,
    /// The person is a permanent member now (made so outside jitroles): left as it is.
    pub permanent: bool,
}

/// Which memberships ending `endings` removes and which another grant keeps; `live` are the
/// live grants on the group covering any of their people (the endings themselves included).
/// `permanent_dns` are the group's members by a permanent link, which only TTL links tell
/// apart from ours: such a member's TTL grant ends without touching the membership.
pub fn plan_endings(
    endings: &[Grant],
    live: &[Grant],
    permanent_dns: &[String],
    now: DateTime<Utc>,
) -> EndingPlan {
    let mut plan = EndingPlan::default();
    for ending in endings {
        let permanent = ending.mechanism == Mechanism::Ttl
            && permanent_dns
                .iter()
                .any(|dn| dn.eq_ignore_ascii_case(&ending.subject.dn));
        if permanent {
            plan.kept.push(Kept {
                grant_id: ending.id.clone(),
                subject: ending.subject.sid.clone(),
                ttl: None,
                permanent,
            });
            continue;
        }
        let covering: Vec<&Grant> = live
            .iter()
            .filter(|g| g.subject.sid == ending.subject.sid)
            .collect();
        let others: Vec<Grant> = covering.iter().map(|g| (*g).clone()).collect();
        if still_covered(ending, &others) {
            let ttl = (ending.mechanism == Mechanism::Ttl).then(|| {
                let rest: Vec<&Grant> = covering
                    .iter()
                    .copied()
                    .filter(|c| c.id != ending.id && c.state == GrantState::Active)
                    .collect();
                link_ttl(&rest, now)
            });
            plan.kept.push(Kept {
                grant_id: ending.id.clone(),
                subject: ending.subject.sid.clone(),
                ttl,
                permanent,
            });
        } else if !plan.remove.contains(&ending.subject.sid) {
            plan.remove.push(ending.subject.sid.clone());
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        grant::fixtures::*,
        rule::{JustificationPolicy, TargetGroup},
    };
    use chrono::TimeDelta;

    #[test]
    fn ending_one_grant_keeps_membership_covered_by_another() {
        let r = rule(JustificationPolicy::Optional);
        let first = active(&r);
        let second = Grant {
            id: "g2".into(),
            rule_id: "rule-2".into(),
            ..first.clone()
        };
        assert!(still_covered(&first, &[first.clone(), second.clone()]));
        let ended_second = finish_end(
            &begin_end(&second, EndReason::Expired, lease("a", t0())).unwrap(),
            t0(),
        );
        assert!(!still_covered(&first, &[first.clone(), ended_second]));
        let other_group = Grant {
            group: TargetGroup {
                sid: "S-1-5-21-1-2-3-2001".parse().unwrap(),
                ..second.group.clone()
            },
            ..second
        };
        assert!(!still_covered(&first, &[other_group]));
    }

    #[test]
    fn ending_is_only_for_active_grants_and_keeps_the_first_reason() {
        let g = active(&rule(JustificationPolicy::Optional));
        let ending = begin_end(&g, EndReason::Revoked, lease("a", t0())).unwrap();
        assert_eq!(ending.state, GrantState::Ending);
        assert_eq!(
            begin_end(&ending, EndReason::Expired, lease("a", t0()))
                .unwrap()
                .end_reason,
            Some(EndReason::Revoked)
        );
        let ended = finish_end(&ending, t0());
        assert!(begin_end(&ended, EndReason::Released, lease("a", t0())).is_err());
    }

    #[test]
    fn an_ending_grant_is_taken_over_only_by_its_holder_or_once_the_lease_ran_out() {
        let g = active(&rule(JustificationPolicy::Optional));
        let until = t0() + TimeDelta::seconds(30);
        let ending = begin_end(&g, EndReason::Expired, lease("a", until)).unwrap();
        assert!(finish_end(&ending, t0()).lease.is_none());
        let early = t0() + TimeDelta::seconds(29);
        assert!(take_over(&ending, lease("b", until), early).is_none());
        let renewed = take_over(&ending, lease("a", until + TimeDelta::seconds(9)), early).unwrap();
        assert_eq!(renewed.lease.unwrap().until, until + TimeDelta::seconds(9));
        let taken = take_over(&ending, lease("b", until + TimeDelta::seconds(30)), until).unwrap();
        assert_eq!(taken.lease.unwrap().holder, "b");
        assert!(
            take_over(&g, lease("b", until), until).is_none(),
            "only ending grants"
        );
    }

    #[test]
    fn endings_remove_each_uncovered_person_once_and_keep_covered_ones() {
        let r = rule(JustificationPolicy::Optional);
        let ending = |id: &str, who: u32, rule_id: &str| Grant {
            id: id.into(),
            rule_id: rule_id.into(),
            subject: person(who),
            state: GrantState::Ending,
            ..active(&r)
        };
        let a = ending("a", 1, "rule-1");
        let b = ending("b", 2, "rule-1");
        let b2 = ending("b2", 2, "rule-2");
        let covering_b = Grant {
            id: "c".into(),
            rule_id: "rule-3".into(),
            subject: person(2),
            ..active(&r)
        };
        let plan = plan_endings(
            &[a.clone(), b.clone(), b2.clone()],
            &[a.clone(), b.clone(), b2.clone()],
            &[],
            t0(),
        );
        assert_eq!(plan.remove, vec![person(1).sid, person(2).sid]);
        assert!(plan.kept.is_empty());
        let plan = plan_endings(&[a, b.clone()], &[b, covering_b], &[], t0());
        assert_eq!(plan.remove, vec![person(1).sid]);
        assert_eq!(
            plan.kept,
            vec![Kept {
                grant_id: "b".into(),
                subject: person(2).sid,
                ttl: None,
                permanent: false,
            }]
        );
    }

    #[test]
    fn a_kept_ttl_link_is_rewritten_to_the_remaining_grants_latest_expiry() {
        let r = rule(JustificationPolicy::Optional);
        let ending = Grant {
            mechanism: Mechanism::Ttl,
            state: GrantState::Ending,
            expires_at: t0() + TimeDelta::minutes(60),
            ..active(&r)
        };
        let other = Grant {
            id: "g2".into(),
            rule_id: "rule-2".into(),
            mechanism: Mechanism::Ttl,
            expires_at: t0() + TimeDelta::minutes(20),
            ..active(&r)
        };
        let plan = plan_endings(
            std::slice::from_ref(&ending),
            &[ending.clone(), other],
            &[],
            t0(),
        );
        assert_eq!(plan.kept[0].ttl, Some(Duration::from_secs(1200)));
        assert!(plan.remove.is_empty());
    }

    #[test]
    fn a_ttl_grant_whose_person_became_a_permanent_member_ends_without_touching_it() {
        let r = rule(JustificationPolicy::Optional);
        let ending = Grant {
            mechanism: Mechanism::Ttl,
            state: GrantState::Ending,
            ..active(&r)
        };
        let permanent = vec![ending.subject.dn.to_uppercase()];
        let plan = plan_endings(
            std::slice::from_ref(&ending),
            std::slice::from_ref(&ending),
            &permanent,
            t0(),
        );
        assert!(plan.remove.is_empty());
        assert!(plan.kept[0].permanent && plan.kept[0].ttl.is_none());

        // the scheduler's memberships are all plain links: there, nothing tells them apart
        let scheduled = Grant {
            mechanism: Mechanism::Scheduled,
            ..ending
        };
        let plan = plan_endings(
            std::slice::from_ref(&scheduled),
            std::slice::from_ref(&scheduled),
            &permanent,
            t0(),
        );
        assert_eq!(plan.remove, vec![scheduled.subject.sid]);
    }

    #[test]
    fn a_revoke_needs_a_reason_and_the_first_decision_keeps_its_note() {
        assert_eq!(
            revoke_reason(" \n "),
            Err(DomainError::invalid("reason", "is required"))
        );
        assert_eq!(revoke_reason("  left the team ").unwrap(), "left the team");
        assert!(revoke_reason(&"x".repeat(MAX_END_NOTE_CHARS + 1)).is_err());
        let r = rule(JustificationPolicy::Optional);
        let noted = noting_end(active(&r), "left the team".into());
        assert_eq!(noted.end_note.as_deref(), Some("left the team"));
        let ending = begin_end(
            &noted,
            EndReason::Revoked,
            Lease {
                holder: "a".into(),
                until: t0(),
            },
        )
        .unwrap();
        assert_eq!(ending.end_note.as_deref(), Some("left the team"));
        let expiring = Grant {
            state: GrantState::Ending,
            end_reason: Some(EndReason::Expired),
            ..active(&r)
        };
        assert_eq!(noting_end(expiring.clone(), "too late".into()), expiring);
    }
}
