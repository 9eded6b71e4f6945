//! Crashes at the worst moments, against the real Samba DC: the real `jitroles` binary dies
//! (at an armed crash point, `JITROLES_TEST_CRASH_AT`, an abort with no cleanup; or by SIGKILL
//! at a seeded random moment while requests, extensions and releases run and grants expire)
//! and is started again on the same database. Afterwards the group's members equal what the
//! live grants explain, no grant a caller was told about is lost, and each grant has one
//! complete audit trail.
//!
//! With two instances on one PostgreSQL database, one killed right after claiming an expiry,
//! the other takes the removal over when the claim's lease runs out.
//!
//! Each test makes its own role group in OU=JIT Roles (as the domain administrator, with carol
//! as its permanent member), so the tests own their groups while others share the DC.

use std::{
    collections::BTreeSet,
    net::TcpListener,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use jitroles_proto::v1::{
    self as pb, admin_service_client::AdminServiceClient, role_service_client::RoleServiceClient,
};
use jitroles_server::failpoint;
use tonic::transport::Channel;

use crate::{
    oidc::{Provider, provider, real_now},
    samba::{RoleGroup, Samba, env},
    stack::{as_, decided_by_dba_approvers, oncall_rule, secs},
    support::postgres_database,
};

pub struct Server {
    pub child: Child,
    pub url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The real binary on SQLite in `dir`, on the test DC as jit-svc, with `crash_at` armed (or
/// none when empty). Leases last 2 s, so a restarted instance takes over quickly.
pub async fn start(dir: &std::path::Path, op: &Provider, crash_at: &str) -> Server {
    start_with(dir, op, crash_at, &[]).await
}

/// The real binary configured for SQLite in `dir`, port `port`, the test DC as jit-svc and
/// the test provider (`serve`, or any other subcommand, to be added).
pub fn configured(dir: &std::path::Path, port: u16, op: &Provider) -> Command {
    std::fs::create_dir_all(dir.join("dist")).unwrap();
    std::fs::write(dir.join("dist/index.html"), "app").unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_jitroles"));
    command
        .env("JITROLES_DATA_DIR", dir.join("data"))
        .env("JITROLES_SERVER_LISTEN", format!("127.0.0.1:{port}"))
        .env("JITROLES_SERVER_WEB_ROOT", dir.join("dist"))
        .env("JITROLES_DIRECTORY_URL", env("AD_LDAPS_URL"))
        .env("JITROLES_DIRECTORY_CA_FILE", env("AD_CA_FILE"))
        .env("JITROLES_DIRECTORY_BIND_DN", env("AD_SVC_DN"))
        .env("JITROLES_DIRECTORY_BIND_PASSWORD", env("AD_SVC_PASS"))
        .env("JITROLES_OIDC_ISSUER", &op.issuer)
        .env("JITROLES_OIDC_AUDIENCE", &op.audience)
        .env("JITROLES_OIDC_ALLOWED_CLIENTS", crate::oidc::PERSON_CLIENT)
        .env("JITROLES_ACCESS_ADMIN_GROUPS", "jitroles-admins")
        .env("JITROLES_NOTIFICATIONS_ALLOWED_NETWORKS", "127.0.0.0/8")
        .env("JITROLES_SCHEDULER_RECONCILE_SECONDS", "1")
        .env("JITROLES_SCHEDULER_LEASE_SECONDS", "2")
        .env("JITROLES_LOG_LEVEL", "warn");
    command
}

/// [`start`] with further settings (`JITROLES_…` variables) over the defaults.
async fn start_with(
    dir: &std::path::Path,
    op: &Provider,
    crash_at: &str,
    settings: &[(&str, &str)],
) -> Server {
    let port = free_port();
    let child = configured(dir, port, op)
        .arg("serve")
        .env("JITROLES_TEST_CRASH_AT", crash_at)
        .envs(settings.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "jitroles did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Server { child, url }
}

impl Server {
    pub async fn channel(&self) -> Channel {
        Channel::from_shared(self.url.clone())
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    /// Waits for the process to die at its crash point.
    async fn crashed(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "the crash point was not reached");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Grants as alice sees them: live ones, or all.
async fn grants(server: &Server, op: &Provider, include_ended: bool) -> Vec<pb::Grant> {
    AdminServiceClient::new(server.channel().await)
        .list_grants(as_(
            op,
            "alice",
            pb::ListGrantsRequest {
                include_ended,
                page_size: 200,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .grants
}

/// Each grant's audit actions, oldest first.
async fn trails(server: &Server, op: &Provider) -> std::collections::HashMap<String, Vec<String>> {
    let events = AdminServiceClient::new(server.channel().await)
        .list_audit_events(as_(
            op,
            "alice",
            pb::ListAuditEventsRequest {
                page_size: 200,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(events.next_page_token.is_empty(), "one page holds them all");
    let mut trails: std::collections::HashMap<String, Vec<String>> = Default::default();
    for e in events.events.into_iter().rev() {
        if !e.grant_id.is_empty() {
            let action = e.action().label();
            trails.entry(e.grant_id).or_default().push(action);
        }
    }
    trails
}

/// Watches the group until every grant has ended and only carol is left (panics after
/// `seconds`). Whenever nothing is half-done (every live grant `active`) and the group did not
/// change while the grants were read, its members must be exactly carol and the people the
/// live grants name: a stray or a missing member fails at once.
async fn settles(samba: &Samba, group: &RoleGroup, server: &Server, op: &Provider, seconds: u64) {
    let carol = samba.dn_of("carol").to_lowercase();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        let before = samba.members(group);
        let live = grants(server, op, false).await;
        let members = samba.members(group);
        let settled = live.iter().all(|g| g.state() == pb::GrantState::Active);
        let explained: BTreeSet<String> = live
            .iter()
            .map(|g| samba.dn_of(&g.subject_account).to_lowercase())
            .chain([carol.clone()])
            .collect();
        if settled && before == members {
            assert_eq!(
                members, explained,
                "{}: the members are not what the live grants explain: {live:?}",
                group.name
            );
            if live.is_empty() {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{}: members {members:?}, live grants {live:?}",
            group.name
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// One crash at `point` during dave's request (or its expiry), then a clean restart; returns
/// the audit trail of dave's grant once nothing is live any more.
async fn crash_at(point: &str, group: &str) -> Option<Vec<String>> {
    let samba = Samba::up()?;
    let op = provider()?;
    let group = samba.role_group(group);
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(dir.path(), &op, point).await;
    let rule_id = oncall_rule(
        server.channel().await,
        &op,
        ("DBA", &group.name),
        2,
        pb::JustificationPolicy::Optional,
    )
    .await
    .id;
    let answer = RoleServiceClient::new(server.channel().await)
        .request_role(as_(
            &op,
            "dave",
            pb::RequestRoleRequest {
                rule_id,
                ..Default::default()
            },
        ))
        .await;
    // request-side points kill the reply; expiry-side ones come two seconds later
    assert_eq!(
        answer.is_ok(),
        point == failpoint::AFTER_ENDING_COMMIT || point == failpoint::AFTER_DIRECTORY_REMOVE,
        "{answer:?}"
    );
    server.crashed().await;
    drop(server);

    let server = start(dir.path(), &op, "").await;
    settles(&samba, &group, &server, &op, 20).await;
    let history = grants(&server, &op, true).await;
    assert_eq!(history.len(), 1, "the grant is not lost: {history:?}");
    trails(&server, &op).await.remove(&history[0].id)
}

#[tokio::test]
async fn a_crash_after_the_write_ahead_commit_ends_the_grant_failed() {
    if let Some(trail) = crash_at(failpoint::AFTER_ACTIVATING_COMMIT, "jit-crash-1").await {
        assert_eq!(trail, ["requested", "failed"]);
    }
}

#[tokio::test]
async fn a_crash_after_the_directory_add_removes_the_membership_and_fails_the_grant() {
    if let Some(trail) = crash_at(failpoint::AFTER_DIRECTORY_ADD, "jit-crash-2").await {
        assert_eq!(trail, ["requested", "failed"]);
    }
}

#[tokio::test]
async fn a_crash_after_the_ending_commit_finishes_the_removal_after_restart() {
    if let Some(trail) = crash_at(failpoint::AFTER_ENDING_COMMIT, "jit-crash-3").await {
        assert_eq!(trail, ["requested", "granted", "expired", "ended"]);
    }
}

#[tokio::test]
async fn a_crash_after_the_directory_remove_records_the_end_after_restart() {
    if let Some(trail) = crash_at(failpoint::AFTER_DIRECTORY_REMOVE, "jit-crash-4").await {
        assert_eq!(trail, ["requested", "granted", "expired", "ended"]);
    }
}

#[tokio::test]
async fn an_instance_killed_mid_removal_on_postgres_has_its_claim_taken_over_by_another() {
    let Some(samba) = Samba::up() else { return };
    let Some(op) = provider() else { return };
    let Some(database) = postgres_database().await else {
        return;
    };
    let group = samba.role_group("jit-crash-takeover");
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // A claims dave's expiry (ending, with its lease) and dies before removing him
    // a lease long enough that B is surely up before A's runs out
    let settings = [
        ("JITROLES_DATABASE_URL", database.as_str()),
        ("JITROLES_SCHEDULER_LEASE_SECONDS", "6"),
    ];
    let mut a = start_with(dir_a.path(), &op, failpoint::AFTER_ENDING_COMMIT, &settings).await;
    let rule_id = oncall_rule(
        a.channel().await,
        &op,
        ("Takeover", &group.name),
        2,
        pb::JustificationPolicy::Optional,
    )
    .await
    .id;
    let grant = RoleServiceClient::new(a.channel().await)
        .request_role(as_(
            &op,
            "dave",
            pb::RequestRoleRequest {
                rule_id,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    a.crashed().await;
    let dave = samba.dn_of("dave").to_lowercase();
    assert!(
        samba.members(&group).contains(&dave),
        "A died before the removal"
    );
    // B, another instance on the same database, takes the removal over when A's lease runs out
    let b = start_with(dir_b.path(), &op, "", &settings).await;
    let b_up = real_now();
    settles(&samba, &group, &b, &op, 20).await;
    let history = grants(&b, &op, true).await;
    assert_eq!(history.len(), 1);
    assert_eq!(
        trails(&b, &op).await.remove(&grant.id).unwrap(),
        ["requested", "granted", "expired", "ended"],
        "one expiry, ended once"
    );
    // B waited for A's lease: the end came at least the lease (2 s) after A's claim
    let claimed = AdminServiceClient::new(b.channel().await)
        .list_audit_events(as_(
            &op,
            "alice",
            pb::ListAuditEventsRequest {
                action: pb::AuditAction::Expired.into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .events[0]
        .at
        .unwrap();
    let at = |t: prost_types::Timestamp| {
        chrono::DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap()).unwrap()
    };
    let (claimed, ended) = (at(claimed), at(history[0].ended_at.unwrap()));
    let lease_end = claimed + chrono::TimeDelta::seconds(6);
    assert!(
        b_up < lease_end,
        "B came up after A's lease ran out: nothing shown"
    );
    assert!(
        ended >= lease_end,
        "B ended it at {ended}, before A's lease ran out at {lease_end}"
    );
}

/// A small deterministic generator (xorshift64*): the kill moments repeat for one seed.
struct Seeded(u64);

impl Seeded {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

/// Requests, extensions and releases by dave and svc-ci for as long as the server lives
/// (every error ignored: the server dies under it); the ids of grants a reply confirmed.
async fn workload(
    url: String,
    op: Arc<Provider>,
    rule_id: String,
    seed: u64,
    told: Arc<Mutex<Vec<String>>>,
) {
    let mut rng = Seeded(seed | 1);
    let Ok(channel) = Channel::from_shared(url).unwrap().connect().await else {
        return;
    };
    let mut roles = RoleServiceClient::new(channel);
    loop {
        for account in ["dave", "svc-ci"] {
            let asked = roles
                .request_role(as_(
                    &op,
                    account,
                    pb::RequestRoleRequest {
                        rule_id: rule_id.clone(),
                        duration: Some(secs(1 + rng.below(3) as i64)),
                        ..Default::default()
                    },
                ))
                .await;
            let Ok(grant) = asked.map(tonic::Response::into_inner) else {
                continue;
            };
            told.lock().unwrap().push(grant.id.clone());
            match rng.below(3) {
                0 => {
                    let _ = roles
                        .extend_grant(as_(
                            &op,
                            account,
                            pb::ExtendGrantRequest {
                                grant_id: grant.id,
                                duration: None,
                            },
                        ))
                        .await;
                }
                1 => {
                    let _ = roles
                        .release_grant(as_(
                            &op,
                            account,
                            pb::ReleaseGrantRequest { grant_id: grant.id },
                        ))
                        .await;
                }
                _ => {} // left to expire
            }
        }
        tokio::time::sleep(Duration::from_millis(rng.below(300))).await;
    }
}

#[tokio::test]
async fn kills_at_seeded_random_moments_lose_no_grant_and_leave_no_stray_member() {
    let Some(samba) = Samba::up() else { return };
    let Some(op) = provider() else { return };
    let seed: u64 = std::env::var("JITROLES_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_261_127);
    eprintln!("kill moments from JITROLES_CRASH_SEED={seed}");
    let mut rng = Seeded(seed | 1);
    let op = Arc::new(op);
    let group = samba.role_group("jit-crash-random");
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(dir.path(), &op, "").await;
    let rule_id = oncall_rule(
        server.channel().await,
        &op,
        ("Random", &group.name),
        2,
        pb::JustificationPolicy::Optional,
    )
    .await
    .id;
    let told = Arc::new(Mutex::new(Vec::new()));
    for _ in 0..8 {
        let work = tokio::spawn(workload(
            server.url.clone(),
            op.clone(),
            rule_id.clone(),
            rng.below(u64::MAX),
            told.clone(),
        ));
        tokio::time::sleep(Duration::from_millis(300 + rng.below(2_500))).await;
        server.child.kill().unwrap(); // SIGKILL
        server.child.wait().unwrap();
        work.abort();
        let _ = work.await;
        server = start(dir.path(), &op, "").await;
    }

    settles(&samba, &group, &server, &op, 30).await;
    let history = grants(&server, &op, true).await;
    let trails = trails(&server, &op).await;
    let told = told.lock().unwrap().clone();
    assert!(
        told.len() >= 8,
        "the workload made too few grants: {told:?}"
    );
    for id in &told {
        assert!(
            history.iter().any(|g| &g.id == id),
            "grant {id} was confirmed to its requester and then lost"
        );
        assert!(
            trails[id].contains(&"granted".to_owned()),
            "{id}: {:?}",
            trails[id]
        );
    }
    for g in &history {
        let trail = &trails[&g.id];
        let ends = trail
            .iter()
            .filter(|a| *a == "ended" || *a == "failed")
            .count();
        assert_eq!(
            trail.first().map(String::as_str),
            Some("requested"),
            "{trail:?}"
        );
        assert_eq!(ends, 1, "one end per grant: {} {trail:?}", g.id);
        assert!(
            matches!(trail.last().map(String::as_str), Some("ended" | "failed")),
            "the end is the last event: {trail:?}"
        );
    }
}

/// One crash at `point` while frank's approval makes dave's pending request access, then a
/// clean restart: the request ends `failed` with nothing left in the group, never lost, never
/// an unexplained member. Returns its audit trail.
async fn crash_at_approval(point: &str, group: &str) -> Option<Vec<String>> {
    let samba = Samba::up()?;
    let op = provider()?;
    let group = samba.role_group(group);
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(dir.path(), &op, point).await;
    let rule = oncall_rule(
        server.channel().await,
        &op,
        ("DBA (approved)", &group.name),
        60,
        pb::JustificationPolicy::Optional,
    )
    .await;
    decided_by_dba_approvers(server.channel().await, &op, &rule, 1, Vec::new()).await;
    let mut roles = RoleServiceClient::new(server.channel().await);
    let pending = roles
        .request_role(as_(
            &op,
            "dave",
            pb::RequestRoleRequest {
                rule_id: rule.id.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(pending.state(), pb::GrantState::Pending);
    let answer = roles
        .approve_request(as_(
            &op,
            "frank",
            pb::ApproveRequestRequest {
                grant_id: pending.id.clone(),
                comment: String::new(),
            },
        ))
        .await;
    assert!(
        answer.is_err(),
        "the server died before answering: {answer:?}"
    );
    server.crashed().await;
    drop(server);

    let server = start(dir.path(), &op, "").await;
    settles(&samba, &group, &server, &op, 20).await;
    let history = grants(&server, &op, true).await;
    assert_eq!(history.len(), 1, "the request is not lost: {history:?}");
    assert_eq!(history[0].state(), pb::GrantState::Failed);
    trails(&server, &op).await.remove(&history[0].id)
}

#[tokio::test]
async fn a_crash_between_the_last_approval_and_the_directory_write_fails_the_request_cleanly() {
    if let Some(trail) =
        crash_at_approval(failpoint::AFTER_ACTIVATING_COMMIT, "jit-crash-approval-1").await
    {
        assert_eq!(trail, ["approval_requested", "approved", "failed"]);
    }
}

#[tokio::test]
async fn a_crash_after_an_approvals_directory_write_removes_the_member_and_fails_the_request() {
    if let Some(trail) =
        crash_at_approval(failpoint::AFTER_DIRECTORY_ADD, "jit-crash-approval-2").await
    {
        assert_eq!(trail, ["approval_requested", "approved", "failed"]);
    }
}
