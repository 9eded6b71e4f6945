//! Admitting a request once the engine has read its case, and what the directory's answer to
//! the add means.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{Grant, GrantState};
use crate::{
    DomainError,
    directory::{Mechanism, MembershipChange},
};

/// The refusal for someone who is a member of the group outside jitroles (a permanent
/// member): jitroles never adds, extends or removes that membership.
pub fn member_outside(account: &str, group: &str) -> DomainError {
    DomainError::FailedPrecondition(format!(
        "{account} is already a member of {group} outside jitroles; jitroles does not add, extend or remove that membership"
    ))
}

/// The TTL a link must carry so the member stays until the latest expiry among `covering`.
pub fn link_ttl(covering: &[&Grant], now: DateTime<Utc>) -> Duration {
    let latest = covering.iter().map(|g| g.expires_at).max().unwrap_or(now);
    let millis = u64::try_from((latest - now).num_milliseconds()).unwrap_or(0);
    Duration::from_secs(millis.div_ceil(1000).max(1))
}

/// A request that may go ahead: the grant to record (`activating`) and, under PAM, the TTL its
/// link must carry so the person stays until the latest expiry of every grant covering them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admission {
    pub grant: Grant,
    pub ttl: Option<Duration>,
}

/// The whole case of a request, once the engine has read it: the grant
/// [`open`](super::open) made, the caller's live grant of the rule, every live grant (of any
/// rule) covering the same group and person, and whether the directory lists the person in
/// the group.
pub struct RequestCase<'a> {
    pub fresh: Grant,
    pub live: Option<&'a Grant>,
    pub covering: &'a [Grant],
    pub member: bool,
    pub now: DateTime<Utc>,
}

/// Admits a request or refuses it with the reason: one live grant per rule and person (extend
/// it instead), and never a membership that exists outside jitroles (a permanent member).
pub fn admit(case: RequestCase<'_>) -> Result<Admission, DomainError> {
    let RequestCase {
        fresh,
        live,
        covering,
        member,
        now,
    } = case;
    if let Some(live) = live {
        return Err(DomainError::AlreadyExists(match live.state {
            GrantState::Pending | GrantState::Scheduled => format!(
                "{} already has a {} request for this role; cancel it to ask again",
                fresh.subject.account,
                live.state.as_str()
            ),
            _ => format!(
                "{} already has this role until {}; extend that grant instead",
                fresh.subject.account, live.expires_at
            ),
        }));
    }
    if covering.is_empty() && member {
        return Err(member_outside(&fresh.subject.account, &fresh.group.name));
    }
    let ttl = (fresh.mechanism == Mechanism::Ttl).then(|| {
        let mut all: Vec<&Grant> = covering.iter().collect();
        all.push(&fresh);
        link_ttl(&all, now)
    });
    Ok(Admission { grant: fresh, ttl })
}

/// What the directory's answer to a request's add (or an extension's TTL rewrite) means.
/// "Already a member" with no grant of ours covering the person is a membership made outside
/// jitroles meanwhile, and a permanent link is one always: refused, and that membership is
/// left alone.
pub fn after_add(
    admitted: &Grant,
    change: MembershipChange,
    covered_by_others: bool,
) -> Result<(), DomainError> {
    match change {
        MembershipChange::AlreadySo if !covered_by_others => Err(member_outside(
            &admitted.subject.account,
            &admitted.group.name,
        )),
        MembershipChange::KeptPermanent => Err(member_outside(
            &admitted.subject.account,
            &admitted.group.name,
        )),
        _ => Ok(()),
    }
}

/// Whether an add the directory did not confirm may still have been applied: only when it
/// did not answer (an outage, a timeout, a lost reply). An answer that refused the add (no
/// right to write the group, no such group, a constraint) wrote nothing, so there is nothing
/// to undo, and undoing it would only be refused the same way.
pub fn add_may_have_happened(why: &DomainError) -> bool {
    matches!(why, DomainError::Unavailable(_) | DomainError::Internal(_))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{grant::fixtures::*, rule::JustificationPolicy};

    #[test]
    fn only_an_add_without_an_answer_may_have_happened() {
        assert!(add_may_have_happened(&DomainError::Unavailable(
            "timeout".into()
        )));
        assert!(!add_may_have_happened(&DomainError::FailedPrecondition(
            "no right to write".into()
        )));
        assert!(!add_may_have_happened(&DomainError::NotFound {
            what: "group".into()
        }));
    }
    use chrono::TimeDelta;

    #[test]
    fn a_ttl_link_lasts_until_the_latest_covering_expiry() {
        let r = rule(JustificationPolicy::Optional);
        let a = active(&r);
        let b = Grant {
            expires_at: t0() + TimeDelta::minutes(30),
            ..a.clone()
        };
        assert_eq!(link_ttl(&[&a, &b], t0()), Duration::from_secs(1800));
        assert_eq!(
            link_ttl(&[&a], t0() + TimeDelta::milliseconds(599_500)),
            Duration::from_secs(1)
        );
    }

    fn case<'a>(
        fresh: Grant,
        live: Option<&'a Grant>,
        covering: &'a [Grant],
        member: bool,
    ) -> RequestCase<'a> {
        RequestCase {
            fresh,
            live,
            covering,
            member,
            now: t0(),
        }
    }

    #[test]
    fn a_request_is_admitted_without_a_live_grant_or_an_outside_membership() {
        let r = rule(JustificationPolicy::Optional);
        let fresh = request(&r, ask(None, ""), t0()).unwrap();
        let admitted = admit(case(fresh.clone(), None, &[], false)).unwrap();
        assert_eq!(admitted.grant, fresh);
        assert_eq!(admitted.ttl, None, "the scheduler mechanism writes no TTL");
    }

    #[test]
    fn a_second_live_grant_of_one_rule_is_refused_as_already_existing() {
        let r = rule(JustificationPolicy::Optional);
        let live = active(&r);
        let fresh = request(&r, ask(None, ""), t0()).unwrap();
        let e = admit(case(fresh, Some(&live), &[], false)).unwrap_err();
        assert!(
            matches!(&e, DomainError::AlreadyExists(m) if m.contains("extend that grant")),
            "{e:?}"
        );
    }

    #[test]
    fn a_member_no_grant_explains_is_refused_and_a_covered_one_admitted() {
        let r = rule(JustificationPolicy::Optional);
        let fresh = request(&r, ask(None, ""), t0()).unwrap();
        let e = admit(case(fresh.clone(), None, &[], true)).unwrap_err();
        assert_eq!(e, member_outside("dave", "jit-role-dba"));
        let other_rule = Grant {
            id: "g0".into(),
            rule_id: "rule-2".into(),
            ..active(&r)
        };
        let covering = [other_rule];
        assert!(admit(case(fresh, None, &covering, true)).is_ok());
    }

    #[test]
    fn a_ttl_request_links_until_the_latest_covering_expiry() {
        let r = rule(JustificationPolicy::Optional);
        let fresh = Grant {
            mechanism: Mechanism::Ttl,
            ..request(&r, ask(Some(600), ""), t0()).unwrap()
        };
        let later = Grant {
            id: "g0".into(),
            rule_id: "rule-2".into(),
            expires_at: t0() + TimeDelta::minutes(50),
            ..active(&r)
        };
        let alone = admit(case(fresh.clone(), None, &[], false)).unwrap();
        assert_eq!(alone.ttl, Some(Duration::from_secs(600)));
        let covering = [later];
        let together = admit(case(fresh, None, &covering, true)).unwrap();
        assert_eq!(together.ttl, Some(Duration::from_secs(3000)));
    }

    #[test]
    fn already_a_member_on_add_is_refused_unless_another_grant_covers_it() {
        let g = request(&rule(JustificationPolicy::Optional), ask(None, ""), t0()).unwrap();
        assert!(after_add(&g, MembershipChange::Changed, false).is_ok());
        assert_eq!(
            after_add(&g, MembershipChange::AlreadySo, false).unwrap_err(),
            member_outside("dave", "jit-role-dba")
        );
        assert!(after_add(&g, MembershipChange::AlreadySo, true).is_ok());
        assert!(
            after_add(&g, MembershipChange::KeptPermanent, true).is_err(),
            "a permanent link is outside jitroles even where a grant of ours covers the person"
        );
    }
}
