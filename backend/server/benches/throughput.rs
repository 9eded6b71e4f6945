//! Grant throughput: how many grants per second jitroles sustains on the real Samba DC, on
//! SQLite with one instance and on PostgreSQL with one and with two instances, next to what
//! the DC itself sustains with raw LDAP modifies at the same concurrency:
//!
//!     eval "$(scripts/ad up)" && eval "$(scripts/oidc up)" && eval "$(scripts/postgres up)" \
//!       && cargo bench -p jitroles-server --bench throughput
//!
//! Setup: `WORKERS` role groups made for the run in OU=JIT Roles, one rule on each; one
//! worker per rule (svc-ci, the ci-bot token), each a native gRPC client of its own that
//! requests the role and releases it again, for `SECONDS` after a warm-up. With two instances
//! the workers alternate between them. A grant counts when RequestRole has replied (the member
//! is in AD then); each also costs a ReleaseGrant, a second directory write. Raw: the same
//! number of LDAPS connections as jit-svc, each adding and deleting svc-ci in its own group.

#![allow(clippy::unwrap_used, clippy::disallowed_methods)] // a benchmark reads the clock

use std::{
    collections::HashSet,
    time::{Duration, Instant},
};

use jitroles_proto::v1::{self as pb, role_service_client::RoleServiceClient};
use ldap3::{Mod, Scope, SearchEntry};
use tonic::transport::Channel;

mod support;

use support::{authorized, env};

const WORKERS: usize = 8;
const SECONDS: u64 = 20;

fn group_dn(i: usize) -> String {
    support::group_dn(&format!("jit-bench-tp-{i}"))
}

/// Adds per second over `SECONDS` of `WORKERS` concurrent add+delete loops.
async fn raw() -> f64 {
    let mut svc = support::ldaps(&env("AD_SVC_DN"), &env("AD_SVC_PASS")).await;
    let (found, _) = svc
        .search(
            &env("AD_BASE_DN"),
            Scope::Subtree,
            "(sAMAccountName=svc-ci)",
            vec!["distinguishedName"],
        )
        .await
        .unwrap()
        .success()
        .unwrap();
    let svc_ci = SearchEntry::construct(found.into_iter().next().unwrap()).dn;
    let end = Instant::now() + Duration::from_secs(SECONDS);
    let tasks: Vec<_> = (0..WORKERS)
        .map(|i| {
            let svc_ci = svc_ci.clone();
            tokio::spawn(async move {
                let mut ldap = support::ldaps(&env("AD_SVC_DN"), &env("AD_SVC_PASS")).await;
                let mut adds = 0u64;
                while Instant::now() < end {
                    for change in [Mod::Add, Mod::Delete] {
                        ldap.modify(
                            &group_dn(i),
                            vec![change("member", HashSet::from([svc_ci.as_str()]))],
                        )
                        .await
                        .unwrap()
                        .success()
                        .unwrap();
                    }
                    adds += 1;
                }
                adds
            })
        })
        .collect();
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    total as f64 / SECONDS as f64
}

/// A fresh database on the test PostgreSQL.
async fn postgres() -> String {
    let admin_url = env("JITROLES_TEST_POSTGRES_URL");
    let name = format!("jit_bench_{}", uuid::Uuid::new_v4().simple());
    let admin = sea_orm::Database::connect(&admin_url).await.unwrap();
    sea_orm::ConnectionTrait::execute_unprepared(&admin, &format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    let (base, _) = admin_url.rsplit_once('/').unwrap();
    let url = format!("{base}/{name}");
    // several instances on PostgreSQL: migrations are an explicit step (`jitroles migrate`)
    let db = jitroles_store::Database::connect(&url).await.unwrap();
    db.migrate().await.unwrap();
    db.close().await;
    url
}

/// Request-and-release loops through `instances` servers on `database`; grants per second
/// and the p50/p99 of RequestRole in ms.
async fn through_jitroles(database: Option<String>, instances: usize) -> (f64, f64, f64) {
    let dir = tempfile::tempdir().unwrap();
    let config = support::config(dir.path(), database);
    let mut servers = Vec::new();
    for _ in 0..instances {
        servers.push(jitroles_server::start(&config).await.unwrap());
    }
    let token = support::ci_bot_token().await;
    let mut rules = Vec::new();
    for i in 0..WORKERS {
        let channel = Channel::from_shared(format!("http://{}", servers[0].addr()))
            .unwrap()
            .connect()
            .await
            .unwrap();
        rules.push(
            support::oncall_rule(
                channel,
                &token,
                &format!("tp {i}"),
                &format!("jit-bench-tp-{i}"),
            )
            .await,
        );
    }
    let warm = Instant::now() + Duration::from_secs(2);
    let end = warm + Duration::from_secs(SECONDS);
    let tasks: Vec<_> = rules
        .into_iter()
        .enumerate()
        .map(|(i, rule_id)| {
            let url = format!("http://{}", servers[i % instances].addr());
            let token = token.clone();
            tokio::spawn(async move {
                let channel = Channel::from_shared(url).unwrap().connect().await.unwrap();
                let mut roles = RoleServiceClient::new(channel);
                let mut micros = Vec::new();
                loop {
                    let t = Instant::now();
                    if t >= end {
                        return micros;
                    }
                    let grant = roles
                        .request_role(authorized(
                            &token,
                            pb::RequestRoleRequest {
                                rule_id: rule_id.clone(),
                                ..Default::default()
                            },
                        ))
                        .await
                        .unwrap()
                        .into_inner();
                    if t >= warm {
                        micros.push(t.elapsed().as_secs_f64() * 1e6);
                    }
                    roles
                        .release_grant(authorized(
                            &token,
                            pb::ReleaseGrantRequest { grant_id: grant.id },
                        ))
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    let mut micros = Vec::new();
    for t in tasks {
        micros.extend(t.await.unwrap());
    }
    for s in servers {
        s.shutdown().await.unwrap();
    }
    let rate = micros.len() as f64 / SECONDS as f64;
    let (p50, p99, _) = support::percentiles(&mut micros);
    (rate, p50 / 1000.0, p99 / 1000.0)
}

#[tokio::main]
async fn main() {
    let names: Vec<String> = (0..WORKERS).map(|i| format!("jit-bench-tp-{i}")).collect();
    support::make_groups(&names).await;
    println!("{WORKERS} workers, {SECONDS} s each");
    println!(
        "raw LDAP modify (add + delete), {WORKERS} connections: {:.0} adds/s",
        raw().await
    );
    for (what, database, instances) in [
        ("SQLite, one instance", None, 1),
        ("PostgreSQL, one instance", Some(postgres().await), 1),
        ("PostgreSQL, two instances", Some(postgres().await), 2),
    ] {
        let (rate, p50, p99) = through_jitroles(database, instances).await;
        println!(
            "{what}: {rate:.0} grants/s (each also released), RequestRole p50 {p50:.1} ms, p99 {p99:.1} ms"
        );
    }
    support::drop_groups(&names).await;
}
