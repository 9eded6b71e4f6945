//! Request → membership through jitroles vs. a raw LDAP modify, side by side on the same Samba
//! DC (`scripts/ad up`, `scripts/oidc up`):
//!
//!     eval "$(scripts/ad up)" && eval "$(scripts/oidc up)" && cargo bench -p jitroles-server --bench grants
//!
//! jitroles: the real server in-process (SQLite in a temp dir, the product's settings), a
//! native gRPC client with the ci-bot token (svc-ci); each sample is one RequestRole, from
//! call to reply (the member is in AD when it returns); a ReleaseGrant (not timed) follows.
//! Raw: one LDAPS connection bound as the same service account; each sample is one modify that
//! adds the same member to the same group; a delete (not timed) follows. The two alternate in
//! rounds so drift hits both alike. Sequential, one client.

#![allow(clippy::unwrap_used, clippy::disallowed_methods)] // a benchmark reads the clock

use std::{collections::HashSet, time::Instant};

use jitroles_directory::ActiveDirectory;
use jitroles_domain::directory::{Directory, UserLookup};
use jitroles_proto::v1::{self as pb, role_service_client::RoleServiceClient};
use ldap3::Mod;
use tonic::transport::Channel;

const PER_ROUND: usize = 100;
const ROUNDS: usize = 3;

#[path = "support/counting.rs"]
mod counting;
mod support;

use support::{authorized, env};

fn report(what: &str, mut micros: Vec<f64>) -> (f64, f64) {
    let total: f64 = micros.iter().sum();
    let per_second = micros.len() as f64 / (total / 1e6);
    let (p50, p99, _) = support::percentiles(&mut micros);
    println!(
        "{what} ({} samples): p50 {:.2} ms, p99 {:.2} ms, {:.0} per second",
        micros.len(),
        p50 / 1000.0,
        p99 / 1000.0,
        per_second
    );
    (p50, per_second)
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let config = support::config(dir.path(), None);
    let mut dependencies = jitroles_server::Dependencies::from_config(&config).unwrap();
    let counting = counting::Counting::new(dependencies.directory.take().unwrap());
    dependencies.directory = Some(counting.clone());
    let running = jitroles_server::start_with(&config, dependencies)
        .await
        .unwrap();
    let channel = Channel::from_shared(format!("http://{}", running.addr()))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let token = support::ci_bot_token().await;
    let rule_id = support::oncall_rule(channel.clone(), &token, "bench", "jit-role-web").await;

    let directory = config.directory.clone().unwrap();
    let ad = ActiveDirectory::new(directory.adapter_config()).unwrap();
    let svc_ci = ad
        .find_user(&UserLookup::SamAccountName("svc-ci".into()))
        .await
        .unwrap()
        .unwrap();
    let group_dn = format!("CN=jit-role-web,{}", env("AD_ROLE_OU"));
    ad.remove_member(&group_dn, &svc_ci.sid).await.unwrap();

    // raw ldap3: one LDAPS connection bound as the same service account, same CA
    let mut raw = support::ldaps(&env("AD_SVC_DN"), &env("AD_SVC_PASS")).await;
    let value = format!("<SID={}>", svc_ci.sid);

    let mut roles = RoleServiceClient::new(channel);
    // warm-up: connections, caches, the token's verification
    for _ in 0..5 {
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
        roles
            .release_grant(authorized(
                &token,
                pb::ReleaseGrantRequest { grant_id: grant.id },
            ))
            .await
            .unwrap();
    }

    let (mut through_jitroles, mut raw_modify) = (Vec::new(), Vec::new());
    // directory operations made while a RequestRole was in flight (one client: nothing else
    // runs then but the scheduler, which has no work while the grant is live)
    let mut per_request: std::collections::BTreeMap<&str, u64> = Default::default();
    for _ in 0..ROUNDS {
        for _ in 0..PER_ROUND {
            let before = counting.calls();
            let t = Instant::now();
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
            through_jitroles.push(t.elapsed().as_secs_f64() * 1e6);
            for (op, n) in counting::since(&before, &counting.calls()) {
                *per_request.entry(op).or_default() += n;
            }
            roles
                .release_grant(authorized(
                    &token,
                    pb::ReleaseGrantRequest { grant_id: grant.id },
                ))
                .await
                .unwrap();
        }
        for _ in 0..PER_ROUND {
            let t = Instant::now();
            raw.modify(
                &group_dn,
                vec![Mod::Add("member", HashSet::from([value.as_str()]))],
            )
            .await
            .unwrap()
            .success()
            .unwrap();
            raw_modify.push(t.elapsed().as_secs_f64() * 1e6);
            raw.modify(
                &group_dn,
                vec![Mod::Delete("member", HashSet::from([value.as_str()]))],
            )
            .await
            .unwrap()
            .success()
            .unwrap();
        }
    }
    let (jit_p50, jit_rate) = report(
        "RequestRole through jitroles (member in AD on reply)",
        through_jitroles,
    );
    let (raw_p50, raw_rate) = report("raw LDAP modify (add member)", raw_modify);
    println!(
        "added by jitroles at p50: {:.2} ms (target ≤ 1 ms); grants per second: {:.0}% of raw modifies (target ≥ 80%)",
        (jit_p50 - raw_p50) / 1000.0,
        jit_rate / raw_rate * 100.0
    );
    let requests = (ROUNDS * PER_ROUND) as f64;
    let ops: Vec<String> = per_request
        .iter()
        .map(|(op, n)| format!("{op} {:.2}", *n as f64 / requests))
        .collect();
    println!(
        "directory operations per RequestRole: {}",
        if ops.is_empty() {
            "none".to_owned()
        } else {
            ops.join(", ")
        }
    );
    running.shutdown().await.unwrap();
}
