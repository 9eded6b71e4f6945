//! Which notices a grant's transition or a refused request writes to the outbox, and to which
//! channels; expiring-soon notices and whether one still tells the truth when it falls due.

use chrono::{DateTime, TimeDelta, Utc};

use super::{Channel, Event, Facts};
use crate::{DomainError, access::Caller, grant::Grant, rule::RoleRule};

/// Which channel ids an event about a grant of a rule goes to: the rule's success channels for
/// granted and extended, its failure channels for failed, its approval channels for the
/// approval events, and the channels that subscribe to a lifecycle event. Disabled channels
/// get nothing; each channel at most once.
pub fn route(event: Event, rule: &crate::rule::RuleChannels, channels: &[Channel]) -> Vec<String> {
    let mut to: Vec<String> = channels
        .iter()
        .filter(|c| c.spec.enabled)
        .filter(|c| match event {
            Event::Granted | Event::Extended => rule.success.contains(&c.id),
            Event::Failed => rule.failure.contains(&c.id),
            e if Event::APPROVAL.contains(&e) => rule.approval.contains(&c.id),
            _ => c.spec.lifecycle.contains(&event),
        })
        .map(|c| c.id.clone())
        .collect();
    to.sort();
    to.dedup();
    to
}

/// A notification to write to the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNotification {
    pub id: String,
    pub channel_id: String,
    pub event: Event,
    pub grant_id: String,
    pub facts: Facts,
    /// Written at most once (an expiring-soon notice per grant, channel and expiry).
    pub dedupe_key: Option<String>,
    pub at: DateTime<Utc>,
    /// When it is sent: `at`, or later for an expiring-soon notice.
    pub due: DateTime<Utc>,
}

/// The expiring-soon notices for `g` (just granted or extended at `at`): one per enabled
/// channel subscribed to them, due the channel's lead time before the expiry (at once if that
/// has passed). An extension schedules new ones; an older notice whose grant ended or moved
/// on is skipped when it falls due (see [`still_expiring`]).
/// `new_id` names each notice.
pub fn expiring_soon(
    g: &Grant,
    channels: &[Channel],
    at: DateTime<Utc>,
    mut new_id: impl FnMut() -> String,
) -> Vec<NewNotification> {
    channels
        .iter()
        .filter(|c| c.spec.enabled && c.spec.lifecycle.contains(&Event::ExpiringSoon))
        .map(|c| {
            let lead = TimeDelta::from_std(c.spec.lead()).unwrap_or(TimeDelta::MAX);
            NewNotification {
                id: new_id(),
                channel_id: c.id.clone(),
                event: Event::ExpiringSoon,
                grant_id: g.id.clone(),
                facts: Facts::of(g, crate::audit::SYSTEM_ACTOR, ""),
                // one per expiry: an extension (a later expiry) schedules another
                dedupe_key: Some(format!(
                    "soon:{}:{}:{}",
                    g.id,
                    c.id,
                    g.expires_at.timestamp_micros()
                )),
                at,
                due: (g.expires_at - lead).max(at),
            }
        })
        .collect()
}

/// Refusal notices of one person for one rule are written at most once per this many
/// seconds (someone who retries, or a script, must not flood the failure channels).
pub const REFUSAL_QUIET_SECONDS: i64 = 600;

/// The dedupe key of a refusal notice at `at` to `channel_id`.
pub fn refusal_key(rule_id: &str, caller_sid: &str, channel_id: &str, at: DateTime<Utc>) -> String {
    format!(
        "refused:{rule_id}:{caller_sid}:{channel_id}:{}",
        at.timestamp().div_euclid(REFUSAL_QUIET_SECONDS)
    )
}

/// The notices of a grant's transition (the audit event `audit` of grant `g`): the event to
/// the channels it is routed to (a rule's `success`/`failure` channels, lifecycle events to
/// subscribers), and for a grant or extension its expiring-soon notices. Written by the store
/// in the transition's own transaction.
pub fn of_transition(
    g: &Grant,
    audit: &crate::audit::NewAudit,
    rule: &crate::rule::RuleChannels,
    channels: &[Channel],
    mut new_id: impl FnMut() -> String,
) -> Vec<NewNotification> {
    let Some(event) = Event::of(audit.action) else {
        return Vec::new();
    };
    let facts = Facts::of(g, &audit.actor, &audit.detail);
    let mut notes: Vec<NewNotification> = route(event, rule, channels)
        .into_iter()
        .map(|channel_id| NewNotification {
            id: new_id(),
            channel_id,
            event,
            grant_id: g.id.clone(),
            facts: facts.clone(),
            dedupe_key: None,
            at: audit.at,
            due: audit.at,
        })
        .collect();
    if matches!(event, Event::Granted | Event::Extended) {
        notes.extend(expiring_soon(g, channels, audit.at, new_id));
    }
    notes
}

/// Whether a refused request is announced to the rule's failure channels: a refusal of the
/// person (not allowed, the rule closed, a permanent member), not bad input or an outage.
pub fn announces_refusal(why: &DomainError) -> bool {
    matches!(
        why,
        DomainError::Denied(_) | DomainError::FailedPrecondition(_)
    )
}

/// The notices of a refused request of `rule` by `caller` (no grant was made), one per
/// enabled failure channel of the rule, each written at most once per [`REFUSAL_QUIET_SECONDS`].
pub fn refusal(
    rule: &RoleRule,
    caller: &Caller,
    why: &DomainError,
    channels: &[Channel],
    now: DateTime<Utc>,
    mut new_id: impl FnMut() -> String,
) -> Vec<NewNotification> {
    let facts = Facts {
        rule_name: rule.spec.name.clone(),
        group: rule.target.name.clone(),
        subject_account: caller.account_name.clone(),
        subject_display_name: caller.display_name.clone(),
        subject_sid: caller.sid.to_string(),
        requested_by: caller.account_name.clone(),
        actor: caller.account_name.clone(),
        detail: why.said(),
        ..Facts::default()
    };
    let failure_only = crate::rule::RuleChannels {
        failure: rule.spec.channels.failure.clone(),
        ..Default::default()
    };
    route(Event::Failed, &failure_only, channels)
        .into_iter()
        .map(|channel_id| NewNotification {
            id: new_id(),
            event: Event::Failed,
            grant_id: String::new(),
            facts: facts.clone(),
            dedupe_key: Some(refusal_key(&rule.id, caller.sid.as_str(), &channel_id, now)),
            channel_id,
            at: now,
            due: now,
        })
        .collect()
}

/// Whether an expiring-soon notice written with `facts` still tells the truth about `g`: the
/// grant is active and still expires then.
pub fn still_expiring(facts: &Facts, g: Option<&Grant>) -> bool {
    g.is_some_and(|g| {
        g.state == crate::grant::GrantState::Active && Some(g.expires_at) == facts.expires_at
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::notify::{ChannelSpec, fixtures::email};

    fn active_grant(expires_at: DateTime<Utc>) -> Grant {
        use crate::{
            directory::Mechanism,
            grant::{GrantState, Subject},
            rule::TargetGroup,
        };
        Grant {
            id: "g1".into(),
            rule_id: "r1".into(),
            rule_name: "DBA".into(),
            group: TargetGroup {
                sid: "S-1-5-21-1-2-3-2000".parse().unwrap(),
                guid: String::new(),
                dn: "CN=jit-role-dba".into(),
                name: "jit-role-dba".into(),
            },
            subject: Subject {
                sid: "S-1-5-21-1-2-3-1106".parse().unwrap(),
                dn: "CN=Dave Dba".into(),
                account: "dave".into(),
                display_name: "Dave Dba".into(),
            },
            requested_by: "dave".into(),
            justification: String::new(),
            requested_at: DateTime::UNIX_EPOCH,
            expires_at,
            state: GrantState::Active,
            mechanism: Mechanism::Scheduled,
            extension_count: 0,
            ended_at: None,
            end_reason: None,
            end_note: None,
            last_error: None,
            client_request_id: None,
            lease: None,
            version: 1,
            deferred: None,
        }
    }

    fn channel(id: &str, spec: ChannelSpec) -> Channel {
        Channel {
            id: id.into(),
            spec,
            version: 1,
            created_at: DateTime::UNIX_EPOCH,
            updated_at: DateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn events_go_to_the_rules_channels_or_the_lifecycle_subscribers() {
        let mut off = email();
        off.enabled = false;
        let channels = [
            channel("ok", email()),
            channel("fail", email()),
            channel("off", off),
        ];
        let rule = crate::rule::RuleChannels {
            success: vec!["ok".to_owned(), "off".to_owned()],
            failure: vec!["fail".to_owned()],
            approval: vec!["approvers".to_owned()],
        };
        assert_eq!(route(Event::Granted, &rule, &channels), ["ok"]);
        assert_eq!(route(Event::Failed, &rule, &channels), ["fail"]);
        assert_eq!(
            route(Event::Expired, &rule, &channels),
            ["fail", "ok"],
            "every enabled subscriber"
        );
        assert!(route(Event::Revoked, &rule, &channels).is_empty());
        let with_approvers = [channel("approvers", email()), channel("ok", email())];
        for event in Event::APPROVAL {
            assert_eq!(
                route(event, &rule, &with_approvers),
                ["approvers"],
                "{event:?} goes to the approval channels only"
            );
        }
    }

    #[test]
    fn expiring_soon_notices_fall_due_a_lead_before_the_expiry_and_lapse_when_it_moves() {
        use crate::grant::GrantState;
        let mut soon = email();
        soon.lifecycle = vec![Event::ExpiringSoon];
        soon.expiring_lead = Some(Duration::from_secs(600));
        let channels = [channel("soon", soon), channel("other", email())];
        let at = DateTime::UNIX_EPOCH;
        let g = active_grant(at + TimeDelta::hours(1));
        let notes = expiring_soon(&g, &channels, at, || "n".into());
        assert_eq!(notes.len(), 1);
        assert_eq!(notes[0].due, at + TimeDelta::minutes(50));
        let short = active_grant(at + TimeDelta::minutes(2));
        assert_eq!(
            expiring_soon(&short, &channels, at, || "n".into())[0].due,
            at,
            "at once"
        );
        assert!(still_expiring(&notes[0].facts, Some(&g)));
        let extended = Grant {
            expires_at: g.expires_at + TimeDelta::hours(1),
            ..g.clone()
        };
        assert!(!still_expiring(&notes[0].facts, Some(&extended)));
        let ended = Grant {
            state: GrantState::Ended,
            ..g
        };
        assert!(!still_expiring(&notes[0].facts, Some(&ended)));
        assert!(!still_expiring(&notes[0].facts, None));
    }
}
