//! Two domain controllers, one cut mid-run: two TCP proxies in front of the one test DC (Samba
//! over LDAPS) stand for two DCs in `directory.urls`. Requests and expiries go on through the
//! second while the first is cut, and `/metrics` names the cut one. This proves failover and
//! reconnection, not replication: both proxies reach the same directory.

use std::time::{Duration, Instant};

use jitroles_ad_fixture::proxy::Proxy;
use jitroles_proto::v1::{
    self as pb, admin_service_client::AdminServiceClient, role_service_client::RoleServiceClient,
};
use tonic::transport::Channel;

use crate::{
    samba::Samba,
    stack::{as_, directory_and_provider, oncall_rule},
};

#[tokio::test]
async fn requests_and_expiries_go_on_while_one_of_two_dcs_is_cut() {
    let dir = tempfile::tempdir().unwrap();
    let Some((mut config, op)) = directory_and_provider(dir.path()) else {
        return;
    };
    let Some(samba) = Samba::up() else { return };
    let group = samba.role_group("jit-failover");
    let section = config.directory.as_mut().unwrap();
    let upstream = section.urls[0]
        .trim_start_matches("ldaps://")
        .parse()
        .unwrap();
    let (first, second) = (
        Proxy::start(upstream).await.unwrap(),
        Proxy::start(upstream).await.unwrap(),
    );
    // the test CA's certificate names 127.0.0.1, where both proxies listen
    section.urls = vec![
        format!("ldaps://{}", first.addr()),
        format!("ldaps://{}", second.addr()),
    ];
    section.timeout_seconds = 2;
    config.scheduler.reconcile_seconds = 1;
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
        ("Failover", &group.name),
        2,
        pb::JustificationPolicy::Optional,
    )
    .await;
    let ask = || pb::RequestRoleRequest {
        rule_id: rule.id.clone(),
        ..Default::default()
    };
    let member = |who: &str| {
        samba
            .members(&group)
            .contains(&samba.dn_of(who).to_lowercase())
    };
    roles.request_role(as_(&op, "dave", ask())).await.unwrap();
    assert!(member("dave"));
    assert_eq!(
        second.accepted(),
        0,
        "the first DC served everything so far"
    );

    first.cut().await;
    // a request after the cut: the grant is written through the second DC
    let started = Instant::now();
    let svc = roles
        .request_role(as_(&op, "svc-ci", ask()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(svc.state(), pb::GrantState::Active);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(member("svc-ci"));
    assert!(second.accepted() > 0);

    // both grants (2 s) fall due while the first DC is cut: the scheduler removes them
    let waiting = Instant::now();
    loop {
        let live = admin
            .list_grants(as_(&op, "alice", pb::ListGrantsRequest::default()))
            .await
            .unwrap()
            .into_inner()
            .grants;
        let mine: Vec<_> = live.iter().filter(|g| g.rule_id == rule.id).collect();
        if mine.is_empty() && !member("dave") && !member("svc-ci") {
            break;
        }
        assert!(
            waiting.elapsed() < Duration::from_secs(15),
            "still live with the first DC cut: {mine:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let history = admin
        .list_grants(as_(
            &op,
            "alice",
            pb::ListGrantsRequest {
                include_ended: true,
                rule_id: rule.id.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .grants;
    assert_eq!(history.len(), 2, "{history:?}");
    assert!(
        history
            .iter()
            .all(|g| g.end_reason() == pb::EndReason::Expired),
        "{history:?}"
    );

    let metrics = reqwest::get(format!("http://{}/metrics", server.addr()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for (proxy, up) in [(&first, 0), (&second, 1)] {
        let line = format!(
            "jitroles_directory_dc_up{{url=\"ldaps://{}\"}} {up}",
            proxy.addr()
        );
        assert!(metrics.contains(&line), "{line} in:\n{metrics}");
    }
}
