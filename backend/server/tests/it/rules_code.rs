//! Rules as code through the API, on real servers (each on its own SQLite), Samba and the
//! provider: a hand-written file planned and applied; export → apply to an empty database →
//! export is the same file; one changed field is one line of plan; a bad file names each
//! problem's line and column; a change the API would refuse writes nothing.

use jitroles_proto::v1 as pb;
use tonic::Code;

use crate::{
    grants::{Stack, stack},
    notify::{create_channel, email},
    samba::Samba,
};

/// Plans (or with `apply`, applies) `yaml` as alice.
async fn file_call(
    s: &Stack,
    yaml: &str,
    prune: bool,
    apply: bool,
) -> Result<pb::RulesPlan, tonic::Status> {
    let ask = s.as_(
        "alice",
        pb::PlanRulesRequest {
            yaml: yaml.into(),
            prune,
        },
    );
    let mut admin = s.admin().await;
    let answer = if apply {
        admin.apply_rules(ask).await
    } else {
        admin.plan_rules(ask).await
    };
    answer.map(tonic::Response::into_inner)
}

async fn plan(s: &Stack, yaml: &str, prune: bool) -> Result<pb::RulesPlan, tonic::Status> {
    file_call(s, yaml, prune, false).await
}

async fn apply(s: &Stack, yaml: &str, prune: bool) -> Result<pb::RulesPlan, tonic::Status> {
    file_call(s, yaml, prune, true).await
}

async fn rules(s: &Stack) -> Vec<pb::Rule> {
    s.admin()
        .await
        .list_rules(s.as_("alice", pb::ListRulesRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .rules
}

async fn export(s: &Stack) -> String {
    s.admin()
        .await
        .export_rules(s.as_("alice", pb::ExportRulesRequest {}))
        .await
        .unwrap()
        .into_inner()
        .yaml
}

fn texts(p: &pb::RulesPlan) -> Vec<String> {
    p.steps.iter().map(|s| s.text.clone()).collect()
}

/// Two rules on `group`, written as a person would: names only, but for one SID whose name
/// is wrong (the SID wins).
fn file(group: &str, dba_sid: &str) -> String {
    format!(
        "\
rules:
- name: Code deploy
  description: Deploys, by the on-call rota
  group:
    name: {group}
  acl:
  - effect: allow
    kind: group
    name: dba-oncall
  - effect: deny
    kind: user
    name: carol
  max_duration: 1h
  default_duration: 30m
  justification: required
  channels:
    success: [Code mail]
- name: Code review
  group:
    name: jit-role-dbx
    sid: {dba_sid}
  acl:
  - effect: allow
    kind: group
    name: dba-team
  max_duration: 2h
  allow_extension: true
  max_total_duration: 8h
  enabled: false
  approval:
    approvers:
    - effect: allow
      kind: group
      name: dba-approvers
    required: 2
    pending_window: 1d
"
    )
}

async fn with_mail_channel(s: &Stack) {
    create_channel(
        s.channel().await,
        s.op(),
        email("Code mail", vec!["ops@example.test".into()], false),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn a_file_applied_exports_again_the_same_and_applies_the_same_to_an_empty_database() {
    let Some(samba) = Samba::up() else { return };
    let Some(one) = stack().await else { return };
    let Some(two) = stack().await else { return };
    let group = samba.role_group("jit-role-code");
    let dba = one.group_sid("jit-role-dba").await;
    for s in [&one, &two] {
        with_mail_channel(s).await;
    }

    let planned = plan(&one, &file(&group.name, &dba), false).await.unwrap();
    assert_eq!(
        texts(&planned),
        [
            format!(
                "+ \"Code deploy\": create, group {} ({})",
                group.name,
                one.group_sid(&group.name).await
            ),
            format!("+ \"Code review\": create, group jit-role-dba ({dba})"),
        ]
    );
    assert_eq!(planned.notes.len(), 1, "{:?}", planned.notes);
    assert!(
        planned.notes[0].starts_with(
            "line 20, column 5: rule \"Code review\": the group named \"jit-role-dbx\""
        ) && planned.notes[0].ends_with("which the directory calls \"jit-role-dba\": the SID wins"),
        "{:?}",
        planned.notes
    );
    assert!(rules(&one).await.is_empty(), "a plan writes nothing");

    let applied = apply(&one, &file(&group.name, &dba), false).await.unwrap();
    assert_eq!(
        applied.summary,
        "2 to create, 0 to change, 0 to delete, 0 unchanged, 0 kept"
    );
    let exported = export(&one).await;
    assert!(exported.contains("sid: S-1-5-21-"), "{exported}");
    assert!(
        exported.contains("- Code mail"),
        "channels by name: {exported}"
    );
    let again = plan(&one, &exported, true).await.unwrap();
    assert!(again.steps.is_empty(), "{:?}", texts(&again));
    assert_eq!(again.unchanged, 2);

    apply(&two, &exported, false).await.unwrap();
    assert_eq!(
        export(&two).await,
        exported,
        "the round trip changes nothing"
    );

    // one field changed is one line of plan, and applying it is audited with the change
    let changed = exported.replacen("max_duration: 2h", "max_duration: 3h", 1);
    let planned = plan(&two, &changed, false).await.unwrap();
    assert_eq!(
        texts(&planned),
        ["~ \"Code review\": max_duration: 2h → 3h"]
    );
    apply(&two, &changed, false).await.unwrap();
    let events = two
        .admin()
        .await
        .list_audit_events(two.as_(
            "alice",
            pb::ListAuditEventsRequest {
                action: pb::AuditAction::RuleUpdated.into(),
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
        events[0]
            .detail
            .ends_with("from a rules file:\nmax_duration: 2h → 3h"),
        "{:?}",
        events[0].detail
    );
}

#[tokio::test]
async fn a_bad_file_names_each_problem_with_its_line_and_column_and_writes_nothing() {
    let Some(samba) = Samba::up() else { return };
    let Some(s) = stack().await else { return };
    let group = samba.role_group("jit-role-code-bad");
    let dba = s.group_sid("jit-role-dba").await;
    with_mail_channel(&s).await;
    let good = file(&group.name, &dba);
    let refused = |e: tonic::Status| {
        assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
        e.message().to_owned()
    };
    let unknown_key = good.replace("  allow_extension: true", "  allow_extensions: true");
    let message = refused(plan(&s, &unknown_key, false).await.unwrap_err());
    assert!(
        message.contains("line 27, column 3: unknown field `allow_extensions`"),
        "{message}"
    );

    let wrong_type = good.replace("required: 2", "required: two");
    let message = refused(plan(&s, &wrong_type, false).await.unwrap_err());
    assert!(message.contains("line 35, column 15: "), "{message}");

    let nothing = good
        .replace("name: dba-team", "name: no-such-team")
        .replace("success: [Code mail]", "success: [No mail]")
        .replace("max_duration: 1h", "max_duration: 1 hour");
    let message = refused(apply(&s, &nothing, false).await.unwrap_err());
    for (place, what) in [
        ("line 13, column 17", "\"1 hour\" is not a duration"),
        (
            "line 17, column 15",
            "there is no channel named \"No mail\"",
        ),
        (
            "line 23, column 5",
            "rule \"Code review\", acl: the directory has no group no-such-team",
        ),
    ] {
        assert!(
            message.contains(&format!("{place}: {what}")),
            "{place}: {message}"
        );
    }

    let twice = format!(
        "{good}{}",
        good.replace("rules:\n", "")
            .replacen("Code deploy", "code DEPLOY", 1)
    );
    let message = refused(plan(&s, &twice, false).await.unwrap_err());
    assert!(
        message.contains(
            "line 37, column 9: a second rule named \"code DEPLOY\" (the first is on line 2)"
        ),
        "{message}"
    );

    let invalid = good.replace("default_duration: 30m", "default_duration: 2h");
    let message = refused(plan(&s, &invalid, false).await.unwrap_err());
    assert!(message.contains("line 2, column 9: rule \"Code deploy\": default_duration must not be longer than max_duration"), "{message}");

    assert!(rules(&s).await.is_empty());
}

#[tokio::test]
async fn a_group_change_or_deletion_with_live_grants_is_refused_by_rule_and_nothing_is_applied() {
    let Some(samba) = Samba::up() else { return };
    let Some(s) = stack().await else { return };
    let group = samba.role_group("jit-role-code-live");
    let other = samba.role_group("jit-role-code-other");
    let dba = s.group_sid("jit-role-dba").await;
    with_mail_channel(&s).await;
    apply(&s, &file(&group.name, &dba), false).await.unwrap();
    let saved = rules(&s).await;
    let deploy = saved
        .iter()
        .find(|r| r.spec.as_ref().unwrap().name == "Code deploy")
        .unwrap();
    let grant = s.request("dave", deploy, Some(600)).await.unwrap();

    let moved = file(&other.name, &dba).replace("enabled: false", "enabled: true");
    let e = apply(&s, &moved, false).await.unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition, "{e:?}");
    assert_eq!(
        e.message(),
        "nothing was applied: \"Code deploy\": its group cannot change while it has 1 live grant (revoke them or let them end first)"
    );
    let planned = plan(&s, &moved, false).await.unwrap();
    assert_eq!(planned.refusals.len(), 1, "the plan says so too");

    let only_review = format!(
        "rules:\n{}",
        file(&group.name, &dba)
            .split("- name: Code review")
            .nth(1)
            .map(|rest| format!("- name: Code review{rest}"))
            .unwrap()
    );
    let e = apply(
        &s,
        &only_review.replace("enabled: false", "enabled: true"),
        true,
    )
    .await
    .unwrap_err();
    assert!(
        e.message()
            .contains("\"Code deploy\": cannot be deleted while it has 1 live grant"),
        "{e:?}"
    );

    let after = rules(&s).await;
    let versions: Vec<(String, i64, bool)> = after
        .iter()
        .map(|r| {
            (
                r.spec.as_ref().unwrap().name.clone(),
                r.version,
                r.spec.as_ref().unwrap().enabled,
            )
        })
        .collect();
    assert_eq!(
        versions,
        [
            ("Code deploy".to_owned(), 1, true),
            ("Code review".to_owned(), 1, false)
        ],
        "neither refused file changed anything, not even Code review's enabled"
    );
    s.admin()
        .await
        .revoke_grant(s.as_(
            "alice",
            pb::RevokeGrantRequest {
                grant_id: grant.id,
                reason: "test over".into(),
            },
        ))
        .await
        .unwrap();
}
