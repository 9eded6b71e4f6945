use std::collections::HashSet;

use jitroles_domain::{
    DomainError,
    directory::{Directory, Mechanism, MembershipChange},
};
use ldap3::{Scope, SearchEntry};

use crate::support::ad;

#[tokio::test]
async fn add_and_remove_are_idempotent() {
    let Some(ad) = ad() else { return };
    let dir = ad.directory();
    let scratch = ad.scratch_group("idem").await;
    let group = scratch.group.clone();
    let bob = ad.user("bob").await;

    assert_eq!(
        dir.add_member(&group.dn, &bob.sid, None).await.unwrap(),
        MembershipChange::Changed
    );
    assert_eq!(
        dir.add_member(&group.dn, &bob.sid, None).await.unwrap(),
        MembershipChange::AlreadySo
    );
    let members = dir.members(&group.dn).await.unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].dn, bob.dn);
    assert_eq!(members[0].ttl, None);
    assert_eq!(
        ad.members_seen_by_admin(&group.dn).await,
        std::slice::from_ref(&bob.dn)
    );

    assert_eq!(
        dir.remove_member(&group.dn, &bob.sid).await.unwrap(),
        MembershipChange::Changed
    );
    assert_eq!(
        dir.remove_member(&group.dn, &bob.sid).await.unwrap(),
        MembershipChange::AlreadySo
    );
    assert!(dir.members(&group.dn).await.unwrap().is_empty());
    // never a member at all
    let dave = ad.user("dave").await;
    assert_eq!(
        dir.remove_member(&group.dn, &dave.sid).await.unwrap(),
        MembershipChange::AlreadySo
    );
    scratch.delete().await;
}

#[tokio::test]
async fn several_members_leave_in_one_write_and_one_by_one_when_some_are_gone() {
    let Some(ad) = ad() else { return };
    let dir = ad.directory();
    let scratch = ad.scratch_group("batch").await;
    let group = scratch.group.clone();
    let (bob, dave, carol) = (
        ad.user("bob").await,
        ad.user("dave").await,
        ad.user("carol").await,
    );
    for user in [&bob, &dave, &carol] {
        dir.add_member(&group.dn, &user.sid, None).await.unwrap();
    }

    let both = [bob.sid.clone(), dave.sid.clone()];
    assert_eq!(
        dir.remove_members(&group.dn, &both).await.unwrap(),
        [MembershipChange::Changed, MembershipChange::Changed]
    );
    assert_eq!(
        ad.members_seen_by_admin(&group.dn).await,
        std::slice::from_ref(&carol.dn),
        "only the named members left"
    );

    // bob is gone already: the batch is refused and each is removed on its own
    let mixed = [bob.sid.clone(), carol.sid.clone()];
    assert_eq!(
        dir.remove_members(&group.dn, &mixed).await.unwrap(),
        [MembershipChange::AlreadySo, MembershipChange::Changed]
    );
    assert!(dir.members(&group.dn).await.unwrap().is_empty());
    scratch.delete().await;
}

#[tokio::test]
async fn a_group_outside_the_delegated_ou_is_a_clear_permission_error_and_nothing_changes() {
    let Some(ad) = ad() else { return };
    let dir = ad.directory();
    let bob = ad.user("bob").await;
    for name in ["Domain Admins", "dba-team"] {
        let group = ad.group_named(name).await;
        let err = dir.add_member(&group.dn, &bob.sid, None).await.unwrap_err();
        assert!(
            matches!(&err, DomainError::FailedPrecondition(m) if m.contains("lacks the right")),
            "{name}: {err:?}"
        );
        assert!(
            !ad.members_seen_by_admin(&group.dn).await.contains(&bob.dn),
            "{name} changed"
        );
    }
}

#[tokio::test]
async fn the_permanent_member_is_listed_as_permanent() {
    let Some(ad) = ad() else { return };
    let role = ad.group_named("jit-role-dba").await;
    let carol = ad.user("carol").await;
    let members = ad.directory().members(&role.dn).await.unwrap();
    assert!(
        members.iter().any(|m| m.dn == carol.dn && m.ttl.is_none()),
        "{members:?}"
    );
}

#[tokio::test]
async fn samba_offers_no_pam_so_the_scheduler_is_the_mechanism() {
    let Some(ad) = ad() else { return };
    let caps = ad.directory().capabilities().await.unwrap();
    assert!(
        caps.forest_functional_level < 7,
        "Samba 4.17 provisions 2008 R2: {caps:?}"
    );
    assert!(!caps.pam_enabled);
    assert_eq!(caps.mechanism, Mechanism::Scheduled);
}

#[tokio::test]
async fn enabling_pam_on_samba_is_refused_and_changes_nothing() {
    let Some(ad) = ad() else { return };
    let dir = ad.directory();

    let err = dir.enable_pam().await.unwrap_err();

    // Samba 4.17: unwillingToPerform, "rootdse: Insufficient rights for enableoptionalfeature"
    assert!(
        matches!(
            err,
            jitroles_directory::DirectoryError::Refused { rc: 53, .. }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("enableoptionalfeature"), "{err}");
    assert!(
        !dir.capabilities().await.unwrap().pam_enabled,
        "nothing changed"
    );
}

/// More members than one range holds (AD hands out 1,500 values per read).
const RANGE_MEMBERS: usize = 1_600;

#[tokio::test]
async fn members_beyond_one_range_are_all_read() {
    let Some(ad) = ad() else { return };
    let contacts = range_contacts(&ad).await;
    let mut scratch = ad.scratch_group("range").await;
    for chunk in contacts.chunks(400) {
        scratch.add_as_admin(chunk).await;
    }

    let members = ad.directory().members(&scratch.group.dn).await.unwrap();

    let read: HashSet<&str> = members.iter().map(|m| m.dn.as_str()).collect();
    assert_eq!(members.len(), RANGE_MEMBERS);
    assert_eq!(read.len(), RANGE_MEMBERS, "no value twice");
    assert!(contacts.iter().all(|c| read.contains(c.as_str())));
    scratch.delete().await;
}

/// `RANGE_MEMBERS` contact objects under OU=Range Test, made once per DC.
async fn range_contacts(ad: &crate::support::Ad) -> Vec<String> {
    let ou = format!("OU=Range Test,{}", ad.base_dn);
    let mut admin = ad.admin().await;
    let existing = match admin
        .search(&ou, Scope::OneLevel, "(objectClass=contact)", vec!["dn"])
        .await
        .unwrap()
        .success()
    {
        Ok((entries, _)) => entries.len(),
        Err(_) => {
            admin
                .add(
                    &ou,
                    vec![("objectClass", HashSet::from(["top", "organizationalUnit"]))],
                )
                .await
                .unwrap()
                .success()
                .unwrap();
            0
        }
    };
    let dns: Vec<String> = (0..RANGE_MEMBERS)
        .map(|i| format!("CN=range-{i:05},{ou}"))
        .collect();
    if existing < RANGE_MEMBERS {
        for dn in &dns {
            let rc = admin
                .add(
                    dn,
                    vec![(
                        "objectClass",
                        HashSet::from(["top", "person", "organizationalPerson", "contact"]),
                    )],
                )
                .await
                .unwrap()
                .rc;
            assert!(rc == 0 || rc == 68, "adding {dn}: {rc}");
        }
    }
    let (entries, _) = admin
        .search(&ou, Scope::OneLevel, "(objectClass=contact)", vec!["dn"])
        .await
        .unwrap()
        .success()
        .unwrap();
    let made: HashSet<String> = entries
        .into_iter()
        .map(|e| SearchEntry::construct(e).dn)
        .collect();
    assert!(dns.iter().all(|d| made.contains(d)));
    dns
}
