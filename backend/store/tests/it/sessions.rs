//! The session store's contract, on SQLite and PostgreSQL alike.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use jitroles_domain::session::{SessionPolicy, SessionStore, SignedIn};
use jitroles_store::Database;

use crate::databases::{self, TestDb};

const POLICY: SessionPolicy = SessionPolicy {
    idle: Duration::from_secs(30 * 60),
    absolute: Duration::from_secs(8 * 3600),
};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 27, 9, 0, 0).unwrap()
}

fn dave() -> SignedIn {
    SignedIn {
        account: "dave".into(),
        display_name: "Dave Dba".into(),
        subject: "dave".into(),
        id_token: Some("header.payload.signature".into()),
    }
}

async fn open(db: &TestDb) -> Database {
    let store = Database::connect(&db.url).await.unwrap();
    store.migrate().await.unwrap();
    store
}

async fn sessions_round_trip_and_end_once(db: TestDb) {
    let store = open(&db).await;
    let session = POLICY.open("a".repeat(64), dave(), t0());
    store.insert_session(&session).await.unwrap();
    assert_eq!(
        store.session(&session.key).await.unwrap(),
        Some(session.clone())
    );
    assert_eq!(store.session(&"b".repeat(64)).await.unwrap(), None);

    let later = t0() + TimeDelta::minutes(5);
    store.touch_session(&session.key, later).await.unwrap();
    let touched = store.session(&session.key).await.unwrap().unwrap();
    assert_eq!(touched.last_seen_at, later);

    assert!(store.end_session(&session.key, later).await.unwrap());
    assert!(
        !store.end_session(&session.key, later).await.unwrap(),
        "a session ends once"
    );
    let ended = store.session(&session.key).await.unwrap().unwrap();
    assert_eq!(ended.ended_at, Some(later));
    assert!(POLICY.check(&ended, later).is_err());
    store.close().await;
}

async fn purging_removes_only_sessions_that_no_longer_hold(db: TestDb) {
    let store = open(&db).await;
    let live = POLICY.open("1".repeat(64), dave(), t0());
    let idle = POLICY.open("2".repeat(64), dave(), t0() - TimeDelta::minutes(31));
    let ended = POLICY.open("3".repeat(64), dave(), t0());
    let old = POLICY.open("4".repeat(64), dave(), t0() - TimeDelta::hours(9));
    for s in [&live, &idle, &ended, &old] {
        store.insert_session(s).await.unwrap();
    }
    store.end_session(&ended.key, t0()).await.unwrap();
    assert_eq!(store.purge_sessions(POLICY, t0()).await.unwrap(), 3);
    assert!(store.session(&live.key).await.unwrap().is_some());
    for gone in [&idle, &ended, &old] {
        assert!(store.session(&gone.key).await.unwrap().is_none());
    }
    store.close().await;
}

on_both!(
    sessions_round_trip_and_end_once,
    purging_removes_only_sessions_that_no_longer_hold
);
