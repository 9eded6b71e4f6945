//! Expiry lateness: 10,000 grants falling due within one minute, ended by the real server's
//! scheduler against the Samba DC (`scripts/ad up`):
//!
//!     eval "$(scripts/ad up)" && cargo bench -p jitroles-server --bench expiry
//!
//! Setup: a group `jit-bench` in OU=JIT Roles (made once, as Administrator) gets 10,000
//! members written as `<SID=…>` values of a foreign domain (Samba makes foreign security
//! principals for them), in batches, as the service account; the matching 10,000 `active`
//! grants are written straight into a fresh SQLite database, due evenly over one minute
//! starting 30 s after the server starts. Then the server runs (release build, in-process, the
//! product's settings) until every grant has ended. Lateness = ended_at − expires_at, from the
//! database; the group must be empty afterwards.

#![allow(clippy::unwrap_used, clippy::disallowed_methods)] // a benchmark reads the clock

mod support;

use std::{collections::HashSet, time::Duration};

use chrono::{TimeDelta, Utc};
use jitroles_directory::ActiveDirectory;
use jitroles_domain::{
    directory::{Directory, GroupRef},
    grant_filter::GrantFilter,
    page::PageRequest,
    ports::GrantStore,
};
use jitroles_server::config::{Config, DirectorySection, ServerConfig};
use ldap3::Mod;
use support::env;

const GRANTS: usize = 10_000;
const WINDOW: Duration = Duration::from_secs(60);
const LEAD: Duration = Duration::from_secs(30);
/// A foreign domain: Samba keeps its SIDs as foreign security principals.
const FOREIGN: &str = "S-1-5-21-1000000001-2000000002-3000000003";

#[tokio::main]
async fn main() {
    let role_ou = env("AD_ROLE_OU");
    let base_dn = env("AD_BASE_DN");
    let group_dn = format!("CN=jit-bench,{role_ou}");
    let mut admin = support::ldaps(&env("AD_ADMIN_DN"), &env("AD_ADMIN_PASS")).await;
    let _ = admin
        .add(
            &group_dn,
            vec![
                ("objectClass", HashSet::from(["top", "group"])),
                ("sAMAccountName", HashSet::from(["jit-bench"])),
            ],
        )
        .await
        .unwrap(); // "already exists" on later runs is fine

    let directory = DirectorySection {
        urls: vec![env("AD_LDAPS_URL")],
        bind_dn: env("AD_SVC_DN"),
        bind_password: env("AD_SVC_PASS").into(),
        ca_file: Some(env("AD_CA_FILE").into()),
        starttls: false,
        allow_plain_ldap: false,
        timeout_seconds: 10,
        force_scheduler: false,
        max_ticket_lifetime_hours: 10,
    };
    let ad = ActiveDirectory::new(directory.adapter_config()).unwrap();
    let group = ad
        .group(&GroupRef::Dn(group_dn.clone()))
        .await
        .unwrap()
        .unwrap();

    let sids: Vec<String> = (0..GRANTS)
        .map(|i| format!("{FOREIGN}-{}", 100_000 + i))
        .collect();
    let mut svc = support::ldaps(&env("AD_SVC_DN"), &env("AD_SVC_PASS")).await;
    let t = std::time::Instant::now();
    // only what is missing: an interrupted earlier run may have left some
    let present: HashSet<String> = ad
        .members(&group_dn)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|m| {
            m.dn.strip_prefix("CN=")?
                .split(',')
                .next()
                .map(str::to_owned)
        })
        .collect();
    let missing: Vec<&String> = sids.iter().filter(|s| !present.contains(*s)).collect();
    for batch in missing.chunks(1000) {
        let values: Vec<String> = batch.iter().map(|s| format!("<SID={s}>")).collect();
        let values: HashSet<&str> = values.iter().map(String::as_str).collect();
        svc.modify(&group_dn, vec![Mod::Add("member", values)])
            .await
            .unwrap()
            .success()
            .unwrap();
    }
    let members = ad.members(&group_dn).await.unwrap();
    println!(
        "setup: {} members in {} (written in {:.1} s)",
        members.len(),
        group.name,
        t.elapsed().as_secs_f64()
    );
    assert!(members.len() >= GRANTS);
    let dn_of: std::collections::HashMap<String, String> = members
        .iter()
        .filter_map(|m| {
            let cn = m.dn.strip_prefix("CN=")?.split(',').next()?.to_owned();
            Some((cn, m.dn.clone()))
        })
        .collect();

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let first_due = Utc::now() + TimeDelta::from_std(LEAD).unwrap();
    let step = WINDOW.as_secs_f64() / GRANTS as f64;
    let db = support::seed(
        &data,
        &group,
        sids.iter().enumerate().map(|(i, sid)| {
            let dn = dn_of
                .get(sid)
                .cloned()
                .unwrap_or_else(|| format!("CN={sid},CN=ForeignSecurityPrincipals,{base_dn}"));
            let due = first_due + TimeDelta::milliseconds((i as f64 * step * 1000.0) as i64);
            (sid.clone(), dn, due)
        }),
    )
    .await;
    println!(
        "setup: {GRANTS} grants due from {first_due} over {} s",
        WINDOW.as_secs()
    );

    let web_root = dir.path().join("dist");
    std::fs::create_dir_all(&web_root).unwrap();
    std::fs::write(web_root.join("index.html"), "bench").unwrap();
    let config = Config {
        data_dir: data,
        server: ServerConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            web_root: Some(web_root),
            public_url: None,
            trusted_proxies: Vec::new(),
            ..ServerConfig::default()
        },
        directory: Some(directory),
        ..Config::default()
    };
    tracing_subscriber::fmt()
        .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()))
        .init();
    let running = jitroles_server::start(&config).await.unwrap();
    let mut last_report = Utc::now();
    // stops waiting 10 minutes after the window and reports what ended by then
    let deadline = first_due + TimeDelta::from_std(WINDOW).unwrap() + TimeDelta::minutes(10);
    loop {
        let live = db
            .grants(&GrantFilter::live(), PageRequest::parse(1, "").unwrap())
            .await
            .unwrap();
        if live.items.is_empty() {
            break;
        }
        if Utc::now() - last_report > TimeDelta::seconds(10) {
            last_report = Utc::now();
            let left = db
                .grants(&GrantFilter::live(), PageRequest::parse(200, "").unwrap())
                .await
                .unwrap();
            println!(
                "{}: {}{} live",
                last_report.format("%H:%M:%S"),
                left.items.len(),
                if left.next.is_some() { "+" } else { "" }
            );
        }
        if Utc::now() >= deadline {
            println!("deadline reached: reporting the grants that ended by now");
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    running.shutdown().await.unwrap();

    let mut lateness = Vec::with_capacity(GRANTS);
    let mut token = String::new();
    loop {
        let page = db
            .grants(
                &GrantFilter::all(),
                PageRequest::parse(200, &token).unwrap(),
            )
            .await
            .unwrap();
        for g in &page.items {
            if let Some(ended_at) = g.ended_at {
                lateness.push((ended_at - g.expires_at).num_milliseconds() as f64 / 1000.0);
            }
        }
        match page.next {
            Some(next) => token = next,
            None => break,
        }
    }
    let left = ad.members(&group_dn).await.unwrap().len();
    let ended = lateness.len();
    let (p50, p99, max) = support::percentiles(&mut lateness);
    println!(
        "expiry lateness of the {ended} of {GRANTS} grants (due within {} s) that ended: p50 {p50:.3} s, p99 {p99:.3} s, max {max:.3} s (target p99 ≤ 1 s); {left} members left in the group",
        WINDOW.as_secs()
    );
}
