//! Effective access for admins: a rule's reach is computed once and held, so pages and
//! searches read one answer; `refresh`, an edit of the rule, or its age compute it again.

use jitroles_domain::page::PageRequest;

use super::*;
use crate::grants::access::REACH_FRESH;

fn first(size: u32) -> PageRequest {
    PageRequest::parse(size, "").unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_rules_reach_is_held_for_its_pages_and_computed_again_on_refresh_an_edit_or_age() {
    let w = world();
    for person in [DAVE, SVC] {
        w.directory.set_member(&sid(ONCALL), &sid(person), true);
    }
    let rule = w.rule("DBA").await;
    let access = &w.engine.access;
    let seen = access
        .rule_access(&w.admin, &rule.id, "", first(1), false)
        .await
        .unwrap();
    assert_eq!(seen.admitted, 2);
    assert_eq!(seen.page.items[0].user.account_name, "dave");
    let next = seen.page.next.clone().unwrap();

    // carol joins dba-oncall: the next page is read from the answer held
    w.directory.set_member(&sid(ONCALL), &sid(CAROL), true);
    w.clock.advance(TimeDelta::seconds(10));
    let page_two = access
        .rule_access(
            &w.admin,
            &rule.id,
            "",
            PageRequest::parse(1, &next).unwrap(),
            true,
        )
        .await
        .unwrap();
    assert_eq!(page_two.admitted, 2, "a later page never recomputes");
    assert_eq!(page_two.computed_at, t0());
    assert_eq!(page_two.page.items[0].user.account_name, "svc-ci");

    let refreshed = access
        .rule_access(&w.admin, &rule.id, "", first(50), true)
        .await
        .unwrap();
    assert_eq!(refreshed.admitted, 3, "refresh reads the directory again");
    assert_eq!(refreshed.computed_at, t0() + TimeDelta::seconds(10));

    // an edit (a new version) is never answered from the old version's reach
    w.directory.set_member(&sid(ONCALL), &sid(CAROL), false);
    let mut edited = spec("DBA");
    edited.description = "edited".into();
    w.engine
        .rules
        .update(
            &w.admin,
            &w.alice,
            &rule.id,
            edited,
            "jit-role-dba",
            rule.version,
        )
        .await
        .unwrap();
    let after_edit = access
        .rule_access(&w.admin, &rule.id, "", first(50), false)
        .await
        .unwrap();
    assert_eq!(after_edit.admitted, 2);

    // and an answer older than REACH_FRESH is not served
    w.directory.set_member(&sid(ONCALL), &sid(CAROL), true);
    tokio::time::advance(REACH_FRESH + Duration::from_secs(1)).await;
    let aged = access
        .rule_access(&w.admin, &rule.id, "", first(50), false)
        .await
        .unwrap();
    assert_eq!(aged.admitted, 3);
}

#[tokio::test]
async fn a_person_is_looked_up_by_account_name_or_sid_and_an_unknown_one_is_not_found() {
    let w = world();
    let rule = w.rule("DBA").await;
    let access = &w.engine.access;
    for name in ["dave", "DAVE", sid(DAVE).as_str()] {
        let dave = access.person_access(&w.admin, name).await.unwrap();
        assert_eq!(dave.person.account_name, "dave");
        assert_eq!(dave.allowed[0].rule_id, rule.id, "{name}");
    }
    assert!(matches!(
        access.person_access(&w.admin, "nobody").await,
        Err(DomainError::NotFound { .. })
    ));
    assert!(matches!(
        access.person_access(&w.admin, "  ").await,
        Err(DomainError::Invalid { .. })
    ));
}
