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

/// A member a restored database cannot explain and an admin should review: added after the
/// snapshot was taken (at `added`, when the DC says), or of unknown age.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddedSinceSnapshot {
    pub dn: String,
    /// When the DC added the `member` value; `None` when it keeps no such record.
    pub added: Option<DateTime<Utc>>,
}

/// After a restore, the unexplained members (see [`unexplained`]) the snapshot may have
/// forgotten the grants of: those the DC added after `taken_at`, when it says when each value
/// was added (`added_at`, from `msDS-ReplValueMetaData`); every unexplained member when it
/// does not, since none can be ruled out. Permanent members added before the snapshot are
/// left out only when the DC gives times.
pub fn added_since_snapshot(
    unexplained: Vec<String>,
    added_at: Option<&[(String, DateTime<Utc>)]>,
    taken_at: DateTime<Utc>,
) -> Vec<AddedSinceSnapshot> {
    match added_at {
        None => unexplained
            .into_iter()
            .map(|dn| AddedSinceSnapshot { dn, added: None })
            .collect(),
        Some(times) => unexplained
            .into_iter()
            .filter_map(|dn| {
                let added = times
                    .iter()
                    .find(|(d, _)| d.eq_ignore_ascii_case(&dn))
                    .map(|(_, at)| *at);
                // a value the metadata does not name is of unknown age: listed
                match added {
                    Some(at) if at <= taken_at => None,
                    added => Some(AddedSinceSnapshot { dn, added }),
                }
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_a_restore_only_members_added_after_the_snapshot_are_listed_when_the_dc_says_when() {
        let at = |h: u32| DateTime::from_timestamp(i64::from(h) * 3600, 0).unwrap();
        let unexplained = vec!["CN=Carol".to_owned(), "CN=Dave".into(), "CN=Nobody".into()];
        let times = [
            ("cn=carol".to_owned(), at(1)),
            ("CN=Dave".to_owned(), at(5)),
        ];

        let listed = added_since_snapshot(unexplained.clone(), Some(&times), at(3));
        assert_eq!(
            listed,
            [
                AddedSinceSnapshot {
                    dn: "CN=Dave".into(),
                    added: Some(at(5))
                },
                AddedSinceSnapshot {
                    dn: "CN=Nobody".into(),
                    added: None
                },
            ]
        );
        let without_times = added_since_snapshot(unexplained, None, at(3));
        assert_eq!(without_times.len(), 3);
        assert!(without_times.iter().all(|m| m.added.is_none()));
    }
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
