//! The TTL-link mechanism end to end: the real server, callers with tokens from the test
//! provider's key, and `jitroles-ad-fixture` as the directory, a protocol-level LDAP fixture
//! that follows MS-ADTS for the PAM feature and TTL links (no installable directory implements
//! them; see the fixture's docs). The fixture has the test population and its own clock.
//! Each test runs once for every answer a DC may give to a second TTL add of a link
//! ([`ReAdd`]): Microsoft's documents do not say which one AD gives.

use std::time::{Duration, Instant};

use jitroles_ad_fixture::{Fixture, Options, ReAdd};
use jitroles_proto::v1::{
    self as pb, admin_service_client::AdminServiceClient, role_service_client::RoleServiceClient,
};
use jitroles_server::Running;
use tonic::{Request, transport::Channel};

use crate::{
    oidc::{Provider, provider},
    stack::{as_, on_fixture, oncall_rule, secs},
};

struct Stack {
    running: Running,
    op: Provider,
    fixture: Fixture,
    _dir: tempfile::TempDir,
}

async fn stack(readd: ReAdd) -> Option<Stack> {
    let op = provider()?;
    let fixture = Fixture::start(Options {
        readd,
        ..Options::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = on_fixture(dir.path(), fixture.url(), &op);
    let running = jitroles_server::start(&config).await.unwrap();
    Some(Stack {
        running,
        op,
        fixture,
        _dir: dir,
    })
}

impl Stack {
    async fn channel(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.running.addr()))
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    fn as_<T>(&self, account: &str, message: T) -> Request<T> {
        as_(&self.op, account, message)
    }

    async fn rule(&self, default_secs: i64) -> pb::Rule {
        oncall_rule(
            self.channel().await,
            &self.op,
            ("DBA", "jit-role-dba"),
            default_secs,
            pb::JustificationPolicy::Optional,
        )
        .await
    }

    fn dave_is_member(&self) -> bool {
        self.dave_link().is_some()
    }

    /// Dave's link in jit-role-dba: `Some(None)` permanent, `Some(Some(s))` s seconds left.
    fn dave_link(&self) -> Option<Option<u64>> {
        self.fixture
            .links("jit-role-dba")
            .into_iter()
            .find(|(dn, _)| dn.starts_with("CN=Dave Dba,"))
            .map(|(_, ttl)| ttl)
    }

    async fn dave_grant(&self, id: &str) -> pb::Grant {
        RoleServiceClient::new(self.channel().await)
            .list_my_grants(self.as_("dave", pb::ListMyGrantsRequest::default()))
            .await
            .unwrap()
            .into_inner()
            .grants
            .into_iter()
            .find(|g| g.id == id)
            .unwrap()
    }
}

#[tokio::test]
async fn with_pam_the_directory_removes_the_member_and_the_grant_ends_on_time() {
    for readd in ReAdd::ALL {
        let Some(s) = stack(readd).await else { return };
        let rule = s.rule(2).await;
        let mut roles = RoleServiceClient::new(s.channel().await);

        let grant = roles
            .request_role(s.as_(
                "dave",
                pb::RequestRoleRequest {
                    rule_id: rule.id.clone(),
                    ..Default::default()
                },
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(grant.mechanism(), pb::Mechanism::Ttl);
        assert_eq!(
            grant.tickets_may_last_until, grant.expires_at,
            "AD caps tickets at the link's TTL"
        );
        assert!(s.dave_is_member(), "a TTL link was added");

        s.fixture.advance(3);
        assert!(!s.dave_is_member(), "the directory removed the link itself");

        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let now = s.dave_grant(&grant.id).await;
            if now.state() == pb::GrantState::Ended {
                assert_eq!(now.end_reason(), pb::EndReason::Expired);
                let (ended, due) = (now.ended_at.unwrap(), now.expires_at.unwrap());
                let late =
                    (ended.seconds - due.seconds) as f64 + f64::from(ended.nanos - due.nanos) / 1e9;
                assert!(
                    (0.0..2.0).contains(&late),
                    "ended {late:.2} s after its expiry"
                );
                break;
            }
            assert!(Instant::now() < deadline, "the grant did not end: {now:?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let events = AdminServiceClient::new(s.channel().await)
            .list_audit_events(s.as_(
                "alice",
                pb::ListAuditEventsRequest {
                    action: pb::AuditAction::Ended.into(),
                    ..Default::default()
                },
            ))
            .await
            .unwrap()
            .into_inner()
            .events;
        assert!(
            events[0].detail.contains("the directory removed it"),
            "{events:?}"
        );
    }
}

#[tokio::test]
async fn with_pam_an_extension_rewrites_the_links_ttl() {
    for readd in ReAdd::ALL {
        let Some(s) = stack(readd).await else { return };
        let rule = s.rule(60).await;
        let mut roles = RoleServiceClient::new(s.channel().await);
        let grant = roles
            .request_role(s.as_(
                "dave",
                pb::RequestRoleRequest {
                    rule_id: rule.id.clone(),
                    ..Default::default()
                },
            ))
            .await
            .unwrap()
            .into_inner();
        roles
            .extend_grant(s.as_(
                "dave",
                pb::ExtendGrantRequest {
                    grant_id: grant.id.clone(),
                    duration: Some(secs(1800)),
                },
            ))
            .await
            .unwrap();

        s.fixture.advance(120);
        assert!(
            s.dave_is_member(),
            "the link now lasts 30 minutes, not 60 s ({readd:?})"
        );
        s.fixture.advance(1670);
        assert!(
            s.dave_is_member(),
            "still there 10 s before the new expiry ({readd:?})"
        );
        s.fixture.advance(20);
        assert!(!s.dave_is_member(), "gone after it ({readd:?})");
    }
}

#[tokio::test]
async fn with_pam_releasing_early_removes_the_link() {
    for readd in ReAdd::ALL {
        let Some(s) = stack(readd).await else { return };
        let rule = s.rule(600).await;
        let mut roles = RoleServiceClient::new(s.channel().await);
        let grant = roles
            .request_role(s.as_(
                "dave",
                pb::RequestRoleRequest {
                    rule_id: rule.id.clone(),
                    ..Default::default()
                },
            ))
            .await
            .unwrap()
            .into_inner();
        assert!(s.dave_is_member());
        let released = roles
            .release_grant(s.as_(
                "dave",
                pb::ReleaseGrantRequest {
                    grant_id: grant.id.clone(),
                },
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(released.state(), pb::GrantState::Ended);
        assert_eq!(released.end_reason(), pb::EndReason::Released);
        assert!(
            !s.dave_is_member(),
            "removed at once, long before the link's TTL"
        );
    }
}

#[tokio::test]
async fn with_pam_ending_one_of_two_covering_grants_leaves_the_link_until_the_other_ends() {
    for readd in ReAdd::ALL {
        let Some(s) = stack(readd).await else { return };
        let short = s.rule(600).await;
        let long = oncall_rule(
            s.channel().await,
            &s.op,
            ("DBA long", "jit-role-dba"),
            3600,
            pb::JustificationPolicy::Optional,
        )
        .await;
        let mut roles = RoleServiceClient::new(s.channel().await);
        let request = |rule: &pb::Rule| {
            s.as_(
                "dave",
                pb::RequestRoleRequest {
                    rule_id: rule.id.clone(),
                    ..Default::default()
                },
            )
        };
        roles.request_role(request(&short)).await.unwrap();
        let longer = roles
            .request_role(request(&long))
            .await
            .unwrap()
            .into_inner();
        let ttl = s.dave_link().flatten().unwrap_or_default();
        assert!(
            (3590..=3600).contains(&ttl),
            "the link lasts until the later grant ends: {ttl} s ({readd:?})"
        );

        roles
            .release_grant(s.as_(
                "dave",
                pb::ReleaseGrantRequest {
                    grant_id: longer.id.clone(),
                },
            ))
            .await
            .unwrap();

        let ttl = s.dave_link().flatten().unwrap_or_default();
        assert!(
            (590..=600).contains(&ttl),
            "the link now lasts until the other grant ends: {ttl} s ({readd:?})"
        );
    }
}

#[tokio::test]
async fn with_pam_a_person_made_a_permanent_member_meanwhile_is_never_given_a_ttl() {
    for readd in ReAdd::ALL {
        let Some(s) = stack(readd).await else { return };
        let rule = s.rule(600).await;
        let mut roles = RoleServiceClient::new(s.channel().await);
        let grant = roles
            .request_role(s.as_(
                "dave",
                pb::RequestRoleRequest {
                    rule_id: rule.id.clone(),
                    ..Default::default()
                },
            ))
            .await
            .unwrap()
            .into_inner();
        // an AD admin makes dave a permanent member, outside jitroles
        s.fixture.add_permanent_member("jit-role-dba", "dave");

        let refused = roles
            .extend_grant(s.as_(
                "dave",
                pb::ExtendGrantRequest {
                    grant_id: grant.id.clone(),
                    duration: Some(secs(1800)),
                },
            ))
            .await
            .unwrap_err();

        assert_eq!(refused.code(), tonic::Code::FailedPrecondition, "{readd:?}");
        assert!(
            refused.message().contains("outside jitroles"),
            "{}",
            refused.message()
        );
        assert_eq!(s.dave_link(), Some(None), "still permanent ({readd:?})");

        let released = roles
            .release_grant(s.as_(
                "dave",
                pb::ReleaseGrantRequest {
                    grant_id: grant.id.clone(),
                },
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(released.state(), pb::GrantState::Ended, "{readd:?}");
        assert_eq!(
            s.dave_link(),
            Some(None),
            "ending the grant leaves the permanent membership ({readd:?})"
        );
    }
}
