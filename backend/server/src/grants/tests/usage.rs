//! The usage report's use case on in-memory ports: which rules it covers (live ones, deleted
//! ones used in the period, or the one asked for) and whose eligibility it lists.

use jitroles_domain::usage::Period;

use super::*;
use crate::grants::usage::UsageAsk;

fn ask(rule_id: Option<&str>) -> UsageAsk {
    UsageAsk {
        period: Period::new(t0() - TimeDelta::hours(1), t0() + TimeDelta::hours(1)).unwrap(),
        unused_days: 90,
        rule_id: rule_id.map(Into::into),
    }
}

#[tokio::test]
async fn a_rule_deleted_since_is_reported_by_its_grants_without_an_eligible_list() {
    let w = world();
    // the world gives token groups only: the ACL's walk needs dba-oncall's members too
    for person in [DAVE, CAROL, SVC] {
        w.directory.set_member(&sid(ONCALL), &sid(person), true);
    }
    let dba = w.rule("DBA").await;
    let ops = w.rule("Ops").await;
    let g = w.request(&w.dave, &dba).await.unwrap();
    w.advance(300);
    w.engine.endings.release(&w.dave, &g.id).await.unwrap();
    let o = w.request(&w.svc, &ops).await.unwrap();
    w.advance(60);
    w.engine.endings.release(&w.svc, &o.id).await.unwrap();
    w.engine
        .rules
        .delete(&w.admin, &w.alice, &ops.id, ops.version)
        .await
        .unwrap();
    w.advance(60);

    let report = w.engine.reports.usage(&w.admin, &ask(None)).await.unwrap();
    let lines: Vec<_> = report
        .rules
        .iter()
        .map(|r| {
            let u = &r.usage;
            let unused = r.unused.as_ref().map(|u| {
                u.people
                    .iter()
                    .map(|p| p.user.account_name.clone())
                    .collect::<Vec<_>>()
            });
            (
                u.rule_name.as_str(),
                u.requests,
                u.grants,
                u.held.as_secs(),
                unused,
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            // carol and svc-ci are in dba-oncall and never asked for DBA; dave did
            (
                "DBA",
                1,
                1,
                300,
                Some(vec!["carol".to_owned(), "svc-ci".to_owned()])
            ),
            ("Ops", 1, 1, 60, None),
        ]
    );

    let one = w
        .engine
        .reports
        .usage(&w.admin, &ask(Some(&dba.id)))
        .await
        .unwrap();
    assert_eq!(one.rules.len(), 1);
    assert_eq!(one.rules[0].usage.rule_id, dba.id);
    for missing in [ops.id.as_str(), "no-such-rule"] {
        let e = w
            .engine
            .reports
            .usage(&w.admin, &ask(Some(missing)))
            .await
            .unwrap_err();
        assert!(matches!(e, DomainError::NotFound { .. }), "{e:?}");
    }
}
