//! Revoking many grants at once (an admin's emergency control: every live grant of a person,
//! or of a rule): which live grants can be revoked now, and what the summary says. Each grant
//! is revoked as a single revoke would be; one that cannot be does not stop the others.

use super::{Grant, GrantState};

/// What a bulk revoke does with a live grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocable {
    /// Active, or ending already (the revoke finishes the removal).
    Now,
    /// Its request is still writing the membership: revoke it once that is done (the request
    /// holds the membership's lock until it is `active` or `failed`).
    AfterActivation,
    /// Ended, failed, or a request without access: nothing to revoke.
    No,
}

pub fn revocable(grant: &Grant) -> Revocable {
    match grant.state {
        GrantState::Active | GrantState::Ending => Revocable::Now,
        GrantState::Activating => Revocable::AfterActivation,
        // a request that waits holds no membership (the engine cancels it instead)
        GrantState::Pending
        | GrantState::Scheduled
        | GrantState::Ended
        | GrantState::Failed
        | GrantState::Rejected
        | GrantState::Cancelled
        | GrantState::Lapsed => Revocable::No,
    }
}

/// The words for a grant that is still `activating` after its request had its turn: another
/// instance is writing it, or it was never confirmed (recovery fails it).
pub const STILL_ACTIVATING: &str = "the grant is still being activated (on another instance, or never confirmed): revoke it again in a moment";

/// What a bulk revoke did: each revoked grant as stored after (ended, or ending with the
/// directory's error when the removal was postponed), each other one with why.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Revocations {
    pub revoked: Vec<Grant>,
    pub failed: Vec<(Grant, String)>,
}

impl Revocations {
    /// The summary audit event's detail: counts, the grants not revoked, and the reason.
    pub fn summary(&self, reason: &str) -> String {
        let mut text = format!("{} revoked", self.revoked.len());
        let postponed = self
            .revoked
            .iter()
            .filter(|g| g.state == GrantState::Ending)
            .count();
        if postponed > 0 {
            text.push_str(&format!(
                " ({postponed} removal(s) postponed: the scheduler retries)"
            ));
        }
        if !self.failed.is_empty() {
            let ids: Vec<&str> = self.failed.iter().map(|(g, _)| g.id.as_str()).collect();
            text.push_str(&format!(
                ", {} not revoked ({})",
                self.failed.len(),
                ids.join(", ")
            ));
        }
        format!("{text}: {reason}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{grant::fixtures::*, rule::JustificationPolicy};

    #[test]
    fn live_grants_are_revocable_now_or_after_their_activation_and_others_not() {
        let g = active(&rule(JustificationPolicy::Optional));
        let with = |state| Grant { state, ..g.clone() };
        assert_eq!(revocable(&with(GrantState::Active)), Revocable::Now);
        assert_eq!(revocable(&with(GrantState::Ending)), Revocable::Now);
        assert_eq!(
            revocable(&with(GrantState::Activating)),
            Revocable::AfterActivation
        );
        assert_eq!(revocable(&with(GrantState::Ended)), Revocable::No);
        assert_eq!(revocable(&with(GrantState::Failed)), Revocable::No);
    }

    #[test]
    fn the_summary_counts_revoked_postponed_and_failed_grants_and_gives_the_reason() {
        let g = active(&rule(JustificationPolicy::Optional));
        let none = Revocations::default();
        assert_eq!(none.summary("breach"), "0 revoked: breach");
        let some = Revocations {
            revoked: vec![
                Grant {
                    state: GrantState::Ended,
                    ..g.clone()
                },
                Grant {
                    id: "g2".into(),
                    state: GrantState::Ending,
                    ..g.clone()
                },
            ],
            failed: vec![(
                Grant {
                    id: "g3".into(),
                    ..g
                },
                STILL_ACTIVATING.into(),
            )],
        };
        assert_eq!(
            some.summary("breach"),
            "2 revoked (1 removal(s) postponed: the scheduler retries), 1 not revoked (g3): breach"
        );
    }
}
