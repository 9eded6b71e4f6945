use jitroles_domain::{
    DomainError,
    directory::{Directory, DirectoryObject, GroupRef, SearchScope, UserLookup},
};

use crate::support::ad;

#[tokio::test]
async fn users_are_found_by_account_name_upn_mail_and_sid() {
    let Some(ad) = ad() else { return };
    let dir = ad.directory();

    let dave = dir
        .find_user(&UserLookup::SamAccountName("dave".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(dave.account_name, "dave");
    assert_eq!(dave.display_name, "Dave Dba");
    assert_eq!(dave.mail.as_deref(), Some("dave@example.test"));
    assert!(!dave.disabled);
    assert_eq!(dave.guid.len(), 36);
    assert!(dave.sid.as_str().starts_with("S-1-5-21-"));

    let by_upn = dir
        .find_user(&UserLookup::UserPrincipalName(dave.upn.clone().unwrap()))
        .await
        .unwrap()
        .unwrap();
    let by_mail = dir
        .find_user(&UserLookup::Mail("dave@example.test".into()))
        .await
        .unwrap()
        .unwrap();
    let by_sid = dir
        .find_user(&UserLookup::Sid(dave.sid.clone()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_upn, dave);
    assert_eq!(by_mail, dave);
    assert_eq!(by_sid, dave);
}

#[tokio::test]
async fn the_disabled_account_is_reported_disabled() {
    let Some(ad) = ad() else { return };
    let erin = ad.user("erin").await;
    assert!(erin.disabled);
}

#[tokio::test]
async fn unknown_users_are_none_not_errors() {
    let Some(ad) = ad() else { return };
    let dir = ad.directory();
    assert_eq!(
        dir.find_user(&UserLookup::SamAccountName("nobody-here".into()))
            .await
            .unwrap(),
        None
    );
    let foreign = "S-1-5-21-1-2-3-4242".parse().unwrap();
    assert_eq!(
        dir.find_user(&UserLookup::Sid(foreign)).await.unwrap(),
        None
    );
    // a group is not a user
    let group = ad.group_named("dba-team").await;
    assert_eq!(
        dir.find_user(&UserLookup::Sid(group.sid)).await.unwrap(),
        None
    );
}

#[tokio::test]
async fn lookups_cannot_be_widened_by_filter_syntax() {
    let Some(ad) = ad() else { return };
    let dir = ad.directory();
    for sneaky in ["*", "dav*", "*)(sAMAccountName=*", "dave)(|(objectClass=*"] {
        assert_eq!(
            dir.find_user(&UserLookup::SamAccountName(sneaky.into()))
                .await
                .unwrap(),
            None,
            "{sneaky:?}"
        );
    }
}

#[tokio::test]
async fn token_groups_include_nested_groups_and_the_primary_group() {
    let Some(ad) = ad() else { return };
    let dir = ad.directory();
    let dave = ad.user("dave").await;
    let team = ad.group_named("dba-team").await;
    let oncall = ad.group_named("dba-oncall").await;
    let domain_users = ad.group_named("Domain Users").await;

    let groups = dir.token_groups(&dave.dn).await.unwrap();

    assert!(groups.contains(&team.sid), "direct group");
    assert!(groups.contains(&oncall.sid), "dba-oncall through dba-team");
    assert!(groups.contains(&domain_users.sid), "primary group");
    let bob = ad.user("bob").await;
    let bobs = dir.token_groups(&bob.dn).await.unwrap();
    assert!(!bobs.contains(&oncall.sid) && !bobs.contains(&team.sid));
}

#[tokio::test]
async fn groups_containing_a_group_are_found_at_any_depth_builtin_included() {
    let Some(ad) = ad() else { return };
    let dir = ad.directory();
    let team = ad.group_named("dba-team").await;
    let oncall = ad.group_named("dba-oncall").await;
    let containing = dir.groups_containing(&team.dn).await.unwrap();
    assert_eq!(
        containing
            .iter()
            .map(|g| g.name.as_str())
            .collect::<Vec<_>>(),
        ["dba-oncall"]
    );
    assert!(dir.groups_containing(&oncall.dn).await.unwrap().is_empty());
    // Domain Admins is a member of the builtin Administrators (S-1-5-32-544)
    let admins = ad.group_named("Domain Admins").await;
    let above = dir.groups_containing(&admins.dn).await.unwrap();
    assert!(
        above.iter().any(|g| g.sid.as_str() == "S-1-5-32-544"),
        "{above:?}"
    );
}

#[tokio::test]
async fn search_finds_users_and_groups_by_name_prefix() {
    let Some(ad) = ad() else { return };
    let dir = ad.directory();

    let page = dir.search("dba", SearchScope::Groups, 10).await.unwrap();
    let names: Vec<String> = page
        .objects
        .iter()
        .map(|o| match o {
            DirectoryObject::Group(g) => g.name.clone(),
            DirectoryObject::User(u) => panic!("a user in a group search: {}", u.account_name),
        })
        .collect();
    assert_eq!(names, ["dba-approvers", "dba-oncall", "dba-team"]);
    assert!(!page.more);

    // display name prefix, users only
    let page = dir.search("Dave", SearchScope::Users, 10).await.unwrap();
    assert!(
        matches!(page.objects.as_slice(), [DirectoryObject::User(u)] if u.account_name == "dave")
    );
    // mail prefix, both kinds
    let page = dir.search("alice@", SearchScope::Both, 10).await.unwrap();
    assert_eq!(page.objects.len(), 1);
}

#[tokio::test]
async fn search_results_are_bounded_and_say_there_is_more() {
    let Some(ad) = ad() else { return };
    let page = ad
        .directory()
        .search("", SearchScope::Both, 3)
        .await
        .unwrap();
    assert_eq!(page.objects.len(), 3);
    assert!(page.more);
}

#[tokio::test]
async fn search_strings_that_try_filter_injection_find_only_what_they_say() {
    let Some(ad) = ad() else { return };
    let dir = ad.directory();
    for sneaky in [
        "*)(objectClass=*",
        "*",
        "\\",
        "(",
        ")",
        "*)(|(cn=*",
        "dba*)(cn=*",
        "Émile-ß-日本",
    ] {
        let page = dir.search(sneaky, SearchScope::Both, 50).await.unwrap();
        assert!(
            page.objects.is_empty(),
            "{sneaky:?} found {:?}",
            page.objects
        );
    }
    for refused in ["a".repeat(300), "dba\0".into(), "\0".into(), "dba\n".into()] {
        let err = dir
            .search(&refused, SearchScope::Both, 10)
            .await
            .unwrap_err();
        assert!(
            matches!(err, DomainError::Invalid { .. }),
            "{refused:?}: {err:?}"
        );
    }
}

#[tokio::test]
async fn a_group_is_found_by_sid_guid_and_dn_even_after_a_rename() {
    let Some(ad) = ad() else { return };
    let dir = ad.directory();
    let scratch = ad.scratch_group("rename").await;
    let before = scratch.group.clone();

    let mut admin = ad.admin().await;
    let new_rdn = format!("CN={}-renamed", before.name);
    admin
        .modifydn(&before.dn, &new_rdn, true, None)
        .await
        .unwrap()
        .success()
        .unwrap();

    let by_sid = dir
        .group(&GroupRef::Sid(before.sid.clone()))
        .await
        .unwrap()
        .unwrap();
    let by_guid = dir
        .group(&GroupRef::Guid(before.guid.clone()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_sid.dn, format!("{new_rdn},{}", ad.role_ou));
    assert_eq!(by_sid, by_guid);
    assert_eq!(
        dir.group(&GroupRef::Dn(before.dn.clone())).await.unwrap(),
        None,
        "the old DN is gone"
    );
    assert_eq!(
        dir.group(&GroupRef::Dn(by_sid.dn.clone()))
            .await
            .unwrap()
            .unwrap()
            .guid,
        before.guid
    );

    admin.delete(&by_sid.dn).await.unwrap().success().unwrap();
    drop(scratch); // deleted above under its new name
}

#[tokio::test]
async fn group_lookups_refuse_malformed_references() {
    let Some(ad) = ad() else { return };
    let dir = ad.directory();
    assert!(
        dir.group(&GroupRef::Guid("not-a-guid".into()))
            .await
            .is_err()
    );
    // a user is not a group
    let dave = ad.user("dave").await;
    assert_eq!(dir.group(&GroupRef::Sid(dave.sid)).await.unwrap(), None);
}

#[tokio::test]
async fn protected_groups_and_write_access_are_reported() {
    let Some(ad) = ad() else { return };
    let dir = ad.directory();
    let role = ad.group_named("jit-role-dba").await;
    let admins = ad.group_named("Domain Admins").await;
    let team = ad.group_named("dba-team").await;

    let on_role = dir.write_access(&role.dn).await.unwrap();
    let on_admins = dir.write_access(&admins.dn).await.unwrap();
    let on_team = dir.write_access(&team.dn).await.unwrap();

    assert!(on_role.can_write_members && !on_role.protected);
    assert!(!on_admins.can_write_members && on_admins.protected);
    assert!(admins.protected);
    assert!(!on_team.can_write_members, "outside the delegated OU");
}
