//! A mail channel to "the approvers": each approver of the rule, found in the Samba DC through
//! nested groups, gets the approval events by their own `mail`.

use super::*;

#[tokio::test]
async fn the_approvers_are_mailed_each_request_and_each_others_decision() {
    let Some(s) = stack("jit-notify-approvers").await else {
        return;
    };
    let channel = connect(format!("http://{}", s.running.addr())).await;
    let mut spec = email("Approvers", Vec::new(), false);
    if let Some(pb::channel_spec::Kind::Email(e)) = spec.kind.as_mut() {
        e.to_approvers = true;
    }
    let mail = create_channel(channel.clone(), &s.op, spec).await.unwrap();
    let mut rule = crate::stack::oncall_rule(
        channel.clone(),
        &s.op,
        ("Approved DBA", &s.group.name),
        60,
        pb::JustificationPolicy::Optional,
    )
    .await;
    let mut admin = AdminServiceClient::new(channel.clone());
    let approvers = admin
        .search_directory(as_(
            &s.op,
            "alice",
            pb::SearchDirectoryRequest {
                query: "dba-approvers".into(),
                kind: pb::DirectoryObjectKind::Group.into(),
                page_size: 5,
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .entries
        .into_iter()
        .find(|e| e.account_name == "dba-approvers")
        .unwrap()
        .sid;
    let mut edited = rule.spec.take().unwrap();
    edited.approval = Some(pb::ApprovalPolicy {
        approvers: vec![pb::AclEntry {
            principal_sid: approvers,
            display_name: String::new(),
            kind: pb::PrincipalKind::Group.into(),
            effect: pb::Effect::Allow.into(),
        }],
        required_approvals: 2,
        ..Default::default()
    });
    edited.approval_channels = vec![mail.id.clone()];
    admin
        .update_rule(as_(
            &s.op,
            "alice",
            pb::UpdateRuleRequest {
                rule_id: rule.id.clone(),
                spec: Some(edited),
                version: rule.version,
            },
        ))
        .await
        .unwrap();
    let marker = format!(
        "approvers-{}",
        SystemClock.now().timestamp_nanos_opt().unwrap_or_default()
    );

    let pending = request(channel.clone(), &s.op, "dave", &rule.id, 600, &marker)
        .await
        .unwrap();
    assert_eq!(pending.state(), pb::GrantState::Pending);
    let about = |to: &str| {
        mails_to(to)
            .into_iter()
            .filter(|m| m.contains(&marker) || m.contains(&pending.id))
            .count()
    };
    eventually(15, "both approvers are asked", || {
        about("frank@example.test") >= 1 && about("grace@example.test") >= 1
    })
    .await;
    assert_eq!(
        about("dave@example.test"),
        0,
        "the requester is no approver"
    );
    RoleServiceClient::new(channel.clone())
        .approve_request(as_(
            &s.op,
            "frank",
            pb::ApproveRequestRequest {
                grant_id: pending.id.clone(),
                comment: String::new(),
            },
        ))
        .await
        .unwrap();
    eventually(15, "grace hears that frank approved", || {
        mails_to("grace@example.test")
            .iter()
            .any(|m| m.contains("frank approved") && m.contains("Dave"))
    })
    .await;
}
