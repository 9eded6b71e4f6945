//! Reconciliation: members removed outside jitroles, groups renamed or moved in AD, and a
//! group that cannot be read among others.

use super::*;

#[tokio::test]
async fn reconciliation_ends_a_grant_whose_member_was_removed_outside_and_reports_the_rest() {
    let w = world();
    let rule = w.rule("DBA").await;
    let g = w.request(&w.dave, &rule).await.unwrap();
    w.request(&w.svc, &rule).await.unwrap();
    w.directory.set_member(&sid(DBA_GROUP), &sid(DAVE), false);
    assert_eq!(w.engine.reconciler.reconcile().await.unwrap(), 1);
    let ended = w.stored(&g.id);
    assert_eq!(ended.end_reason, Some(EndReason::Directory));
    assert_eq!(w.members(), vec![sid(CAROL), sid(SVC)]);
    let report = w.engine.reports.directory(&w.admin).await.unwrap();
    let unexplained = report.groups[0].unexplained.clone().unwrap();
    assert_eq!(
        unexplained,
        [user(CAROL, "carol").dn],
        "carol is reported, not removed"
    );
    assert_eq!(w.engine.reconciler.reconcile().await.unwrap(), 0);
}

#[tokio::test]
async fn a_group_renamed_and_moved_in_ad_keeps_working_and_its_rules_take_the_new_name() {
    let w = world();
    let rule = w.rule("DBA").await;
    let g = w.request(&w.dave, &rule).await.unwrap();
    let moved = "CN=jit-role-dba-renamed,OU=Moved,DC=example,DC=test";
    w.directory
        .rename_group(&sid(DBA_GROUP), "jit-role-dba-renamed", moved);
    // requests, extensions and ending address the group by its GUID
    w.request(&w.svc, &rule).await.unwrap();
    w.engine
        .requests
        .extend(&w.dave, &g.id, Some(Duration::from_secs(1200)))
        .await
        .unwrap();
    assert_eq!(w.engine.reconciler.reconcile().await.unwrap(), 0);
    let followed = w.engine.rules.get(&w.admin, &rule.id).await.unwrap().rule;
    assert_eq!(
        (followed.target.name.as_str(), followed.target.dn.as_str()),
        ("jit-role-dba-renamed", moved)
    );
    assert_eq!(followed.version, rule.version + 1);
    w.engine
        .endings
        .release(&w.dave, &g.id)
        .await
        .expect("released in the renamed group");
    assert_eq!(w.members(), vec![sid(CAROL), sid(SVC)]);
}

#[tokio::test]
async fn a_group_that_cannot_be_read_does_not_stop_the_others_reconciliation() {
    let w = world();
    w.directory.add_group(group(2011, "jit-role-gone"), true);
    w.engine
        .rules
        .create(&w.admin, &w.alice, spec("Aaa"), "jit-role-gone")
        .await
        .unwrap();
    let rule = w.rule("DBA").await;
    let g = w.request(&w.dave, &rule).await.unwrap();
    w.directory.set_member(&sid(DBA_GROUP), &sid(DAVE), false);
    // rules come by name, so jit-role-gone (rule "Aaa") is read first, and fails
    w.directory.fail_next(
        DirectoryOp::Members,
        DomainError::Unavailable("the DC failed on this group".into()),
    );
    let outcome = w.engine.reconciler.reconcile().await;
    assert!(outcome.is_err(), "the failure is reported");
    assert_eq!(
        w.stored(&g.id).end_reason,
        Some(EndReason::Directory),
        "the readable group was reconciled all the same"
    );
}
