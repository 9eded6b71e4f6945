//! Rule history: every saved version of a rule kept whole, with who saved it and how, in the
//! transaction of the change; on SQLite, PostgreSQL and the in-memory stand-in alike.

use std::{sync::Arc, time::Duration};

use chrono::TimeDelta;
use jitroles_domain::{
    DomainError,
    access::{AclEntry, Effect, PrincipalKind},
    approval::ApprovalPolicy,
    audit::{AuditAction, NewAudit},
    ports::{RuleBatch, RuleStore},
    rule::RoleRule,
};
use sea_orm::ConnectionTrait;

use crate::{
    databases::{self, TestDb},
    grants::{Stores, audit, open, rule, t0},
};

fn by(actor: &str, action: AuditAction, minutes: i64) -> NewAudit {
    NewAudit {
        actor: actor.into(),
        at: t0() + TimeDelta::minutes(minutes),
        ..audit(action, None)
    }
}

fn next(r: &RoleRule, minutes: i64, change: impl FnOnce(&mut RoleRule)) -> RoleRule {
    let mut n = r.clone();
    n.version += 1;
    n.updated_at = t0() + TimeDelta::minutes(minutes);
    change(&mut n);
    n
}

async fn every_saved_version_is_kept_whole_with_who_saved_it(store: Arc<dyn Stores>) {
    let v1 = rule("r1", "DBA", 2000);
    store
        .create_rule(&v1, by("alice", AuditAction::RuleCreated, 0))
        .await
        .unwrap();
    let v2 = next(&v1, 5, |r| r.spec.max_duration = Duration::from_secs(1800));
    store
        .update_rule(&v2, 1, by("bob", AuditAction::RuleUpdated, 5))
        .await
        .unwrap();
    let v3 = next(&v2, 9, |r| {
        r.spec.approval = Some(ApprovalPolicy {
            approvers: vec![AclEntry {
                principal: "S-1-5-21-1-2-3-1110".parse().unwrap(),
                display_name: "dba-leads".into(),
                kind: PrincipalKind::Group,
                effect: Effect::Allow,
            }],
            required: 2,
            pending_window: Duration::from_secs(3600),
            break_glass: false,
            service_approvers: true,
        });
    });
    store
        .update_rule(&v3, 2, by("carol", AuditAction::RuleRestored, 9))
        .await
        .unwrap();
    let stale = next(&v2, 10, |r| r.spec.enabled = false);
    assert!(matches!(
        store
            .update_rule(&stale, 2, by("dave", AuditAction::RuleUpdated, 10))
            .await,
        Err(DomainError::Conflict(_))
    ));
    store
        .delete_rule("r1", 3, by("erin", AuditAction::RuleDeleted, 12))
        .await
        .unwrap();

    let history = store.rule_history("r1", 100).await.unwrap();
    let summary: Vec<(i64, &str, AuditAction)> = history
        .iter()
        .map(|v| (v.rule.version, v.actor.as_str(), v.action))
        .collect();
    assert_eq!(
        summary,
        [
            (4, "erin", AuditAction::RuleDeleted),
            (3, "carol", AuditAction::RuleRestored),
            (2, "bob", AuditAction::RuleUpdated),
            (1, "alice", AuditAction::RuleCreated),
        ],
        "newest first; the refused stale edit left no version"
    );
    for (kept, saved) in history[1..].iter().zip([&v3, &v2, &v1]) {
        assert_eq!(kept.rule.spec, saved.spec, "version {}", saved.version);
        assert_eq!(kept.rule.target, saved.target);
        assert_eq!(kept.at, saved.updated_at);
    }
    assert_eq!(
        history[0].rule.spec, v3.spec,
        "the deletion keeps the last settings"
    );
    assert_eq!(
        store
            .rule_version("r1", 2)
            .await
            .unwrap()
            .map(|v| v.rule.spec),
        Some(v2.spec),
        "a deleted rule's versions stay readable"
    );
    assert_eq!(store.rule_version("r1", 9).await.unwrap(), None);
    assert_eq!(
        store.rule_history("r1", 2).await.unwrap().len(),
        2,
        "at most the limit, newest first"
    );
    assert!(store.rule_history("nothing", 10).await.unwrap().is_empty());
}

/// A rule saved before the table existed: its current version is shown, and recorded by the
/// next change so the change has its "before".
async fn a_rule_saved_before_history_was_kept_gets_its_version_at_the_next_change(db: TestDb) {
    let store = open(&db).await;
    let v1 = rule("r1", "DBA", 2000);
    store
        .create_rule(&v1, by("alice", AuditAction::RuleCreated, 0))
        .await
        .unwrap();
    let raw = sea_orm::Database::connect(&db.url).await.unwrap();
    raw.execute_unprepared("DELETE FROM rule_versions")
        .await
        .unwrap();
    let shown = store.rule_history("r1", 10).await.unwrap();
    assert_eq!(shown.len(), 1);
    assert_eq!((shown[0].rule.version, shown[0].actor.as_str()), (1, ""));
    let v2 = next(&v1, 5, |r| r.spec.enabled = false);
    store
        .update_rule(&v2, 1, by("bob", AuditAction::RuleUpdated, 5))
        .await
        .unwrap();
    let history = store.rule_history("r1", 10).await.unwrap();
    let versions: Vec<(i64, &str)> = history
        .iter()
        .map(|v| (v.rule.version, v.actor.as_str()))
        .collect();
    assert_eq!(versions, [(2, "bob"), (1, "")]);
    assert_eq!(history[1].rule.spec, v1.spec);
}

/// A batch of rule changes (a rules file applied) is one transaction: a failure anywhere in
/// it leaves every rule, event and version as it was; a batch that passes writes them all.
async fn a_batch_of_rule_changes_is_written_whole_or_not_at_all(store: Arc<dyn Stores>) {
    let (a, b) = (rule("a", "A", 2000), rule("b", "B", 2001));
    for r in [&a, &b] {
        store
            .create_rule(r, by("alice", AuditAction::RuleCreated, 0))
            .await
            .unwrap();
    }
    let a2 = next(&a, 5, |r| r.spec.enabled = false);
    let c = rule("c", "C", 2002);
    let clash = rule("d", "a", 2003);
    let failing = RuleBatch {
        create: vec![
            (c.clone(), by("bob", AuditAction::RuleCreated, 5)),
            (clash, by("bob", AuditAction::RuleCreated, 5)),
        ],
        update: vec![(a2.clone(), 1, by("bob", AuditAction::RuleUpdated, 5))],
        delete: vec![("b".into(), 1, by("bob", AuditAction::RuleDeleted, 5))],
    };
    let refused = store.apply_rules(failing).await.unwrap_err();
    assert!(
        matches!(refused, DomainError::AlreadyExists(_)),
        "{refused:?}"
    );
    let names = |rules: Vec<RoleRule>| {
        rules
            .into_iter()
            .map(|r| (r.spec.name, r.version))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(store.rules().await.unwrap()),
        [("A".to_owned(), 1), ("B".to_owned(), 1)],
        "nothing of the failed batch stays"
    );
    assert_eq!(store.rule_history("a", 10).await.unwrap().len(), 1);
    assert!(store.rule_history("c", 10).await.unwrap().is_empty());

    let passing = RuleBatch {
        create: vec![(c, by("bob", AuditAction::RuleCreated, 6))],
        update: vec![(a2, 1, by("bob", AuditAction::RuleUpdated, 6))],
        delete: vec![("b".into(), 1, by("bob", AuditAction::RuleDeleted, 6))],
    };
    store.apply_rules(passing).await.unwrap();
    assert_eq!(
        names(store.rules().await.unwrap()),
        [("A".to_owned(), 2), ("C".to_owned(), 1)]
    );
    for (id, newest) in [
        ("a", AuditAction::RuleUpdated),
        ("b", AuditAction::RuleDeleted),
    ] {
        assert_eq!(store.rule_history(id, 1).await.unwrap()[0].action, newest);
    }
}

on_all!(
    every_saved_version_is_kept_whole_with_who_saved_it,
    a_batch_of_rule_changes_is_written_whole_or_not_at_all
);

mod before_history {
    use super::*;
    on_both!(a_rule_saved_before_history_was_kept_gets_its_version_at_the_next_change);
}
