//! Emergency controls through their RPCs against the real Samba DC: revoking every live grant
//! of a person or of a rule really removes the memberships, and a freeze refuses requests with
//! the reason. This module owns the pair (alice, jit-role-dba) (see `grants.rs`).

use jitroles_proto::v1 as pb;
use tonic::Code;
use tonic_types::StatusExt;

use crate::grants::stack;

fn reason_violation(e: &tonic::Status) -> Option<String> {
    e.get_details_bad_request()
        .and_then(|b| b.field_violations.first().map(|v| v.field.clone()))
}

#[tokio::test]
async fn revoking_all_of_a_person_and_of_a_rule_removes_their_memberships_from_the_directory() {
    let Some(s) = stack().await else { return };
    s.clear("alice", "jit-role-dba").await;
    let first = s.rule("DBA emergency one", "jit-role-dba", 600).await;
    let first = s.allow(&first, "alice").await;
    let second = s.rule("DBA emergency two", "jit-role-dba", 600).await;
    let second = s.allow(&second, "alice").await;
    let a = s.request("alice", &first, None).await.unwrap();
    let b = s.request("alice", &second, None).await.unwrap();
    assert!(s.is_member("alice", "jit-role-dba").await);

    let admin = s.admin().await;
    let blank = admin
        .clone()
        .revoke_grants_of_person(s.as_(
            "alice",
            pb::RevokeGrantsOfPersonRequest {
                person: "alice".into(),
                reason: " ".into(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(blank.code(), Code::InvalidArgument);
    assert_eq!(reason_violation(&blank).as_deref(), Some("reason"));
    assert!(
        s.is_member("alice", "jit-role-dba").await,
        "nothing changed"
    );

    let done = admin
        .clone()
        .revoke_grants_of_person(s.as_(
            "alice",
            pb::RevokeGrantsOfPersonRequest {
                person: "ALICE".into(),
                reason: "laptop stolen".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(done.failed.is_empty(), "{:?}", done.failed);
    let mut revoked: Vec<String> = done.revoked.iter().map(|g| g.id.clone()).collect();
    revoked.sort();
    let mut want = vec![a.id.clone(), b.id.clone()];
    want.sort();
    assert_eq!(revoked, want);
    for g in &done.revoked {
        assert_eq!(g.state(), pb::GrantState::Ended);
        assert_eq!(g.end_reason(), pb::EndReason::Revoked);
        assert_eq!(g.end_note, "laptop stolen");
    }
    assert!(
        !s.is_member("alice", "jit-role-dba").await,
        "removed from the group in the directory"
    );
    assert!(
        s.is_member("carol", "jit-role-dba").await,
        "a permanent member is never touched"
    );
    assert_eq!(
        s.audit_actions(&a.id).await,
        ["requested", "granted", "revoked", "ended"]
    );

    // every live grant of one rule
    let c = s.request("alice", &first, None).await.unwrap();
    assert!(s.is_member("alice", "jit-role-dba").await);
    let done = admin
        .clone()
        .revoke_grants_of_rule(s.as_(
            "alice",
            pb::RevokeGrantsOfRuleRequest {
                rule_id: first.id.clone(),
                reason: "rule retired".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(done.revoked.len(), 1);
    assert_eq!(done.revoked[0].id, c.id);
    assert!(!s.is_member("alice", "jit-role-dba").await);

    let events = admin
        .clone()
        .list_audit_events(s.as_("alice", pb::ListAuditEventsRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .events;
    let summaries: Vec<(String, String)> = events
        .iter()
        .filter(|e| {
            matches!(
                e.action(),
                pb::AuditAction::RevokedAllOfPerson | pb::AuditAction::RevokedAllOfRule
            )
        })
        .map(|e| (e.action().label(), e.detail.clone()))
        .collect();
    assert_eq!(
        summaries,
        [
            (
                "revoked_all_of_rule".to_owned(),
                "1 revoked: rule retired".to_owned()
            ),
            (
                "revoked_all_of_person".to_owned(),
                "2 revoked: laptop stolen".to_owned()
            ),
        ],
        "newest first"
    );

    let refused = admin
        .clone()
        .revoke_grants_of_person(s.as_(
            "dave",
            pb::RevokeGrantsOfPersonRequest {
                person: "alice".into(),
                reason: "x".into(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "admins only");
}

#[tokio::test]
async fn a_frozen_rule_refuses_requests_over_grpc_with_the_reason_until_unfrozen() {
    let Some(s) = stack().await else { return };
    // refused requests write nothing, so dave's pairs are not touched
    let rule = s.rule("DBA frozen", "jit-role-dba", 600).await;
    let mut admin = s.admin().await;

    let no_scope = admin
        .freeze_requests(s.as_(
            "alice",
            pb::FreezeRequestsRequest {
                scope: None,
                reason: "x".into(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(no_scope.code(), Code::InvalidArgument);
    assert_eq!(reason_violation(&no_scope).as_deref(), Some("scope"));
    let no_reason = admin
        .freeze_requests(s.as_(
            "alice",
            pb::FreezeRequestsRequest {
                scope: Some(pb::freeze_requests_request::Scope::RuleId(rule.id.clone())),
                reason: String::new(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(reason_violation(&no_reason).as_deref(), Some("reason"));
    let unknown = admin
        .freeze_requests(s.as_(
            "alice",
            pb::FreezeRequestsRequest {
                scope: Some(pb::freeze_requests_request::Scope::RuleId(
                    "no-such-rule".into(),
                )),
                reason: "x".into(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);

    let frozen = admin
        .freeze_requests(s.as_(
            "alice",
            pb::FreezeRequestsRequest {
                scope: Some(pb::freeze_requests_request::Scope::RuleId(rule.id.clone())),
                reason: "incident 42".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (frozen.rule_name.as_str(), frozen.frozen_by.as_str()),
        ("DBA frozen", "alice")
    );

    let refused = s.request("dave", &rule, None).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(
        refused.message(),
        "requests for DBA frozen are frozen by alice: incident 42"
    );
    let offered = s
        .roles()
        .await
        .list_roles(s.as_("dave", pb::ListRolesRequest {}))
        .await
        .unwrap()
        .into_inner();
    let role = offered
        .roles
        .iter()
        .find(|r| r.rule_id == rule.id)
        .expect("a frozen role is still listed");
    assert_eq!(
        role.frozen.as_ref().map(|f| f.reason.as_str()),
        Some("incident 42")
    );
    assert!(offered.all_frozen.is_none());
    let listed = admin
        .get_rule(s.as_(
            "alice",
            pb::GetRuleRequest {
                rule_id: rule.id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        listed.frozen.map(|f| f.reason),
        Some("incident 42".to_owned())
    );

    // every role
    admin
        .freeze_requests(s.as_(
            "alice",
            pb::FreezeRequestsRequest {
                scope: Some(pb::freeze_requests_request::Scope::All(true)),
                reason: "breach".into(),
            },
        ))
        .await
        .unwrap();
    let freezes = admin
        .list_freezes(s.as_("alice", pb::ListFreezesRequest {}))
        .await
        .unwrap()
        .into_inner()
        .freezes;
    assert_eq!(freezes.len(), 2);
    assert_eq!(freezes[0].rule_id, "", "every role's first");
    let refused = s.request("dave", &rule, None).await.unwrap_err();
    assert_eq!(
        refused.message(),
        "requests for all roles are frozen by alice: breach"
    );

    for scope in [
        pb::unfreeze_requests_request::Scope::All(true),
        pb::unfreeze_requests_request::Scope::RuleId(rule.id.clone()),
    ] {
        admin
            .unfreeze_requests(s.as_("alice", pb::UnfreezeRequestsRequest { scope: Some(scope) }))
            .await
            .unwrap();
    }
    let again = admin
        .unfreeze_requests(s.as_(
            "alice",
            pb::UnfreezeRequestsRequest {
                scope: Some(pb::unfreeze_requests_request::Scope::All(true)),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);
    // open again: the refusal now is the ordinary one (a justification is required)
    let after = s
        .roles()
        .await
        .request_role(s.as_(
            "dave",
            pb::RequestRoleRequest {
                rule_id: rule.id.clone(),
                duration: None,
                justification: String::new(),
                client_request_id: String::new(),
                break_glass_reason: Default::default(),
                start_time: Default::default(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(after.code(), Code::InvalidArgument);
    let refused = s
        .admin()
        .await
        .freeze_requests(s.as_(
            "dave",
            pb::FreezeRequestsRequest {
                scope: Some(pb::freeze_requests_request::Scope::All(true)),
                reason: "x".into(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "admins only");
}
