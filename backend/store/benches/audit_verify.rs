//! `audit verify` over 1,000,000 events: time and peak memory.
//!
//!     cargo bench -p jitroles-store --bench audit_verify
//!
//! The events are written straight into a fresh SQLite file (multi-row inserts with their
//! chain places and hashes computed here, by the domain's `chain::append`: the fill is not
//! what is measured). Then `Database::verify_chain` (what `jitroles audit verify` runs) walks
//! 100,000 and later all 1,000,000 of them; VmHWM (peak RSS) is reset before each walk
//! (`/proc/self/clear_refs`), so each peak is the walk's own. Last, 10,000 unchained events
//! are appended by `chain_audit` (the server's chainer) to time that path too.

#![allow(clippy::unwrap_used, clippy::disallowed_methods)] // a benchmark reads the clock

use std::time::Instant;

use chrono::{TimeDelta, TimeZone, Utc};
use jitroles_domain::audit::chain::{self, EventContent, Head};
use jitroles_store::Database;
use sea_orm::{
    ConnectionTrait, TransactionTrait,
    sea_query::{Alias, Query},
};

const EVENTS: u64 = 1_000_000;
const ROWS_PER_INSERT: u64 = 500;

fn status(field: &str) -> String {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|l| l.starts_with(field))
        .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn content(n: u64) -> EventContent {
    let actions = ["requested", "granted", "released", "expired", "ended"];
    EventContent {
        id: n as i64,
        at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
            + TimeDelta::milliseconds(n as i64 * 250),
        action: actions[(n % 5) as usize].into(),
        actor: format!("person{:05}", n % 20_000),
        rule_id: Some(format!("5e0c3a0e-0000-4000-8000-{:012}", n % 40)),
        grant_id: Some(format!("7a1c0b2e-0000-4000-8000-{:012}", n / 5)),
        subject_account: Some(format!("person{:05}", n % 20_000)),
        detail: "database maintenance window, ticket CHG-20417".into(),
        source: n.is_multiple_of(7).then(|| "2001:db8::17".into()),
    }
}

/// Writes events `from..to` (ids and places alike), chained after `head` unless `unchained`.
async fn fill(url: &str, from: u64, to: u64, head: Head, unchained: bool) -> Head {
    let raw = sea_orm::Database::connect(url).await.unwrap();
    let mut head = head;
    let mut n = from;
    while n < to {
        let tx = raw.begin().await.unwrap();
        let end = (n + 50_000).min(to);
        while n < end {
            let batch: Vec<_> = (n..(n + ROWS_PER_INSERT).min(end)).map(content).collect();
            let (links, next) = chain::append(head, &batch);
            let mut insert = Query::insert();
            insert.into_table(Alias::new("audit_events")).columns(
                [
                    "id",
                    "at",
                    "action",
                    "actor",
                    "rule_id",
                    "grant_id",
                    "subject_account",
                    "detail",
                    "source",
                    "chain_seq",
                    "chain_hash",
                ]
                .map(Alias::new),
            );
            for (e, (seq, hash)) in batch.iter().zip(links) {
                let (seq, hash) = if unchained {
                    (None, None)
                } else {
                    (Some(seq as i64), Some(chain::to_hex(&hash)))
                };
                insert.values_panic([
                    e.id.into(),
                    e.at.into(),
                    e.action.clone().into(),
                    e.actor.clone().into(),
                    e.rule_id.clone().into(),
                    e.grant_id.clone().into(),
                    e.subject_account.clone().into(),
                    e.detail.clone().into(),
                    e.source.clone().into(),
                    seq.into(),
                    hash.into(),
                ]);
            }
            tx.execute(&insert).await.unwrap();
            if !unchained {
                head = next;
            }
            n += batch.len() as u64;
        }
        tx.commit().await.unwrap();
    }
    raw.execute_unprepared(&format!(
        "UPDATE audit_chain SET seq = {}, hash = '{}'",
        head.seq,
        chain::to_hex(&head.hash)
    ))
    .await
    .unwrap();
    raw.close().await.unwrap();
    head
}

async fn walk(store: &Database, expected: u64) {
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
    let before = status("VmRSS:");
    let t = Instant::now();
    let checked = store
        .verify_chain(None)
        .await
        .unwrap()
        .map(|h| h.seq)
        .unwrap();
    let took = t.elapsed();
    assert_eq!(checked, expected);
    println!(
        "verify {checked:>9} events: {:6.2} s, {:>7.0} events/s; VmRSS before {before}, peak (VmHWM) during {}",
        took.as_secs_f64(),
        checked as f64 / took.as_secs_f64(),
        status("VmHWM:")
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let url = format!("sqlite://{}", path.display());
    let store = Database::connect(&url).await.unwrap();
    store.migrate().await.unwrap();

    let t = Instant::now();
    let head = fill(&url, 1, 100_001, Head::EMPTY, false).await;
    walk(&store, 100_000).await;
    fill(&url, 100_001, EVENTS + 1, head, false).await;
    println!(
        "filled {EVENTS} events in {:.1} s; database {} MB",
        t.elapsed().as_secs_f64(),
        std::fs::metadata(&path).unwrap().len() / 1_000_000
    );
    walk(&store, EVENTS).await;

    let head = store.chain_head().await.unwrap();
    fill(&url, EVENTS + 1, EVENTS + 10_001, head, true).await;
    let t = Instant::now();
    let chained = store.chain_audit().await.unwrap();
    println!(
        "chain_audit appended {chained} events in {:.2} s ({:.0} events/s)",
        t.elapsed().as_secs_f64(),
        chained as f64 / t.elapsed().as_secs_f64()
    );
    assert_eq!(
        store
            .verify_chain(None)
            .await
            .unwrap()
            .map(|h| h.seq)
            .unwrap(),
        EVENTS + 10_000
    );
    store.close().await;
}
