//! The last approval → the member in AD, against the same directory operations done raw, side
//! by side on the Samba DC (`scripts/ad up`):
//!
//!     eval "$(scripts/ad up)" && cargo bench -p jitroles-server --bench approval
//!
//! jitroles: the grant engine in-process (SQLite in a temp dir, the product's settings, the
//! real directory adapter); dave asks for a role on a fresh group `jit-bench-approval` whose
//! requests dba-approvers decide (one approval), then each sample is frank's approval, from
//! call to return (the request's right read again from the DC, the decision and `activating`
//! committed, the member written, `active` committed); dave releases it (not timed).
//! Raw: the directory operations that approval makes, through the same adapter: dave's
//! account by SID, his token groups, the add (the removal that follows is not timed).
//! The two alternate, one sample each, so drift hits both alike. No gRPC and no token check:
//! those are the same for every call and measured in the grants bench.

#![allow(clippy::unwrap_used, clippy::disallowed_methods)] // a benchmark reads the clock

mod support;

use std::{sync::Arc, time::Instant};

use jitroles_directory::ActiveDirectory;
use jitroles_domain::{
    access::{AclEntry, Caller, Effect, PrincipalKind, authorize_admin},
    approval::ApprovalSpec,
    directory::{Directory, UserLookup, find_group},
    grant::{Ask, GrantState},
    rule::{JustificationPolicy, RuleSpec},
};
use jitroles_server::{
    clock::SystemClock,
    grants::{Engine, Leases, Ports, Unobserved},
};

const SAMPLES: usize = 200;
const GROUP: &str = "jit-bench-approval";

async fn caller(ad: &ActiveDirectory, account: &str) -> Caller {
    let user = ad
        .find_user(&UserLookup::SamAccountName(account.into()))
        .await
        .unwrap()
        .unwrap();
    let groups = ad.token_groups(&user.dn).await.unwrap();
    Caller::new(user, groups)
}

fn allow(sid: jitroles_domain::directory::Sid) -> AclEntry {
    AclEntry {
        principal: sid,
        display_name: String::new(),
        kind: PrincipalKind::Group,
        effect: Effect::Allow,
    }
}

fn report(what: &str, mut micros: Vec<f64>) -> f64 {
    let (p50, p99, _) = support::percentiles(&mut micros);
    println!(
        "{what} ({} samples): p50 {:.2} ms, p99 {:.2} ms",
        micros.len(),
        p50 / 1000.0,
        p99 / 1000.0
    );
    p50
}

#[tokio::main]
async fn main() {
    support::make_groups(&[GROUP.to_owned()]).await;
    let dir = tempfile::tempdir().unwrap();
    let config = support::config(dir.path(), None);
    let ad = Arc::new(
        ActiveDirectory::new(config.directory.as_ref().unwrap().adapter_config()).unwrap(),
    );
    let db = Arc::new(support::fresh_database(&config.data_dir).await);
    let engine = Engine::new(
        Ports {
            rules: db.clone(),
            grants: db.clone(),
            notifications: db.clone(),
            approvals: db.clone(),
            directory: ad.clone(),
            clock: Arc::new(SystemClock),
        },
        Leases {
            holder: "bench".into(),
            length: std::time::Duration::from_secs(30),
            shared_database: false,
        },
        Arc::new(Unobserved),
    );
    let (alice, dave, frank) = (
        caller(&ad, "alice").await,
        caller(&ad, "dave").await,
        caller(&ad, "frank").await,
    );
    let admins = find_group(ad.as_ref(), "jitroles-admins")
        .await
        .unwrap()
        .unwrap();
    let admin = authorize_admin(&alice, &[admins.sid]).unwrap();
    let oncall = find_group(ad.as_ref(), "dba-oncall")
        .await
        .unwrap()
        .unwrap();
    let approvers = find_group(ad.as_ref(), "dba-approvers")
        .await
        .unwrap()
        .unwrap();
    let rule = engine
        .rules
        .create(
            &admin,
            &alice,
            RuleSpec {
                name: "bench approvals".into(),
                description: String::new(),
                acl: vec![allow(oncall.sid)],
                max_duration: Some(std::time::Duration::from_secs(3600)),
                default_duration: Some(std::time::Duration::from_secs(600)),
                allow_extension: false,
                max_total_duration: None,
                justification: Some(JustificationPolicy::Optional),
                enabled: true,
                expires_at: None,
                channels: Default::default(),
                approval: Some(ApprovalSpec {
                    approvers: vec![allow(approvers.sid)],
                    required: 1,
                    pending_window: None,
                    break_glass: false,
                    service_approvers: false,
                }),
                max_lead: None,
            },
            GROUP,
        )
        .await
        .unwrap();
    let group_dn = support::group_dn(GROUP);

    let (mut approval, mut raw) = (Vec::new(), Vec::new());
    for _ in 0..SAMPLES {
        let pending = engine
            .requests
            .request(&dave, &rule.id, Ask::default())
            .await
            .unwrap();
        assert_eq!(pending.state, GrantState::Pending);
        let t = Instant::now();
        let active = engine
            .approvals
            .approve(&frank, false, &pending.id, "")
            .await
            .unwrap();
        approval.push(t.elapsed().as_secs_f64() * 1e6);
        assert_eq!(active.state, GrantState::Active);
        engine.endings.release(&dave, &pending.id).await.unwrap();

        let t = Instant::now();
        let user = ad
            .find_user(&UserLookup::Sid(dave.sid.clone()))
            .await
            .unwrap()
            .unwrap();
        ad.token_groups(&user.dn).await.unwrap();
        ad.add_member(&group_dn, &user.sid, None).await.unwrap();
        raw.push(t.elapsed().as_secs_f64() * 1e6);
        ad.remove_member(&group_dn, &user.sid).await.unwrap();
    }
    let through = report("approval through jitroles", approval);
    let direct = report("the same directory operations raw", raw);
    println!(
        "overhead at p50: {:.2} ms (target: within 2 ms)",
        (through - direct) / 1000.0
    );
    support::drop_groups(&[GROUP.to_owned()]).await;
}
