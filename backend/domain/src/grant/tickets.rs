//! What removal means for Kerberos: a person removed from a group keeps the Kerberos tickets
//! they already hold, and the group's SID stays in those tickets until they run out.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use super::Grant;
use crate::directory::Mechanism;

/// Until when access through Kerberos tickets may last for `grant`, given the domain's
/// "Maximum lifetime for user ticket" (`max_ticket_lifetime`).
///
/// The grant's end is when its membership went: `ended_at` once it has ended (a release,
/// a revoke, or the removal at expiry, however late), else `expires_at`, assuming a live grant
/// ends on time. A ticket issued just before the end carries the group for its whole lifetime:
///
/// - under jitroles' scheduler ([`Mechanism::Scheduled`]) nothing shortens it, so access may
///   last until the end plus `max_ticket_lifetime`;
/// - under TTL links ([`Mechanism::Ttl`]) AD caps a TGT's lifetime at the shortest TTL of the
///   user's TTL links, which is never before this grant's `expires_at` (the link runs to the
///   latest expiry of the grants covering the membership), so it is the grant's end itself:
///   `expires_at`, or the end plus `max_ticket_lifetime` when the grant ended earlier than
///   that (a removal before the TTL runs out does not shorten tickets already issued).
///
/// This is about `grant` alone: another grant covering the same membership keeps it, and
/// its tickets, for longer.
pub fn tickets_may_last_until(grant: &Grant, max_ticket_lifetime: Duration) -> DateTime<Utc> {
    let end = grant.ended_at.unwrap_or(grant.expires_at);
    let lifetime = TimeDelta::from_std(max_ticket_lifetime).unwrap_or(TimeDelta::MAX);
    let uncapped = end
        .checked_add_signed(lifetime)
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    match grant.mechanism {
        Mechanism::Scheduled => uncapped,
        Mechanism::Ttl => uncapped.min(grant.expires_at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        grant::{GrantState, fixtures::*},
        rule::JustificationPolicy,
    };

    const TEN_HOURS: Duration = Duration::from_secs(10 * 3600);

    fn grant(mechanism: Mechanism) -> Grant {
        Grant {
            mechanism,
            ..active(&rule(JustificationPolicy::Optional))
        }
    }

    fn ended(g: Grant, at: DateTime<Utc>) -> Grant {
        Grant {
            state: GrantState::Ended,
            ended_at: Some(at),
            ..g
        }
    }

    #[test]
    fn under_the_scheduler_tickets_may_outlast_an_active_grant_by_the_ticket_lifetime() {
        let g = grant(Mechanism::Scheduled);
        assert_eq!(
            tickets_may_last_until(&g, TEN_HOURS),
            g.expires_at + TimeDelta::hours(10)
        );
    }

    #[test]
    fn under_the_scheduler_a_grant_ended_early_counts_from_its_end() {
        let g = grant(Mechanism::Scheduled);
        let released = t0() + TimeDelta::minutes(2);
        assert!(released < g.expires_at);
        assert_eq!(
            tickets_may_last_until(&ended(g, released), TEN_HOURS),
            released + TimeDelta::hours(10)
        );
    }

    #[test]
    fn under_the_scheduler_a_late_removal_counts_from_when_it_happened() {
        let g = grant(Mechanism::Scheduled);
        let removed = g.expires_at + TimeDelta::minutes(30);
        assert_eq!(
            tickets_may_last_until(&ended(g, removed), TEN_HOURS),
            removed + TimeDelta::hours(10)
        );
    }

    #[test]
    fn under_ttl_links_tickets_end_with_the_grant() {
        let g = grant(Mechanism::Ttl);
        assert_eq!(tickets_may_last_until(&g, TEN_HOURS), g.expires_at);
        let confirmed_late = g.expires_at + TimeDelta::minutes(1);
        assert_eq!(
            tickets_may_last_until(&ended(g.clone(), confirmed_late), TEN_HOURS),
            g.expires_at
        );
    }

    #[test]
    fn under_ttl_links_a_grant_revoked_early_keeps_tickets_until_its_ttl_at_most() {
        // the fixture's grant lasts 10 min: a 10 h ticket issued before the revoke is capped
        // at the link's TTL, a 1 min one ends on its own
        let g = grant(Mechanism::Ttl);
        let revoked = t0() + TimeDelta::minutes(2);
        assert_eq!(
            tickets_may_last_until(&ended(g.clone(), revoked), TEN_HOURS),
            g.expires_at
        );
        assert_eq!(
            tickets_may_last_until(&ended(g, revoked), Duration::from_secs(60)),
            revoked + TimeDelta::minutes(1)
        );
    }

    #[test]
    fn a_lifetime_beyond_the_calendar_does_not_overflow() {
        let g = grant(Mechanism::Scheduled);
        assert_eq!(
            tickets_may_last_until(&g, Duration::MAX),
            DateTime::<Utc>::MAX_UTC
        );
    }
}
