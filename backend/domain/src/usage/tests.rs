use super::*;
use crate::{
    audit::{NewAudit, repeats::Repeats},
    directory::DirectoryUser,
};

fn at(hour: i64) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-01T00:00:00Z")
        .unwrap()
        .to_utc()
        + TimeDelta::hours(hour)
}

fn sid(n: u32) -> Sid {
    format!("S-1-5-21-1-2-3-{n}").parse().unwrap()
}

/// Hours 10 to 20.
fn period() -> Period {
    Period::new(at(10), at(20)).unwrap()
}

struct Row(UsageGrant);

/// A grant of rule `r1` by person `who`, requested at hour `asked` and made at once.
fn row(who: u32, asked: i64, state: GrantState) -> Row {
    Row(UsageGrant::new(
        format!("g{who}-{asked}"),
        "r1".into(),
        "DBA".into(),
        sid(who),
        state,
        at(asked),
        None,
        None,
    ))
}

impl Row {
    fn ended(mut self, hour: i64) -> Self {
        self.0.ended_at = Some(at(hour));
        self
    }
    fn activated(self, hour: i64) -> Self {
        let g = self.0;
        Row(UsageGrant::new(
            g.id,
            g.rule_id,
            g.rule_name,
            g.subject,
            g.state,
            g.requested_at,
            Some(at(hour)),
            g.ended_at,
        ))
    }
    fn rule(mut self, id: &str) -> Self {
        self.0.rule_id = id.into();
        self.0.rule_name = id.to_uppercase();
        self
    }
}

fn tally(rows: &[Row], now: i64) -> Vec<RuleUsage> {
    let mut t = Tally::new(period(), at(now));
    for r in rows {
        t.grant(&r.0);
    }
    t.finish()
}

fn hours_of(n: u64) -> Duration {
    Duration::from_secs(n * 3600)
}

#[test]
fn a_period_must_end_after_it_starts_and_last_at_most_ten_years() {
    assert!(matches!(
        Period::new(at(5), at(5)),
        Err(DomainError::Invalid { field, .. }) if field == "to"
    ));
    assert!(Period::new(at(6), at(5)).is_err());
    assert!(Period::new(at(0), at(0) + TimeDelta::days(MAX_PERIOD_DAYS)).is_ok());
    assert!(matches!(
        Period::new(at(0), at(0) + TimeDelta::days(MAX_PERIOD_DAYS) + TimeDelta::seconds(1)),
        Err(DomainError::Invalid { field, .. }) if field == "from"
    ));
}

#[test]
fn unused_days_default_to_ninety_and_stay_within_one_to_3650() {
    assert_eq!(unused_days(0), Ok(DEFAULT_UNUSED_DAYS));
    assert_eq!(unused_days(1), Ok(1));
    assert_eq!(unused_days(3650), Ok(3650));
    assert!(matches!(
        unused_days(3651),
        Err(DomainError::Invalid { field, .. }) if field == "unused_days"
    ));
}

#[test]
fn an_empty_period_reports_its_rules_with_zeros_and_no_median() {
    let mut t = Tally::new(period(), at(30));
    t.rule("r1", "DBA");
    t.refusals("unknown", 3);
    let report = t.finish();
    assert_eq!(
        report,
        vec![RuleUsage {
            rule_id: "r1".into(),
            rule_name: "DBA".into(),
            requests: 0,
            grants: 0,
            refusals: 0,
            held: Duration::ZERO,
            people: 0,
            median: None,
            last_use: None,
        }]
    );
}

#[test]
fn grants_inside_the_period_count_whole() {
    let u = &tally(
        &[
            row(1, 11, GrantState::Ended).ended(13),
            row(2, 12, GrantState::Ended).ended(13),
        ],
        30,
    )[0];
    assert_eq!((u.requests, u.grants, u.people), (2, 2, 2));
    assert_eq!(u.held, hours_of(3));
    // two durations, 2 h and 1 h: the mean of the middle two
    assert_eq!(u.median, Some(Duration::from_secs(5400)));
    assert_eq!(u.last_use, Some(at(12)));
}

#[test]
fn a_grant_straddling_the_start_counts_only_its_hours_inside() {
    let u = &tally(&[row(1, 8, GrantState::Ended).ended(12)], 30)[0];
    assert_eq!((u.requests, u.grants), (0, 0), "asked and started before");
    assert_eq!(u.held, hours_of(2), "hours 10 to 12");
    assert_eq!(u.people, 1, "held it in the period");
    assert_eq!(u.median, None, "it did not start in the period");
    assert_eq!(u.last_use, Some(at(8)));
}

#[test]
fn a_grant_straddling_the_end_counts_up_to_the_end_and_its_whole_duration() {
    let u = &tally(&[row(1, 18, GrantState::Ended).ended(23)], 30)[0];
    assert_eq!((u.requests, u.grants, u.people), (1, 1, 1));
    assert_eq!(u.held, hours_of(2), "hours 18 to 20");
    assert_eq!(u.median, Some(hours_of(5)), "the whole grant, unclipped");
}

#[test]
fn a_grant_covering_the_whole_period_holds_all_of_it() {
    let u = &tally(&[row(1, 2, GrantState::Ended).ended(25)], 30)[0];
    assert_eq!(u.held, hours_of(10));
    assert_eq!((u.requests, u.grants, u.people), (0, 0, 1));
}

#[test]
fn a_still_active_grant_holds_until_now_and_has_no_duration_yet() {
    // now is inside the period: held from 15 to now (17)
    let u = &tally(&[row(1, 15, GrantState::Active)], 17)[0];
    assert_eq!((u.requests, u.grants, u.people), (1, 1, 1));
    assert_eq!(u.held, hours_of(2));
    assert_eq!(u.median, None);
    // now after the period: clipped at its end
    let u = &tally(&[row(1, 15, GrantState::Ending)], 40)[0];
    assert_eq!(u.held, hours_of(5));
}

#[test]
fn requests_that_never_had_access_count_as_requests_only() {
    let rows = [
        row(1, 11, GrantState::Rejected).ended(12),
        row(2, 11, GrantState::Failed),
        row(3, 11, GrantState::Pending),
        row(4, 11, GrantState::Cancelled).ended(12),
        row(5, 11, GrantState::Activating),
    ];
    let u = &tally(&rows, 30)[0];
    assert_eq!((u.requests, u.grants, u.people), (5, 0, 0));
    assert_eq!((u.held, u.median, u.last_use), (Duration::ZERO, None, None));
}

#[test]
fn a_request_that_waited_starts_at_its_activation() {
    // asked before the period, approved and started inside it
    let u = &tally(&[row(1, 8, GrantState::Ended).activated(14).ended(16)], 30)[0];
    assert_eq!((u.requests, u.grants), (0, 1));
    assert_eq!(u.held, hours_of(2));
    assert_eq!(u.median, Some(hours_of(2)));
    assert_eq!(u.last_use, Some(at(8)), "when it was asked for");
    // asked inside, started after the period: a request, not a grant of this period
    let u = &tally(&[row(1, 19, GrantState::Active).activated(21)], 30)[0];
    assert_eq!((u.requests, u.grants, u.people), (1, 0, 0));
    assert_eq!(u.held, Duration::ZERO);
    assert_eq!(u.last_use, None, "it started after the period's end");
}

#[test]
fn people_are_counted_once_per_rule_and_rules_apart() {
    let rows = [
        row(1, 11, GrantState::Ended).ended(12),
        row(1, 13, GrantState::Ended).ended(14),
        row(2, 15, GrantState::Ended).ended(16),
        row(1, 11, GrantState::Ended).ended(12).rule("r2"),
    ];
    let report = tally(&rows, 30);
    let by_id: Vec<_> = report
        .iter()
        .map(|u| (u.rule_id.as_str(), u.grants, u.people))
        .collect();
    assert_eq!(by_id, [("r1", 3, 2), ("r2", 1, 1)]);
    assert_eq!(report[0].median, Some(hours_of(1)));
}

#[test]
fn an_odd_count_takes_the_middle_duration() {
    let rows = [
        row(1, 10, GrantState::Ended).ended(11),
        row(2, 10, GrantState::Ended).ended(17),
        row(3, 10, GrantState::Ended).ended(13),
    ];
    assert_eq!(tally(&rows, 30)[0].median, Some(hours_of(3)));
}

#[test]
fn refusals_and_last_uses_from_the_store_count_for_rules_in_the_report() {
    let mut t = Tally::new(period(), at(30));
    t.rule("r1", "DBA");
    t.refusals("r1", 2);
    t.refusals("r1", 3);
    t.last_use("r1", at(3));
    t.last_use("r1", at(25));
    let u = &t.finish()[0];
    assert_eq!(u.refusals, 5);
    assert_eq!(
        u.last_use,
        Some(at(3)),
        "a start after the period's end is not its last use"
    );
}

#[test]
fn repeated_refusals_are_read_from_the_audit_summary_as_it_is_written() {
    let mut repeats = Repeats::new(TimeDelta::minutes(10), 10);
    let refused = |s: i64| NewAudit {
        at: at(0) + TimeDelta::seconds(s),
        action: AuditAction::RequestRefused,
        actor: "bob".into(),
        rule_id: Some("r1".into()),
        grant_id: None,
        subject_account: Some("bob".into()),
        detail: "refused".into(),
        source: None,
    };
    for s in 0..5 {
        repeats.observe(refused(s), "not_allowed");
    }
    let summary = repeats.close_all(at(1)).pop().unwrap();
    assert_eq!(repeated_refusals(&summary.detail), Some(4));
    assert_eq!(
        repeated_refusals("call_refused repeated 9 more times from x"),
        None
    );
    assert_eq!(repeated_refusals("request_refused repeated"), None);
}

fn person(n: u32, account: &str) -> Reached {
    Reached {
        user: DirectoryUser {
            sid: sid(n),
            guid: format!("g{n}"),
            dn: format!("CN={account}"),
            account_name: account.into(),
            display_name: account.into(),
            upn: None,
            mail: None,
            disabled: false,
        },
        path: vec!["dba-oncall".into()],
    }
}

#[test]
fn eligible_but_unused_leaves_out_whoever_requested_lately() {
    let reach = Reach {
        people: vec![person(1, "dave"), person(2, "svc-ci")],
        truncated: true,
        ..Reach::default()
    };
    let requested: HashSet<Sid> = [sid(2), sid(9)].into();
    let u = unused(reach, &requested);
    let names: Vec<_> = u
        .people
        .iter()
        .map(|p| p.user.account_name.as_str())
        .collect();
    assert_eq!(names, ["dave"]);
    assert!(u.truncated);
}

#[test]
fn csv_cells_are_quoted_and_formulas_neutralised() {
    assert_eq!(csv_cell("plain"), "plain");
    assert_eq!(csv_cell("a,b"), "\"a,b\"");
    assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
    assert_eq!(csv_cell("two\nlines"), "\"two\nlines\"");
    assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
    assert_eq!(csv_cell("+1"), "'+1");
    assert_eq!(csv_cell("-1"), "'-1");
    assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
    assert_eq!(csv_cell("\tx"), "'\tx");
    assert_eq!(csv_cell(""), "");
}

#[test]
fn the_csv_has_a_header_and_one_line_per_rule() {
    let report = UsageReport {
        period: period(),
        generated_at: at(30),
        unused_days: 90,
        rules: vec![
            RuleReport {
                usage: RuleUsage {
                    rule_id: "r1".into(),
                    rule_name: "=cmd, \"x\"".into(),
                    requests: 3,
                    grants: 2,
                    refusals: 1,
                    held: Duration::from_secs(5400),
                    people: 2,
                    median: Some(Duration::from_secs(2700)),
                    last_use: Some(at(12)),
                },
                unused: Some(Unused {
                    people: vec![person(1, "dave"), person(2, "erin")],
                    truncated: false,
                }),
            },
            RuleReport {
                usage: RuleUsage {
                    rule_id: "r2".into(),
                    rule_name: "gone".into(),
                    requests: 0,
                    grants: 0,
                    refusals: 0,
                    held: Duration::ZERO,
                    people: 0,
                    median: None,
                    last_use: None,
                },
                unused: None,
            },
        ],
    };
    let text = csv(&report);
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(lines[0], CSV_COLUMNS.join(","));
    assert_eq!(
        lines[1],
        "\"'=cmd, \"\"x\"\"\",r1,2026-11-01T10:00:00Z,2026-11-01T20:00:00Z,3,2,1,1.50,2,0.75,\
         2026-11-01T12:00:00Z,90,2,false,dave erin"
    );
    assert_eq!(
        lines[2],
        "gone,r2,2026-11-01T10:00:00Z,2026-11-01T20:00:00Z,0,0,0,0.00,0,,,90,,,"
    );
    assert_eq!(lines[3], "", "ends with a line break");
    assert_eq!(lines.len(), 4);
}
