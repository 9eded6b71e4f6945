//! The installed Debian package, as `scripts/package-test` walks it: these tests are ignored in
//! `cargo test` and run by that script (`-- --ignored package::`) against the installed
//! server over TLS (`JITROLES_PACKAGE_URL`, `https://localhost:PORT`, and
//! `JITROLES_PACKAGE_CA`, the CA its certificate chains to). The first runs before the package
//! is upgraded in place, the second after.

use std::{net::SocketAddr, path::PathBuf};

use jitroles_proto::v1::{self as pb, role_service_client::RoleServiceClient};
use tonic::{Request, transport::Channel};

use crate::{
    oidc::{Provider, provider},
    samba::Samba,
    stack::{as_, oncall_rule, secs},
    tls::grpc_over_tls,
};

/// The role group the package walk creates before the upgrade and deletes after it.
const GROUP: &str = "jit-role-package";
/// The rule on it; the browser part of the walk requests it too (`e2e/package/`).
const RULE: &str = "Package check";

fn installed() -> (SocketAddr, PathBuf) {
    let url = std::env::var("JITROLES_PACKAGE_URL")
        .expect("JITROLES_PACKAGE_URL: run by scripts/package-test");
    let port: u16 = url
        .rsplit_once(':')
        .and_then(|(_, p)| p.trim_end_matches('/').parse().ok())
        .expect("https://localhost:PORT");
    let ca = std::env::var("JITROLES_PACKAGE_CA").expect("JITROLES_PACKAGE_CA");
    (([127, 0, 0, 1], port).into(), ca.into())
}

async fn channel() -> Channel {
    let (addr, ca) = installed();
    grpc_over_tls(addr, &ca).await.0
}

async fn as_ci_bot<T>(op: &Provider, message: T) -> Request<T> {
    let mut request = Request::new(message);
    let bearer = format!("Bearer {}", op.ci_bot_token().await);
    request
        .metadata_mut()
        .insert("authorization", bearer.parse().unwrap());
    request
}

async fn live_grants(request: Request<pb::ListMyGrantsRequest>) -> Vec<pb::Grant> {
    RoleServiceClient::new(channel().await)
        .list_my_grants(request)
        .await
        .unwrap()
        .into_inner()
        .grants
        .into_iter()
        .filter(|g| g.state() == pb::GrantState::Active)
        .collect()
}

#[tokio::test]
#[ignore = "run by scripts/package-test against the installed package"]
async fn package_a_service_requests_a_role_over_tls_with_native_grpc() {
    let (op, samba) = (provider().unwrap(), Samba::up().unwrap());
    // made fresh; deleted by the test after the upgrade
    let group = samba.role_group(GROUP);
    std::mem::forget(group);
    let rule = oncall_rule(
        channel().await,
        &op,
        (RULE, GROUP),
        3600,
        pb::JustificationPolicy::Optional,
    )
    .await;

    let grant = RoleServiceClient::new(channel().await)
        .request_role(
            as_ci_bot(
                &op,
                pb::RequestRoleRequest {
                    rule_id: rule.id.clone(),
                    duration: Some(secs(1800)),
                    justification: "package check over TLS".into(),
                    ..Default::default()
                },
            )
            .await,
        )
        .await
        .unwrap()
        .into_inner();

    assert_eq!(grant.state(), pb::GrantState::Active);
    let group = samba.role_group_named(GROUP);
    assert!(
        samba
            .members(&group)
            .contains(&samba.dn_of("svc-ci").to_lowercase()),
        "svc-ci is not in {GROUP}"
    );
    std::mem::forget(group);
}

#[tokio::test]
#[ignore = "run by scripts/package-test after upgrading the installed package"]
async fn package_grants_made_before_an_upgrade_survive_it() {
    let (op, samba) = (provider().unwrap(), Samba::up().unwrap());
    let group = samba.role_group_named(GROUP);
    let members = samba.members(&group);
    let mut roles = RoleServiceClient::new(channel().await);
    // the service's grant over native gRPC, and dave's from the browser
    let service = live_grants(as_ci_bot(&op, pb::ListMyGrantsRequest::default()).await).await;
    let dave = live_grants(as_(&op, "dave", pb::ListMyGrantsRequest::default())).await;
    for (who, grants) in [("svc-ci", &service), ("dave", &dave)] {
        let grant = grants
            .iter()
            .find(|g| g.rule_name == RULE)
            .unwrap_or_else(|| panic!("{who}'s grant did not survive the upgrade: {grants:?}"));
        assert!(
            members.contains(&samba.dn_of(who).to_lowercase()),
            "{who} left {GROUP}"
        );
        // done: leave the directory as it was
        let release = pb::ReleaseGrantRequest {
            grant_id: grant.id.clone(),
        };
        let request = if who == "dave" {
            as_(&op, "dave", release)
        } else {
            as_ci_bot(&op, release).await
        };
        roles.release_grant(request).await.unwrap();
    }
    assert!(
        !samba
            .members(&group)
            .contains(&samba.dn_of("dave").to_lowercase())
    );
    drop(group); // deletes it
}
