//! ListApprovals with 10,000 pending requests, through the real server (release build,
//! in-process, gRPC over loopback, a bearer token) on SQLite, against the Samba DC and the
//! test provider:
//!
//!     eval "$(scripts/ad up)" && eval "$(scripts/oidc up)" && cargo bench -p jitroles-server --bench approvals
//!
//! Setup: one rule on jit-role-dba whose approvers are dba-oncall with service approvers
//! allowed (svc-ci, ci-bot's account, is in dba-oncall), and 10,000 `pending` requests of it
//! by people of a foreign domain, written straight into a fresh database. Then ci-bot asks
//! for the first page (50, with each request's decisions and the count of undecided ones)
//! 500 times in a row; the figures are each call's round trip.

#![allow(clippy::unwrap_used, clippy::disallowed_methods)] // a benchmark reads the clock

mod support;

use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use jitroles_directory::ActiveDirectory;
use jitroles_domain::{
    access::{AclEntry, Effect, PrincipalKind},
    approval::{ApprovalSpec, Deferred},
    audit::AuditAction,
    directory::{Directory, GroupRef, find_group},
    grant::GrantState,
    ports::GrantStore,
};
use jitroles_proto::v1::{self as pb, role_service_client::RoleServiceClient};
use tonic::transport::Channel;

const PENDING: usize = 10_000;
const CALLS: usize = 500;
const FOREIGN: &str = "S-1-5-21-1000000001-2000000002-3000000003";

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let config = support::config(dir.path(), None);
    let ad = ActiveDirectory::new(config.directory.as_ref().unwrap().adapter_config()).unwrap();
    let group = ad
        .group(&GroupRef::Dn(support::group_dn("jit-role-dba")))
        .await
        .unwrap()
        .unwrap();
    let oncall = find_group(&ad, "dba-oncall").await.unwrap().unwrap();
    let entry = AclEntry {
        principal: oncall.sid,
        display_name: "dba-oncall".into(),
        kind: PrincipalKind::Group,
        effect: Effect::Allow,
    };
    let db = support::fresh_database(&config.data_dir).await;
    let rule = support::seed_rule(&db, &group, |spec| {
        spec.acl = vec![entry.clone()];
        spec.approval = Some(ApprovalSpec {
            approvers: vec![entry.clone()],
            required: 1,
            pending_window: None,
            break_glass: false,
            service_approvers: true,
        });
    })
    .await;
    let t = Instant::now();
    let now = Utc::now();
    for i in 0..PENDING {
        let sid = format!("{FOREIGN}-{}", 200_000 + i);
        let mut grant = support::bench_grant(
            &rule,
            i,
            (sid, format!("CN=bench-{i},CN=ForeignSecurityPrincipals")),
            now + TimeDelta::hours(1),
        );
        grant.state = GrantState::Pending;
        grant.requested_at = now - TimeDelta::seconds(i64::try_from(PENDING - i).unwrap());
        grant.deferred = Some(Deferred {
            duration: Duration::from_secs(3600),
            starts_at: None,
            required: 1,
            lapses_at: Some(now + TimeDelta::hours(24)),
            activated_at: None,
            break_glass: None,
        });
        db.insert_grant(&grant, support::bench_audit(AuditAction::ApprovalRequested))
            .await
            .unwrap();
    }
    eprintln!("seeded {PENDING} pending requests in {:?}", t.elapsed());

    let running = jitroles_server::start(&config).await.unwrap();
    let channel = Channel::from_shared(format!("http://{}", running.addr()))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let token = support::ci_bot_token().await;
    let roles = RoleServiceClient::new(channel);
    let list = || {
        let request = support::authorized(&token, pb::ListApprovalsRequest::default());
        let mut roles = roles.clone();
        async move { roles.list_approvals(request).await.unwrap().into_inner() }
    };
    let first = list().await; // warms the caller and rule caches
    assert_eq!(first.requests.len(), 50);
    assert_eq!(first.pending_count as usize, PENDING);
    let mut millis = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let t = Instant::now();
        let page = list().await;
        millis.push(t.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(page.requests.len(), 50);
    }
    let (p50, p99, max) = support::percentiles(&mut millis);
    println!(
        "ListApprovals, first page of {PENDING} pending: p50 {p50:.2} ms, p99 {p99:.2} ms, max {max:.2} ms ({CALLS} calls)"
    );
    drop(roles);
    running.shutdown().await.unwrap();
}
