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
