//! Rule edits: what the directory must have, what live grants forbid, and how edits on one
//! instance reach another.

use super::*;

#[tokio::test]
async fn a_rule_whose_group_or_principal_the_directory_lacks_is_refused_with_the_field() {
    let w = world();
    let e = w
        .engine
        .rules
        .create(&w.admin, &w.alice, spec("DBA"), "no-such-group")
        .await
        .unwrap_err();
    assert!(
        matches!(&e, DomainError::Invalid { field, .. } if field == "target_group"),
        "{e:?}"
    );
    let mut bad = spec("DBA");
    bad.acl[0].principal = sid(9999);
    let e = w
        .engine
        .rules
        .create(&w.admin, &w.alice, bad, "jit-role-dba")
        .await
        .unwrap_err();
    assert!(
        matches!(&e, DomainError::Invalid { field, .. } if field == "acl[0]"),
        "{e:?}"
    );
}

#[tokio::test]
async fn a_rule_with_live_grants_keeps_its_group_and_cannot_be_deleted() {
    let w = world();
    w.directory.add_group(group(2001, "jit-role-web"), true);
    let rule = w.rule("DBA").await;
    w.request(&w.dave, &rule).await.unwrap();
    let e = w
        .engine
        .rules
        .update(&w.admin, &w.alice, &rule.id, spec("DBA"), "jit-role-web", 1)
        .await
        .unwrap_err();
    assert!(matches!(e, DomainError::FailedPrecondition(_)), "{e:?}");
    let e = w
        .engine
        .rules
        .delete(&w.admin, &w.alice, &rule.id, 1)
        .await
        .unwrap_err();
    assert!(matches!(e, DomainError::FailedPrecondition(_)), "{e:?}");
    let e = w
        .engine
        .rules
        .update(&w.admin, &w.alice, &rule.id, spec("DBA"), "jit-role-dba", 7)
        .await
        .unwrap_err();
    assert!(
        matches!(e, DomainError::Conflict(_)),
        "stale version: {e:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_rule_changed_on_another_instance_holds_here_within_three_seconds() {
    let a = world_named("a");
    let b = engine_on(&a.store, &a.directory, &a.clock, "b");
    let rule = a.rule("DBA").await;
    let offered = |offer: crate::grants::request::Offer| offer.roles.len();
    assert_eq!(offered(b.requests.roles_for(&a.dave).await.unwrap()), 1);
    let mut denied = spec("DBA");
    denied.acl.push(AclEntry {
        principal: sid(DAVE),
        display_name: String::new(),
        kind: PrincipalKind::User,
        effect: Effect::Deny,
    });
    a.engine
        .rules
        .update(&a.admin, &a.alice, &rule.id, denied, "jit-role-dba", 1)
        .await
        .unwrap();
    assert_eq!(
        offered(a.engine.requests.roles_for(&a.dave).await.unwrap()),
        0,
        "at once where it was saved"
    );
    assert_eq!(
        offered(b.requests.roles_for(&a.dave).await.unwrap()),
        1,
        "the other instance still holds its copy"
    );
    tokio::time::advance(Duration::from_secs(3)).await;
    assert_eq!(offered(b.requests.roles_for(&a.dave).await.unwrap()), 0);
    let e = b
        .requests
        .request(&a.dave, &rule.id, Ask::default())
        .await
        .unwrap_err();
    assert!(matches!(e, DomainError::Denied(_)), "{e:?}");
}

#[tokio::test]
async fn a_rule_made_on_another_instance_can_be_requested_here_at_once() {
    let a = world_named("a");
    let b = engine_on(&a.store, &a.directory, &a.clock, "b");
    let first = a.rule("DBA").await;
    assert_eq!(b.requests.roles_for(&a.dave).await.unwrap().roles.len(), 1);
    let second = a.rule("DBA two").await;
    b.requests
        .request(&a.dave, &second.id, Ask::default())
        .await
        .unwrap();
    assert_ne!(first.id, second.id);
}

#[tokio::test]
async fn a_rule_deleted_on_another_instance_gains_no_grant_from_a_stale_copy() {
    let a = world_named("a");
    let b = engine_on(&a.store, &a.directory, &a.clock, "b");
    let rule = a.rule("DBA").await;
    assert_eq!(
        b.requests.roles_for(&a.dave).await.unwrap().roles.len(),
        1,
        "b holds a copy"
    );
    a.engine
        .rules
        .delete(&a.admin, &a.alice, &rule.id, 1)
        .await
        .unwrap();
    let e = b
        .requests
        .request(&a.dave, &rule.id, Ask::default())
        .await
        .unwrap_err();
    assert!(matches!(e, DomainError::FailedPrecondition(_)), "{e:?}");
    assert!(a.store.all_grants().is_empty());
    assert_eq!(a.members(), vec![sid(CAROL)]);
}
