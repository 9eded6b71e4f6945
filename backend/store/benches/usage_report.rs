//! The usage report's reads over 1,000,000 grants: time and peak memory.
//!
//!     cargo bench -p jitroles-store --bench usage_report
//!
//! 1,000,000 ended grants of 40 rules by 20,000 people, one every 31.5 s over a year, and
//! 5,000 refusals, are written straight into a fresh SQLite file (multi-row inserts: the fill
//! is not what is measured). Then the report's reads run as the server's `Reports::usage`
//! runs them (without the directory walk, which the effective-access benchmark measures):
//! pages of 1,000 requests of the period and of the grants held into it, each folded into the
//! domain's `Tally`, then the refusals counted by the database and each rule's last use. Over
//! a 30-day period (about 82,000 grants) and over the whole year (every grant); VmHWM (peak
//! RSS) is reset before each, so each peak is the report's own.

#![allow(clippy::unwrap_used, clippy::disallowed_methods)] // a benchmark reads the clock

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use jitroles_domain::{
    access::{AclEntry, Effect, PrincipalKind},
    audit::{AuditAction, NewAudit},
    ports::{GrantStore, RuleStore},
    rule::{JustificationPolicy, RoleRule, RuleSpec, TargetGroup},
    usage::{Period, Tally},
};
use jitroles_store::Database;
use sea_orm::{
    ConnectionTrait, TransactionTrait,
    sea_query::{Alias, Query},
};

const GRANTS: i64 = 1_000_000;
const RULES: i64 = 40;
const PEOPLE: i64 = 20_000;
const ROWS_PER_INSERT: i64 = 400;
const PAGE: u32 = 1_000;

fn status(field: &str) -> String {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|l| l.starts_with(field))
        .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

fn rule_id(n: i64) -> String {
    format!("5e0c3a0e-0000-4000-8000-{n:012}")
}

fn rule(n: i64) -> RoleRule {
    RoleRule {
        id: rule_id(n),
        spec: RuleSpec {
            name: format!("Role {n:02}"),
            description: "bench".into(),
            acl: vec![AclEntry {
                principal: "S-1-5-21-1-2-3-1104".parse().unwrap(),
                display_name: "dba-oncall".into(),
                kind: PrincipalKind::Group,
                effect: Effect::Allow,
            }],
            max_duration: Some(Duration::from_secs(8 * 3600)),
            default_duration: Some(Duration::from_secs(3600)),
            allow_extension: true,
            max_total_duration: None,
            justification: Some(JustificationPolicy::Optional),
            enabled: true,
            expires_at: None,
            channels: Default::default(),
            approval: None,
            max_lead: None,
        }
        .validate(t0())
        .unwrap(),
        target: TargetGroup {
            sid: format!("S-1-5-21-1-2-3-{}", 5000 + n).parse().unwrap(),
            guid: format!("5e0c3a0e-0000-4000-9000-{n:012}"),
            dn: format!("CN=jit-role-{n},OU=JIT Roles,DC=example,DC=test"),
            name: format!("jit-role-{n}"),
        },
        version: 1,
        created_at: t0(),
        updated_at: t0(),
    }
}

async fn fill(url: &str) {
    let raw = sea_orm::Database::connect(url).await.unwrap();
    let columns = [
        "id",
        "rule_id",
        "rule_name",
        "group_sid",
        "group_guid",
        "group_dn",
        "group_name",
        "subject_sid",
        "subject_dn",
        "subject_account",
        "subject_display_name",
        "requested_by",
        "justification",
        "requested_at",
        "expires_at",
        "state",
        "mechanism",
        "extension_count",
        "ended_at",
        "end_reason",
        "version",
    ];
    let mut n = 0;
    while n < GRANTS {
        let tx = raw.begin().await.unwrap();
        let end = (n + 50_000).min(GRANTS);
        while n < end {
            let mut insert = Query::insert();
            insert
                .into_table(Alias::new("grants"))
                .columns(columns.map(Alias::new));
            for g in n..(n + ROWS_PER_INSERT).min(end) {
                let r = g % RULES;
                let p = (g * 7) % PEOPLE;
                let asked = t0() + TimeDelta::milliseconds(g * 31_500);
                // 10 minutes to 4 hours
                let held = TimeDelta::minutes(10 + (g * 13) % 230);
                insert.values_panic([
                    format!("7a1c0b2e-0000-4000-8000-{g:012}").into(),
                    rule_id(r).into(),
                    format!("Role {r:02}").into(),
                    format!("S-1-5-21-1-2-3-{}", 5000 + r).into(),
                    format!("5e0c3a0e-0000-4000-9000-{r:012}").into(),
                    format!("CN=jit-role-{r},OU=JIT Roles,DC=example,DC=test").into(),
                    format!("jit-role-{r}").into(),
                    format!("S-1-5-21-1-2-3-{}", 100_000 + p).into(),
                    format!("CN=person{p:05},CN=Users,DC=example,DC=test").into(),
                    format!("person{p:05}").into(),
                    format!("Person {p:05}").into(),
                    format!("person{p:05}").into(),
                    "database maintenance window, ticket CHG-20417".into(),
                    asked.into(),
                    (asked + held).into(),
                    "ended".into(),
                    "scheduled".into(),
                    0i32.into(),
                    Some(asked + held).into(),
                    Some("released").into(),
                    2i64.into(),
                ]);
            }
            tx.execute(&insert).await.unwrap();
            n = (n + ROWS_PER_INSERT).min(end);
        }
        tx.commit().await.unwrap();
    }
    raw.close().await.unwrap();
}

async fn report(store: &Database, period: Period, label: &str) {
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
    let before = status("VmRSS:");
    let t = Instant::now();
    let mut tally = Tally::new(period, period.to);
    for r in 0..RULES {
        tally.rule(&rule_id(r), &format!("Role {r:02}"));
    }
    let mut rows = 0u64;
    let mut after = None;
    loop {
        let page = store.usage_requested(&period, after, PAGE).await.unwrap();
        let Some(last) = page.last() else { break };
        after = Some((last.requested_at, last.id.clone()));
        rows += page.len() as u64;
        page.iter().for_each(|g| tally.grant(g));
    }
    let mut after: Option<String> = None;
    loop {
        let page = store
            .usage_held_into(&period, after.as_deref(), PAGE)
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        rows += page.len() as u64;
        page.iter().for_each(|g| tally.grant(g));
    }
    for (rule, count) in store.usage_refusals(&period).await.unwrap() {
        tally.refusals(&rule, count);
    }
    for rule in tally.rule_ids() {
        if let Some(at) = store.last_use(&rule, period.to).await.unwrap() {
            tally.last_use(&rule, at);
        }
    }
    let figures = tally.finish();
    let took = t.elapsed();
    let grants: u64 = figures.iter().map(|u| u.grants).sum();
    let refusals: u64 = figures.iter().map(|u| u.refusals).sum();
    println!(
        "{label}: {rows} rows ({grants} grants, {refusals} refusals) in {:.2} s ({:.0} rows/s); \
         VmRSS before {before}, peak (VmHWM) during {}",
        took.as_secs_f64(),
        rows as f64 / took.as_secs_f64(),
        status("VmHWM:")
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("usage.db");
    let url = format!("sqlite://{}", path.display());
    let store = Database::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let audit = |action, n: i64| NewAudit {
        at: t0() + TimeDelta::seconds(n * 6_307),
        action,
        actor: "someone".into(),
        rule_id: Some(rule_id(n % RULES)),
        grant_id: None,
        subject_account: Some("someone".into()),
        detail: "request refused: not allowed".into(),
        source: None,
    };
    for r in 0..RULES {
        store
            .create_rule(&rule(r), audit(AuditAction::RuleCreated, r))
            .await
            .unwrap();
    }
    let t = Instant::now();
    fill(&url).await;
    for n in 0..5_000 {
        store
            .record_audit(audit(AuditAction::RequestRefused, n))
            .await
            .unwrap();
    }
    println!(
        "filled {GRANTS} grants and 5,000 refusals in {:.1} s; database {} MB",
        t.elapsed().as_secs_f64(),
        std::fs::metadata(&path).unwrap().len() / 1_000_000
    );
    let june = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap();
    report(
        &store,
        Period::new(june, june + TimeDelta::days(30)).unwrap(),
        "30 days",
    )
    .await;
    report(
        &store,
        Period::new(t0(), t0() + TimeDelta::days(366)).unwrap(),
        "a year (every grant)",
    )
    .await;
    store.close().await;
}
