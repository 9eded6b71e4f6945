//! Rule history through the API, on the real server, Samba and the provider: each saved
//! version listed with what it changed, the change in the audit event, and a restore saved as
//! a new, audited version after today's checks.

use jitroles_proto::v1 as pb;
use tonic::Code;

use crate::grants::{Stack, stack};

async fn versions(s: &Stack, rule_id: &str) -> Vec<pb::RuleVersion> {
    s.admin()
        .await
        .list_rule_versions(s.as_(
            "alice",
            pb::ListRuleVersionsRequest {
                rule_id: rule_id.into(),
                limit: 0,
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .versions
}

fn summary(versions: &[pb::RuleVersion]) -> Vec<(i64, pb::AuditAction, Vec<String>)> {
    versions
        .iter()
        .map(|v| {
            (
                v.rule.as_ref().unwrap().version,
                v.action(),
                v.changes.iter().map(|c| c.text.clone()).collect(),
            )
        })
        .collect()
}

async fn restore(
    s: &Stack,
    rule_id: &str,
    version: i64,
    expected: i64,
) -> Result<pb::Rule, tonic::Status> {
    s.admin()
        .await
        .restore_rule_version(s.as_(
            "alice",
            pb::RestoreRuleVersionRequest {
                rule_id: rule_id.into(),
                version,
                expected_version: expected,
            },
        ))
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test]
async fn each_version_lists_what_it_changed_and_a_restore_is_a_new_audited_version() {
    let Some(s) = stack().await else { return };
    let v1 = s.rule("History of DBA", "jit-role-web", 600).await;
    let mut spec = v1.spec.clone().unwrap();
    spec.default_duration = Some(crate::stack::secs(300));
    let v2 = s
        .admin()
        .await
        .update_rule(s.as_(
            "alice",
            pb::UpdateRuleRequest {
                rule_id: v1.id.clone(),
                spec: Some(spec),
                version: v1.version,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let v3 = s.allow(&v2, "bob").await;
    let bob = s.user("bob").await;
    let bob_entry = format!("allow user {} ({})", bob.display_name, bob.sid);

    let listed = versions(&s, &v1.id).await;
    assert_eq!(
        summary(&listed),
        [
            (
                3,
                pb::AuditAction::RuleUpdated,
                vec![format!("acl: + {bob_entry}")]
            ),
            (
                2,
                pb::AuditAction::RuleUpdated,
                vec!["default_duration: 10m → 5m".to_owned()]
            ),
            (1, pb::AuditAction::RuleCreated, vec![]),
        ]
    );
    assert!(listed.iter().all(|v| v.saved_by == "alice"));
    assert_eq!(
        listed[2].rule.as_ref().unwrap().spec,
        v1.spec,
        "version 1 whole"
    );

    // the change is in the audit event
    let events = s
        .admin()
        .await
        .list_audit_events(s.as_(
            "alice",
            pb::ListAuditEventsRequest {
                rule_id: v1.id.clone(),
                page_size: 50,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .events;
    assert!(
        events
            .iter()
            .any(|e| e.detail.ends_with("\ndefault_duration: 10m → 5m")),
        "{events:?}"
    );

    // restoring version 1 undoes both changes, as version 4
    let v4 = restore(&s, &v1.id, 1, v3.version).await.unwrap();
    assert_eq!(v4.version, 4);
    let (mut restored, mut original) = (v4.spec.clone().unwrap(), v1.spec.clone().unwrap());
    restored.acl.iter_mut().for_each(|a| a.display_name.clear());
    original.acl.iter_mut().for_each(|a| a.display_name.clear());
    assert_eq!(restored, original);
    let listed = versions(&s, &v1.id).await;
    assert_eq!(
        summary(&listed[..1]),
        [(
            4,
            pb::AuditAction::RuleRestored,
            vec![
                format!("acl: − {bob_entry}"),
                "default_duration: 5m → 10m".to_owned(),
            ]
        )]
    );
    let events = s
        .admin()
        .await
        .list_audit_events(s.as_(
            "alice",
            pb::ListAuditEventsRequest {
                rule_id: v1.id.clone(),
                action: pb::AuditAction::RuleRestored.into(),
                page_size: 5,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .events;
    assert_eq!(events.len(), 1);
    assert!(
        events[0].detail.contains("restored version 1\n"),
        "{events:?}"
    );

    // what a restore refuses, and that it writes nothing then
    for (version, expected, code) in [
        (1, 3, Code::Aborted),
        (99, 4, Code::NotFound),
        (4, 4, Code::FailedPrecondition),
        (1, 4, Code::FailedPrecondition),
    ] {
        let refused = restore(&s, &v1.id, version, expected).await.unwrap_err();
        assert_eq!(
            refused.code(),
            code,
            "restore {version} at {expected}: {refused:?}"
        );
    }
    assert_eq!(versions(&s, &v1.id).await.len(), 4, "refusals save nothing");
    let not_admin = s
        .admin()
        .await
        .restore_rule_version(s.as_(
            "dave",
            pb::RestoreRuleVersionRequest {
                rule_id: v1.id.clone(),
                version: 2,
                expected_version: 4,
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(not_admin.code(), Code::PermissionDenied);
    let unknown = s
        .admin()
        .await
        .list_rule_versions(s.as_(
            "alice",
            pb::ListRuleVersionsRequest {
                rule_id: "no-such-rule".into(),
                limit: 5,
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
}
