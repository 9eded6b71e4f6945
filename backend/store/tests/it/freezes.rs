//! Freezes of requests: kept until unfrozen, each change with its audit event, on SQLite,
//! PostgreSQL and the in-memory stand-in alike; on the databases, seen by every instance and
//! kept across restarts.

use std::sync::Arc;

use chrono::TimeDelta;
use jitroles_domain::{
    DomainError,
    audit::{AuditAction, AuditFilter},
    freeze::{Freeze, FreezeScope},
    page::PageRequest,
};

use crate::{
    databases::{self, TestDb},
    grants::{Stores, audit, open, rule, t0},
};

fn frozen(scope: FreezeScope, reason: &str) -> Freeze {
    Freeze {
        scope,
        reason: reason.into(),
        frozen_by: "alice".into(),
        frozen_at: t0(),
    }
}

async fn actions(store: &Arc<dyn Stores>) -> Vec<AuditAction> {
    let mut events = store
        .audit_events(
            &AuditFilter::default(),
            PageRequest::parse(200, "").unwrap(),
        )
        .await
        .unwrap()
        .items;
    events.reverse();
    events.into_iter().map(|e| e.event.action).collect()
}

async fn a_freeze_holds_until_unfrozen_and_every_change_is_audited(store: Arc<dyn Stores>) {
    let r = rule("r1", "DBA", 2000);
    store
        .create_rule(&r, audit(AuditAction::RuleCreated, None))
        .await
        .unwrap();
    assert!(store.freezes().await.unwrap().is_empty());
    let of_rule = frozen(FreezeScope::Rule(r.id.clone()), "incident 42");
    store
        .freeze(&of_rule, audit(AuditAction::RequestsFrozen, None))
        .await
        .unwrap();
    let everything = frozen(FreezeScope::All, "breach");
    store
        .freeze(&everything, audit(AuditAction::RequestsFrozen, None))
        .await
        .unwrap();
    assert_eq!(
        store.freezes().await.unwrap(),
        vec![everything.clone(), of_rule.clone()],
        "every role's first"
    );

    // freezing again replaces the reason
    let later = Freeze {
        reason: "incident 42, still".into(),
        frozen_at: t0() + TimeDelta::minutes(5),
        ..of_rule.clone()
    };
    store
        .freeze(&later, audit(AuditAction::RequestsFrozen, None))
        .await
        .unwrap();
    assert_eq!(
        store.freezes().await.unwrap(),
        vec![everything, later.clone()]
    );

    store
        .unfreeze(
            &FreezeScope::All,
            audit(AuditAction::RequestsUnfrozen, None),
        )
        .await
        .unwrap();
    assert_eq!(store.freezes().await.unwrap(), vec![later]);
    let again = store
        .unfreeze(
            &FreezeScope::All,
            audit(AuditAction::RequestsUnfrozen, None),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(again, DomainError::FailedPrecondition(_)),
        "{again:?}"
    );
    assert_eq!(
        actions(&store).await,
        [
            AuditAction::RuleCreated,
            AuditAction::RequestsFrozen,
            AuditAction::RequestsFrozen,
            AuditAction::RequestsFrozen,
            AuditAction::RequestsUnfrozen,
        ],
        "a refused unfreeze writes nothing"
    );
}

async fn deleting_a_rule_drops_its_freeze(store: Arc<dyn Stores>) {
    let r = rule("r1", "DBA", 2000);
    store
        .create_rule(&r, audit(AuditAction::RuleCreated, None))
        .await
        .unwrap();
    store
        .freeze(
            &frozen(FreezeScope::Rule(r.id.clone()), "x"),
            audit(AuditAction::RequestsFrozen, None),
        )
        .await
        .unwrap();
    store
        .delete_rule(&r.id, 1, audit(AuditAction::RuleDeleted, None))
        .await
        .unwrap();
    assert!(store.freezes().await.unwrap().is_empty());
}

async fn a_freeze_is_seen_by_every_instance_and_survives_a_restart(db: TestDb) {
    let one = open(&db).await;
    let two = open(&db).await;
    let everything = frozen(FreezeScope::All, "breach");
    {
        use jitroles_domain::ports::RuleStore;
        one.freeze(&everything, audit(AuditAction::RequestsFrozen, None))
            .await
            .unwrap();
        assert_eq!(two.freezes().await.unwrap(), vec![everything.clone()]);
        drop(one);
        drop(two);
        let restarted = open(&db).await;
        assert_eq!(restarted.freezes().await.unwrap(), vec![everything]);
    }
}

on_all!(
    a_freeze_holds_until_unfrozen_and_every_change_is_audited,
    deleting_a_rule_drops_its_freeze
);

mod instances {
    use super::*;
    on_both!(a_freeze_is_seen_by_every_instance_and_survives_a_restart);
}
