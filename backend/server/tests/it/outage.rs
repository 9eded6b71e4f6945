//! The directory cut off while grants fall due (an in-test TCP proxy in front of
//! `jitroles-ad-fixture`, so the shared Samba DC is untouched): requests fail with UNAVAILABLE
//! and leave nothing behind, and once the directory answers again every overdue removal
//! happens within seconds.

use std::time::{Duration, Instant};

use jitroles_ad_fixture::{Fixture, Options, proxy::Proxy};
use jitroles_proto::v1::{
    self as pb, admin_service_client::AdminServiceClient, role_service_client::RoleServiceClient,
};
use tonic::{Code, transport::Channel};

use crate::{
    oidc::provider,
    stack::{as_, on_fixture, oncall_rule},
};

fn member(fixture: &Fixture, cn: &str) -> bool {
    fixture
        .member_dns("jit-role-dba")
        .iter()
        .any(|dn| dn.starts_with(&format!("CN={cn},")))
}

#[tokio::test]
async fn an_outage_loses_nothing_and_overdue_removals_follow_the_directory_back() {
    let Some(op) = provider() else { return };
    let fixture = Fixture::start(Options {
        pam_enabled: false,
        ..Options::default()
    })
    .await
    .unwrap();
    let upstream = fixture.url().trim_start_matches("ldap://").parse().unwrap();
    let proxy = Proxy::start(upstream).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = on_fixture(dir.path(), format!("ldap://{}", proxy.addr()), &op);
    config.scheduler.reconcile_seconds = 1;
    config.scheduler.unconfirmed_after_seconds = 1;
    let server = jitroles_server::start(&config).await.unwrap();
    let channel = Channel::from_shared(format!("http://{}", server.addr()))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut admin = AdminServiceClient::new(channel.clone());
    let mut roles = RoleServiceClient::new(channel.clone());
    let rule = oncall_rule(
        channel,
        &op,
        ("DBA", "jit-role-dba"),
        2,
        pb::JustificationPolicy::Optional,
    )
    .await;
    let ask = || pb::RequestRoleRequest {
        rule_id: rule.id.clone(),
        ..Default::default()
    };
    let dave = roles
        .request_role(as_(&op, "dave", ask()))
        .await
        .unwrap()
        .into_inner();
    assert!(member(&fixture, "Dave Dba"));
    // svc-ci is known to the server (its caller is cached) before the DC goes away
    roles
        .who_am_i(as_(&op, "svc-ci", pb::WhoAmIRequest {}))
        .await
        .unwrap();

    proxy.cut().await;
    let refused = roles
        .request_role(as_(&op, "svc-ci", ask()))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");
    // the caller learns what happened and an id for the log, not the DC's address or AD's text
    let said = refused.message().to_lowercase();
    for internal in [
        "ldap",
        "cn=",
        "dc=",
        "://",
        "127.0.0.1",
        "connection refused",
    ] {
        assert!(
            !said.contains(internal),
            "{internal:?} reached the caller: {said}"
        );
    }
    assert!(said.contains("(error "), "an error id to quote: {said}");
    // dave's grant falls due while the DC is away
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(member(&fixture, "Dave Dba"), "nobody could remove him yet");

    proxy.restore();
    let back = Instant::now();
    loop {
        let live = admin
            .list_grants(as_(&op, "alice", pb::ListGrantsRequest::default()))
            .await
            .unwrap()
            .into_inner()
            .grants;
        if live.is_empty() && !member(&fixture, "Dave Dba") {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(10),
            "still live after the DC returned: {live:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        !member(&fixture, "CI Service"),
        "the refused request left nothing behind"
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
    let dave_now = history.iter().find(|g| g.id == dave.id).unwrap();
    assert_eq!(dave_now.end_reason(), pb::EndReason::Expired);
    // the refused request was recorded before the directory write (write-ahead) and ended
    // failed once it could be confirmed that nothing stayed behind
    let svc_ci: Vec<_> = history
        .iter()
        .filter(|g| g.subject_account == "svc-ci")
        .collect();
    assert_eq!(svc_ci.len(), 1, "{history:?}");
    assert_eq!(svc_ci[0].state(), pb::GrantState::Failed, "{history:?}");
}
