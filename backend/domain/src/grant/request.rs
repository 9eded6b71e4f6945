//! A request's ask (duration, justification, request id), extensions, and whose grant it is.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use super::{
    Ask, Grant, GrantState, MAX_CLIENT_REQUEST_ID_CHARS, MAX_JUSTIFICATION_CHARS, Subject,
};
use crate::{
    DomainError,
    access::MayRequest,
    directory::{Mechanism, Sid},
    rule::{JustificationPolicy, RoleRule, check_duration, check_text},
};

fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

/// Describes a duration for people: "1 h 30 min".
pub fn human(d: Duration) -> String {
    let s = d.as_secs();
    let (days, h, m, sec) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    let parts: Vec<String> = [(days, "d"), (h, "h"), (m, "min"), (sec, "s")]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n} {unit}"))
        .collect();
    if parts.is_empty() {
        "0 s".into()
    } else {
        parts.join(" ")
    }
}

/// A new grant in `activating`, if the ask fits the rule. Needs the right to request, which
/// only the ACL check can give.
#[allow(clippy::too_many_arguments)] // each is a distinct fact of the request
pub fn open(
    right: MayRequest,
    rule: &RoleRule,
    subject: Subject,
    requested_by: &str,
    ask: Ask,
    mechanism: Mechanism,
    id: String,
    now: DateTime<Utc>,
) -> Result<Grant, DomainError> {
    if right.rule() != rule.id || right.subject() != &subject.sid {
        return Err(DomainError::Internal(
            "the request right was made for another rule or person".into(),
        ));
    }
    rule.check_open(now)?;
    let duration = ask.duration.unwrap_or(rule.spec.default_duration);
    check_duration("duration", duration)?;
    if duration > rule.spec.max_duration {
        return Err(DomainError::invalid(
            "duration",
            format!(
                "at most {} for {}",
                human(rule.spec.max_duration),
                rule.spec.name
            ),
        ));
    }
    let justification = check_justification(&ask.justification, rule.spec.justification)?;
    if let Some(id) = &ask.client_request_id {
        if id.is_empty() || id.chars().count() > MAX_CLIENT_REQUEST_ID_CHARS {
            return Err(DomainError::invalid(
                "client_request_id",
                format!("1 to {MAX_CLIENT_REQUEST_ID_CHARS} characters"),
            ));
        }
        check_text("client_request_id", id, MAX_CLIENT_REQUEST_ID_CHARS, false)?;
    }
    Ok(Grant {
        id,
        rule_id: rule.id.clone(),
        rule_name: rule.spec.name.clone(),
        group: rule.target.clone(),
        subject,
        requested_by: requested_by.to_owned(),
        justification,
        requested_at: now,
        expires_at: now + delta(duration),
        state: GrantState::Activating,
        mechanism,
        extension_count: 0,
        ended_at: None,
        end_reason: None,
        end_note: None,
        last_error: None,
        client_request_id: ask.client_request_id,
        lease: None,
        version: 1,
        deferred: None,
    })
}

fn check_justification(text: &str, policy: JustificationPolicy) -> Result<String, DomainError> {
    let text = text.trim();
    check_text("justification", text, MAX_JUSTIFICATION_CHARS, true)?;
    match policy {
        JustificationPolicy::Required if text.is_empty() => Err(DomainError::invalid(
            "justification",
            "this role needs a justification",
        )),
        // hidden: the form does not ask, and anything sent is not kept
        JustificationPolicy::Hidden => Ok(String::new()),
        _ => Ok(text.to_owned()),
    }
}

/// The person may act on this grant as its subject (extend, release).
pub fn check_own(grant: &Grant, caller: &Sid) -> Result<(), DomainError> {
    if &grant.subject.sid == caller {
        Ok(())
    } else {
        Err(DomainError::Denied(format!(
            "this grant belongs to {}",
            grant.subject.account
        )))
    }
}

/// The new expiry of an extension: now + `duration` (default: the rule's default), at most
/// now + max, never past requested_at + the total-lifetime cap, and later than today's.
pub fn extend(
    grant: &Grant,
    rule: &RoleRule,
    duration: Option<Duration>,
    now: DateTime<Utc>,
) -> Result<Grant, DomainError> {
    if grant.state != GrantState::Active || now >= grant.expires_at {
        return Err(DomainError::FailedPrecondition(
            "only an active grant can be extended; this one has ended".into(),
        ));
    }
    if !rule.spec.allow_extension {
        return Err(DomainError::FailedPrecondition(format!(
            "the role {} does not allow extension",
            rule.spec.name
        )));
    }
    let d = duration.unwrap_or(rule.spec.default_duration);
    check_duration("duration", d)?;
    if d > rule.spec.max_duration {
        return Err(DomainError::invalid(
            "duration",
            format!(
                "at most {} for {}",
                human(rule.spec.max_duration),
                rule.spec.name
            ),
        ));
    }
    let mut until = now + delta(d);
    if let Some(total) = rule.spec.max_total_duration {
        until = until.min(grant.requested_at + delta(total));
    }
    if until <= grant.expires_at {
        return Err(DomainError::FailedPrecondition(
            "the grant cannot run any longer: it already reaches its total-lifetime cap or the asked-for end"
                .into(),
        ));
    }
    Ok(Grant {
        expires_at: until,
        extension_count: grant.extension_count + 1,
        ..grant.clone()
    })
}

#[cfg(test)]
mod properties;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grant::{EndReason, begin_end, finish_end, fixtures::*};

    fn invalid_field(e: DomainError) -> String {
        match e {
            DomainError::Invalid { field, .. } => field,
            other => panic!("not invalid: {other:?}"),
        }
    }

    #[test]
    fn a_request_without_duration_gets_the_default_and_starts_activating() {
        let g = request(&rule(JustificationPolicy::Optional), ask(None, ""), t0()).unwrap();
        assert_eq!(g.state, GrantState::Activating);
        assert_eq!(g.expires_at, t0() + TimeDelta::minutes(10));
        assert_eq!(g.group.name, "jit-role-dba");
    }

    #[test]
    fn durations_of_zero_above_the_maximum_or_absurd_are_refused() {
        let r = rule(JustificationPolicy::Optional);
        for secs in [0, 3601, u64::MAX / 2] {
            let e = request(&r, ask(Some(secs), ""), t0()).unwrap_err();
            assert_eq!(invalid_field(e), "duration", "{secs}");
        }
    }

    #[test]
    fn the_justification_policy_is_enforced() {
        let required = rule(JustificationPolicy::Required);
        assert_eq!(
            invalid_field(request(&required, ask(None, "  "), t0()).unwrap_err()),
            "justification"
        );
        assert!(request(&required, ask(None, "ticket 42"), t0()).is_ok());
        let long = "x".repeat(MAX_JUSTIFICATION_CHARS + 1);
        assert_eq!(
            invalid_field(request(&required, ask(None, &long), t0()).unwrap_err()),
            "justification"
        );
        assert_eq!(
            invalid_field(request(&required, ask(None, "a\u{1b}[2J"), t0()).unwrap_err()),
            "justification"
        );
        assert!(request(&required, ask(None, "line one\nline two"), t0()).is_ok());
        let hidden = request(&rule(JustificationPolicy::Hidden), ask(None, "x"), t0()).unwrap();
        assert_eq!(hidden.justification, "");
    }

    #[test]
    fn a_disabled_rule_grants_nothing() {
        let mut r = rule(JustificationPolicy::Optional);
        r.spec.enabled = false;
        assert!(matches!(
            request(&r, ask(None, ""), t0()),
            Err(DomainError::FailedPrecondition(_))
        ));
    }

    #[test]
    fn an_extension_moves_the_expiry_of_the_same_grant_up_to_the_cap() {
        let r = rule(JustificationPolicy::Optional);
        let g = active(&r);
        let later = t0() + TimeDelta::minutes(5);
        let e = extend(&g, &r, Some(Duration::from_secs(3600)), later).unwrap();
        assert_eq!(e.id, g.id);
        assert_eq!(e.expires_at, later + TimeDelta::hours(1));
        assert_eq!(e.extension_count, 1);
        // total cap: requested_at + 2 h
        let much_later = t0() + TimeDelta::minutes(61);
        let capped = extend(&e, &r, Some(Duration::from_secs(3600)), much_later).unwrap();
        assert_eq!(capped.expires_at, t0() + TimeDelta::hours(2));
        assert!(matches!(
            extend(&capped, &r, None, much_later),
            Err(DomainError::FailedPrecondition(_))
        ));
    }

    #[test]
    fn extensions_are_refused_when_the_rule_forbids_them_or_the_grant_has_ended() {
        let mut r = rule(JustificationPolicy::Optional);
        let g = active(&r);
        let at_expiry = g.expires_at;
        assert!(extend(&g, &r, None, at_expiry).is_err());
        let ended = finish_end(
            &begin_end(&g, EndReason::Released, lease("a", t0())).unwrap(),
            t0(),
        );
        assert!(extend(&ended, &r, None, t0()).is_err());
        r.spec.allow_extension = false;
        assert!(extend(&g, &r, None, t0()).is_err());
        assert_eq!(
            invalid_field(
                extend(
                    &active(&rule(JustificationPolicy::Optional)),
                    &rule(JustificationPolicy::Optional),
                    Some(Duration::from_secs(3601)),
                    t0()
                )
                .unwrap_err()
            ),
            "duration"
        );
    }

    #[test]
    fn only_the_subject_acts_on_their_grant() {
        let g = active(&rule(JustificationPolicy::Optional));
        assert!(check_own(&g, &DAVE.parse().unwrap()).is_ok());
        assert!(matches!(
            check_own(&g, &"S-1-5-21-1-2-3-1105".parse().unwrap()),
            Err(DomainError::Denied(_))
        ));
    }

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(human(Duration::from_secs(5400)), "1 h 30 min");
        assert_eq!(human(Duration::from_secs(86_400 + 1)), "1 d 1 s");
    }
}
