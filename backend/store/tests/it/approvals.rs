//! Requests that wait and the approvers' decisions, on SQLite, PostgreSQL and the in-memory
//! stand-in alike: one decision per approver, committed with the request's change or not at
//! all; one open request or live grant per (rule, person); the approvals list; what falls due.

use std::{sync::Arc, time::Duration};

use chrono::TimeDelta;
use jitroles_domain::{
    DomainError,
    approval::{BreakGlass, Decision, Deferred, Verdict},
    audit::{AuditAction, AuditFilter},
    directory::Sid,
    grant::{Grant, GrantState},
    page::PageRequest,
    ports::GrantChange,
};

use crate::{
    databases,
    grants::{Stores, audit, grant, open, rule, t0},
};

fn frank() -> Sid {
    "S-1-5-21-1-2-3-1110".parse().unwrap()
}

fn waiting(id: &str, rule_id: &str, state: GrantState, minutes: i64) -> Grant {
    let r = rule(rule_id, rule_id, 2000);
    Grant {
        state,
        requested_at: t0() + TimeDelta::minutes(minutes),
        deferred: Some(Deferred {
            duration: Duration::from_secs(600),
            starts_at: (state == GrantState::Scheduled)
                .then(|| t0() + TimeDelta::hours(2) + TimeDelta::minutes(minutes)),
            required: 2,
            lapses_at: (state == GrantState::Pending)
                .then(|| t0() + TimeDelta::hours(24) + TimeDelta::minutes(minutes)),
            activated_at: None,
            break_glass: None,
        }),
        subject: jitroles_domain::grant::Subject {
            sid: format!("S-1-5-21-1-2-3-{}", 3000 + minutes)
                .parse()
                .unwrap(),
            ..grant(id, &r, 10).subject
        },
        ..grant(id, &r, 10)
    }
}

fn decision(g: &Grant, by: Sid, verdict: Verdict) -> Decision {
    Decision {
        grant_id: g.id.clone(),
        approver: by,
        approver_account: "frank".into(),
        verdict,
        comment: "fine".into(),
        at: t0(),
    }
}

async fn with_rules(store: &Arc<dyn Stores>, ids: &[&str]) {
    for id in ids {
        store
            .create_rule(&rule(id, id, 2000), audit(AuditAction::RuleCreated, None))
            .await
            .unwrap();
    }
}

async fn a_decision_is_stored_with_the_change_once_per_approver(store: Arc<dyn Stores>) {
    with_rules(&store, &["r1"]).await;
    let g = waiting("g1", "r1", GrantState::Pending, 0);
    store
        .insert_grant(&g, audit(AuditAction::ApprovalRequested, Some(&g)))
        .await
        .unwrap();

    let first = decision(&g, frank(), Verdict::Approve);
    let stored = store
        .decide(&g, &first, &g, vec![audit(AuditAction::Approved, Some(&g))])
        .await
        .unwrap();
    assert_eq!(stored.version, g.version + 1);
    assert_eq!(store.decisions("g1").await.unwrap(), vec![first.clone()]);
    assert_eq!(stored.deferred, g.deferred, "what waits is kept");

    // the same approver again: refused, and nothing of it stays
    let again = store
        .decide(
            &stored,
            &first,
            &stored,
            vec![audit(AuditAction::Approved, Some(&g))],
        )
        .await;
    assert!(
        matches!(again, Err(DomainError::FailedPrecondition(_))),
        "{again:?}"
    );
    // a decision based on a stale copy: refused, and its decision is not kept either
    let grace: Sid = "S-1-5-21-1-2-3-1111".parse().unwrap();
    let stale = store
        .decide(
            &g,
            &decision(&g, grace, Verdict::Reject),
            &g,
            vec![audit(AuditAction::Rejected, Some(&g))],
        )
        .await;
    assert!(matches!(stale, Err(DomainError::Conflict(_))), "{stale:?}");
    assert_eq!(store.decisions("g1").await.unwrap().len(), 1);
    let events = store
        .audit_events(&AuditFilter::default(), PageRequest::parse(50, "").unwrap())
        .await
        .unwrap()
        .items;
    assert_eq!(
        events
            .iter()
            .filter(|e| e.event.action != AuditAction::RuleCreated)
            .count(),
        2,
        "requested and one approval"
    );
}

async fn one_open_request_or_live_grant_per_rule_and_person(store: Arc<dyn Stores>) {
    with_rules(&store, &["r1"]).await;
    let pending = waiting("g1", "r1", GrantState::Pending, 0);
    store
        .insert_grant(
            &pending,
            audit(AuditAction::ApprovalRequested, Some(&pending)),
        )
        .await
        .unwrap();
    let twin = Grant {
        id: "g2".into(),
        state: GrantState::Active,
        ..pending.clone()
    };
    assert!(matches!(
        store
            .insert_grant(&twin, audit(AuditAction::Requested, Some(&twin)))
            .await,
        Err(DomainError::AlreadyExists(_))
    ));
    assert_eq!(
        store
            .open_grant("r1", &pending.subject.sid)
            .await
            .unwrap()
            .map(|g| g.id),
        Some("g1".into())
    );
    let cancelled = Grant {
        state: GrantState::Cancelled,
        ..pending.clone()
    };
    store
        .update_grant(
            &pending,
            &cancelled,
            Some(audit(AuditAction::Cancelled, Some(&pending))),
        )
        .await
        .unwrap();
    store
        .insert_grant(&twin, audit(AuditAction::Requested, Some(&twin)))
        .await
        .unwrap();
}

async fn the_approvals_list_shows_pending_first_then_unreviewed_break_glass(
    store: Arc<dyn Stores>,
) {
    with_rules(&store, &["r1", "r2"]).await;
    let older = waiting("g1", "r1", GrantState::Pending, 0);
    let newer = waiting("g2", "r1", GrantState::Pending, 5);
    let other_rule = waiting("g3", "r2", GrantState::Pending, 1);
    let mut glass = waiting("g4", "r1", GrantState::Active, -10);
    if let Some(d) = glass.deferred.as_mut() {
        d.break_glass = Some(BreakGlass {
            reason: "the database is down, paging".into(),
            acknowledged: None,
        });
    }
    let scheduled = waiting("g5", "r1", GrantState::Scheduled, 2);
    for g in [&newer, &older, &other_rule, &glass, &scheduled] {
        store
            .insert_grant(g, audit(AuditAction::ApprovalRequested, Some(g)))
            .await
            .unwrap();
    }
    let rules = vec!["r1".to_owned()];
    let page = store
        .awaiting(&rules, &frank(), PageRequest::parse(0, "").unwrap())
        .await
        .unwrap();
    let ids: Vec<&str> = page.items.iter().map(|g| g.id.as_str()).collect();
    assert_eq!(ids, ["g1", "g2", "g4"]);
    // the approver's own request is not listed; decided ones do not count
    let own = older.subject.sid.clone();
    let page = store
        .awaiting(&rules, &own, PageRequest::parse(0, "").unwrap())
        .await
        .unwrap();
    assert!(page.items.iter().all(|g| g.id != "g1"));
    assert_eq!(store.awaiting_count(&rules, &frank()).await.unwrap(), 2);
    store
        .decide(
            &older,
            &decision(&older, frank(), Verdict::Approve),
            &older,
            vec![audit(AuditAction::Approved, Some(&older))],
        )
        .await
        .unwrap();
    assert_eq!(store.awaiting_count(&rules, &frank()).await.unwrap(), 1);
    assert_eq!(
        store
            .decisions_of(&["g1".into(), "g2".into()])
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        store
            .awaiting(&[], &frank(), PageRequest::parse(0, "").unwrap())
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

async fn waiting_requests_fall_due_in_order_of_their_time(store: Arc<dyn Stores>) {
    with_rules(&store, &["r1"]).await;
    assert_eq!(store.next_waiting().await.unwrap(), None);
    let pending = waiting("g1", "r1", GrantState::Pending, 0); // lapses at t0 + 24 h
    let scheduled = waiting("g2", "r1", GrantState::Scheduled, 1); // starts at t0 + 2 h 1 min
    for g in [&pending, &scheduled] {
        store
            .insert_grant(g, audit(AuditAction::ApprovalRequested, Some(g)))
            .await
            .unwrap();
    }
    assert_eq!(
        store.next_waiting().await.unwrap(),
        Some(t0() + TimeDelta::hours(2) + TimeDelta::minutes(1))
    );
    assert!(store.due_waiting(t0(), 10).await.unwrap().is_empty());
    let ids = |due: Vec<Grant>| due.into_iter().map(|g| g.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store
            .due_waiting(t0() + TimeDelta::hours(3), 10)
            .await
            .unwrap()),
        ["g2"]
    );
    assert_eq!(
        ids(store
            .due_waiting(t0() + TimeDelta::hours(25), 10)
            .await
            .unwrap()),
        ["g2", "g1"]
    );
    assert_eq!(
        ids(store
            .due_waiting(t0() + TimeDelta::hours(25), 1)
            .await
            .unwrap()),
        ["g2"]
    );
}

async fn a_batch_of_changes_commits_together_and_a_stale_one_is_a_conflict_in_its_place(
    store: Arc<dyn Stores>,
) {
    with_rules(&store, &["r1"]).await;
    let first = waiting("g1", "r1", GrantState::Scheduled, 0);
    let second = waiting("g2", "r1", GrantState::Scheduled, 1);
    for g in [&first, &second] {
        store
            .insert_grant(g, audit(AuditAction::Scheduled, Some(g)))
            .await
            .unwrap();
    }
    let stale = Grant {
        version: 7,
        ..second.clone()
    };
    let activating = |g: &Grant| Grant {
        state: GrantState::Activating,
        ..g.clone()
    };
    let done = store
        .update_grants(vec![
            GrantChange {
                before: first.clone(),
                after: activating(&first),
                audit: Some(audit(AuditAction::Granted, Some(&first))),
            },
            GrantChange {
                before: stale,
                after: activating(&second),
                audit: Some(audit(AuditAction::Granted, Some(&second))),
            },
        ])
        .await
        .unwrap();

    assert_eq!(done[0].as_ref().unwrap().version, first.version + 1);
    assert!(matches!(done[1], Err(DomainError::Conflict(_))));
    assert_eq!(
        store.grant("g1").await.unwrap().unwrap().state,
        GrantState::Activating
    );
    assert_eq!(
        store.grant("g2").await.unwrap().unwrap().state,
        GrantState::Scheduled
    );
    let granted = store
        .audit_events(&AuditFilter::default(), PageRequest::parse(50, "").unwrap())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.event.action == AuditAction::Granted)
        .count();
    assert_eq!(granted, 1, "the stale change's event is not written");
}

on_all!(
    a_batch_of_changes_commits_together_and_a_stale_one_is_a_conflict_in_its_place,
    a_decision_is_stored_with_the_change_once_per_approver,
    one_open_request_or_live_grant_per_rule_and_person,
    the_approvals_list_shows_pending_first_then_unreviewed_break_glass,
    waiting_requests_fall_due_in_order_of_their_time
);
