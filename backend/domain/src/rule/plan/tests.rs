use std::{collections::HashMap, time::Duration};

use super::*;
use crate::rule::fixtures::rule;

fn named(name: &str, id: &str) -> RoleRule {
    let mut r = rule();
    r.spec.name = name.into();
    r.id = id.into();
    r
}

fn wanted(r: &RoleRule) -> Wanted {
    Wanted {
        spec: r.spec.clone(),
        target: r.target.clone(),
    }
}

fn texts(p: &Plan) -> Vec<String> {
    p.steps.iter().map(Step::text).collect()
}

#[test]
fn a_file_that_matches_the_rules_plans_nothing() {
    let live = vec![named("A", "1"), named("B", "2")];
    let p = plan(live.clone(), live.iter().map(wanted).collect(), true);
    assert!(!p.writes());
    assert_eq!(p.unchanged, 2);
    assert_eq!(
        p.summary(),
        "0 to create, 0 to change, 0 to delete, 2 unchanged, 0 kept"
    );
}

#[test]
fn one_field_changed_in_the_file_is_one_line_of_plan() {
    let live = vec![named("A", "1"), named("B", "2")];
    let mut file: Vec<Wanted> = live.iter().map(wanted).collect();
    file[1].spec.max_duration = Duration::from_secs(7200);
    let p = plan(live, file, false);
    assert_eq!(texts(&p), [r#"~ "B": max_duration: 1h → 2h"#]);
}

#[test]
fn rules_match_by_name_in_any_case_and_new_ones_are_created() {
    let live = vec![named("DBA on call", "1")];
    let mut same = wanted(&live[0]);
    same.spec.name = "dba ON CALL".into();
    let new = wanted(&named("Web deploy", ""));
    let p = plan(live, vec![same, new], false);
    assert_eq!(
        texts(&p),
        [
            "~ \"dba ON CALL\": name: \"DBA on call\" → \"dba ON CALL\"",
            "+ \"Web deploy\": create, group db-admins (S-1-5-21-1-2-3-2000)",
        ]
    );
}

#[test]
fn rules_missing_from_the_file_are_deleted_only_when_pruning() {
    let live = vec![named("A", "1"), named("Old", "2")];
    let file = vec![wanted(&live[0])];
    let kept = plan(live.clone(), file.clone(), false);
    assert_eq!(
        texts(&kept),
        [r#"= "Old": kept, not in the file (pruning would delete it)"#]
    );
    assert!(!kept.writes());
    let pruned = plan(live, file, true);
    assert_eq!(texts(&pruned), [r#"- "Old": delete"#]);
    assert!(pruned.writes());
}

#[test]
fn several_changes_are_listed_one_per_indented_line() {
    let live = vec![named("A", "1")];
    let mut w = wanted(&live[0]);
    w.spec.enabled = false;
    w.spec.allow_extension = true;
    assert_eq!(
        plan(live, vec![w], false).steps[0].text(),
        "~ \"A\": 2 changes\n    allow_extension: false → true\n    enabled: true → false"
    );
}

#[test]
fn a_group_change_or_deletion_with_live_grants_is_refused_by_name() {
    let live = vec![named("A", "1"), named("B", "2"), named("C", "3")];
    let mut a = wanted(&live[0]);
    a.target.sid = "S-1-5-21-1-2-3-2001".parse().unwrap();
    let mut b = wanted(&live[1]);
    b.target.sid = "S-1-5-21-1-2-3-2001".parse().unwrap();
    let p = plan(live, vec![a, b], true);
    let grants = HashMap::from([("1".to_owned(), 2), ("3".to_owned(), 1)]);
    assert_eq!(
        p.refusals(&grants),
        [
            "\"A\": its group cannot change while it has 2 live grants (revoke them or let them end first)",
            "\"C\": cannot be deleted while it has 1 live grant (revoke them or let them end first)",
        ],
        "B has no live grants: its group may change"
    );
    assert!(p.refusals(&HashMap::new()).is_empty());
}
