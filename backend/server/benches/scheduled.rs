//! Scheduled starts: 10,000 requests whose start falls due within one minute, started by the
//! real server's scheduler (release build, in-process) against `jitroles-ad-fixture` without
//! PAM (the scheduler mechanism), so the directory is not what is measured:
//!
//!     eval "$(scripts/oidc up)" && cargo bench -p jitroles-server --bench scheduled
//!
//! Setup: the fixture gets 10,000 users in dba-oncall; one rule on jit-role-dba that
//! dba-oncall may request and that takes start times; 10,000 `scheduled` requests of it, one
//! per user, written straight into a fresh SQLite database, their starts evenly over one minute
//! beginning 30 s after the server starts. Each start reads its requester again (user and token
//! groups) and writes the member, as in production. Lateness = activated_at − starts_at, from
//! the database, once every request is active; the group must then hold every user.

#![allow(clippy::unwrap_used, clippy::disallowed_methods)] // a benchmark reads the clock

mod support;

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use jitroles_ad_fixture::{Fixture, Options, ROLE_OU, SVC_DN, SVC_PASSWORD};
use jitroles_domain::{
    access::{AclEntry, Effect, PrincipalKind},
    approval::Deferred,
    audit::AuditAction,
    directory::{Directory, GroupRef, find_group},
    grant::GrantState,
    grant_filter::GrantFilter,
    page::PageRequest,
    ports::GrantStore,
};
use jitroles_server::config::DirectorySection;

const STARTS: usize = 10_000;
const WINDOW: Duration = Duration::from_secs(60);
const LEAD: Duration = Duration::from_secs(30);

#[tokio::main]
async fn main() {
    let fixture = Fixture::start(Options {
        pam_enabled: false,
        ..Options::default()
    })
    .await
    .unwrap();
    let people = fixture.add_people("dba-oncall", STARTS);
    let dir = tempfile::tempdir().unwrap();
    let mut config = support::config(dir.path(), None);
    config.directory = Some(DirectorySection {
        url: fixture.url(),
        bind_dn: SVC_DN.into(),
        bind_password: SVC_PASSWORD.into(),
        ca_file: None,
        starttls: false,
        allow_plain_ldap: true,
        timeout_seconds: 10,
        force_scheduler: false,
        max_ticket_lifetime_hours: 10,
    });
    let ad = jitroles_directory::ActiveDirectory::new(
        config.directory.as_ref().unwrap().adapter_config(),
    )
    .unwrap();
    let group = ad
        .group(&GroupRef::Dn(format!("CN=jit-role-dba,{ROLE_OU}")))
        .await
        .unwrap()
        .unwrap();
    let oncall = find_group(&ad, "dba-oncall").await.unwrap().unwrap();
    let db = support::fresh_database(&config.data_dir).await;
    let rule = support::seed_rule(&db, &group, |spec| {
        spec.acl = vec![AclEntry {
            principal: oncall.sid.clone(),
            display_name: "dba-oncall".into(),
            kind: PrincipalKind::Group,
            effect: Effect::Allow,
        }];
        spec.max_lead = Some(Duration::from_secs(86_400));
    })
    .await;
    let first = Utc::now() + TimeDelta::from_std(LEAD).unwrap();
    let step = WINDOW.as_secs_f64() / STARTS as f64;
    for (i, person) in people.into_iter().enumerate() {
        let starts_at = first + TimeDelta::microseconds((i as f64 * step * 1e6) as i64);
        let mut grant = support::bench_grant(&rule, i, person, starts_at + TimeDelta::hours(1));
        grant.state = GrantState::Scheduled;
        grant.deferred = Some(Deferred {
            duration: Duration::from_secs(3600),
            starts_at: Some(starts_at),
            required: 0,
            lapses_at: None,
            activated_at: None,
            break_glass: None,
        });
        db.insert_grant(&grant, support::bench_audit(AuditAction::Scheduled))
            .await
            .unwrap();
    }
    eprintln!("seeded {STARTS} scheduled requests");

    let running = jitroles_server::start(&config).await.unwrap();
    let deadline = tokio::time::Instant::now() + LEAD + WINDOW + Duration::from_secs(120);
    let active = loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let mut grants = Vec::with_capacity(STARTS);
        let mut token = String::new();
        loop {
            let page = db
                .grants(
                    &GrantFilter::all(),
                    PageRequest::parse(200, &token).unwrap(),
                )
                .await
                .unwrap();
            grants.extend(page.items);
            match page.next {
                Some(next) => token = next,
                None => break,
            }
        }
        let started = grants
            .iter()
            .filter(|g| g.state == GrantState::Active)
            .count();
        if started == STARTS {
            break grants;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {started} of {STARTS} started"
        );
    };
    let mut late: Vec<f64> = active
        .iter()
        .filter_map(|g| {
            let d = g.deferred.as_ref()?;
            Some((d.activated_at? - d.starts_at?).num_microseconds()? as f64 / 1e6)
        })
        .collect();
    assert_eq!(late.len(), STARTS);
    let (p50, p99, max) = support::percentiles(&mut late);
    println!(
        "{STARTS} scheduled starts over {} s: lateness p50 {p50:.3} s, p99 {p99:.3} s, max {max:.3} s",
        WINDOW.as_secs()
    );
    let members = ad.members(&group.dn).await.unwrap().len();
    assert_eq!(members, STARTS + 1, "every person, and carol");
    running.shutdown().await.unwrap();
}
