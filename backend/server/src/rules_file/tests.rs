use super::*;

const GOOD: &str = "\
rules:
- name: DBA on call
  description: Production databases
  group:
    name: jit-role-dba
    sid: S-1-5-21-1-2-3-2000
  acl:
  - effect: allow
    kind: group
    name: dba-oncall
    sid: S-1-5-21-1-2-3-1104
  - effect: deny
    kind: user
    name: mallory
  max_duration: 1h
  default_duration: 30m
  justification: required
  channels:
    success: [ops-mail]
  approval:
    approvers:
    - effect: allow
      kind: group
      name: dba-leads
    required: 1
    pending_window: 1d
";

fn error(text: &str) -> FileError {
    parse(text).unwrap_err()
}

#[test]
fn a_good_file_reads_with_the_place_of_each_value() {
    let file = parse(GOOD).unwrap();
    let rule = &file.rules[0];
    assert_eq!(rule.name.value, "DBA on call");
    assert_eq!(rule.name.referenced.line(), 2);
    assert_eq!(rule.acl.len(), 2);
    assert_eq!(rule.acl[1].referenced.line(), 12);
    assert_eq!(rule.justification, Justification::Required);
    assert!(rule.enabled, "enabled unless the file says otherwise");
    assert_eq!(rule.channels.success[0].value, "ops-mail");
    assert_eq!(rule.approval.as_ref().unwrap().required, 1);
}

#[test]
fn an_unknown_key_is_named_with_its_line_and_column() {
    let e = error(&GOOD.replace("  max_duration: 1h", "  max_duraton: 1h"));
    assert_eq!((e.line, e.column), (15, 3), "{e}");
    assert!(e.message.contains("max_duraton"), "{e}");
    assert!(
        e.to_string()
            .starts_with("line 15, column 3: unknown field `max_duraton`"),
        "{e}"
    );
}

#[test]
fn a_wrong_type_is_named_with_its_line() {
    let e = error(&GOOD.replace("  allow_extension", "").replace(
        "  justification: required",
        "  justification: required\n  allow_extension: sometimes",
    ));
    assert_eq!(e.line, 18, "{e}");
    let e = error(&GOOD.replace("effect: deny", "effect: maybe"));
    assert_eq!(e.line, 12, "{e}");
    assert!(
        e.message.contains("maybe") || e.message.contains("variant"),
        "{e}"
    );
}

#[test]
fn a_second_rule_of_the_same_name_in_any_case_is_refused_where_it_is() {
    let second = GOOD
        .replace("rules:\n", "")
        .replace("DBA on call", "dba ON call");
    let e = error(&format!("{GOOD}{second}"));
    assert_eq!(e.line, 27, "{e}");
    assert!(e.message.contains("the first is on line 2"), "{e}");
}

#[test]
fn broken_yaml_and_too_big_files_are_refused() {
    let e = error("rules:\n- name: [unclosed\n");
    assert!(e.line >= 2, "{e}");
    let huge = "#".repeat(MAX_FILE_BYTES + 1);
    assert!(error(&huge).message.contains("at most"));
}

#[test]
fn a_written_file_reads_back_the_same() {
    let file = parse(GOOD).unwrap();
    let text = write(&file, "jitroles rules\nexported").unwrap();
    assert!(text.starts_with("# jitroles rules\n# exported\n"), "{text}");
    let again = parse(&text).unwrap();
    assert_eq!(write(&again, "x").unwrap(), write(&file, "x").unwrap());
}
