//! Directory adapter throughput and latency against the real Samba DC (`scripts/ad up`).
//!
//!     eval "$(scripts/ad up)" && cargo bench -p jitroles-directory --bench directory
//!
//! 1. add+remove round trips per second through the adapter vs. the same two modify
//!    operations as raw ldap3 calls on one LDAPS connection (same DC, same group, same values),
//!    plain and with the adapter's per-operation timeout, in alternating rounds so drift hits
//!    all alike;
//! 2. tokenGroups resolution latency (p50/p99) through the adapter.
//!
//! Loopback only; every loop is bounded.

#![allow(clippy::unwrap_used, clippy::disallowed_methods)] // a benchmark reads the clock

use std::{collections::HashSet, io::BufReader, sync::Arc, time::Instant};

use jitroles_directory::{ActiveDirectory, DirectoryConfig};
use jitroles_domain::directory::{Directory, GroupRef, UserLookup};
use ldap3::{LdapConnAsync, LdapConnSettings, Mod};

const ROUND_TRIPS: usize = 200;
const ROUNDS: usize = 3;
const TOKEN_LOOKUPS: usize = 500;

fn env(k: &str) -> String {
    std::env::var(k).unwrap_or_else(|_| panic!("{k} is not set: eval \"$(scripts/ad up)\" first"))
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let (ldaps, ca, svc_dn, svc_pass) = (
        env("AD_LDAPS_URL"),
        env("AD_CA_FILE"),
        env("AD_SVC_DN"),
        env("AD_SVC_PASS"),
    );
    let mut config = DirectoryConfig::new(&ldaps, &svc_dn, &svc_pass);
    config.ca_file = Some(ca.clone().into());
    // JITROLES_BENCH_POOL_SIZE: connections in the adapter's pool (default: the product's default)
    if let Ok(size) = std::env::var("JITROLES_BENCH_POOL_SIZE") {
        config.pool_size = size.parse().unwrap();
    }
    println!("adapter pool size: {}", config.pool_size);
    let dir = ActiveDirectory::new(config).unwrap();
    let group = dir
        .group(&GroupRef::Dn(format!(
            "CN=jit-role-web,{}",
            env("AD_ROLE_OU")
        )))
        .await
        .unwrap()
        .unwrap();
    let bob = dir
        .find_user(&UserLookup::SamAccountName("bob".into()))
        .await
        .unwrap()
        .unwrap();
    let dave = dir
        .find_user(&UserLookup::SamAccountName("dave".into()))
        .await
        .unwrap()
        .unwrap();

    // raw ldap3: one LDAPS connection bound as the same service account, same CA
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut BufReader::new(std::fs::File::open(&ca).unwrap())) {
        roots.add(cert.unwrap()).unwrap();
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let (conn, mut raw) =
        LdapConnAsync::with_settings(LdapConnSettings::new().set_config(Arc::new(tls)), &ldaps)
            .await
            .unwrap();
    ldap3::drive!(conn);
    raw.simple_bind(&svc_dn, &svc_pass)
        .await
        .unwrap()
        .success()
        .unwrap();
    let value = format!("<SID={}>", bob.sid);

    let timeout = std::time::Duration::from_secs(10); // the adapter's default per-operation timeout
    let (mut adapter_secs, mut raw_secs, mut raw_timed_secs) = (0.0, 0.0, 0.0);
    for _ in 0..ROUNDS {
        let t = Instant::now();
        for _ in 0..ROUND_TRIPS {
            dir.add_member(&group.dn, &bob.sid, None).await.unwrap();
            dir.remove_member(&group.dn, &bob.sid).await.unwrap();
        }
        adapter_secs += t.elapsed().as_secs_f64();

        let t = Instant::now();
        for _ in 0..ROUND_TRIPS {
            raw_round_trip(&mut raw, &group.dn, &value, None).await;
        }
        raw_secs += t.elapsed().as_secs_f64();

        let t = Instant::now();
        for _ in 0..ROUND_TRIPS {
            raw_round_trip(&mut raw, &group.dn, &value, Some(timeout)).await;
        }
        raw_timed_secs += t.elapsed().as_secs_f64();
    }
    let n = (ROUNDS * ROUND_TRIPS) as f64;
    let (adapter_rate, raw_rate) = (n / adapter_secs, n / raw_secs);
    println!(
        "add+remove round trips ({} in {ROUNDS} alternating rounds each):",
        ROUNDS * ROUND_TRIPS
    );
    println!("  adapter: {adapter_rate:.0}/s");
    println!("  raw ldap3: {raw_rate:.0}/s");
    println!(
        "  raw ldap3 with the adapter's per-operation timeout: {:.0}/s",
        n / raw_timed_secs
    );
    println!("  adapter / raw: {:.1}%", 100.0 * adapter_rate / raw_rate);

    let mut latencies = Vec::with_capacity(TOKEN_LOOKUPS);
    for _ in 0..TOKEN_LOOKUPS {
        let t = Instant::now();
        let groups = dir.token_groups(&dave.dn).await.unwrap();
        latencies.push(t.elapsed().as_secs_f64() * 1000.0);
        assert!(groups.len() >= 3);
    }
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| latencies[((p * latencies.len() as f64) as usize).min(latencies.len() - 1)];
    println!(
        "tokenGroups for dave ({TOKEN_LOOKUPS} lookups): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        pct(0.5),
        pct(0.99),
        latencies[latencies.len() - 1]
    );
}

/// One add and one delete of `value` in `member`, as plain ldap3 calls.
async fn raw_round_trip(
    raw: &mut ldap3::Ldap,
    group_dn: &str,
    value: &str,
    timeout: Option<std::time::Duration>,
) {
    for change in [
        Mod::Add("member", HashSet::from([value])),
        Mod::Delete("member", HashSet::from([value])),
    ] {
        if let Some(t) = timeout {
            raw.with_timeout(t);
        }
        raw.modify(group_dn, vec![change])
            .await
            .unwrap()
            .success()
            .unwrap();
    }
}
