//! Emergency controls: revoking every live grant of a person or of a rule, and freezes of
//! requests, on one instance and across two.

use jitroles_domain::freeze::FreezeScope;

use super::*;

fn count(w: &World, action: AuditAction) -> usize {
    w.store
        .audit_log()
        .iter()
        .filter(|a| a.action == action)
        .count()
}

#[tokio::test]
async fn revoking_all_of_a_person_ends_each_of_their_grants_of_every_rule_as_a_revoke_would() {
    let w = world();
    let (dba, two) = (w.rule("DBA").await, w.rule("DBA two").await);
    let first = w.request(&w.dave, &dba).await.unwrap();
    let second = w.request(&w.dave, &two).await.unwrap();
    let others = w.request(&w.svc, &dba).await.unwrap();
    let done = w
        .engine
        .emergency
        .revoke_person(&w.admin, &w.alice, "DAVE", " account compromised ")
        .await
        .unwrap();
    assert!(done.failed.is_empty(), "{:?}", done.failed);
    let mut ids: Vec<&str> = done.revoked.iter().map(|g| g.id.as_str()).collect();
    ids.sort();
    let mut want = vec![first.id.as_str(), second.id.as_str()];
    want.sort();
    assert_eq!(ids, want);
    for g in [&first, &second] {
        let stored = w.stored(&g.id);
        assert_eq!(stored.state, GrantState::Ended);
        assert_eq!(stored.end_reason, Some(EndReason::Revoked));
        assert_eq!(stored.end_note.as_deref(), Some("account compromised"));
        assert_eq!(
            w.trail(&g.id),
            [
                AuditAction::Requested,
                AuditAction::Granted,
                AuditAction::Revoked,
                AuditAction::Ended
            ],
            "the same trail as a single revoke"
        );
    }
    assert_eq!(w.stored(&others.id).state, GrantState::Active);
    assert_eq!(w.members(), vec![sid(CAROL), sid(SVC)], "dave is out");
    let summary = w
        .store
        .audit_log()
        .into_iter()
        .find(|a| a.action == AuditAction::RevokedAllOfPerson)
        .expect("one summary event");
    assert_eq!(
        (
            summary.actor.as_str(),
            summary.subject_account.as_deref(),
            summary.detail.as_str()
        ),
        ("alice", Some("DAVE"), "2 revoked: account compromised")
    );
}

#[tokio::test]
async fn revoking_all_of_a_person_by_sid_finds_them_and_none_is_no_error() {
    let w = world();
    let rule = w.rule("DBA").await;
    let g = w.request(&w.dave, &rule).await.unwrap();
    let done = w
        .engine
        .emergency
        .revoke_person(&w.admin, &w.alice, &sid(DAVE).to_string(), "left")
        .await
        .unwrap();
    assert_eq!(done.revoked.len(), 1);
    assert_eq!(w.stored(&g.id).state, GrantState::Ended);
    let again = w
        .engine
        .emergency
        .revoke_person(&w.admin, &w.alice, "dave", "left")
        .await
        .unwrap();
    assert!(again.revoked.is_empty() && again.failed.is_empty());
    assert_eq!(
        count(&w, AuditAction::RevokedAllOfPerson),
        2,
        "both audited"
    );
}

#[tokio::test]
async fn a_grant_that_cannot_be_revoked_is_reported_and_the_others_are_still_revoked() {
    let w = world();
    let rule = w.rule("DBA").await;
    let dave = w.request(&w.dave, &rule).await.unwrap();
    let svc = w.request(&w.svc, &rule).await.unwrap();
    // the first grant's `ending` cannot be stored
    w.store.fail_next(
        StoreOp::UpdateGrant,
        DomainError::Unavailable("the database does not answer".into()),
    );
    let done = w
        .engine
        .emergency
        .revoke_rule(&w.admin, &w.alice, &rule.id, "incident 7")
        .await
        .unwrap();
    assert_eq!(done.revoked.len(), 1);
    assert_eq!(done.failed.len(), 1);
    let (failed, why) = &done.failed[0];
    assert_eq!(why, "the database does not answer");
    let revoked = &done.revoked[0];
    assert_ne!(failed.id, revoked.id);
    assert_eq!(w.stored(&failed.id).state, GrantState::Active);
    assert_eq!(w.stored(&revoked.id).state, GrantState::Ended);
    let mut ids = [dave.id.clone(), svc.id.clone()];
    ids.sort();
    let mut got = [failed.id.clone(), revoked.id.clone()];
    got.sort();
    assert_eq!(ids, got);
    let summary = w
        .store
        .audit_log()
        .into_iter()
        .find(|a| a.action == AuditAction::RevokedAllOfRule)
        .expect("a summary event");
    assert_eq!(summary.rule_id.as_deref(), Some(rule.id.as_str()));
    assert_eq!(
        summary.detail,
        format!("1 revoked, 1 not revoked ({}): incident 7", failed.id)
    );
}

#[tokio::test]
async fn revoking_all_of_a_rule_leaves_the_grants_of_other_rules_alone() {
    let w = world();
    let (dba, two) = (w.rule("DBA").await, w.rule("DBA two").await);
    let of_dba = w.request(&w.dave, &dba).await.unwrap();
    let of_two = w.request(&w.dave, &two).await.unwrap();
    let done = w
        .engine
        .emergency
        .revoke_rule(&w.admin, &w.alice, &dba.id, "rule retired")
        .await
        .unwrap();
    assert_eq!(done.revoked.len(), 1);
    assert_eq!(w.stored(&of_dba.id).state, GrantState::Ended);
    assert_eq!(w.stored(&of_two.id).state, GrantState::Active);
    assert_eq!(
        w.members(),
        vec![sid(DAVE), sid(CAROL)],
        "still covered by the other rule's grant"
    );
}

#[tokio::test]
async fn a_directory_outage_leaves_bulk_revoked_grants_ending_for_the_scheduler() {
    let w = world();
    let rule = w.rule("DBA").await;
    let g = w.request(&w.dave, &rule).await.unwrap();
    w.directory.set_unavailable(true);
    let done = w
        .engine
        .emergency
        .revoke_person(&w.admin, &w.alice, "dave", "breach")
        .await
        .unwrap();
    assert_eq!(done.revoked.len(), 1);
    assert_eq!(done.revoked[0].state, GrantState::Ending);
    assert!(done.revoked[0].last_error.is_some());
    w.directory.set_unavailable(false);
    w.engine.expiry.run_due().await.unwrap();
    assert_eq!(w.stored(&g.id).state, GrantState::Ended);
    assert_eq!(w.members(), vec![sid(CAROL)]);
}

#[tokio::test]
async fn a_grant_still_activating_is_reported_not_revoked() {
    let w = world();
    let rule = w.rule("DBA").await;
    let g = w.request(&w.dave, &rule).await.unwrap();
    // as another instance's request (or a crash) leaves it
    w.store.put_grant(Grant {
        state: GrantState::Activating,
        ..w.stored(&g.id)
    });
    let done = w
        .engine
        .emergency
        .revoke_person(&w.admin, &w.alice, "dave", "breach")
        .await
        .unwrap();
    assert!(done.revoked.is_empty());
    assert_eq!(done.failed.len(), 1);
    assert_eq!(done.failed[0].1, jitroles_domain::grant::STILL_ACTIVATING);
}

#[tokio::test]
async fn a_bulk_revoke_needs_a_reason_and_a_person_or_an_existing_rule() {
    let w = world();
    let rule = w.rule("DBA").await;
    w.request(&w.dave, &rule).await.unwrap();
    let e = w
        .engine
        .emergency
        .revoke_person(&w.admin, &w.alice, "dave", "  ")
        .await
        .unwrap_err();
    assert!(
        matches!(&e, DomainError::Invalid { field, .. } if field == "reason"),
        "{e:?}"
    );
    let e = w
        .engine
        .emergency
        .revoke_person(&w.admin, &w.alice, " ", "breach")
        .await
        .unwrap_err();
    assert!(
        matches!(&e, DomainError::Invalid { field, .. } if field == "person"),
        "{e:?}"
    );
    let e = w
        .engine
        .emergency
        .revoke_rule(&w.admin, &w.alice, "no-such-rule", "breach")
        .await
        .unwrap_err();
    assert!(matches!(e, DomainError::NotFound { .. }), "{e:?}");
    assert_eq!(w.members(), vec![sid(DAVE), sid(CAROL)], "nothing changed");
    assert_eq!(count(&w, AuditAction::Revoked), 0);
}

#[tokio::test]
async fn a_frozen_rule_refuses_requests_and_extensions_but_release_and_expiry_go_on() {
    let w = world();
    let (dba, two) = (w.rule("DBA").await, w.rule("DBA two").await);
    let g = w.request(&w.dave, &dba).await.unwrap();
    let frozen = w
        .engine
        .emergency
        .freeze(
            &w.admin,
            &w.alice,
            FreezeScope::Rule(dba.id.clone()),
            "incident 42",
        )
        .await
        .unwrap();
    assert_eq!(frozen.rule_name, "DBA");
    let e = w.request(&w.svc, &dba).await.unwrap_err();
    assert_eq!(
        e,
        DomainError::FailedPrecondition("requests for DBA are frozen by alice: incident 42".into())
    );
    let e = w
        .engine
        .requests
        .extend(&w.dave, &g.id, None)
        .await
        .unwrap_err();
    assert_eq!(
        e,
        DomainError::FailedPrecondition(
            "extensions of DBA are frozen by alice: incident 42".into()
        )
    );
    w.request(&w.svc, &two)
        .await
        .expect("another rule is not frozen");
    let released = w.engine.endings.release(&w.dave, &g.id).await.unwrap();
    assert_eq!(released.state, GrantState::Ended);
    w.advance(601);
    w.engine.expiry.run_due().await.unwrap();
    assert_eq!(w.members(), vec![sid(CAROL)], "svc-ci's grant expired");
    assert_eq!(
        w.store.all_grants().len(),
        2,
        "the refused request stored nothing"
    );
}

#[tokio::test]
async fn freezing_every_role_is_shown_to_requesters_and_unfreezing_lets_them_in_again() {
    let w = world();
    let rule = w.rule("DBA").await;
    w.engine
        .emergency
        .freeze(
            &w.admin,
            &w.alice,
            FreezeScope::All,
            "breach under investigation",
        )
        .await
        .unwrap();
    let offer = w.engine.requests.roles_for(&w.dave).await.unwrap();
    assert_eq!(
        offer.all_frozen.as_ref().map(|f| f.reason.as_str()),
        Some("breach under investigation")
    );
    assert_eq!(offer.roles.len(), 1, "a frozen role is still shown");
    assert_eq!(
        offer.roles[0].frozen.as_ref().map(|f| &f.scope),
        Some(&FreezeScope::All)
    );
    let e = w.request(&w.dave, &rule).await.unwrap_err();
    assert_eq!(
        e,
        DomainError::FailedPrecondition(
            "requests for all roles are frozen by alice: breach under investigation".into()
        )
    );
    w.engine
        .emergency
        .unfreeze(&w.admin, &w.alice, FreezeScope::All)
        .await
        .unwrap();
    let offer = w.engine.requests.roles_for(&w.dave).await.unwrap();
    assert!(offer.all_frozen.is_none() && offer.roles[0].frozen.is_none());
    w.request(&w.dave, &rule)
        .await
        .expect("requests are open again");
    let e = w
        .engine
        .emergency
        .unfreeze(&w.admin, &w.alice, FreezeScope::All)
        .await
        .unwrap_err();
    assert!(matches!(e, DomainError::FailedPrecondition(_)), "{e:?}");
    assert_eq!(count(&w, AuditAction::RequestsFrozen), 1);
    assert_eq!(count(&w, AuditAction::RequestsUnfrozen), 1);
}

#[tokio::test]
async fn someone_outside_the_acl_is_refused_without_reading_the_freeze_reason() {
    let w = world();
    let rule = w.rule("DBA").await;
    w.engine
        .emergency
        .freeze(&w.admin, &w.alice, FreezeScope::All, "secret incident")
        .await
        .unwrap();
    let e = w.request(&w.alice, &rule).await.unwrap_err();
    assert!(matches!(e, DomainError::Denied(_)), "{e:?}");
    assert!(!e.to_string().contains("secret"), "{e}");
}

#[tokio::test]
async fn a_freeze_needs_a_reason_and_an_existing_rule() {
    let w = world();
    let e = w
        .engine
        .emergency
        .freeze(&w.admin, &w.alice, FreezeScope::All, " ")
        .await
        .unwrap_err();
    assert!(
        matches!(&e, DomainError::Invalid { field, .. } if field == "reason"),
        "{e:?}"
    );
    let e = w
        .engine
        .emergency
        .freeze(&w.admin, &w.alice, FreezeScope::Rule("nope".into()), "x")
        .await
        .unwrap_err();
    assert!(matches!(e, DomainError::NotFound { .. }), "{e:?}");
    assert!(
        w.engine
            .emergency
            .freezes(&w.admin)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(start_paused = true)]
async fn a_freeze_made_on_another_instance_holds_here_within_three_seconds() {
    let a = world_named("a");
    let b = engine_on(&a.store, &a.directory, &a.clock, "b");
    let rule = a.rule("DBA").await;
    assert!(
        b.requests
            .roles_for(&a.dave)
            .await
            .unwrap()
            .all_frozen
            .is_none()
    );
    a.engine
        .emergency
        .freeze(
            &a.admin,
            &a.alice,
            FreezeScope::Rule(rule.id.clone()),
            "incident",
        )
        .await
        .unwrap();
    let e = a.request(&a.dave, &rule).await.unwrap_err();
    assert!(
        matches!(e, DomainError::FailedPrecondition(_)),
        "at once here: {e:?}"
    );
    tokio::time::advance(Duration::from_secs(3)).await;
    let e = b
        .requests
        .request(&a.dave, &rule.id, Ask::default())
        .await
        .unwrap_err();
    assert!(
        matches!(e, DomainError::FailedPrecondition(_)),
        "there within 3 s: {e:?}"
    );
    assert!(a.store.all_grants().is_empty());
}
