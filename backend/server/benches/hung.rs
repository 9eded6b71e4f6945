//! RequestRole's time to UNAVAILABLE with a hung DC (issue 14 item 4; target: within
//! `directory.timeout_seconds` + 1 s):
//!
//!     eval "$(scripts/ad up)" && eval "$(scripts/oidc up)" && cargo bench -p jitroles-server --bench hung
//!
//! The real server in-process (SQLite in a temp dir, the product's settings) on the test DC
//! over plain LDAP (`ldap://`, port 389) through `jitroles_ad_fixture::fault_proxy`, and a
//! native gRPC client with the ci-bot token (svc-ci) requesting a rule on `jit-role-web`.
//! Each sample: the DC answers (a warm-up grant, released), the proxy hangs it (connections
//! accepted, nothing answered, as a stopped DC process), one RequestRole is timed from call
//! to answer, the DC comes back and the bench waits until the grant left behind is settled
//! (failed, recovery included) before the next. Three settings: the default 10 s timeout, a
//! 2 s timeout, and a 2 s timeout with the caller's own 1 s deadline (`grpc-timeout`).

#![allow(clippy::unwrap_used, clippy::disallowed_methods)] // a benchmark reads the clock

use std::time::{Duration, Instant};

use jitroles_ad_fixture::fault_proxy::LdapFaultProxy;
use jitroles_proto::v1::{
    self as pb, admin_service_client::AdminServiceClient, role_service_client::RoleServiceClient,
};
use tonic::{Code, transport::Channel};

mod support;

use support::{authorized, env};

async fn run(timeout_seconds: u64, caller_deadline: Option<Duration>, samples: usize) {
    let upstream = env("AD_URL").trim_start_matches("ldap://").parse().unwrap();
    let proxy = LdapFaultProxy::start(upstream).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = support::config(dir.path(), None);
    if let Some(d) = config.directory.as_mut() {
        d.urls = vec![proxy.url()];
        d.ca_file = None;
        d.allow_plain_ldap = true;
        d.timeout_seconds = timeout_seconds;
    }
    // a grant the hung DC left `activating` is settled within seconds of the DC's return
    config.scheduler.reconcile_seconds = 1;
    config.scheduler.unconfirmed_after_seconds = 1;
    let running = jitroles_server::start(&config).await.unwrap();
    let channel = Channel::from_shared(format!("http://{}", running.addr()))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let token = support::ci_bot_token().await;
    let rule_id = support::oncall_rule(
        channel.clone(),
        &token,
        &format!("hung-{timeout_seconds}-{caller_deadline:?}"),
        "jit-role-web",
    )
    .await;
    let mut roles = RoleServiceClient::new(channel.clone());
    let mut admin = AdminServiceClient::new(channel);
    let ask = || {
        authorized(
            &token,
            pb::RequestRoleRequest {
                rule_id: rule_id.clone(),
                ..Default::default()
            },
        )
    };
    let mut took = Vec::with_capacity(samples);
    for _ in 0..samples {
        // caches warm (caller, target verdict, mechanism): the request meets the hang at its add
        let grant = roles.request_role(ask()).await.unwrap().into_inner();
        roles
            .release_grant(authorized(
                &token,
                pb::ReleaseGrantRequest { grant_id: grant.id },
            ))
            .await
            .unwrap();

        proxy.hang();
        let mut request = ask();
        if let Some(deadline) = caller_deadline {
            request.set_timeout(deadline);
        }
        let started = Instant::now();
        let answer = roles.request_role(request).await;
        took.push(started.elapsed());
        let refused = answer.unwrap_err();
        assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");
        proxy.release();

        let back = Instant::now();
        loop {
            let live = admin
                .list_grants(authorized(
                    &token,
                    pb::ListGrantsRequest {
                        rule_id: rule_id.clone(),
                        ..Default::default()
                    },
                ))
                .await
                .map(|r| r.into_inner().grants);
            if live.as_ref().is_ok_and(Vec::is_empty) {
                break;
            }
            assert!(back.elapsed() < Duration::from_secs(30), "{live:?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    took.sort();
    let secs = |d: &Duration| d.as_secs_f64();
    println!(
        "timeout {timeout_seconds} s, caller deadline {}: {} samples, min {:.2} s, median {:.2} s, max {:.2} s (target ≤ {:.1} s)",
        caller_deadline.map_or("none".to_owned(), |d| format!("{:.1} s", d.as_secs_f64())),
        took.len(),
        secs(&took[0]),
        secs(&took[took.len() / 2]),
        secs(&took[took.len() - 1]),
        caller_deadline.map_or(timeout_seconds as f64 + 1.0, |d| d.as_secs_f64()),
    );
}

#[tokio::main]
async fn main() {
    run(10, None, 3).await;
    run(2, None, 5).await;
    run(2, Some(Duration::from_secs(1)), 5).await;
}
