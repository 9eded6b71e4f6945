//! The domain's ACL and admin checks fed with real token groups from Samba.

use jitroles_domain::{
    DomainError,
    access::{AclEntry, Caller, Effect, PrincipalKind, authorize_admin, authorize_request},
    directory::{Directory, DirectoryGroup},
};

use crate::support::{Ad, ad};

async fn caller(ad: &Ad, account: &str) -> Caller {
    let user = ad.user(account).await;
    let groups = ad.directory().token_groups(&user.dn).await.unwrap();
    Caller::new(user, groups)
}

fn entry(group: &DirectoryGroup, effect: Effect) -> AclEntry {
    AclEntry {
        principal: group.sid.clone(),
        display_name: group.name.clone(),
        kind: PrincipalKind::Group,
        effect,
    }
}

#[tokio::test]
async fn acls_and_admin_rights_hold_against_the_real_directory() {
    let Some(ad) = ad() else { return };
    let oncall = ad.group_named("dba-oncall").await;
    let team = ad.group_named("dba-team").await;
    let admins = ad.group_named("jitroles-admins").await;
    let allow_oncall = [entry(&oncall, Effect::Allow)];
    let (dave, bob, erin, svc, alice) = (
        caller(&ad, "dave").await,
        caller(&ad, "bob").await,
        caller(&ad, "erin").await,
        caller(&ad, "svc-ci").await,
        caller(&ad, "alice").await,
    );

    assert!(
        authorize_request(&dave, "dba", &allow_oncall).is_ok(),
        "dave through dba-team ⊂ dba-oncall"
    );
    assert!(
        authorize_request(&svc, "dba", &allow_oncall).is_ok(),
        "svc-ci directly in dba-oncall"
    );
    assert!(matches!(
        authorize_request(&bob, "dba", &allow_oncall),
        Err(DomainError::Denied(_))
    ));
    assert!(
        matches!(authorize_request(&erin, "dba", &allow_oncall), Err(DomainError::Denied(ref m)) if m.contains("disabled"))
    );
    let deny_team = [entry(&oncall, Effect::Allow), entry(&team, Effect::Deny)];
    assert!(
        authorize_request(&dave, "dba", &deny_team).is_err(),
        "deny on dba-team beats allow on dba-oncall"
    );
    assert!(
        authorize_request(&svc, "dba", &deny_team).is_ok(),
        "svc-ci is not in dba-team"
    );

    assert!(authorize_admin(&alice, std::slice::from_ref(&admins.sid)).is_ok());
    assert!(authorize_admin(&bob, std::slice::from_ref(&admins.sid)).is_err());
}

/// Every person of the test population is reached by an ACL exactly when the evaluator
/// admits them by their token groups, for several ACLs (nesting, a deny, a user entry).
#[tokio::test]
async fn an_acl_reaches_exactly_the_people_the_evaluator_admits() {
    let Some(ad) = ad() else { return };
    let dir = ad.directory();
    let oncall = ad.group_named("dba-oncall").await;
    let team = ad.group_named("dba-team").await;
    let approvers = ad.group_named("dba-approvers").await;
    let bob = ad.user("bob").await;
    let population = [
        "alice", "bob", "carol", "dave", "erin", "svc-ci", "frank", "grace",
    ];
    let acls = [
        vec![entry(&oncall, Effect::Allow)],
        vec![entry(&oncall, Effect::Allow), entry(&team, Effect::Deny)],
        vec![
            entry(&approvers, Effect::Allow),
            AclEntry {
                principal: bob.sid.clone(),
                display_name: "bob".into(),
                kind: PrincipalKind::User,
                effect: Effect::Allow,
            },
        ],
    ];
    for acl in &acls {
        let reached = jitroles_domain::reach::reach(&dir, acl, 100).await.unwrap();
        assert!(!reached.truncated);
        let names: Vec<&str> = reached
            .people
            .iter()
            .map(|r| r.user.account_name.as_str())
            .collect();
        for account in population {
            let admitted = authorize_request(&caller(&ad, account).await, "r", acl).is_ok();
            assert_eq!(
                names.contains(&account),
                admitted,
                "{account} with {acl:?}: reached {names:?}"
            );
        }
    }
    let nested = jitroles_domain::reach::reach(&dir, &acls[0], 100)
        .await
        .unwrap();
    let dave = nested
        .people
        .iter()
        .find(|r| r.user.account_name == "dave")
        .unwrap();
    assert_eq!(dave.path_text(), "dave ← dba-team ← dba-oncall");
    let capped = jitroles_domain::reach::reach(&dir, &acls[0], 1)
        .await
        .unwrap();
    assert!(capped.truncated && capped.people.len() <= 1);
}

/// One step up a nesting: dave's own groups are dba-team and his primary group (Domain Users,
/// in no `member` value), not dba-oncall, which holds him only through dba-team.
#[tokio::test]
async fn groups_of_lists_the_direct_groups_and_the_primary_group() {
    let Some(ad) = ad() else { return };
    let dir = ad.directory();
    let dave = ad.user("dave").await;
    let names = |groups: Vec<DirectoryGroup>| {
        let mut names: Vec<String> = groups.into_iter().map(|g| g.name).collect();
        names.sort();
        names
    };
    // other tests leave role groups dave is in: only these are pinned down
    let own = names(dir.groups_of(&dave.dn).await.unwrap());
    assert!(
        own.iter().any(|g| g == "Domain Users") && own.iter().any(|g| g == "dba-team"),
        "{own:?}"
    );
    assert!(!own.iter().any(|g| g == "dba-oncall"), "{own:?}");
    let team = ad.group_named("dba-team").await;
    assert_eq!(
        names(dir.groups_of(&team.dn).await.unwrap()),
        ["dba-oncall"]
    );
    assert!(matches!(
        dir.groups_of("CN=nobody,CN=Users,DC=example,DC=test").await,
        Err(DomainError::NotFound { .. })
    ));
}
