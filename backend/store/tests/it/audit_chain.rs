//! The audit log's hash chain on SQLite and PostgreSQL: appending, verifying, what an edit by
//! hand looks like, and several instances appending at once.

use std::sync::Arc;

use chrono::{TimeDelta, TimeZone, Utc};
use jitroles_domain::{
    audit::{
        AuditAction, NewAudit,
        chain::{Break, Checkpoint, Head},
    },
    ports::GrantStore,
};
use jitroles_store::Database;
use sea_orm::{ConnectionTrait, TransactionTrait};

use crate::{
    databases::{self, TestDb},
    grants::open,
};

fn event(n: i64) -> NewAudit {
    NewAudit {
        at: Utc.with_ymd_and_hms(2026, 12, 4, 9, 0, 0).unwrap() + TimeDelta::milliseconds(n),
        action: AuditAction::Granted,
        actor: format!("person{n}"),
        rule_id: Some("r1".into()),
        grant_id: Some(format!("g{n}")),
        subject_account: Some("dave".into()),
        detail: format!("grant {n}"),
        source: (n % 2 == 0).then(|| "192.0.2.7".into()),
    }
}

async fn record(store: &Database, range: std::ops::Range<i64>) {
    for n in range {
        store.record_audit(event(n)).await.unwrap();
    }
}

async fn events_are_chained_once_and_verify_against_the_head(db: TestDb) {
    let store = open(&db).await;
    assert_eq!(store.chain_head().await.unwrap(), Head::EMPTY);
    assert_eq!(
        store.verify_chain(None).await.unwrap().map(|h| h.seq),
        Ok(0)
    );
    record(&store, 0..5).await;
    assert_eq!(store.unchained_audit_events().await.unwrap(), 5);
    assert_eq!(
        store.verify_chain(None).await.unwrap().map(|h| h.seq),
        Ok(0),
        "only chained events are verified"
    );

    assert_eq!(store.chain_audit().await.unwrap(), 5);
    assert_eq!(store.chain_audit().await.unwrap(), 0, "chained once");
    record(&store, 5..8).await;
    assert_eq!(store.chain_audit().await.unwrap(), 3);
    assert_eq!(store.chain_head().await.unwrap().seq, 8);
    assert_eq!(store.unchained_audit_events().await.unwrap(), 0);
    assert_eq!(
        store.verify_chain(None).await.unwrap().map(|h| h.seq),
        Ok(8)
    );
    let events = store.chained_events(0, 8, 100).await.unwrap();
    assert_eq!(
        events.iter().map(|e| e.chain_seq).collect::<Vec<_>>(),
        (1..=8).collect::<Vec<_>>()
    );
    assert_eq!(events[3].content.actor, "person3", "in record order");
    assert_eq!(
        store.chained_events(2, 4, 100).await.unwrap().len(),
        2,
        "a page after a place, up to a place"
    );
}

/// What an operator with SQL access does by hand, and what `audit verify` reports for it.
async fn a_row_edited_by_hand_is_named(db: TestDb) {
    let store = open(&db).await;
    record(&store, 0..6).await;
    store.chain_audit().await.unwrap();
    let victim = store.chained_events(3, 4, 1).await.unwrap().remove(0);
    let raw = sea_orm::Database::connect(&db.url).await.unwrap();
    raw.execute_unprepared(&format!(
        "UPDATE audit_events SET actor = 'someone else' WHERE id = {}",
        victim.content.id
    ))
    .await
    .unwrap();
    let Err(Break::Altered { event, .. }) = store.verify_chain(None).await.unwrap().map(|h| h.seq)
    else {
        panic!("the edit was not found")
    };
    assert_eq!((event.id, event.chain_seq), (victim.content.id, 4));

    // deleting a row instead leaves a gap where it was
    raw.execute_unprepared(&format!(
        "UPDATE audit_events SET actor = '{}' WHERE id = {}",
        victim.content.actor, victim.content.id
    ))
    .await
    .unwrap();
    assert_eq!(
        store.verify_chain(None).await.unwrap().map(|h| h.seq),
        Ok(6)
    );
    let second = store.chained_events(1, 2, 1).await.unwrap().remove(0);
    raw.execute_unprepared(&format!(
        "DELETE FROM audit_events WHERE id = {}",
        second.content.id
    ))
    .await
    .unwrap();
    assert!(matches!(
        store.verify_chain(None).await.unwrap().map(|h| h.seq),
        Err(Break::Gap {
            expected_seq: 2,
            ..
        })
    ));
}

/// A checkpoint holds what the database alone cannot: a tail rewritten with every hash and the
/// head recomputed, and a tail deleted with the head set back, both verify without it.
async fn a_rewritten_or_truncated_tail_is_found_against_a_checkpoint(db: TestDb) {
    let store = open(&db).await;
    record(&store, 0..6).await;
    store.chain_audit().await.unwrap();
    let head = store.chain_head().await.unwrap();
    let checkpoint = Checkpoint {
        seq: head.seq,
        hash: head.hash,
        at: Utc.with_ymd_and_hms(2026, 12, 4, 10, 0, 0).unwrap(),
    };
    assert_eq!(
        store
            .verify_chain(Some(checkpoint.clone()))
            .await
            .unwrap()
            .map(|h| h.seq),
        Ok(6)
    );
    let raw = sea_orm::Database::connect(&db.url).await.unwrap();

    // rewrite: event 4's detail changed, then every hash from 4 on recomputed as the chainer
    // would (unchain them and let it append them again)
    let fourth = store.chained_events(3, 4, 1).await.unwrap().remove(0);
    let third = store.chained_events(2, 3, 1).await.unwrap().remove(0);
    raw.execute_unprepared(&format!(
        "UPDATE audit_events SET detail = 'nothing happened' WHERE id = {}",
        fourth.content.id
    ))
    .await
    .unwrap();
    raw.execute_unprepared(
        "UPDATE audit_events SET chain_seq = NULL, chain_hash = NULL WHERE chain_seq > 3",
    )
    .await
    .unwrap();
    raw.execute_unprepared(&format!(
        "UPDATE audit_chain SET seq = 3, hash = '{}'",
        third.hash
    ))
    .await
    .unwrap();
    assert_eq!(store.chain_audit().await.unwrap(), 3);
    assert_eq!(
        store.verify_chain(None).await.unwrap().map(|h| h.seq),
        Ok(6),
        "consistent in itself"
    );
    let Err(Break::CheckpointDiffers { event, .. }) =
        store.verify_chain(Some(checkpoint.clone())).await.unwrap()
    else {
        panic!("the rewrite was not found")
    };
    assert_eq!(event.chain_seq, 6);

    // truncate: the last two deleted, the head set back to the fourth
    let fourth = store.chained_events(3, 4, 1).await.unwrap().remove(0);
    raw.execute_unprepared("DELETE FROM audit_events WHERE chain_seq > 4")
        .await
        .unwrap();
    raw.execute_unprepared(&format!(
        "UPDATE audit_chain SET seq = 4, hash = '{}'",
        fourth.hash
    ))
    .await
    .unwrap();
    assert_eq!(
        store.verify_chain(None).await.unwrap().map(|h| h.seq),
        Ok(4)
    );
    assert!(matches!(
        store
            .verify_chain(Some(checkpoint))
            .await
            .unwrap()
            .map(|h| h.seq),
        Err(Break::CheckpointMissing { last_seq: 4, .. })
    ));
}

/// Two instances (two connection pools) write events and append them at once: one chain,
/// every event in it once, places 1..N without a gap.
async fn instances_appending_at_once_keep_one_linear_chain(db: TestDb) {
    let first = Arc::new(open(&db).await);
    let second = Arc::new(Database::connect(&db.url).await.unwrap());
    let mut tasks = tokio::task::JoinSet::new();
    for (i, store) in [first.clone(), second.clone()].into_iter().enumerate() {
        let writer = store.clone();
        tasks.spawn(async move {
            let base = i as i64 * 1_000;
            for n in 0..60 {
                writer.record_audit(event(base + n)).await.unwrap();
                tokio::task::yield_now().await;
            }
        });
        tasks.spawn(async move {
            for _ in 0..40 {
                store.chain_audit().await.unwrap();
                tokio::task::yield_now().await;
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    first.chain_audit().await.unwrap();
    assert_eq!(
        second.verify_chain(None).await.unwrap().map(|h| h.seq),
        Ok(120)
    );
    // 120 places, each a distinct row (above), and none left out
    assert_eq!(
        first.unchained_audit_events().await.unwrap(),
        0,
        "every event once"
    );
}

on_both!(
    events_are_chained_once_and_verify_against_the_head,
    a_row_edited_by_hand_is_named,
    a_rewritten_or_truncated_tail_is_found_against_a_checkpoint,
    instances_appending_at_once_keep_one_linear_chain
);

/// PostgreSQL hands out ids at insert: an event whose transaction commits after a later id's
/// is chained after it, and not skipped.
#[tokio::test]
async fn an_event_committed_late_gets_a_later_place_on_postgres() {
    let Some(db) = databases::postgres().await else {
        return;
    };
    let store = open(&db).await;
    let raw = sea_orm::Database::connect(&db.url).await.unwrap();
    let late = raw.begin().await.unwrap();
    late.execute_unprepared(
        "INSERT INTO audit_events (at, action, actor, detail) \
         VALUES (now(), 'signed_in', 'late', '')",
    )
    .await
    .unwrap();
    record(&store, 0..3).await;
    assert_eq!(
        store.chain_audit().await.unwrap(),
        3,
        "the late one is not visible yet"
    );
    late.commit().await.unwrap();
    assert_eq!(store.chain_audit().await.unwrap(), 1);
    let events = store.chained_events(0, 10, 10).await.unwrap();
    let last = events.last().unwrap();
    assert_eq!((last.chain_seq, last.content.actor.as_str()), (4, "late"));
    assert!(
        last.content.id < events[0].content.id,
        "its id is the smallest"
    );
    assert_eq!(
        store.verify_chain(None).await.unwrap().map(|h| h.seq),
        Ok(4)
    );
}
