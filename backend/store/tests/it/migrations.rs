use chrono::{TimeZone, Utc};
use jitroles_domain::{
    DomainError,
    audit::{AuditAction, NewAudit},
    ports::{NotificationStore, RuleStore, Store},
    system::DatabaseKind,
};
use jitroles_store::Database;
use sea_orm::{
    ConnectionTrait,
    sea_query::{Alias, Query, SimpleExpr},
};

use crate::databases::{self, TestDb};

async fn up_down_up(db: TestDb, kind: DatabaseKind) {
    let now = Utc.with_ymd_and_hms(2026, 11, 27, 9, 0, 0).unwrap();
    let store = Database::connect(&db.url).await.unwrap();
    assert_eq!(store.kind(), kind);
    let total = store.pending_migrations().await.unwrap();
    assert!(total > 0);

    assert_eq!(store.migrate().await.unwrap(), total);
    assert_eq!(store.pending_migrations().await.unwrap(), 0);
    let first = store.installation(now).await.unwrap();
    assert_eq!(first.database, kind);
    // the first sign-in key offered is kept; later offers get it back
    let key = store.sign_in_key(&"first-key".into()).await.unwrap();
    assert_eq!(key.expose(), "first-key");
    let again = store.sign_in_key(&"second-key".into()).await.unwrap();
    assert_eq!(again.expose(), "first-key");

    store.rollback_all().await.unwrap();
    assert_eq!(store.pending_migrations().await.unwrap(), total);
    assert!(
        store.installation(now).await.is_err(),
        "the schema is gone after rolling back"
    );

    assert_eq!(store.migrate().await.unwrap(), total);
    let again = store.installation(now).await.unwrap();
    assert_ne!(
        again.id, first.id,
        "a fresh schema makes a fresh installation"
    );
    assert_eq!(
        store.migrate().await.unwrap(),
        0,
        "migrating twice is a no-op"
    );
    store.close().await;
}

#[tokio::test]
async fn migrations_run_up_down_up_on_sqlite() {
    up_down_up(databases::sqlite(), DatabaseKind::Sqlite).await;
}

#[tokio::test]
async fn migrations_run_up_down_up_on_postgres() {
    let Some(db) = databases::postgres().await else {
        return;
    };
    up_down_up(db, DatabaseKind::Postgres).await;
}

/// Several instances starting at once on an empty installation table: one insert wins, and
/// every instance reports the winner's id.
async fn instances_starting_together_agree_on_one_installation(db: TestDb) {
    let now = Utc.with_ymd_and_hms(2026, 11, 27, 9, 0, 0).unwrap();
    Database::connect(&db.url)
        .await
        .unwrap()
        .migrate()
        .await
        .unwrap();
    let mut starting = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let store = Database::connect(&db.url).await.unwrap();
        starting.spawn(async move { store.installation(now).await.unwrap().id });
    }
    let ids: Vec<String> = starting.join_all().await;
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
}

#[tokio::test]
async fn instances_agree_on_one_installation_on_sqlite() {
    instances_starting_together_agree_on_one_installation(databases::sqlite()).await;
}

#[tokio::test]
async fn instances_agree_on_one_installation_on_postgres() {
    let Some(db) = databases::postgres().await else {
        return;
    };
    instances_starting_together_agree_on_one_installation(db).await;
}

/// `create_rule_channels` moves each rule's JSON channel lists into `rule_channels`, in
/// order, leaving out ids of channels that are gone; afterwards the foreign keys keep a
/// listed channel from being deleted, and a soft-deleted rule no longer holds it.
async fn rule_channels_are_carried_over_from_the_json_lists(db: TestDb) {
    let now = Utc.with_ymd_and_hms(2026, 11, 27, 9, 0, 0).unwrap();
    let store = Database::connect(&db.url).await.unwrap();
    store
        .migrate_until("m20261129_233000_create_rule_channels")
        .await
        .unwrap();
    let raw = sea_orm::Database::connect(&db.url).await.unwrap();
    let insert = |table: &str, values: Vec<(&str, SimpleExpr)>| {
        let (columns, values): (Vec<_>, Vec<_>) = values.into_iter().unzip();
        Query::insert()
            .into_table(Alias::new(table))
            .columns(columns.into_iter().map(Alias::new))
            .values_panic(values)
            .to_owned()
    };
    for id in ["c1", "c2", "c3"] {
        let row = insert(
            "channels",
            vec![
                ("id", id.into()),
                ("name", id.into()),
                ("name_key", id.into()),
                ("transport", "{}".into()),
                ("lifecycle", "[]".into()),
                ("enabled", true.into()),
                ("version", 1i64.into()),
                ("created_at", now.into()),
                ("updated_at", now.into()),
            ],
        );
        raw.execute(&row).await.unwrap();
    }
    let rule = |id: &str, success: &str, failure: &str, deleted: bool| {
        insert(
            "rules",
            vec![
                ("id", id.into()),
                ("name", id.into()),
                ("name_key", id.into()),
                ("description", "".into()),
                ("target_sid", "S-1-5-21-1-2-3-2000".into()),
                ("target_guid", "5e0c3a0e-0000-4000-8000-000000000001".into()),
                ("target_dn", "CN=jit-role-dba".into()),
                ("target_name", "jit-role-dba".into()),
                ("acl", "[]".into()),
                ("max_duration_secs", 3600i64.into()),
                ("default_duration_secs", 600i64.into()),
                ("allow_extension", true.into()),
                ("justification", "required".into()),
                ("enabled", true.into()),
                ("version", 1i64.into()),
                ("created_at", now.into()),
                ("updated_at", now.into()),
                ("deleted_at", deleted.then_some(now).into()),
                ("success_channels", success.into()),
                ("failure_channels", failure.into()),
            ],
        )
    };
    for row in [
        rule("r1", r#"["c2","c1"]"#, r#"["gone","c2"]"#, false),
        rule("r2", "[]", "[]", false),
        rule("r3", r#"["c3"]"#, "[]", true),
    ] {
        raw.execute(&row).await.unwrap();
    }
    raw.close().await.ok();

    store.migrate().await.unwrap();
    let r1 = store.rule("r1").await.unwrap().unwrap();
    assert_eq!(r1.spec.channels.success, ["c2", "c1"], "in order");
    assert_eq!(
        r1.spec.channels.failure,
        ["c2"],
        "a deleted channel is left out"
    );
    let r2 = store.rule("r2").await.unwrap().unwrap();
    assert!(r2.spec.channels.success.is_empty() && r2.spec.channels.failure.is_empty());
    assert_eq!(
        store.rules().await.unwrap()[0].spec.channels,
        r1.spec.channels
    );

    let audit = || NewAudit {
        at: now,
        action: AuditAction::ChannelDeleted,
        actor: "alice".into(),
        rule_id: None,
        grant_id: None,
        subject_account: None,
        detail: String::new(),
        source: None,
    };
    let in_use = store.delete_channel("c1", 1, audit()).await.unwrap_err();
    assert!(
        matches!(&in_use, DomainError::FailedPrecondition(m) if m.contains("r1")),
        "{in_use:?}"
    );
    store
        .delete_channel("c3", 1, audit())
        .await
        .expect("only a deleted rule listed it");
    store
        .rollback_all()
        .await
        .expect("down writes the lists back to JSON, with rows there");
    store.close().await;
}

#[tokio::test]
async fn rule_channels_are_carried_over_on_sqlite() {
    rule_channels_are_carried_over_from_the_json_lists(databases::sqlite()).await;
}

#[tokio::test]
async fn rule_channels_are_carried_over_on_postgres() {
    let Some(db) = databases::postgres().await else {
        return;
    };
    rule_channels_are_carried_over_from_the_json_lists(db).await;
}

/// Events stored before the chain existed are appended to it, in id order, the first time the
/// chainer runs, and verify.
async fn events_from_before_the_chain_are_chained_in_id_order(db: TestDb) {
    let now = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
    let store = Database::connect(&db.url).await.unwrap();
    store
        .migrate_until("m20261204_090000_chain_audit_events")
        .await
        .unwrap();
    let raw = sea_orm::Database::connect(&db.url).await.unwrap();
    for (i, actor) in ["alice", "dave", "jitroles"].into_iter().enumerate() {
        let row = Query::insert()
            .into_table(Alias::new("audit_events"))
            .columns(["at", "action", "actor", "detail", "source"].map(Alias::new))
            .values_panic([
                (now + chrono::TimeDelta::seconds(i as i64)).into(),
                "rule_created".into(),
                actor.into(),
                format!("event {i}").into(),
                Option::<String>::None.into(),
            ])
            .to_owned();
        raw.execute(&row).await.unwrap();
    }
    raw.close().await.ok();

    store.migrate().await.unwrap();
    assert_eq!(store.unchained_audit_events().await.unwrap(), 3);
    assert_eq!(store.chain_audit().await.unwrap(), 3);
    assert_eq!(
        store.verify_chain(None).await.unwrap().map(|h| h.seq),
        Ok(3)
    );
    let chained = store.chained_events(0, 3, 10).await.unwrap();
    assert_eq!(
        chained
            .iter()
            .map(|e| e.content.actor.as_str())
            .collect::<Vec<_>>(),
        ["alice", "dave", "jitroles"]
    );
    store
        .rollback_all()
        .await
        .expect("down drops the chain with rows there");
    store.close().await;
}

#[tokio::test]
async fn events_from_before_the_chain_are_chained_on_sqlite() {
    events_from_before_the_chain_are_chained_in_id_order(databases::sqlite()).await;
}

#[tokio::test]
async fn events_from_before_the_chain_are_chained_on_postgres() {
    let Some(db) = databases::postgres().await else {
        return;
    };
    events_from_before_the_chain_are_chained_in_id_order(db).await;
}
