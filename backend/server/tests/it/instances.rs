//! Two jitroles instances on one PostgreSQL database share the work: each expiry is processed
//! exactly once, and when one instance stops, the other finishes its grants. The directory is
//! `jitroles-ad-fixture` without PAM (the scheduled mechanism), so this test owns its whole
//! directory and can make many grants at once.

use std::time::{Duration, Instant};

use jitroles_ad_fixture::{Fixture, Options, SVC_DN, SVC_PASSWORD};
use jitroles_proto::v1::{
    self as pb, admin_service_client::AdminServiceClient, role_service_client::RoleServiceClient,
};
use jitroles_server::config::{AccessSection, DirectorySection, OidcSection, UserAttribute};
use tonic::{Request, transport::Channel};

use crate::{
    oidc::{Provider, provider},
    support::{config_in, postgres_database},
};

const RULES: usize = 6;

fn as_<T>(op: &Provider, account: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    let bearer = format!("Bearer {}", op.person_token(account));
    request
        .metadata_mut()
        .insert("authorization", bearer.parse().unwrap());
    request
}

async fn channel(server: &jitroles_server::Running) -> Channel {
    Channel::from_shared(format!("http://{}", server.addr()))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

#[tokio::test]
async fn two_instances_on_postgres_end_each_grant_exactly_once_and_survive_one_stopping() {
    let Some(op) = provider() else { return };
    let Some(url) = postgres_database().await else {
        return;
    };
    let fixture = Fixture::start(Options {
        forest_level: 7,
        pam_enabled: false,
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_in(dir.path());
    config.database.url = Some(url);
    config.directory = Some(DirectorySection {
        url: fixture.url(),
        bind_dn: SVC_DN.into(),
        bind_password: SVC_PASSWORD.into(),
        ca_file: None,
        starttls: false,
        allow_plain_ldap: true,
        timeout_seconds: 5,
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
    let a = jitroles_server::start(&config).await.unwrap();
    let b = jitroles_server::start(&config).await.unwrap();

    // rules alternate between the two role groups; made on A, requested on A and B
    let mut admin = AdminServiceClient::new(channel(&a).await);
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
    let mut grants = Vec::new();
    for i in 0..RULES {
        let rule = admin
            .create_rule(as_(
                &op,
                "alice",
                pb::CreateRuleRequest {
                    spec: Some(pb::RuleSpec {
                        name: format!("Rule {i}"),
                        target_group: if i % 2 == 0 {
                            "jit-role-dba"
                        } else {
                            "jit-role-web"
                        }
                        .into(),
                        acl: vec![pb::AclEntry {
                            principal_sid: oncall.clone(),
                            display_name: String::new(),
                            kind: pb::PrincipalKind::Group.into(),
                            effect: pb::Effect::Allow.into(),
                        }],
                        max_duration: Some(prost_types::Duration {
                            seconds: 3600,
                            nanos: 0,
                        }),
                        default_duration: Some(prost_types::Duration {
                            seconds: 3,
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
        for (account, server) in [("dave", &a), ("svc-ci", &b)] {
            let grant = RoleServiceClient::new(channel(server).await)
                .request_role(as_(
                    &op,
                    account,
                    pb::RequestRoleRequest {
                        rule_id: rule.id.clone(),
                        // the first half falls due while both instances run, the rest after
                        // A has stopped
                        duration: Some(prost_types::Duration {
                            seconds: if i < RULES / 2 { 2 } else { 7 },
                            nanos: 0,
                        }),
                        ..Default::default()
                    },
                ))
                .await
                .unwrap()
                .into_inner();
            grants.push(grant.id);
        }
    }
    assert_eq!(
        fixture.member_dns("jit-role-dba").len(),
        3,
        "carol, dave, svc-ci"
    );
    assert_eq!(fixture.member_dns("jit-role-web").len(), 2);

    let mut admin = AdminServiceClient::new(channel(&b).await);
    // both schedulers race for the first half; then A stops and B alone ends the rest
    wait_for_live(&op, &mut admin, RULES, 10).await;
    a.shutdown().await.unwrap();
    wait_for_live(&op, &mut admin, 0, 15).await;
    assert_eq!(
        fixture.member_dns("jit-role-dba").len(),
        1,
        "only carol stays"
    );
    assert!(fixture.member_dns("jit-role-web").is_empty());

    let events = admin
        .list_audit_events(as_(
            &op,
            "alice",
            pb::ListAuditEventsRequest {
                page_size: 200,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .events;
    for id in &grants {
        let actions: Vec<&str> = events
            .iter()
            .filter(|e| &e.grant_id == id)
            .map(|e| e.action.as_str())
            .rev()
            .collect();
        assert_eq!(
            actions,
            ["requested", "granted", "expired", "ended"],
            "one complete trail per grant: {id}"
        );
    }
    b.shutdown().await.unwrap();
}

/// Waits until at most `left` grants are live, for at most `seconds`.
async fn wait_for_live(
    op: &Provider,
    admin: &mut AdminServiceClient<Channel>,
    left: usize,
    seconds: u64,
) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        let live = admin
            .list_grants(as_(op, "alice", pb::ListGrantsRequest::default()))
            .await
            .unwrap()
            .into_inner()
            .grants;
        if live.len() <= left {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} grants still live",
            live.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
