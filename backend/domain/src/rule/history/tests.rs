use std::time::Duration;

use super::*;
use crate::{
    access::{Effect, PrincipalKind},
    approval::ApprovalPolicy,
    rule::{
        JustificationPolicy, RoleRule,
        fixtures::{ace, now, rule},
    },
};

fn texts(before: &RoleRule, after: &RoleRule) -> Vec<String> {
    changes(before, after).iter().map(Change::line).collect()
}

#[test]
fn the_same_settings_are_no_change_whatever_the_version_and_times() {
    let mut after = rule();
    after.version = 7;
    after.updated_at = now() + chrono::TimeDelta::days(3);
    assert!(changes(&rule(), &after).is_empty());
}

#[test]
fn one_field_changed_is_one_line_with_before_and_after() {
    let mut after = rule();
    after.spec.max_duration = Duration::from_secs(2 * 3600);
    assert_eq!(texts(&rule(), &after), ["max_duration: 1h → 2h"]);
}

#[test]
fn acl_entries_added_and_removed_are_named_with_their_sid() {
    let mut after = rule();
    after.spec.acl = vec![
        ace(1104, "dba-team", PrincipalKind::Group, Effect::Allow),
        ace(1107, "mallory", PrincipalKind::User, Effect::Deny),
    ];
    after.spec.acl.remove(0);
    assert_eq!(
        texts(&rule(), &after),
        [
            "acl: + deny user mallory (S-1-5-21-1-2-3-1107)",
            "acl: − allow group dba-team (S-1-5-21-1-2-3-1104)",
        ]
    );
}

#[test]
fn a_principal_renamed_in_the_directory_is_not_a_change() {
    let mut after = rule();
    after.spec.acl[0].display_name = "dba-team-renamed".into();
    assert!(changes(&rule(), &after).is_empty());
}

#[test]
fn an_allow_turned_into_a_deny_is_one_added_and_one_removed() {
    let mut after = rule();
    after.spec.acl[0].effect = Effect::Deny;
    assert_eq!(
        texts(&rule(), &after),
        [
            "acl: + deny group dba-team (S-1-5-21-1-2-3-1104)",
            "acl: − allow group dba-team (S-1-5-21-1-2-3-1104)",
        ]
    );
}

#[test]
fn group_channels_expiry_and_flags_each_say_what_they_were() {
    let mut after = rule();
    after.target.sid = "S-1-5-21-1-2-3-2001".parse().unwrap();
    after.target.name = "db-readers".into();
    after.spec.channels.success = vec!["ops-mail".into()];
    after.spec.enabled = false;
    after.spec.expires_at = Some(now());
    after.spec.justification = JustificationPolicy::Optional;
    after.spec.max_lead = Some(Duration::from_secs(7 * 86_400));
    assert_eq!(
        texts(&rule(), &after),
        [
            "group: db-admins (S-1-5-21-1-2-3-2000) → db-readers (S-1-5-21-1-2-3-2001)",
            "max_lead: none → 7d",
            "justification: required → optional",
            "enabled: true → false",
            "expires_at: never → 2026-12-02T09:00:00Z",
            "success_channels: + ops-mail",
        ]
    );
}

#[test]
fn approvals_turned_on_is_one_line_and_then_each_setting_is_its_own() {
    let policy = ApprovalPolicy {
        approvers: vec![ace(1110, "dba-leads", PrincipalKind::Group, Effect::Allow)],
        required: 1,
        pending_window: Duration::from_secs(86_400),
        break_glass: false,
        service_approvers: false,
    };
    let mut on = rule();
    on.spec.approval = Some(policy.clone());
    assert_eq!(
        texts(&rule(), &on),
        ["approval: none → 1 of 1 approver entries, window 1d"]
    );
    let mut stricter = on.clone();
    let p = stricter.spec.approval.as_mut().unwrap();
    p.required = 2;
    p.approvers
        .push(ace(1111, "cto", PrincipalKind::User, Effect::Allow));
    p.break_glass = true;
    assert_eq!(
        texts(&on, &stricter),
        [
            "approval.approvers: + allow user cto (S-1-5-21-1-2-3-1111)",
            "approval.required: 1 → 2",
            "approval.break_glass: false → true",
        ]
    );
}

#[test]
fn texts_are_quoted_so_a_newline_stays_on_its_line() {
    let mut after = rule();
    after.spec.description = "two\nlines".into();
    assert_eq!(
        texts(&rule(), &after),
        [r#"description: "Production databases" → "two\nlines""#]
    );
}

#[test]
fn durations_read_in_whole_units_largest_first() {
    for (secs, text) in [
        (0, "0s"),
        (59, "59s"),
        (90, "1m 30s"),
        (3600, "1h"),
        (93_600, "1d 2h"),
        (86_400 * 366, "366d"),
    ] {
        assert_eq!(duration_text(Duration::from_secs(secs)), text);
    }
}

#[test]
fn settings_that_passed_pass_again_unchanged() {
    let mut valid = rule().spec;
    valid.approval = Some(ApprovalPolicy {
        approvers: vec![ace(1110, "dba-leads", PrincipalKind::Group, Effect::Allow)],
        required: 1,
        pending_window: Duration::from_secs(3600),
        break_glass: false,
        service_approvers: true,
    });
    let again = crate::rule::RuleSpec::from(valid.clone())
        .validate(now())
        .unwrap();
    assert_eq!(again, valid);
}

#[test]
fn durations_read_back_as_they_are_written() {
    for secs in [1, 59, 90, 3600, 5400, 86_400, 93_784, 86_400 * 366] {
        let d = Duration::from_secs(secs);
        assert_eq!(duration_from_text(&duration_text(d)), Ok(d), "{secs}");
    }
    assert_eq!(
        duration_from_text("  2h   15m "),
        Ok(Duration::from_secs(8100))
    );
}

#[test]
fn durations_that_are_not_whole_units_largest_first_are_refused() {
    for text in [
        "",
        " ",
        "1",
        "h",
        "1x",
        "1.5h",
        "-1h",
        "30m 1h",
        "1h 1h",
        "1h30m",
        "99999999999999999999d",
    ] {
        let e = duration_from_text(text).unwrap_err();
        assert!(e.contains("is not a duration"), "{text:?}: {e}");
    }
}
