//! Reconciliation: grants whose member the directory no longer lists, and members no live grant
//! explains.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use super::{Grant, GrantState};
use crate::directory::Mechanism;

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
    use crate::{grant::fixtures::*, rule::JustificationPolicy};

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
}
