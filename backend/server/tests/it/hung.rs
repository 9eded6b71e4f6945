//! A hung DC (connections accepted, nothing answered, as by a stopped DC process): the test DC
//! over plain LDAP behind the LDAP-aware fault proxy (`jitroles_ad_fixture::fault_proxy`), so
//! the shared DC keeps running. RequestRole answers UNAVAILABLE within
//! `directory.timeout_seconds` + 1 s (or by the caller's own shorter deadline), and once the
//! DC answers again every grant it left ends in a known state: active with its membership, or
//! failed without it, and no membership that no grant explains.

use std::time::{Duration, Instant};

use jitroles_ad_fixture::fault_proxy::{LdapFaultProxy, Matcher};
use jitroles_proto::v1::{
    self as pb, admin_service_client::AdminServiceClient, role_service_client::RoleServiceClient,
};
use jitroles_server::{
    Running,
    config::{AccessSection, DirectorySection},
};
use tonic::{Code, transport::Channel};

use crate::{
    oidc::{Provider, provider},
    samba::{RoleGroup, Samba, env},
    stack::{as_, oidc, oncall_rule},
    support::config_in,
};

const TIMEOUT_SECONDS: u64 = 2;

struct Hung {
    samba: Samba,
    group: RoleGroup,
    proxy: LdapFaultProxy,
    op: Provider,
    running: Running,
    channel: Channel,
    rule: pb::Rule,
    _dir: tempfile::TempDir,
}

/// A server on the test DC through the fault proxy, with a rule on a group of `group`'s own,
/// and dave and svc-ci each granted and released once, so their callers, the group's verdict
/// and the mechanism are cached: a hung DC then meets the request at its directory write.
async fn hung(group: &str) -> Option<Hung> {
    let samba = Samba::up()?;
    let op = provider()?;
    let group = samba.role_group(group);
    let upstream = env("AD_URL").trim_start_matches("ldap://").parse().unwrap();
    let proxy = LdapFaultProxy::start(upstream).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_in(dir.path());
    config.directory = Some(DirectorySection {
        urls: vec![proxy.url()],
        bind_dn: env("AD_SVC_DN"),
        bind_password: env("AD_SVC_PASS").into(),
        ca_file: None,
        starttls: false,
        allow_plain_ldap: true, // the test DC allows simple binds on 389
        timeout_seconds: TIMEOUT_SECONDS,
        force_scheduler: false,
        max_ticket_lifetime_hours: 10,
    });
    config.oidc = Some(oidc(&op));
    config.access = AccessSection {
        admin_groups: vec!["jitroles-admins".into()],
        ..AccessSection::default()
    };
    config.scheduler.reconcile_seconds = 1;
    config.scheduler.unconfirmed_after_seconds = 5;
    let running = jitroles_server::start(&config).await.unwrap();
    let channel = Channel::from_shared(format!("http://{}", running.addr()))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let rule = oncall_rule(
        channel.clone(),
        &op,
        (&format!("Hung {}", group.name), &group.name),
        600,
        pb::JustificationPolicy::Optional,
    )
    .await;
    let hung = Hung {
        samba,
        group,
        proxy,
        op,
        running,
        channel,
        rule,
        _dir: dir,
    };
    let mut roles = hung.roles();
    for who in ["dave", "svc-ci"] {
        let granted = roles
            .request_role(hung.ask(who))
            .await
            .unwrap()
            .into_inner();
        roles
            .release_grant(as_(
                &hung.op,
                who,
                pb::ReleaseGrantRequest {
                    grant_id: granted.id,
                },
            ))
            .await
            .unwrap();
    }
    Some(hung)
}

impl Hung {
    fn roles(&self) -> RoleServiceClient<Channel> {
        RoleServiceClient::new(self.channel.clone())
    }

    fn ask(&self, who: &str) -> tonic::Request<pb::RequestRoleRequest> {
        as_(
            &self.op,
            who,
            pb::RequestRoleRequest {
                rule_id: self.rule.id.clone(),
                ..Default::default()
            },
        )
    }

    /// `who`'s request, its answer and how long it took.
    async fn request(&self, who: &str, deadline: Option<Duration>) -> (tonic::Status, Duration) {
        let mut ask = self.ask(who);
        if let Some(deadline) = deadline {
            ask.set_timeout(deadline);
        }
        let started = Instant::now();
        let answer = self.roles().request_role(ask).await;
        let took = started.elapsed();
        (answer.expect_err("no grant from a hung DC"), took)
    }

    /// Waits until every grant of the rule is active with its member in the group or failed
    /// without, and the group holds nobody else but carol (its permanent member).
    async fn settled(&self) {
        let mut admin = AdminServiceClient::new(self.channel.clone());
        let carol = self.samba.dn_of("carol").to_lowercase();
        let started = Instant::now();
        loop {
            let grants = admin
                .list_grants(as_(
                    &self.op,
                    "alice",
                    pb::ListGrantsRequest {
                        include_ended: true,
                        rule_id: self.rule.id.clone(),
                        ..Default::default()
                    },
                ))
                .await
                .map(|r| r.into_inner().grants);
            let members = self.samba.members(&self.group);
            if let Ok(grants) = &grants {
                let mut explained = vec![carol.clone()];
                let known = grants.iter().all(|g| {
                    let dn = self.samba.dn_of(&g.subject_account).to_lowercase();
                    match g.state() {
                        pb::GrantState::Active => {
                            explained.push(dn.clone());
                            members.contains(&dn)
                        }
                        pb::GrantState::Failed | pb::GrantState::Ended => !members.contains(&dn),
                        _ => false,
                    }
                });
                if known && members.iter().all(|m| explained.contains(m)) {
                    return;
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "not settled after the DC came back: {grants:?}, members {members:?}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

#[tokio::test]
async fn a_hung_dc_costs_a_request_one_timeout_and_leaves_every_grant_known() {
    let Some(hung) = hung("jit-hung-all").await else {
        return;
    };
    hung.proxy.hang();

    let (refused, took) = hung.request("dave", None).await;
    assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");
    assert!(
        refused.message().contains(&format!(
            "the directory did not answer within {TIMEOUT_SECONDS} s"
        )),
        "{refused:?}"
    );
    let most = Duration::from_secs(TIMEOUT_SECONDS + 1);
    assert!(
        took >= Duration::from_secs(TIMEOUT_SECONDS) && took <= most + Duration::from_millis(300),
        "answered after {took:?}: within {TIMEOUT_SECONDS} s + 1 s"
    );

    // the caller's own deadline, when sooner, is met with the same answer
    let (refused, took) = hung.request("svc-ci", Some(Duration::from_secs(1))).await;
    assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");
    assert!(took < Duration::from_secs(1), "answered after {took:?}");
    assert!(
        refused.message().contains("did not answer within 0.9 s"),
        "{refused:?}"
    );

    hung.proxy.release();
    hung.settled().await;
    drop(hung.running);
}

#[tokio::test]
async fn an_add_applied_but_never_answered_is_undone() {
    let Some(hung) = hung("jit-hung-reply").await else {
        return;
    };
    let dave = hung.samba.dn_of("dave").to_lowercase();
    // the DC applies every modify of the group (addressed as <GUID=…>), but its answers are
    // held
    let group = hung.rule.target.as_ref().unwrap().guid.clone();
    hung.proxy.hold_replies(Matcher::ModifyOf(group.clone()));

    let (refused, took) = hung.request("dave", None).await;
    assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");
    assert!(
        took <= Duration::from_millis(TIMEOUT_SECONDS * 1000 + 1300),
        "{took:?}"
    );
    let adds = hung.proxy.forwarded(&Matcher::ModifyOf(group));
    assert!(!adds.is_empty(), "the add reached the DC");

    hung.proxy.release();
    hung.settled().await;
    assert!(
        !hung.samba.members(&hung.group).contains(&dave),
        "no grant of dave's is active: his membership is gone"
    );
    drop(hung.running);
}
