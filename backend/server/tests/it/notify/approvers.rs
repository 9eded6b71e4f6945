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
    let rule = crate::stack::oncall_rule(
        channel.clone(),
        &s.op,
        ("Approved DBA", &s.group.name),
        60,
        pb::JustificationPolicy::Optional,
    )
    .await;
    crate::stack::decided_by_dba_approvers(channel.clone(), &s.op, &rule, 2, vec![mail.id.clone()])
        .await;
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
