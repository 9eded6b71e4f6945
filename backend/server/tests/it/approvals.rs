//! Requests that wait, through the RPCs: the real server on SQLite, callers with tokens from
//! the test provider's key, memberships checked in the real Samba DC. These tests own the
//! (person, group) pairs frank on jit-role-web and grace on jit-role-dba (see `grants.rs`):
//! frank and grace request, each approved by the other (both are in dba-approvers).

use std::time::Duration;

use jitroles_proto::v1 as pb;
use tonic::Code;

use crate::{
    grants::{Stack, stack},
    stack::{group_sid, secs},
};

impl Stack {
    /// A rule on `group` that dba-approvers may request and approve, `required` approvals.
    async fn approval_rule(&self, name: &str, group: &str, required: u32) -> pb::Rule {
        let approvers = group_sid(self.channel().await, self.op(), "dba-approvers").await;
        let entry = pb::AclEntry {
            principal_sid: approvers,
            display_name: String::new(),
            kind: pb::PrincipalKind::Group.into(),
            effect: pb::Effect::Allow.into(),
        };
        self.admin()
            .await
            .create_rule(self.as_(
                "alice",
                pb::CreateRuleRequest {
                    spec: Some(pb::RuleSpec {
                        name: name.into(),
                        target_group: group.into(),
                        acl: vec![entry.clone()],
                        max_duration: Some(secs(3600)),
                        default_duration: Some(secs(600)),
                        justification: pb::JustificationPolicy::Optional.into(),
                        enabled: true,
                        approval: Some(pb::ApprovalPolicy {
                            approvers: vec![entry],
                            required_approvals: required,
                            ..Default::default()
                        }),
                        ..Default::default()
                    }),
                },
            ))
            .await
            .unwrap()
            .into_inner()
    }

    async fn reject(
        &self,
        account: &str,
        id: &str,
        reason: &str,
    ) -> Result<pb::Grant, tonic::Status> {
        self.roles()
            .await
            .reject_request(self.as_(
                account,
                pb::RejectRequestRequest {
                    grant_id: id.into(),
                    reason: reason.into(),
                },
            ))
            .await
            .map(tonic::Response::into_inner)
    }

    async fn approvals(&self, account: &str) -> pb::ListApprovalsResponse {
        self.roles()
            .await
            .list_approvals(self.as_(account, pb::ListApprovalsRequest::default()))
            .await
            .unwrap()
            .into_inner()
    }
}

fn at(t: &Option<prost_types::Timestamp>) -> i64 {
    t.as_ref().map_or(0, |t| t.seconds)
}

#[tokio::test]
async fn an_approved_request_adds_the_member_in_the_dc_and_its_clock_starts_at_the_approval() {
    let Some(s) = stack().await else { return };
    s.clear("frank", "jit-role-web").await;
    let rule = s.approval_rule("Web (approvals)", "jit-role-web", 1).await;

    let pending = s.request("frank", &rule, Some(600)).await.unwrap();
    assert_eq!(pending.state(), pb::GrantState::Pending);
    assert!(!s.is_member("frank", "jit-role-web").await);
    let listed = s.approvals("grace").await;
    assert!(listed.requests.iter().any(|r| r.id == pending.id));
    assert!(listed.pending_count >= 1);
    assert!(
        s.approvals("frank")
            .await
            .requests
            .iter()
            .all(|r| r.id != pending.id),
        "nobody sees their own request to decide"
    );
    let outsider = s
        .roles()
        .await
        .get_request(s.as_(
            "bob",
            pb::GetRequestRequest {
                grant_id: pending.id.clone(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(outsider.code(), Code::PermissionDenied, "{outsider:?}");
    tokio::time::sleep(Duration::from_millis(1100)).await;

    let active = s
        .roles()
        .await
        .approve_request(s.as_(
            "grace",
            pb::ApproveRequestRequest {
                grant_id: pending.id.clone(),
                comment: "on call this week".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner();

    assert_eq!(active.state(), pb::GrantState::Active);
    assert!(
        s.is_member("frank", "jit-role-web").await,
        "in the DC at once"
    );
    assert!(at(&active.activated_at) > at(&pending.requested_at));
    assert_eq!(at(&active.expires_at) - at(&active.activated_at), 600);
    let seen = s
        .roles()
        .await
        .get_request(s.as_(
            "frank",
            pb::GetRequestRequest {
                grant_id: pending.id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(seen.decisions.len(), 1);
    assert_eq!(seen.decisions[0].approver_account, "grace");
    assert_eq!(seen.decisions[0].comment, "on call this week");
    let trail = s.audit_actions(&pending.id).await;
    for action in ["approval_requested", "approved", "granted"] {
        assert!(trail.contains(&action.to_owned()), "{action} in {trail:?}");
    }
    s.clear("frank", "jit-role-web").await;
}

#[tokio::test]
async fn rejections_cancels_and_bad_decisions_get_clear_errors_and_change_nothing() {
    let Some(s) = stack().await else { return };
    s.clear("grace", "jit-role-dba").await;
    let rule = s.approval_rule("DBA (approvals)", "jit-role-dba", 2).await;
    let pending = s.request("grace", &rule, None).await.unwrap();
    let id = pending.id.clone();

    let empty = s.reject("frank", &id, "  ").await.unwrap_err();
    assert_eq!(empty.code(), Code::InvalidArgument);
    let outsider = s.reject("dave", &id, "no").await.unwrap_err();
    assert_eq!(
        outsider.code(),
        Code::PermissionDenied,
        "dave is no approver"
    );
    // a service (ci-bot's client-credentials token) where the rule allows no service
    // approvers
    let mut as_service = tonic::Request::new(pb::ApproveRequestRequest {
        grant_id: id.clone(),
        comment: String::new(),
    });
    let bearer = format!("Bearer {}", s.service_token().await);
    as_service
        .metadata_mut()
        .insert("authorization", bearer.parse().unwrap());
    let service = s
        .roles()
        .await
        .approve_request(as_service)
        .await
        .unwrap_err();
    assert_eq!(service.code(), Code::PermissionDenied, "{service:?}");
    let rejected = s
        .reject("frank", &id, "use the read replica")
        .await
        .unwrap();
    assert_eq!(rejected.state(), pb::GrantState::Rejected);
    assert_eq!(rejected.end_note, "use the read replica");
    let again = s.reject("frank", &id, "again").await.unwrap_err();
    assert_eq!(
        again.code(),
        Code::FailedPrecondition,
        "a decided request takes no decision"
    );

    let second = s.request("grace", &rule, None).await.unwrap();
    let cancelled = s
        .roles()
        .await
        .cancel_request(s.as_(
            "grace",
            pb::CancelRequestRequest {
                grant_id: second.id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cancelled.state(), pb::GrantState::Cancelled);
    let late = s
        .roles()
        .await
        .approve_request(s.as_(
            "frank",
            pb::ApproveRequestRequest {
                grant_id: second.id.clone(),
                comment: String::new(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(late.code(), Code::FailedPrecondition, "{late:?}");

    // a start time on a rule that takes none
    let ask = pb::RequestRoleRequest {
        rule_id: rule.id.clone(),
        start_time: Some(prost_types::Timestamp {
            seconds: 4_000_000_000,
            nanos: 0,
        }),
        ..Default::default()
    };
    let refused = s
        .roles()
        .await
        .request_role(s.as_("grace", ask))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    assert!(!s.is_member("grace", "jit-role-dba").await);
}
