use chrono::{TimeZone, Utc};
use jitroles_domain::{ports::Store, system::DatabaseKind};
use jitroles_store::Database;

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
