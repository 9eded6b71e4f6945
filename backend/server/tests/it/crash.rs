//! Crashes at the worst moments: the real `jitroles` binary runs with a crash point armed
//! (`JITROLES_TEST_CRASH_AT`, an abort with no cleanup, like SIGKILL), dies there, and is
//! started again on the same database. Afterwards the group's members equal what the live
//! grants explain, no grant is lost, and each grant has one complete audit trail. The directory
//! is `jitroles-ad-fixture` (each scenario owns its directory, so they can crash freely).

use std::{
    net::TcpListener,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use jitroles_ad_fixture::{Fixture, Options, SVC_DN, SVC_PASSWORD};
use jitroles_proto::v1::{
    self as pb, admin_service_client::AdminServiceClient, role_service_client::RoleServiceClient,
};
use jitroles_server::failpoint;
use tonic::transport::Channel;

use crate::{
    oidc::{Provider, provider},
    stack::{as_, oncall_rule},
};

struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start(dir: &std::path::Path, fixture: &Fixture, op: &Provider, crash_at: &str) -> Server {
    let port = free_port();
    std::fs::create_dir_all(dir.join("dist")).unwrap();
    std::fs::write(dir.join("dist/index.html"), "app").unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_jitroles"))
        .arg("serve")
        .env("JITROLES_DATA_DIR", dir.join("data"))
        .env("JITROLES_SERVER_LISTEN", format!("127.0.0.1:{port}"))
        .env("JITROLES_SERVER_WEB_ROOT", dir.join("dist"))
        .env("JITROLES_DIRECTORY_URL", fixture.url())
        .env("JITROLES_DIRECTORY_BIND_DN", SVC_DN)
        .env("JITROLES_DIRECTORY_BIND_PASSWORD", SVC_PASSWORD)
        .env("JITROLES_DIRECTORY_ALLOW_PLAIN_LDAP", "true")
        .env("JITROLES_OIDC_ISSUER", &op.issuer)
        .env("JITROLES_OIDC_AUDIENCE", &op.audience)
        .env("JITROLES_ACCESS_ADMIN_GROUPS", "jitroles-admins")
        .env("JITROLES_SCHEDULER_RECONCILE_SECONDS", "1")
        .env("JITROLES_LOG_LEVEL", "warn")
        .env("JITROLES_TEST_CRASH_AT", crash_at)
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
    async fn channel(&self) -> Channel {
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

/// One crash at `point` during dave's request (or its expiry), then a clean restart; returns
/// the audit trail of dave's grant once nothing is live any more.
async fn crash_at(point: &str) -> Option<Vec<String>> {
    let op = provider()?;
    let fixture = Fixture::start(Options {
        forest_level: 7,
        pam_enabled: false,
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(dir.path(), &fixture, &op, point).await;
    let rule_id = oncall_rule(
        server.channel().await,
        &op,
        ("DBA", "jit-role-dba"),
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
    if answer.is_ok() {
        assert!(
            point == failpoint::AFTER_ENDING_COMMIT || point == failpoint::AFTER_DIRECTORY_REMOVE
        );
    }
    server.crashed().await;
    drop(server);

    let server = start(dir.path(), &fixture, &op, "").await;
    let mut admin = AdminServiceClient::new(server.channel().await);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let live = admin
            .list_grants(as_(&op, "alice", pb::ListGrantsRequest::default()))
            .await
            .unwrap()
            .into_inner()
            .grants;
        let members = fixture.member_dns("jit-role-dba");
        let dave_member = members.iter().any(|dn| dn.starts_with("CN=Dave Dba,"));
        if live.is_empty() && !dave_member {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "after the restart: live {live:?}, members {members:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        fixture.member_dns("jit-role-dba").len(),
        1,
        "carol, the permanent member, stays"
    );
    let history = admin
        .list_grants(as_(
            &op,
            "alice",
            pb::ListGrantsRequest {
                include_ended: true,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .grants;
    assert_eq!(history.len(), 1, "the grant is not lost: {history:?}");
    let events = admin
        .list_audit_events(as_(&op, "alice", pb::ListAuditEventsRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .events;
    Some(
        events
            .iter()
            .rev()
            .filter(|e| e.grant_id == history[0].id)
            .map(|e| e.action.clone())
            .collect(),
    )
}

#[tokio::test]
async fn a_crash_after_the_write_ahead_commit_ends_the_grant_failed() {
    if let Some(trail) = crash_at(failpoint::AFTER_ACTIVATING_COMMIT).await {
        assert_eq!(trail, ["requested", "failed"]);
    }
}

#[tokio::test]
async fn a_crash_after_the_directory_add_removes_the_membership_and_fails_the_grant() {
    if let Some(trail) = crash_at(failpoint::AFTER_DIRECTORY_ADD).await {
        assert_eq!(trail, ["requested", "failed"]);
    }
}

#[tokio::test]
async fn a_crash_after_the_ending_commit_finishes_the_removal_after_restart() {
    if let Some(trail) = crash_at(failpoint::AFTER_ENDING_COMMIT).await {
        assert_eq!(trail, ["requested", "granted", "expired", "ended"]);
    }
}

#[tokio::test]
async fn a_crash_after_the_directory_remove_records_the_end_after_restart() {
    if let Some(trail) = crash_at(failpoint::AFTER_DIRECTORY_REMOVE).await {
        assert_eq!(trail, ["requested", "granted", "expired", "ended"]);
    }
}
