//! Grants: one person's time-boxed membership of a role's group, and the rules of its life.
//!
//! States: `activating → active → ending → ended`, and `activating → failed`. `activating` is
//! committed before the directory write (write-ahead); `ending` before the removal. Every
//! transition is stored together with an [`AuditEvent`](crate::audit::NewAudit).
//!
//! Membership is the union of live grants: several grants (two rules on one group) may cover
//! one (group, person); the person stays a member while any of them is live.

use std::{collections::HashSet, time::Duration};

use chrono::{DateTime, TimeDelta, Utc};

use crate::{
    DomainError,
    access::MayRequest,
    directory::{Mechanism, MembershipChange, Sid},
    rule::{JustificationPolicy, RoleRule, TargetGroup, check_duration, check_text},
};

pub const MAX_JUSTIFICATION_CHARS: usize = 1_000;
pub const MAX_CLIENT_REQUEST_ID_CHARS: usize = 100;
pub const MAX_END_NOTE_CHARS: usize = 1_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GrantState {
    Activating,
    Active,
    Ending,
    Ended,
    Failed,
}

impl GrantState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Activating => "activating",
            Self::Active => "active",
            Self::Ending => "ending",
            Self::Ended => "ended",
            Self::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "activating" => Self::Activating,
            "active" => Self::Active,
            "ending" => Self::Ending,
            "ended" => Self::Ended,
            "failed" => Self::Failed,
            _ => return None,
        })
    }

    /// The states that count for "one live grant per (rule, subject)" (the database's unique
    /// index lists the same).
    pub const LIVE: [GrantState; 3] = [Self::Activating, Self::Active, Self::Ending];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    Expired,
    Released,
    Revoked,
    /// The membership was removed outside jitroles.
    Directory,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Expired => "expired",
            Self::Released => "released",
            Self::Revoked => "revoked",
            Self::Directory => "directory",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "expired" => Self::Expired,
            "released" => Self::Released,
            "revoked" => Self::Revoked,
            "directory" => Self::Directory,
            _ => return None,
        })
    }
}

/// Whose membership a grant is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub sid: Sid,
    pub dn: String,
    pub account: String,
    pub display_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub id: String,
    pub rule_id: String,
    pub rule_name: String,
    /// The group this grant wrote, so rule edits cannot orphan it.
    pub group: TargetGroup,
    pub subject: Subject,
    pub requested_by: String,
    pub justification: String,
    pub requested_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub state: GrantState,
    pub mechanism: Mechanism,
    pub extension_count: u32,
    pub ended_at: Option<DateTime<Utc>>,
    pub end_reason: Option<EndReason>,
    /// Why it ended, in the words of whoever ended it (an admin's revoke reason), for the
    /// person and the admins to read.
    pub end_note: Option<String>,
    pub last_error: Option<String>,
    pub client_request_id: Option<String>,
    /// Held while an instance finishes an `ending` grant: others leave it alone until it
    /// runs out (then any instance takes the work over).
    pub lease: Option<Lease>,
    /// Bumped by every stored change: a change based on a stale copy is refused.
    pub version: i64,
}

/// An instance's claim on finishing an `ending` grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The claiming server instance.
    pub holder: String,
    pub until: DateTime<Utc>,
}

impl Lease {
    /// Whether `holder` may work on a grant under this lease at `now`.
    pub fn lets(&self, holder: &str, now: DateTime<Utc>) -> bool {
        self.holder == holder || self.until <= now
    }
}

/// What a requester asks for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ask {
    pub duration: Option<Duration>,
    pub justification: String,
    pub client_request_id: Option<String>,
}

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

/// The refusal for someone who is a member of the group outside jitroles (a permanent
/// member): jitroles never adds, extends or removes that membership.
pub fn member_outside(account: &str, group: &str) -> DomainError {
    DomainError::FailedPrecondition(format!(
        "{account} is already a member of {group} outside jitroles; jitroles does not add, extend or remove that membership"
    ))
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

/// The whole case of a request, once the engine has read it: the grant [`open`] made, the
/// caller's live grant of the rule, every live grant (of any rule) covering the same group and
/// person, and whether the directory lists the person in the group.
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
        return Err(DomainError::AlreadyExists(format!(
            "{} already has this role until {}; extend that grant instead",
            fresh.subject.account, live.expires_at
        )));
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

/// What the directory's answer to a request's add means. "Already a member" with no grant of
/// ours covering the person is a membership made outside jitroles meanwhile: refused, and that
/// membership is left alone.
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
        _ => Ok(()),
    }
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
}

/// Which memberships ending `endings` removes and which another grant keeps; `live` are the
/// live grants on the group covering any of their people (the endings themselves included).
pub fn plan_endings(endings: &[Grant], live: &[Grant], now: DateTime<Utc>) -> EndingPlan {
    let mut plan = EndingPlan::default();
    for ending in endings {
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
            });
        } else if !plan.remove.contains(&ending.subject.sid) {
            plan.remove.push(ending.subject.sid.clone());
        }
    }
    plan
}

/// Reconciliation: the active grants of `live` whose member the directory no longer lists
/// (`members`: lower-case DNs), so someone removed them outside jitroles. A TTL link due at
/// `now` is AD's own doing: the scheduler records that expiry, not reconciliation.
pub fn vanished<'a>(
    live: &'a [Grant],
    members: &HashSet<String>,
    now: DateTime<Utc>,
) -> Vec<&'a Grant> {
    live.iter()
        .filter(|g| g.state == GrantState::Active)
        .filter(|g| !(g.mechanism == Mechanism::Ttl && g.expires_at <= now))
        .filter(|g| !members.contains(&g.subject.dn.to_lowercase()))
        .collect()
}

/// The members (DNs) of a group that no live grant explains: permanent members, or people
/// added outside jitroles. Reported, never removed.
pub fn unexplained(members: Vec<String>, explained: &HashSet<String>) -> Vec<String> {
    members
        .into_iter()
        .filter(|dn| !explained.contains(&dn.to_lowercase()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        access::{AclEntry, Caller, Effect, PrincipalKind, authorize_request},
        rule::{RuleSpec, ValidSpec},
    };

    const DAVE: &str = "S-1-5-21-1-2-3-1106";
    const ONCALL: &str = "S-1-5-21-1-2-3-1104";

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-27T09:00:00Z")
            .unwrap()
            .to_utc()
    }

    fn spec(policy: JustificationPolicy) -> ValidSpec {
        RuleSpec {
            name: "DBA".into(),
            description: String::new(),
            acl: vec![AclEntry {
                principal: ONCALL.parse().unwrap(),
                display_name: "dba-oncall".into(),
                kind: PrincipalKind::Group,
                effect: Effect::Allow,
            }],
            max_duration: Some(Duration::from_secs(3600)),
            default_duration: Some(Duration::from_secs(600)),
            allow_extension: true,
            max_total_duration: Some(Duration::from_secs(7200)),
            justification: Some(policy),
            enabled: true,
            expires_at: None,
            channels: Default::default(),
        }
        .validate(t0())
        .unwrap()
    }

    fn rule(policy: JustificationPolicy) -> RoleRule {
        RoleRule {
            id: "rule-1".into(),
            spec: spec(policy),
            target: TargetGroup {
                sid: "S-1-5-21-1-2-3-2000".parse().unwrap(),
                guid: "guid".into(),
                dn: "CN=jit-role-dba".into(),
                name: "jit-role-dba".into(),
            },
            version: 1,
            created_at: t0(),
            updated_at: t0(),
        }
    }

    fn dave() -> Caller {
        Caller {
            sid: DAVE.parse().unwrap(),
            dn: "CN=Dave Dba".into(),
            account_name: "dave".into(),
            display_name: "Dave Dba".into(),
            groups: vec![ONCALL.parse().unwrap()],
            disabled: false,
        }
    }

    fn subject() -> Subject {
        Subject {
            sid: DAVE.parse().unwrap(),
            dn: "CN=Dave Dba".into(),
            account: "dave".into(),
            display_name: "Dave Dba".into(),
        }
    }

    fn request(rule: &RoleRule, ask: Ask, now: DateTime<Utc>) -> Result<Grant, DomainError> {
        let right = authorize_request(&dave(), &rule.id, &rule.spec.acl).unwrap();
        open(
            right,
            rule,
            subject(),
            "dave",
            ask,
            Mechanism::Scheduled,
            "g1".into(),
            now,
        )
    }

    fn ask(secs: Option<u64>, why: &str) -> Ask {
        Ask {
            duration: secs.map(Duration::from_secs),
            justification: why.into(),
            client_request_id: None,
        }
    }

    fn lease(holder: &str, until: DateTime<Utc>) -> Lease {
        Lease {
            holder: holder.into(),
            until,
        }
    }

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

    fn active(r: &RoleRule) -> Grant {
        Grant {
            state: GrantState::Active,
            ..request(r, ask(None, ""), t0()).unwrap()
        }
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
    }

    fn person(n: u32) -> Subject {
        Subject {
            sid: format!("S-1-5-21-1-2-3-{n}").parse().unwrap(),
            dn: format!("CN=P{n}"),
            account: format!("p{n}"),
            display_name: format!("P {n}"),
        }
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
            t0(),
        );
        assert_eq!(plan.remove, vec![person(1).sid, person(2).sid]);
        assert!(plan.kept.is_empty());
        let plan = plan_endings(&[a, b.clone()], &[b, covering_b], t0());
        assert_eq!(plan.remove, vec![person(1).sid]);
        assert_eq!(
            plan.kept,
            vec![Kept {
                grant_id: "b".into(),
                subject: person(2).sid,
                ttl: None
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
            t0(),
        );
        assert_eq!(plan.kept[0].ttl, Some(Duration::from_secs(1200)));
        assert!(plan.remove.is_empty());
    }

    #[test]
    fn reconciliation_ends_only_active_grants_whose_member_vanished() {
        let r = rule(JustificationPolicy::Optional);
        let present = Grant {
            id: "present".into(),
            subject: person(1),
            ..active(&r)
        };
        let gone = Grant {
            id: "gone".into(),
            subject: person(2),
            ..active(&r)
        };
        let ending = Grant {
            id: "ending".into(),
            subject: person(3),
            state: GrantState::Ending,
            ..active(&r)
        };
        let ttl_due = Grant {
            id: "ttl-due".into(),
            subject: person(4),
            mechanism: Mechanism::Ttl,
            expires_at: t0(),
            ..active(&r)
        };
        let members: HashSet<String> = ["cn=p1".to_owned()].into();
        let live = [present, gone, ending, ttl_due];
        let ended: Vec<&str> = vanished(&live, &members, t0())
            .iter()
            .map(|g| g.id.as_str())
            .collect();
        assert_eq!(ended, ["gone"]);
    }

    #[test]
    fn members_no_live_grant_explains_are_reported_whatever_the_case_of_their_dn() {
        let explained: HashSet<String> = ["cn=dave dba,ou=people".to_owned()].into();
        let members = vec!["CN=Dave Dba,OU=People".to_owned(), "CN=Carol".to_owned()];
        assert_eq!(unexplained(members, &explained), ["CN=Carol"]);
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

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(human(Duration::from_secs(5400)), "1 h 30 min");
        assert_eq!(human(Duration::from_secs(86_400 + 1)), "1 d 1 s");
    }
}
