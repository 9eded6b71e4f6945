//! Scheduled starts: requests whose start falls due within one minute, started by the real
//! server's scheduler (release build, in-process): 10,000 against `jitroles-ad-fixture` without
//! PAM (the scheduler mechanism), so the directory is not what is measured, or 1,000 against
//! the Samba DC:
//!
//!     eval "$(scripts/oidc up)" && cargo bench -p jitroles-server --bench scheduled
//!     eval "$(scripts/ad up)" && eval "$(scripts/oidc up)" && \
//!       SCHEDULED_ON=samba cargo bench -p jitroles-server --bench scheduled
//!
//! Setup: the directory gets the people (the fixture: 10,000 users in dba-oncall; Samba: 1,000
//! enabled users `bench-start-NNNN` in a group `bench-starters`, made as the domain
//! administrator and deleted afterwards); one rule on a role group that they may request and
//! that takes start times; one `scheduled` request each, written straight into a fresh SQLite
//! database, their starts evenly over one minute beginning 30 s after the server starts. Each
//! start reads its requester again (user and token groups) and writes the member, as in
//! production. Lateness = activated_at − starts_at, from the database, once every request is
//! active; the group must then hold every one of them.

#![allow(clippy::unwrap_used, clippy::disallowed_methods)] // a benchmark reads the clock

mod support;

use std::{collections::HashSet, time::Duration};

use chrono::{TimeDelta, Utc};
use jitroles_ad_fixture::{Fixture, Options, ROLE_OU, SVC_DN, SVC_PASSWORD};
use jitroles_domain::{
    access::{AclEntry, Effect, PrincipalKind},
    approval::Deferred,
    audit::AuditAction,
    directory::{Directory, GroupRef, UserLookup, find_group},
    grant::GrantState,
    grant_filter::GrantFilter,
    page::PageRequest,
    ports::GrantStore,
};
use jitroles_server::config::DirectorySection;

const WINDOW: Duration = Duration::from_secs(60);
const LEAD: Duration = Duration::from_secs(30);
const ON_SAMBA: usize = 1_000;
const ON_FIXTURE: usize = 10_000;
const SAMBA_GROUP: &str = "jit-bench-starts";

/// Where the people are: their (SID, DN)s, the group their rule allows, the role group, and
/// the fixture that must live as long as the run.
struct Setup {
    people: Vec<(String, String)>,
    allowed: String,
    role_group: String,
    _fixture: Option<Fixture>,
}

async fn on_fixture(config: &mut jitroles_server::config::Config) -> Setup {
    let fixture = Fixture::start(Options {
        pam_enabled: false,
        ..Options::default()
    })
    .await
    .unwrap();
    let people = fixture.add_people("dba-oncall", ON_FIXTURE);
    config.directory = Some(DirectorySection {
        urls: vec![fixture.url()],
        bind_dn: SVC_DN.into(),
        bind_password: SVC_PASSWORD.into(),
        ca_file: None,
        starttls: false,
        allow_plain_ldap: true,
        timeout_seconds: 10,
        force_scheduler: false,
        max_ticket_lifetime_hours: 10,
    });
    Setup {
        people,
        allowed: "dba-oncall".into(),
        role_group: format!("CN=jit-role-dba,{ROLE_OU}"),
        _fixture: Some(fixture),
    }
}

/// `bench-start-NNNN`'s DN.
fn starter_dn(i: usize) -> String {
    format!(
        "CN=bench-start-{i:04},CN=Users,{}",
        support::env("AD_BASE_DN")
    )
}

/// 1,000 enabled users in a group `bench-starters`, and a fresh role group, on Samba.
async fn on_samba() -> Setup {
    support::make_groups(&[SAMBA_GROUP.to_owned()]).await;
    let mut admin =
        support::ldaps(&support::env("AD_ADMIN_DN"), &support::env("AD_ADMIN_PASS")).await;
    let starters = format!("CN=bench-starters,CN=Users,{}", support::env("AD_BASE_DN"));
    let _ = admin.delete(&starters).await;
    let password: Vec<u8> = "\"Bench!Passw0rd\""
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    for i in 0..ON_SAMBA {
        let _ = admin.delete(&starter_dn(i)).await;
        let name = format!("bench-start-{i:04}");
        let attrs: Vec<(Vec<u8>, HashSet<Vec<u8>>)> = vec![
            (b"objectClass".to_vec(), HashSet::from([b"user".to_vec()])),
            (
                b"sAMAccountName".to_vec(),
                HashSet::from([name.into_bytes()]),
            ),
            (b"unicodePwd".to_vec(), HashSet::from([password.clone()])),
            (
                b"userAccountControl".to_vec(),
                HashSet::from([b"512".to_vec()]),
            ),
        ];
        admin
            .add(&starter_dn(i), attrs)
            .await
            .unwrap()
            .success()
            .unwrap();
    }
    let members: HashSet<String> = (0..ON_SAMBA).map(starter_dn).collect();
    let group: Vec<(String, HashSet<String>)> = vec![
        ("objectClass".into(), HashSet::from(["group".to_owned()])),
        (
            "sAMAccountName".into(),
            HashSet::from(["bench-starters".to_owned()]),
        ),
        ("member".into(), members),
    ];
    admin
        .add(&starters, group)
        .await
        .unwrap()
        .success()
        .unwrap();
    let config = support::config(std::path::Path::new("/tmp"), None);
    let ad = jitroles_directory::ActiveDirectory::new(
        config.directory.as_ref().unwrap().adapter_config(),
    )
    .unwrap();
    let mut people = Vec::with_capacity(ON_SAMBA);
    for i in 0..ON_SAMBA {
        let user = ad
            .find_user(&UserLookup::SamAccountName(format!("bench-start-{i:04}")))
            .await
            .unwrap()
            .unwrap();
        people.push((user.sid.to_string(), user.dn));
    }
    Setup {
        people,
        allowed: "bench-starters".into(),
        role_group: support::group_dn(SAMBA_GROUP),
        _fixture: None,
    }
}

/// Leaves the DC as it was found.
async fn clean_samba() {
    let mut admin =
        support::ldaps(&support::env("AD_ADMIN_DN"), &support::env("AD_ADMIN_PASS")).await;
    let _ = admin
        .delete(&format!(
            "CN=bench-starters,CN=Users,{}",
            support::env("AD_BASE_DN")
        ))
        .await;
    for i in 0..ON_SAMBA {
        let _ = admin.delete(&starter_dn(i)).await;
    }
    support::drop_groups(&[SAMBA_GROUP.to_owned()]).await;
}

#[tokio::main]
async fn main() {
    let samba = std::env::var("SCHEDULED_ON").is_ok_and(|v| v == "samba");
    let dir = tempfile::tempdir().unwrap();
    let mut config = support::config(dir.path(), None);
    let setup = if samba {
        on_samba().await
    } else {
        on_fixture(&mut config).await
    };
    let starts = setup.people.len();
    let ad = jitroles_directory::ActiveDirectory::new(
        config.directory.as_ref().unwrap().adapter_config(),
    )
    .unwrap();
    let group = ad
        .group(&GroupRef::Dn(setup.role_group.clone()))
        .await
        .unwrap()
        .unwrap();
    let allowed = find_group(&ad, &setup.allowed).await.unwrap().unwrap();
    let db = support::fresh_database(&config.data_dir).await;
    let rule = support::seed_rule(&db, &group, |spec| {
        spec.acl = vec![AclEntry {
            principal: allowed.sid.clone(),
            display_name: setup.allowed.clone(),
            kind: PrincipalKind::Group,
            effect: Effect::Allow,
        }];
        spec.max_lead = Some(Duration::from_secs(86_400));
    })
    .await;
    let first = Utc::now() + TimeDelta::from_std(LEAD).unwrap();
    let step = WINDOW.as_secs_f64() / starts as f64;
    for (i, person) in setup.people.iter().cloned().enumerate() {
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
    eprintln!("seeded {starts} scheduled requests");

    let running = jitroles_server::start(&config).await.unwrap();
    let deadline = tokio::time::Instant::now() + LEAD + WINDOW + Duration::from_secs(120);
    let active = loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let mut grants = Vec::with_capacity(starts);
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
        if started == starts {
            break grants;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {started} of {starts} started"
        );
    };
    let mut late: Vec<f64> = active
        .iter()
        .filter_map(|g| {
            let d = g.deferred.as_ref()?;
            Some((d.activated_at? - d.starts_at?).num_microseconds()? as f64 / 1e6)
        })
        .collect();
    assert_eq!(late.len(), starts);
    let (p50, p99, max) = support::percentiles(&mut late);
    println!(
        "{starts} scheduled starts over {} s ({}): lateness p50 {p50:.3} s, p99 {p99:.3} s, max {max:.3} s",
        WINDOW.as_secs(),
        if samba { "Samba" } else { "the fixture" }
    );
    let members = ad.members(&group.dn).await.unwrap().len();
    let already = usize::from(!samba); // carol is in jit-role-dba on the fixture
    assert_eq!(members, starts + already, "every person");
    running.shutdown().await.unwrap();
    if samba {
        clean_samba().await;
    }
}
