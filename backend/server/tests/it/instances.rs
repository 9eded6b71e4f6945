//! Two jitroles instances on one PostgreSQL database share the work: each expiry is processed
//! exactly once, and when one instance stops, the other finishes its grants; both append to
//! one audit chain. The directory is
//! `jitroles-ad-fixture` without PAM (the scheduled mechanism), so this test owns its whole
//! directory and can make many grants at once.

use std::time::{Duration, Instant};

use jitroles_ad_fixture::{Fixture, Options};
use jitroles_proto::v1::{
    self as pb, admin_service_client::AdminServiceClient, role_service_client::RoleServiceClient,
};
use jitroles_server::config::Config;
use tonic::transport::Channel;

use crate::{
    oidc::{Provider, provider},
    stack::{as_, decided_by_dba_approvers, on_fixture, oncall_rule, save_spec},
    support::postgres_database,
};

const RULES: usize = 6;

async fn channel(server: &jitroles_server::Running) -> Channel {
    Channel::from_shared(format!("http://{}", server.addr()))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

/// A configuration for instances sharing a fresh PostgreSQL database, on a directory fixture
/// of their own without PAM; `None` outside CI without the provider or PostgreSQL.
async fn on_postgres() -> Option<(Provider, Fixture, tempfile::TempDir, Config)> {
    let op = provider()?;
    let url = postgres_database().await?;
    let fixture = Fixture::start(Options {
        pam_enabled: false,
        ..Options::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = on_fixture(dir.path(), fixture.url(), &op);
    config.database.url = Some(url.into());
    Some((op, fixture, dir, config))
}

#[tokio::test]
async fn two_instances_on_postgres_end_each_grant_exactly_once_and_survive_one_stopping() {
    let Some((op, fixture, _dir, mut config)) = on_postgres().await else {
        return;
    };
    // a grant A claimed just before it stopped is B's two seconds later
    config.scheduler.lease_seconds = 2;
    let a = jitroles_server::start(&config).await.unwrap();
    let b = jitroles_server::start(&config).await.unwrap();

    // rules alternate between the two role groups; made on A, requested on A and B
    let mut grants = Vec::new();
    for i in 0..RULES {
        let group = if i % 2 == 0 {
            "jit-role-dba"
        } else {
            "jit-role-web"
        };
        let rule = oncall_rule(
            channel(&a).await,
            &op,
            (&format!("Rule {i}"), group),
            3,
            pb::JustificationPolicy::Optional,
        )
        .await;
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
        let actions: Vec<String> = events
            .iter()
            .filter(|e| &e.grant_id == id)
            .map(|e| e.action().label())
            .rev()
            .collect();
        assert_eq!(
            actions,
            ["requested", "granted", "expired", "ended"],
            "one complete trail per grant: {id}"
        );
    }
    // both instances chained the audit log while they ran: one chain, every event in it
    let database = jitroles_store::Database::connect(&config.database_url())
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while database.unchained_audit_events().await.unwrap() > 0 {
        assert!(Instant::now() < deadline, "the audit log is not chained");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let chained = database
        .verify_chain(None)
        .await
        .unwrap()
        .map(|h| h.seq)
        .unwrap();
    assert!(
        chained as usize >= events.len(),
        "{chained} of {}",
        events.len()
    );
    database.close().await;
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

/// Rules are held in memory for requests: a deny entry saved on one instance must hold on the
/// other within 5 s.
#[tokio::test]
async fn a_deny_entry_saved_on_one_instance_holds_on_the_other_within_five_seconds() {
    let Some((op, fixture, _dir, config)) = on_postgres().await else {
        return;
    };
    let a = jitroles_server::start(&config).await.unwrap();
    let b = jitroles_server::start(&config).await.unwrap();
    let rule = oncall_rule(
        channel(&a).await,
        &op,
        ("Deny test", "jit-role-dba"),
        60,
        pb::JustificationPolicy::Optional,
    )
    .await;
    let mut roles_on_b = RoleServiceClient::new(channel(&b).await);
    let sees = |roles: Vec<pb::Role>| roles.iter().any(|r| r.rule_id == rule.id);
    let listed = roles_on_b
        .list_roles(as_(&op, "dave", pb::ListRolesRequest {}))
        .await
        .unwrap()
        .into_inner()
        .roles;
    assert!(sees(listed), "B holds the rule before the change");

    let mut admin = AdminServiceClient::new(channel(&a).await);
    let dave = admin
        .search_directory(as_(
            &op,
            "alice",
            pb::SearchDirectoryRequest {
                query: "dave".into(),
                kind: pb::DirectoryObjectKind::User.into(),
                page_size: 5,
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .entries
        .into_iter()
        .find(|e| e.account_name == "dave")
        .unwrap()
        .sid;
    let mut spec = rule.spec.clone().unwrap();
    spec.acl.push(pb::AclEntry {
        principal_sid: dave,
        display_name: String::new(),
        kind: pb::PrincipalKind::User.into(),
        effect: pb::Effect::Deny.into(),
    });
    save_spec(channel(&a).await, &op, &rule, spec).await;
    let saved = Instant::now();
    loop {
        let listed = roles_on_b
            .list_roles(as_(&op, "dave", pb::ListRolesRequest {}))
            .await
            .unwrap()
            .into_inner()
            .roles;
        if !sees(listed) {
            break;
        }
        assert!(
            saved.elapsed() < Duration::from_secs(5),
            "B still offers dave the rule 5 s after the deny entry was saved on A"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let refused = roles_on_b
        .request_role(as_(
            &op,
            "dave",
            pb::RequestRoleRequest {
                rule_id: rule.id.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied, "{refused:?}");
    assert!(fixture.member_dns("jit-role-dba").len() == 1, "only carol");
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
}

/// Rounds of the forced interleaving: 20 in the test run; `JITROLES_INTERLEAVINGS=200` for
/// the longer run `docs/benchmarks.md` records.
fn interleavings() -> usize {
    std::env::var("JITROLES_INTERLEAVINGS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20)
}

#[tokio::test]
async fn on_postgres_an_instance_never_removes_a_membership_another_instance_just_granted() {
    let Some((op, fixture, _dir, config)) = on_postgres().await else {
        return;
    };
    // one clock for both instances, so the test says when a grant is due
    let clock = std::sync::Arc::new(jitroles_domain::ManualClock::new(
        jitroles_domain::Clock::now(&jitroles_server::clock::SystemClock),
    ));
    let start = || async {
        let mut dependencies = jitroles_server::Dependencies::from_config(&config).unwrap();
        dependencies.clock = clock.clone();
        jitroles_server::start_with(&config, dependencies)
            .await
            .unwrap()
    };
    let (a, b) = (start().await, start().await);
    let ours = [a.addr().to_string(), b.addr().to_string()];
    let rule = |name: &'static str| {
        let a = &a;
        let op = &op;
        async move {
            oncall_rule(
                channel(a).await,
                op,
                (name, "jit-role-dba"),
                2,
                pb::JustificationPolicy::Optional,
            )
            .await
            .id
        }
    };
    let (first, second) = (rule("First").await, rule("Second").await);
    let ask = |rule_id: &str| {
        as_(
            &op,
            "dave",
            pb::RequestRoleRequest {
                rule_id: rule_id.to_owned(),
                ..Default::default()
            },
        )
    };
    let dave_member = || {
        fixture
            .member_dns("jit-role-dba")
            .iter()
            .any(|m| m.to_lowercase().starts_with("cn=dave"))
    };
    for round in 0..interleavings() {
        let instances = ours.clone();
        let paused = jitroles_server::failpoint::pause_next(
            jitroles_server::failpoint::BEFORE_DIRECTORY_REMOVE,
            move |holder| instances.iter().any(|i| holder.ends_with(i.as_str())),
        );
        RoleServiceClient::new(channel(&a).await)
            .request_role(ask(&first))
            .await
            .unwrap();
        // due: whichever instance ends it stops after its coverage check, before the removal
        clock.advance(chrono::TimeDelta::seconds(3));
        a.wake();
        b.wake();
        let ending = tokio::time::timeout(Duration::from_secs(10), paused.reached())
            .await
            .expect("an instance reaches the removal");
        // the other instance grants dave the same group through the second rule meanwhile
        let other = if ending.ends_with(&ours[0]) { &b } else { &a };
        let mut roles = RoleServiceClient::new(channel(other).await);
        let request = roles.request_role(ask(&second));
        tokio::pin!(request);
        let early = tokio::time::timeout(Duration::from_millis(300), &mut request).await;
        assert!(
            early.is_err(),
            "round {round}: the request waits for the membership the other instance holds"
        );
        paused.resume();
        let granted = request.await.unwrap().into_inner();
        assert_eq!(granted.state(), pb::GrantState::Active, "round {round}");
        assert!(dave_member(), "round {round}: dave was removed early");
        // clean slate: the second grant is released
        RoleServiceClient::new(channel(other).await)
            .release_grant(as_(
                &op,
                "dave",
                pb::ReleaseGrantRequest {
                    grant_id: granted.id,
                },
            ))
            .await
            .unwrap();
        assert!(!dave_member(), "round {round}: released");
    }
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
}

/// Two approvers give the last two approvals of one request at the same moment, each on an
/// instance of its own: the request activates exactly once (one directory write, one
/// `granted`), and both decisions are kept. Several rounds, so the two really overlap.
#[tokio::test]
async fn on_postgres_two_last_approvals_at_once_activate_a_request_exactly_once() {
    let Some((op, fixture, _dir, config)) = on_postgres().await else {
        return;
    };
    let a = jitroles_server::start(&config).await.unwrap();
    let b = jitroles_server::start(&config).await.unwrap();
    let rule = oncall_rule(
        channel(&a).await,
        &op,
        ("DBA (two approvers)", "jit-role-dba"),
        600,
        pb::JustificationPolicy::Optional,
    )
    .await;
    decided_by_dba_approvers(channel(&a).await, &op, &rule, 2, Vec::new()).await;
    let mut admin = AdminServiceClient::new(channel(&a).await);
    let (mut on_a, mut on_b) = (
        RoleServiceClient::new(channel(&a).await),
        RoleServiceClient::new(channel(&b).await),
    );

    for round in 0..5 {
        let pending = on_a
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
        let approve = |account: &str| {
            as_(
                &op,
                account,
                pb::ApproveRequestRequest {
                    grant_id: pending.id.clone(),
                    comment: String::new(),
                },
            )
        };
        let (mut first, mut second) = (on_a.clone(), on_b.clone());
        let (frank, grace) = tokio::join!(
            first.approve_request(approve("frank")),
            second.approve_request(approve("grace")),
        );
        let mut states = [
            frank.unwrap().into_inner().state(),
            grace.unwrap().into_inner().state(),
        ];
        states.sort_by_key(|s| *s as i32);
        assert_eq!(
            states,
            [pb::GrantState::Active, pb::GrantState::Pending],
            "round {round}: one approval first, the other last"
        );
        let members = fixture.member_dns("jit-role-dba");
        assert_eq!(members.len(), 2, "round {round}: carol and dave once");
        let seen = on_b
            .get_request(as_(
                &op,
                "dave",
                pb::GetRequestRequest {
                    grant_id: pending.id.clone(),
                },
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(seen.decisions.len(), 2, "round {round}");
        let granted = admin
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
            .events
            .into_iter()
            .filter(|e| e.grant_id == pending.id && e.action() == pb::AuditAction::Granted)
            .count();
        assert_eq!(granted, 1, "round {round}");
        on_b.release_grant(as_(
            &op,
            "dave",
            pb::ReleaseGrantRequest {
                grant_id: pending.id.clone(),
            },
        ))
        .await
        .unwrap();
    }
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
}
