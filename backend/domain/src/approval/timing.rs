//! When a request that waits becomes access, and how long the access then lasts: the clock
//! starts when access starts (the last approval, or the scheduled start if later), never at
//! the request; a scheduled window ends at its planned end even when it starts late.

use chrono::{DateTime, TimeDelta, Utc};

use crate::grant::{Grant, GrantState};

/// What an approved or scheduled request does at a moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Activation {
    /// Access starts now: the grant, `activating`, with its expiry, to write ahead of the
    /// directory write.
    Now(Grant),
    /// It waits for its start: the grant, `scheduled`.
    Later(Grant),
    /// Its planned window is over (the server was down through it): the grant, `lapsed`,
    /// with the reason.
    Lapsed(Grant),
}

/// What `grant` (approved, or scheduled and due) does at `now`.
pub fn activation(grant: &Grant, now: DateTime<Utc>) -> Activation {
    let Some(deferred) = &grant.deferred else {
        return Activation::Now(Grant {
            state: GrantState::Activating,
            ..grant.clone()
        });
    };
    let duration = TimeDelta::from_std(deferred.duration).unwrap_or(TimeDelta::MAX);
    let activating = |expires_at| {
        let mut g = Grant {
            state: GrantState::Activating,
            expires_at,
            ..grant.clone()
        };
        if let Some(d) = g.deferred.as_mut() {
            d.activated_at = Some(now);
        }
        g
    };
    match deferred.starts_at {
        Some(start) if start > now => Activation::Later(Grant {
            state: GrantState::Scheduled,
            expires_at: start + duration,
            ..grant.clone()
        }),
        Some(start) => {
            let end = start + duration;
            if end <= now {
                Activation::Lapsed(Grant {
                    state: GrantState::Lapsed,
                    ended_at: Some(now),
                    end_note: Some(format!(
                        "its window ({start} to {end}) was over before it could start"
                    )),
                    ..grant.clone()
                })
            } else {
                Activation::Now(activating(end))
            }
        }
        None => Activation::Now(activating(now + duration)),
    }
}

/// A pending request whose window has passed, as it lapses at `now`; `None` while it may
/// still be decided.
pub fn due_to_lapse(grant: &Grant, now: DateTime<Utc>) -> Option<Grant> {
    let lapses_at = grant.deferred.as_ref()?.lapses_at?;
    (grant.state == GrantState::Pending && lapses_at <= now).then(|| Grant {
        state: GrantState::Lapsed,
        ended_at: Some(now),
        end_note: Some(format!("no decision by {lapses_at}")),
        ..grant.clone()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        approval::fixtures::{approval_rule, pending},
        grant::fixtures::t0,
    };

    fn hours(h: i64) -> TimeDelta {
        TimeDelta::hours(h)
    }

    #[test]
    fn the_clock_starts_at_the_approval_not_at_the_request() {
        let g = pending(&approval_rule(1)); // asked at t0 for 1 h
        let approved_at = t0() + hours(5);
        let Activation::Now(active) = activation(&g, approved_at) else {
            panic!("activates")
        };
        assert_eq!(active.state, GrantState::Activating);
        assert_eq!(active.expires_at, approved_at + hours(1));
        assert_eq!(active.deferred.unwrap().activated_at, Some(approved_at));
    }

    #[test]
    fn a_scheduled_window_waits_for_its_start_and_keeps_its_planned_end_when_late() {
        let mut g = pending(&approval_rule(1));
        let start = t0() + hours(10);
        g.deferred.as_mut().unwrap().starts_at = Some(start);
        assert!(matches!(
            activation(&g, t0() + hours(1)),
            Activation::Later(s) if s.state == GrantState::Scheduled && s.expires_at == start + hours(1)
        ));
        let late = start + TimeDelta::minutes(20);
        let Activation::Now(active) = activation(&g, late) else {
            panic!("activates late")
        };
        assert_eq!(active.expires_at, start + hours(1), "the planned end");
        assert!(matches!(
            activation(&g, start + hours(1)),
            Activation::Lapsed(l) if l.state == GrantState::Lapsed && l.end_note.is_some()
        ));
    }

    #[test]
    fn an_undecided_request_lapses_at_the_end_of_its_window() {
        let g = pending(&approval_rule(1));
        let at = g.deferred.as_ref().unwrap().lapses_at.unwrap();
        assert!(due_to_lapse(&g, at - TimeDelta::seconds(1)).is_none());
        let lapsed = due_to_lapse(&g, at).unwrap();
        assert_eq!(lapsed.state, GrantState::Lapsed);
    }
}
