//! The directory cut off while grants fall due (an in-test TCP proxy in front of
//! `jitroles-ad-fixture`, so the shared Samba DC is untouched): requests fail with UNAVAILABLE
//! and leave nothing behind, and once the directory answers again every overdue removal
//! happens within seconds.

use std::time::{Duration, Instant};

use jitroles_ad_fixture::{Fixture, Options, SVC_DN, SVC_PASSWORD, proxy::Proxy};
use jitroles_proto::v1::{
    self as pb, admin_service_client::AdminServiceClient, role_service_client::RoleServiceClient,
};
use jitroles_server::config::{AccessSection, DirectorySection, OidcSection, UserAttribute};
use tonic::{Code, Request, transport::Channel};

use crate::{
    oidc::{Provider, provider},
    support::config_in,
};

fn as_<T>(op: &Provider, account: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    let bearer = format!("Bearer {}", op.person_token(account));
    request
        .metadata_mut()
        .insert("authorization", bearer.parse().unwrap());
    request
}

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
        forest_level: 7,
        pam_enabled: false,
    })
    .await
    .unwrap();
    let upstream = fixture.url().trim_start_matches("ldap://").parse().unwrap();
    let proxy = Proxy::start(upstream).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_in(dir.path());
    config.directory = Some(DirectorySection {
        url: format!("ldap://{}", proxy.addr()),
        bind_dn: SVC_DN.into(),
        bind_password: SVC_PASSWORD.into(),
        ca_file: None,
        starttls: false,
        allow_plain_ldap: true,
        timeout_seconds: 2,
        force_scheduler: false,
    });
    config.oidc = Some(OidcSection {
        issuer: op.issuer.clone(),
        audience: op.audience.clone(),
        jwks_url: None,
        service_accounts: Default::default(),
        client_id: None,
        client_secret: None,
        user_claim: "preferred_username".into(),
        user_attribute: UserAttribute::SamAccountName,
    });
    config.access = AccessSection {
        admin_groups: vec!["jitroles-admins".into()],
    };
    config.scheduler.reconcile_seconds = 1;
    config.scheduler.unconfirmed_after_seconds = 1;
    let server = jitroles_server::start(&config).await.unwrap();
    let channel = Channel::from_shared(format!("http://{}", server.addr()))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut admin = AdminServiceClient::new(channel.clone());
    let mut roles = RoleServiceClient::new(channel);

    let oncall = admin
        .search_directory(as_(
            &op,
            "alice",
            pb::SearchDirectoryRequest {
                query: "dba-oncall".into(),
                kind: pb::DirectoryObjectKind::Group.into(),
                page_size: 5,
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .entries
        .remove(0)
        .sid;
    let rule = admin
        .create_rule(as_(
            &op,
            "alice",
            pb::CreateRuleRequest {
                spec: Some(pb::RuleSpec {
                    name: "DBA".into(),
                    target_group: "jit-role-dba".into(),
                    acl: vec![pb::AclEntry {
                        principal_sid: oncall,
                        display_name: String::new(),
                        kind: pb::PrincipalKind::Group.into(),
                        effect: pb::Effect::Allow.into(),
                    }],
                    max_duration: Some(prost_types::Duration {
                        seconds: 3600,
                        nanos: 0,
                    }),
                    default_duration: Some(prost_types::Duration {
                        seconds: 2,
                        nanos: 0,
                    }),
                    enabled: true,
                    ..Default::default()
                }),
            },
        ))
        .await
        .unwrap()
        .into_inner();
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
    assert!(
        history
            .iter()
            .filter(|g| g.subject_account == "svc-ci")
            .all(|g| g.state() == pb::GrantState::Failed),
        "{history:?}"
    );
}
