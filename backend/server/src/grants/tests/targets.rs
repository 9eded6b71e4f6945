//! Which groups rules may target, decided at save and again at request time.

use super::*;
use crate::{
    admin_groups::AdminGroups,
    grants::targets::{TargetSettings, VERDICT_TTL},
};
use jitroles_domain::target::TargetPolicy;

const DOMAIN_ADMINS: u32 = 512;

fn configured(w: &World, settings: TargetSettings) -> Engine {
    Engine::configured(
        Ports {
            rules: w.store.clone(),
            grants: w.store.clone(),
            notifications: w.store.clone(),
            approvals: w.store.clone(),
            directory: w.directory.clone(),
            clock: w.clock.clone(),
        },
        Leases {
            holder: "t".into(),
            length: Duration::from_secs(30),
            shared_database: true,
        },
        Arc::new(Unobserved),
        settings,
    )
}

fn precondition(e: DomainError) -> String {
    match e {
        DomainError::FailedPrecondition(why) => why,
        other => panic!("expected FAILED_PRECONDITION, got {other:?}"),
    }
}

#[tokio::test]
async fn a_rule_on_domain_admins_is_refused_naming_why() {
    let w = world();
    w.directory
        .add_group(group(DOMAIN_ADMINS, "Domain Admins"), true);
    let e = w
        .engine
        .rules
        .create(&w.admin, &w.alice, spec("DA"), "Domain Admins")
        .await
        .unwrap_err();
    let why = precondition(e);
    assert!(
        why.contains("Domain Admins cannot be a role's group"),
        "{why}"
    );
    assert!(why.contains("allow_protected_targets"), "{why}");
    assert!(w.store.audit_log().is_empty(), "nothing saved");
}

#[tokio::test]
async fn jitroles_own_admin_group_is_refused_even_when_protected_targets_are_allowed() {
    let w = world();
    let engine = configured(
        &w,
        TargetSettings {
            policy: TargetPolicy {
                allow_protected: true,
                bases: vec![],
            },
            admin_groups: Some(Arc::new(AdminGroups::new(
                vec!["jitroles-admins".into()],
                w.directory.clone(),
            ))),
        },
    );
    let e = engine
        .rules
        .create(&w.admin, &w.alice, spec("self"), "jitroles-admins")
        .await
        .unwrap_err();
    assert!(precondition(e).contains("jitroles' admin groups"));
}

#[tokio::test]
async fn a_group_outside_the_role_bases_is_refused() {
    let w = world();
    let engine = configured(
        &w,
        TargetSettings {
            policy: TargetPolicy {
                allow_protected: false,
                bases: vec!["OU=Elsewhere,DC=example,DC=test".into()],
            },
            admin_groups: None,
        },
    );
    let e = engine
        .rules
        .create(&w.admin, &w.alice, spec("DBA"), "jit-role-dba")
        .await
        .unwrap_err();
    assert!(precondition(e).contains("outside the OUs"));
}

#[tokio::test]
async fn a_group_nested_into_domain_admins_after_the_rule_was_saved_is_refused_at_request_time() {
    let w = world();
    let rule = w.rule("DBA").await;
    w.directory
        .add_group(group(DOMAIN_ADMINS, "Domain Admins"), true);
    w.request(&w.dave, &rule).await.unwrap();
    // someone nests the role group into Domain Admins by hand
    w.directory
        .set_member(&sid(DOMAIN_ADMINS), &sid(DBA_GROUP), true);
    w.clock.advance(TimeDelta::from_std(VERDICT_TTL).unwrap());
    let e = w.request(&w.svc, &rule).await.unwrap_err();
    assert!(precondition(e).contains("nested in Domain Admins"));
    assert!(
        !w.members().contains(&sid(SVC)),
        "svc-ci was not added to a group inside Domain Admins"
    );
}

#[tokio::test]
async fn an_acl_over_the_limit_is_refused_before_any_directory_call() {
    let w = world();
    // any directory call would now fail as UNAVAILABLE instead
    w.directory.set_unavailable(true);
    let mut big = spec("big");
    big.acl = (0..=jitroles_domain::rule::MAX_ACL_ENTRIES as u32)
        .map(|n| AclEntry {
            principal: sid(10_000 + n),
            display_name: String::new(),
            kind: PrincipalKind::User,
            effect: Effect::Allow,
        })
        .collect();
    let e = w
        .engine
        .rules
        .create(&w.admin, &w.alice, big, "jit-role-dba")
        .await
        .unwrap_err();
    assert!(
        matches!(&e, DomainError::Invalid { field, .. } if field == "acl"),
        "{e:?}"
    );
}

#[tokio::test]
async fn a_deny_entry_written_with_a_leading_zero_still_denies() {
    let w = world();
    let mut denied = spec("DBA");
    denied.acl.push(AclEntry {
        principal: format!("{DOMAIN}-0{DAVE}").parse().unwrap(),
        display_name: String::new(),
        kind: PrincipalKind::User,
        effect: Effect::Deny,
    });
    let rule = w
        .engine
        .rules
        .create(&w.admin, &w.alice, denied, "jit-role-dba")
        .await
        .unwrap();
    let e = w.request(&w.dave, &rule).await.unwrap_err();
    assert!(matches!(e, DomainError::Denied(_)), "{e:?}");
    w.request(&w.svc, &rule).await.unwrap();
}
