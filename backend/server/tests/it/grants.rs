//! The grant engine through its RPCs: the real server in-process on SQLite, callers with tokens
//! from the test provider's key, memberships checked in the real Samba DC.
//!
//! Tests in this binary run in parallel against one DC, so each test owns a (person, group)
//! pair: dave and svc-ci on jit-role-dba and on jit-role-web, alice on jit-role-web (and on
//! jit-role-dba in `emergency.rs`), bob on both when allowed by hand; carol is only ever
//! refused.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use jitroles_directory::ActiveDirectory;
use jitroles_domain::{
    Clock, ManualClock,
    directory::{Directory, DirectoryUser, UserLookup},
};
use jitroles_proto::v1::{
    self as pb, admin_service_client::AdminServiceClient, role_service_client::RoleServiceClient,
};
use jitroles_server::{Dependencies, Running, clock::SystemClock};
use tonic::{Code, Request, transport::Channel};
use tonic_types::StatusExt;

use crate::{
    oidc::Provider,
    stack::directory_and_provider,
    stack::{as_, oncall_rule, secs},
};

pub(crate) struct Stack {
    running: Running,
    op: Provider,
    ad: ActiveDirectory,
    _dir: tempfile::TempDir,
}

pub(crate) async fn stack() -> Option<Stack> {
    let dir = tempfile::tempdir().unwrap();
    let (config, op) = directory_and_provider(dir.path())?;
    let ad = ActiveDirectory::new(config.directory.as_ref().unwrap().adapter_config()).unwrap();
    let running = jitroles_server::start(&config).await.unwrap();
    Some(Stack {
        running,
        op,
        ad,
        _dir: dir,
    })
}

fn group_dn(name: &str) -> String {
    format!("CN={name},{}", std::env::var("AD_ROLE_OU").unwrap())
}

impl Stack {
    pub(crate) async fn channel(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.running.addr()))
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    pub(crate) fn as_<T>(&self, account: &str, message: T) -> Request<T> {
        as_(&self.op, account, message)
    }

    /// The test DC, through the adapter the server uses.
    pub(crate) fn directory(&self) -> &ActiveDirectory {
        &self.ad
    }

    pub(crate) fn op(&self) -> &Provider {
        &self.op
    }

    /// ci-bot's client-credentials token (a service: svc-ci).
    pub(crate) async fn service_token(&self) -> String {
        self.op.ci_bot_token().await
    }

    pub(crate) async fn roles(&self) -> RoleServiceClient<Channel> {
        RoleServiceClient::new(self.channel().await)
    }

    /// The SID of the group `name`, as the directory search finds it.
    pub(crate) async fn group_sid(&self, name: &str) -> String {
        crate::stack::group_sid(self.channel().await, &self.op, name).await
    }

    pub(crate) async fn admin(&self) -> AdminServiceClient<Channel> {
        AdminServiceClient::new(self.channel().await)
    }

    /// A rule made by alice on `group` whose ACL allows dba-oncall; justification required.
    pub(crate) async fn rule(&self, name: &str, group: &str, default_secs: i64) -> pb::Rule {
        oncall_rule(
            self.channel().await,
            &self.op,
            (name, group),
            default_secs,
            pb::JustificationPolicy::Required,
        )
        .await
    }

    /// The rule with `account` added to its ACL (allow), as alice saves it.
    pub(crate) async fn allow(&self, rule: &pb::Rule, account: &str) -> pb::Rule {
        let sid = self.user(account).await.sid.to_string();
        let mut spec = rule.spec.clone().unwrap();
        spec.acl.push(pb::AclEntry {
            principal_sid: sid,
            display_name: String::new(),
            kind: pb::PrincipalKind::User.into(),
            effect: pb::Effect::Allow.into(),
        });
        self.admin()
            .await
            .update_rule(self.as_(
                "alice",
                pb::UpdateRuleRequest {
                    rule_id: rule.id.clone(),
                    spec: Some(spec),
                    version: rule.version,
                },
            ))
            .await
            .unwrap()
            .into_inner()
    }

    pub(crate) async fn request(
        &self,
        account: &str,
        rule: &pb::Rule,
        duration: Option<i64>,
    ) -> Result<pb::Grant, tonic::Status> {
        self.roles()
            .await
            .request_role(self.as_(
                account,
                pb::RequestRoleRequest {
                    rule_id: rule.id.clone(),
                    duration: duration.map(secs),
                    justification: "ticket OPS-1234".into(),
                    client_request_id: String::new(),
                    break_glass_reason: Default::default(),
                    start_time: Default::default(),
                },
            ))
            .await
            .map(tonic::Response::into_inner)
    }

    /// A person of the test population as the DC knows them.
    pub(crate) async fn user(&self, account: &str) -> DirectoryUser {
        self.ad
            .find_user(&UserLookup::SamAccountName(account.into()))
            .await
            .unwrap()
            .unwrap()
    }

    pub(crate) async fn is_member(&self, account: &str, group: &str) -> bool {
        let dn = self.user(account).await.dn;
        self.ad
            .members(&group_dn(group))
            .await
            .unwrap()
            .iter()
            .any(|m| m.dn.eq_ignore_ascii_case(&dn))
    }

    /// Leaves `account` out of `group`, whatever an earlier failed run left behind.
    pub(crate) async fn clear(&self, account: &str, group: &str) {
        let sid = self.user(account).await.sid;
        self.ad.remove_member(&group_dn(group), &sid).await.unwrap();
    }

    pub(crate) async fn audit_actions(&self, grant_id: &str) -> Vec<String> {
        let events = self
            .admin()
            .await
            .list_audit_events(self.as_("alice", pb::ListAuditEventsRequest::default()))
            .await
            .unwrap()
            .into_inner()
            .events;
        let mut actions: Vec<String> = events
            .into_iter()
            .filter(|e| e.grant_id == grant_id)
            .map(|e| e.action().label())
            .collect();
        actions.reverse(); // oldest first
        actions
    }

    pub(crate) async fn my_grant(&self, account: &str, id: &str) -> pb::Grant {
        self.roles()
            .await
            .list_my_grants(self.as_(account, pb::ListMyGrantsRequest::default()))
            .await
            .unwrap()
            .into_inner()
            .grants
            .into_iter()
            .find(|g| g.id == id)
            .unwrap()
    }
}

fn state(g: &pb::Grant) -> pb::GrantState {
    g.state()
}

#[tokio::test]
async fn dave_gets_the_role_through_dba_oncall_is_a_member_at_once_and_is_removed_at_expiry() {
    let Some(s) = stack().await else { return };
    s.clear("dave", "jit-role-dba").await;
    let rule = s.rule("DBA on call", "jit-role-dba", 600).await;

    let roles = s
        .roles()
        .await
        .list_roles(s.as_("dave", pb::ListRolesRequest {}))
        .await
        .unwrap()
        .into_inner()
        .roles;
    assert_eq!(roles.len(), 1);
    assert_eq!(roles[0].name, "DBA on call");

    let grant = s.request("dave", &rule, Some(3)).await.unwrap();
    assert_eq!(state(&grant), pb::GrantState::Active);
    assert_eq!(
        grant.mechanism(),
        pb::Mechanism::Scheduled,
        "Samba has no PAM"
    );
    let (expires, tickets) = (
        grant.expires_at.unwrap(),
        grant.tickets_may_last_until.unwrap(),
    );
    assert_eq!(
        (tickets.seconds - expires.seconds, tickets.nanos),
        (10 * 3600, expires.nanos),
        "under the scheduler, tickets may outlast the grant by the ticket lifetime"
    );
    assert!(
        s.is_member("dave", "jit-role-dba").await,
        "a member at once"
    );

    let deadline = Instant::now() + Duration::from_secs(15);
    while state(&s.my_grant("dave", &grant.id).await) != pb::GrantState::Ended {
        assert!(Instant::now() < deadline, "the grant did not end");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ended = s.my_grant("dave", &grant.id).await;
    assert_eq!(ended.end_reason(), pb::EndReason::Expired);
    assert!(
        !s.is_member("dave", "jit-role-dba").await,
        "removed at expiry"
    );
    assert_eq!(
        s.audit_actions(&grant.id).await,
        ["requested", "granted", "expired", "ended"]
    );
}

#[tokio::test]
async fn extend_release_and_revoke_change_the_directory_as_they_should() {
    let Some(s) = stack().await else { return };
    s.clear("svc-ci", "jit-role-dba").await;
    let rule = s.rule("DBA for services", "jit-role-dba", 60).await;

    let grant = s.request("svc-ci", &rule, None).await.unwrap();
    assert!(s.is_member("svc-ci", "jit-role-dba").await);
    let longer = s
        .roles()
        .await
        .extend_grant(s.as_(
            "svc-ci",
            pb::ExtendGrantRequest {
                grant_id: grant.id.clone(),
                duration: Some(secs(1800)),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(longer.id, grant.id, "an extension keeps the grant");
    assert_eq!(longer.extension_count, 1);
    assert!(longer.expires_at.unwrap().seconds > grant.expires_at.unwrap().seconds);
    assert!(s.is_member("svc-ci", "jit-role-dba").await);

    // someone else cannot release it
    let theirs = s
        .roles()
        .await
        .release_grant(s.as_(
            "dave",
            pb::ReleaseGrantRequest {
                grant_id: grant.id.clone(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(theirs.code(), Code::PermissionDenied);

    let released = s
        .roles()
        .await
        .release_grant(s.as_(
            "svc-ci",
            pb::ReleaseGrantRequest {
                grant_id: grant.id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(state(&released), pb::GrantState::Ended);
    assert_eq!(released.end_reason(), pb::EndReason::Released);
    assert!(!s.is_member("svc-ci", "jit-role-dba").await);
    assert_eq!(
        s.audit_actions(&grant.id).await,
        ["requested", "granted", "extended", "released", "ended"]
    );

    let again = s.request("svc-ci", &rule, None).await.unwrap();
    assert!(s.is_member("svc-ci", "jit-role-dba").await);
    let revoke = |reason: &str| {
        let ask = pb::RevokeGrantRequest {
            grant_id: again.id.clone(),
            reason: reason.into(),
        };
        async { s.admin().await.revoke_grant(s.as_("alice", ask)).await }
    };
    for blank in ["", "   "] {
        let refused = revoke(blank).await.unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
        let violation = refused
            .get_error_details()
            .bad_request()
            .unwrap()
            .field_violations[0]
            .clone();
        assert_eq!(
            (violation.field.as_str(), violation.description.as_str()),
            ("reason", "is required")
        );
    }
    assert!(
        s.is_member("svc-ci", "jit-role-dba").await,
        "a refused revoke changes nothing"
    );
    let revoked = s
        .admin()
        .await
        .revoke_grant(s.as_(
            "alice",
            pb::RevokeGrantRequest {
                grant_id: again.id.clone(),
                reason: "incident closed".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(revoked.end_reason(), pb::EndReason::Revoked);
    assert_eq!(revoked.end_note, "incident closed");
    assert!(!s.is_member("svc-ci", "jit-role-dba").await);
    assert_eq!(
        s.my_grant("svc-ci", &again.id).await.end_note,
        "incident closed",
        "the person reads why"
    );
    assert_eq!(
        s.my_grant("svc-ci", &grant.id).await.end_note,
        "",
        "released: no note"
    );

    // the admin's listing, with history, by person, rule and state
    let list = |person: &str, rule_id: &str, states: &[&str]| {
        let ask = pb::ListGrantsRequest {
            person: person.into(),
            rule_id: rule_id.into(),
            states: states.iter().map(|s| (*s).to_owned()).collect(),
            ..Default::default()
        };
        async {
            let found = s
                .admin()
                .await
                .list_grants(s.as_("alice", ask))
                .await
                .unwrap()
                .into_inner()
                .grants;
            found.into_iter().map(|g| g.id).collect::<Vec<_>>()
        }
    };
    let both = vec![again.id.clone(), grant.id.clone()];
    assert!(list("", "", &[]).await.is_empty(), "live only, as before");
    assert_eq!(list("SVC-CI", "", &["ended"]).await, both, "newest first");
    let sid = s.user("svc-ci").await.sid.to_string();
    assert_eq!(list(&sid, &rule.id, &["ended", "failed"]).await, both);
    assert!(list("dave", "", &["ended"]).await.is_empty());
    assert!(list("", "no-such-rule", &["ended"]).await.is_empty());
    assert!(list("", "", &["live", "failed"]).await.is_empty());

    let extend_ended = s
        .roles()
        .await
        .extend_grant(s.as_(
            "svc-ci",
            pb::ExtendGrantRequest {
                grant_id: again.id.clone(),
                duration: None,
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(extend_ended.code(), Code::FailedPrecondition);
}

#[tokio::test]
async fn two_rules_on_one_group_keep_the_member_until_the_last_grant_ends() {
    let Some(s) = stack().await else { return };
    s.clear("dave", "jit-role-web").await;
    let first = s.rule("Web deploy", "jit-role-web", 600).await;
    let second = s.rule("Web incident", "jit-role-web", 600).await;

    let a = s.request("dave", &first, None).await.unwrap();
    let b = s.request("dave", &second, None).await.unwrap();
    assert!(s.is_member("dave", "jit-role-web").await);

    let release = |id: String| async {
        s.roles()
            .await
            .release_grant(s.as_("dave", pb::ReleaseGrantRequest { grant_id: id }))
            .await
            .unwrap()
            .into_inner()
    };
    let ended = release(a.id.clone()).await;
    assert_eq!(state(&ended), pb::GrantState::Ended);
    assert!(
        s.is_member("dave", "jit-role-web").await,
        "the other grant still covers the membership"
    );
    release(b.id.clone()).await;
    assert!(!s.is_member("dave", "jit-role-web").await);
}

#[tokio::test]
async fn outsiders_and_permanent_members_are_refused_and_nothing_is_written() {
    let Some(s) = stack().await else { return };
    let rule = s.rule("DBA (refusals)", "jit-role-dba", 600).await;

    let bob = s.request("bob", &rule, None).await.unwrap_err();
    assert_eq!(bob.code(), Code::PermissionDenied, "{bob:?}");
    let bobs_roles = s
        .roles()
        .await
        .list_roles(s.as_("bob", pb::ListRolesRequest {}))
        .await
        .unwrap()
        .into_inner();
    assert!(bobs_roles.roles.is_empty());

    // carol is a permanent member of the group; the ACL allows her, the rule still refuses
    s.allow(&rule, "carol").await;
    assert!(s.is_member("carol", "jit-role-dba").await);
    let carol = s.request("carol", &rule, None).await.unwrap_err();
    assert_eq!(carol.code(), Code::FailedPrecondition, "{carol:?}");
    assert!(carol.message().contains("outside jitroles"), "{carol:?}");
    assert!(
        s.is_member("carol", "jit-role-dba").await,
        "carol stays a member"
    );

    let grants = s
        .admin()
        .await
        .list_grants(s.as_(
            "alice",
            pb::ListGrantsRequest {
                include_ended: true,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(grants.grants.is_empty(), "refusals write no grant");
}

#[tokio::test]
async fn bad_grant_listing_filters_name_the_field_they_got_wrong() {
    let Some(s) = stack().await else { return };
    for (ask, field) in [
        (
            pb::ListGrantsRequest {
                states: vec!["expired".into()],
                ..Default::default()
            },
            "states",
        ),
        (
            pb::ListGrantsRequest {
                states: vec!["x".repeat(10_000)],
                ..Default::default()
            },
            "states",
        ),
        (
            pb::ListGrantsRequest {
                person: "d".repeat(257),
                ..Default::default()
            },
            "person",
        ),
        (
            pb::ListGrantsRequest {
                rule_id: "r".repeat(37),
                ..Default::default()
            },
            "rule_id",
        ),
    ] {
        let refused = s
            .admin()
            .await
            .list_grants(s.as_("alice", ask))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
        let violations = refused
            .get_error_details()
            .bad_request()
            .unwrap()
            .field_violations
            .clone();
        assert_eq!(violations[0].field, field, "{refused:?}");
        assert!(refused.message().len() < 200, "no echo of long input");
    }
    let not_admin = s
        .admin()
        .await
        .list_grants(s.as_(
            "dave",
            pb::ListGrantsRequest {
                person: "dave".into(),
                include_ended: true,
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(not_admin.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn bad_input_gets_the_right_status_and_a_message_a_person_understands() {
    let Some(s) = stack().await else { return };
    let rule = s.rule("DBA (bad input)", "jit-role-dba", 600).await;
    let ask = |rule_id: &str, duration: Option<i64>, why: &str| pb::RequestRoleRequest {
        rule_id: rule_id.into(),
        duration: duration.map(secs),
        justification: why.into(),
        client_request_id: String::new(),
        break_glass_reason: Default::default(),
        start_time: Default::default(),
    };
    let request = |message: pb::RequestRoleRequest| async {
        s.roles()
            .await
            .request_role(s.as_("dave", message))
            .await
            .unwrap_err()
    };

    let unknown = request(ask("no-such-rule", None, "x")).await;
    assert_eq!(unknown.code(), Code::NotFound);

    for (duration, why) in [
        (Some(0), "x"),
        (Some(-5), "x"),
        (Some(3601), "x"),
        (Some(i64::MAX), "x"),
    ] {
        let refused = request(ask(&rule.id, duration, why)).await;
        assert_eq!(refused.code(), Code::InvalidArgument, "{duration:?}");
        let violations = refused
            .get_error_details()
            .bad_request()
            .unwrap()
            .field_violations
            .clone();
        assert_eq!(violations[0].field, "duration", "{refused:?}");
    }
    for why in ["", "bell\u{7}", &"x".repeat(1001)] {
        let refused = request(ask(&rule.id, None, why)).await;
        assert_eq!(refused.code(), Code::InvalidArgument, "{why:?}");
        assert!(refused.message().contains("justification"), "{refused:?}");
    }

    let stale = s
        .admin()
        .await
        .update_rule(s.as_(
            "alice",
            pb::UpdateRuleRequest {
                rule_id: rule.id.clone(),
                spec: rule.spec.clone(),
                version: rule.version + 7,
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted, "{stale:?}");

    let oversized = s
        .roles()
        .await
        .list_my_grants(s.as_(
            "dave",
            pb::ListMyGrantsRequest {
                page_size: 10_000,
                page_token: String::new(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(oversized.code(), Code::InvalidArgument);

    let not_admin = s
        .admin()
        .await
        .list_rules(s.as_("dave", pb::ListRulesRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(not_admin.code(), Code::PermissionDenied);

    let unauthenticated = s
        .roles()
        .await
        .list_roles(Request::new(pb::ListRolesRequest {}))
        .await
        .unwrap_err();
    assert_eq!(unauthenticated.code(), Code::Unauthenticated);

    // the same rule on another group: refused, with the status and the message
    let s = &s;
    let on_group = |group: &'static str| {
        let spec = rule.spec.clone().unwrap();
        async move {
            s.admin()
                .await
                .create_rule(s.as_(
                    "alice",
                    pb::CreateRuleRequest {
                        spec: Some(pb::RuleSpec {
                            target_group: group.into(),
                            ..spec
                        }),
                    },
                ))
                .await
                .unwrap_err()
        }
    };
    let no_group = on_group("no-such-group").await;
    assert_eq!(no_group.code(), Code::InvalidArgument);
    assert!(no_group.message().contains("no-such-group"), "{no_group:?}");

    // privileged groups are no role's group, whatever the ACL
    for privileged in ["Domain Admins", "Administrators", "jitroles-admins"] {
        let refused = on_group(privileged).await;
        assert_eq!(refused.code(), Code::FailedPrecondition, "{privileged}");
        assert!(
            refused
                .message()
                .contains(&format!("{privileged} cannot be a role's group")),
            "{refused:?}"
        );
    }
}

#[tokio::test]
async fn a_retried_request_returns_the_same_grant_and_a_second_one_is_refused() {
    let Some(s) = stack().await else { return };
    s.clear("svc-ci", "jit-role-web").await;
    let rule = s.rule("Web (retries)", "jit-role-web", 600).await;
    let retried = |id: &'static str| pb::RequestRoleRequest {
        rule_id: rule.id.clone(),
        duration: None,
        justification: "retry".into(),
        client_request_id: id.into(),
        break_glass_reason: Default::default(),
        start_time: Default::default(),
    };
    let s = &s;
    let retried = &retried;
    let request = |id: &'static str| async move {
        s.roles()
            .await
            .request_role(s.as_("svc-ci", retried(id)))
            .await
            .map(tonic::Response::into_inner)
    };

    let first = request("req-1").await.unwrap();
    let again = request("req-1").await.unwrap();
    assert_eq!(again.id, first.id, "a retry returns the same grant");
    let second = request("req-2").await.unwrap_err();
    assert_eq!(second.code(), Code::AlreadyExists, "{second:?}");
    assert!(second.message().contains("extend"), "{second:?}");

    s.admin()
        .await
        .revoke_grant(s.as_(
            "alice",
            pb::RevokeGrantRequest {
                grant_id: first.id,
                reason: "done with the retry test".into(),
            },
        ))
        .await
        .unwrap();
    assert!(!s.is_member("svc-ci", "jit-role-web").await);
}

#[tokio::test]
async fn overdue_grants_end_first_thing_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let Some((config, op)) = directory_and_provider(dir.path()) else {
        return;
    };
    let ad = ActiveDirectory::new(config.directory.as_ref().unwrap().adapter_config()).unwrap();
    // time stands still unless the test moves it: the grant falls due while the server is
    // down, not while it runs
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let dependencies = || {
        let mut real = Dependencies::from_config(&config).unwrap();
        real.clock = clock.clone();
        real
    };
    let s = Stack {
        running: jitroles_server::start_with(&config, dependencies())
            .await
            .unwrap(),
        op,
        ad,
        _dir: dir,
    };
    // erin is disabled: the only free (person, group) pair left is alice on jit-role-web
    s.clear("alice", "jit-role-web").await;
    let rule = s.rule("Web (restart)", "jit-role-web", 600).await;
    let rule = s.allow(&rule, "alice").await;
    let grant = s.request("alice", &rule, Some(2)).await.unwrap();
    assert!(s.is_member("alice", "jit-role-web").await);

    let Stack {
        running,
        op,
        ad,
        _dir,
    } = s;
    running.shutdown().await.unwrap();
    clock.advance(chrono::TimeDelta::seconds(3));
    let s = Stack {
        running: jitroles_server::start_with(&config, dependencies())
            .await
            .unwrap(),
        op,
        ad,
        _dir,
    };
    let restarted = Instant::now();
    while state(&s.my_grant("alice", &grant.id).await) != pb::GrantState::Ended {
        assert!(
            restarted.elapsed() < Duration::from_secs(5),
            "the overdue grant did not end right after the restart"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!s.is_member("alice", "jit-role-web").await);
}

#[tokio::test]
async fn a_member_removed_by_hand_ends_the_grant_and_one_added_by_hand_is_only_reported() {
    let dir = tempfile::tempdir().unwrap();
    let Some((mut config, op)) = directory_and_provider(dir.path()) else {
        return;
    };
    config.scheduler.reconcile_seconds = 1;
    let ad = ActiveDirectory::new(config.directory.as_ref().unwrap().adapter_config()).unwrap();
    let s = Stack {
        running: jitroles_server::start(&config).await.unwrap(),
        op,
        ad,
        _dir: dir,
    };
    // bob is in no ACL group: the only person no other test here grants anything
    s.clear("bob", "jit-role-dba").await;
    s.clear("bob", "jit-role-web").await;
    let dba = s.rule("DBA (drift)", "jit-role-dba", 600).await;
    let dba = s.allow(&dba, "bob").await;
    let web = s.rule("Web (drift)", "jit-role-web", 600).await;
    let bob_sid = s.user("bob").await.sid;

    let grant = s.request("bob", &dba, None).await.unwrap();
    assert!(s.is_member("bob", "jit-role-dba").await);
    // someone removes bob by hand
    s.ad.remove_member(&group_dn("jit-role-dba"), &bob_sid)
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let ended = loop {
        let now = s.my_grant("bob", &grant.id).await;
        if state(&now) == pb::GrantState::Ended {
            break now;
        }
        assert!(
            Instant::now() < deadline,
            "reconciliation did not end the grant"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(ended.end_reason(), pb::EndReason::Directory);
    assert!(
        s.audit_actions(&grant.id)
            .await
            .contains(&"ended_by_directory".to_owned())
    );

    // someone adds bob by hand: reported, never removed
    s.ad.add_member(&group_dn("jit-role-web"), &bob_sid, None)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await; // two reconciliations
    assert!(s.is_member("bob", "jit-role-web").await);
    let status = s
        .admin()
        .await
        .get_directory_status(s.as_("alice", pb::GetDirectoryStatusRequest {}))
        .await
        .unwrap()
        .into_inner();
    let bob_dn = s.user("bob").await.dn;
    let web_status = status.groups.iter().find(|g| g.rule_id == web.id).unwrap();
    assert!(web_status.can_write_members);
    assert!(
        web_status
            .unexplained_members
            .iter()
            .any(|dn| dn.eq_ignore_ascii_case(&bob_dn)),
        "{web_status:?}"
    );
    s.clear("bob", "jit-role-web").await;
}
