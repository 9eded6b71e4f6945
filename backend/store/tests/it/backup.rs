//! `jitroles backup`: an online SQLite snapshot that knows it is one once restored.

use chrono::{TimeZone, Utc};
use jitroles_domain::{
    audit::AuditAction,
    ports::{GrantStore, RuleStore},
};
use jitroles_store::{Database, StoreError};

use crate::{
    databases,
    grants::{audit, grant, open, rule},
};

#[tokio::test]
async fn a_backup_is_a_marked_snapshot_of_the_running_database() {
    let db = databases::sqlite();
    let live = open(&db).await;
    let r = rule("r1", "DBA", 2000);
    live.create_rule(&r, audit(AuditAction::RuleCreated, None))
        .await
        .unwrap();
    let before = grant("g1", &r, 10);
    live.insert_grant(&before, audit(AuditAction::Requested, Some(&before)))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let copy_path = dir.path().join("snapshot.db");
    let taken_at = Utc.with_ymd_and_hms(2026, 12, 2, 9, 30, 0).unwrap();

    live.backup_to(&copy_path, taken_at).await.unwrap();
    // written after the snapshot: not in it
    let mut after = grant("g2", &r, 10);
    after.subject.sid = "S-1-5-21-1-2-3-4242".parse().unwrap();
    after.subject.dn = "CN=Someone Else,CN=Users,DC=example,DC=test".into();
    live.insert_grant(&after, audit(AuditAction::Requested, Some(&after)))
        .await
        .unwrap();

    let copy = Database::connect(&format!("sqlite://{}", copy_path.display()))
        .await
        .unwrap();
    assert_eq!(copy.pending_migrations().await.unwrap(), 0);
    assert_eq!(copy.snapshot_taken_at().await.unwrap(), Some(taken_at));
    assert!(copy.grant("g1").await.unwrap().is_some());
    assert!(copy.grant("g2").await.unwrap().is_none());
    assert_eq!(live.snapshot_taken_at().await.unwrap(), None);

    copy.snapshot_reviewed().await.unwrap();
    assert_eq!(copy.snapshot_taken_at().await.unwrap(), None);
    copy.close().await;

    let again = live.backup_to(&copy_path, taken_at).await.unwrap_err();
    assert!(
        matches!(&again, StoreError::Backup(why) if why.contains("already exists")),
        "{again}"
    );
}

#[tokio::test]
async fn postgres_is_backed_up_with_its_own_tools() {
    let Some(db) = databases::postgres().await else {
        return;
    };
    let live = open(&db).await;
    let dir = tempfile::tempdir().unwrap();
    let refused = live
        .backup_to(&dir.path().join("x.db"), crate::grants::t0())
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("pg_dump"), "{refused}");
    assert_eq!(live.snapshot_taken_at().await.unwrap(), None);
}
