//! What usage reports read, on SQLite, PostgreSQL and the in-memory store alike: a period's
//! grant rows a page at a time, refusals counted, a rule's last use and recent requesters.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, TimeDelta, Utc};
use jitroles_domain::{
    approval::Deferred,
    audit::{AuditAction, NewAudit},
    directory::Sid,
    grant::{Grant, GrantState},
    usage::{Period, UsageGrant},
};

use crate::{
    databases,
    grants::{Stores, audit, grant, open, rule, t0},
};

fn hour(h: i64) -> DateTime<Utc> {
    t0() + TimeDelta::hours(h)
}

fn person(n: u32) -> Sid {
    format!("S-1-5-21-1-2-3-{}", 3000 + n).parse().unwrap()
}

/// Hours 10 to 20 after t0.
fn period() -> Period {
    Period::new(hour(10), hour(20)).unwrap()
}

/// Grant `id` of rule `r1` by person `who`, requested at `asked`, in `state`.
fn row(id: &str, who: u32, asked: i64, state: GrantState, ended: Option<i64>) -> Grant {
    let mut g = grant(id, &rule("r1", "DBA", 2000), 60);
    g.subject.sid = person(who);
    g.subject.account = format!("p{who}");
    g.requested_at = hour(asked);
    g.expires_at = hour(asked + 1);
    g.state = state;
    g.ended_at = ended.map(hour);
    g
}

async fn with_rule(store: &Arc<dyn Stores>) {
    store
        .create_rule(
            &rule("r1", "DBA", 2000),
            audit(AuditAction::RuleCreated, None),
        )
        .await
        .unwrap();
}

async fn insert(store: &Arc<dyn Stores>, grants: &[Grant]) {
    for g in grants {
        store
            .insert_grant(g, audit(AuditAction::Requested, Some(g)))
            .await
            .unwrap();
    }
}

fn ids(rows: &[UsageGrant]) -> Vec<&str> {
    rows.iter().map(|g| g.id.as_str()).collect()
}

async fn a_periods_rows_are_its_requests_and_the_grants_held_into_it_a_page_at_a_time(
    store: Arc<dyn Stores>,
) {
    with_rule(&store).await;
    let mut waited = row("g-waited", 9, 5, GrantState::Ended, Some(13));
    waited.deferred = Some(Deferred {
        duration: Duration::from_secs(3600),
        starts_at: None,
        required: 1,
        lapses_at: None,
        activated_at: Some(hour(12)),
        break_glass: None,
    });
    insert(
        &store,
        &[
            row("g-over-before", 1, 2, GrantState::Ended, Some(9)),
            row("g-into", 2, 3, GrantState::Ended, Some(11)),
            row("g-still", 3, 4, GrantState::Active, None),
            row("g-failed-before", 4, 5, GrantState::Failed, None),
            row("g-rejected-before", 5, 6, GrantState::Rejected, Some(12)),
            waited,
            row("g-b", 6, 12, GrantState::Ended, Some(13)),
            row("g-a", 7, 12, GrantState::Failed, None),
            row("g-c", 8, 15, GrantState::Pending, None),
            row("g-at-end", 10, 20, GrantState::Active, None),
        ],
    )
    .await;

    // requests of the period: in (requested_at, id) order, pages of 2 that never skip a tie
    let mut requested = Vec::new();
    let mut after = None;
    loop {
        let page = store.usage_requested(&period(), after, 2).await.unwrap();
        let Some(last) = page.last() else { break };
        after = Some((last.requested_at, last.id.clone()));
        requested.extend(page);
    }
    assert_eq!(ids(&requested), ["g-a", "g-b", "g-c"]);
    let b = &requested[1];
    assert_eq!(
        (b.started_at, b.ended_at, b.subject.clone()),
        (Some(hour(12)), Some(hour(13)), person(6))
    );
    assert_eq!(
        requested[0].started_at, None,
        "a failed request had no access"
    );

    // held into the period: asked before it, access still held at its start; by id
    let first = store.usage_held_into(&period(), None, 2).await.unwrap();
    assert_eq!(ids(&first), ["g-into", "g-still"]);
    let rest = store
        .usage_held_into(&period(), Some("g-still"), 2)
        .await
        .unwrap();
    assert_eq!(ids(&rest), ["g-waited"]);
    assert_eq!(
        rest[0].started_at,
        Some(hour(12)),
        "a request that waited started when it was activated"
    );
}

fn event(action: AuditAction, rule: Option<&str>, h: i64, detail: &str) -> NewAudit {
    NewAudit {
        at: hour(h),
        action,
        actor: "bob".into(),
        rule_id: rule.map(Into::into),
        grant_id: None,
        subject_account: Some("bob".into()),
        detail: detail.into(),
        source: None,
    }
}

async fn refusals_are_refused_and_rejected_requests_of_the_period_with_folded_repeats(
    store: Arc<dyn Stores>,
) {
    use AuditAction::*;
    for e in [
        event(RequestRefused, Some("r1"), 10, "request refused"),
        event(RequestRefused, Some("r1"), 19, "request refused"),
        event(RequestRefused, Some("r1"), 9, "before the period"),
        event(RequestRefused, Some("r1"), 20, "at its end: after it"),
        event(Rejected, Some("r1"), 12, "rejected"),
        event(
            Repeated,
            Some("r1"),
            13,
            "request_refused repeated 3 more times from a to b (not_allowed)",
        ),
        event(
            Repeated,
            Some("r1"),
            13,
            "call_refused repeated 5 more times from a to b (not_admin)",
        ),
        event(RequestRefused, None, 14, "an extension refused"),
        event(Granted, Some("r1"), 14, "granted"),
        event(RequestRefused, Some("r2"), 15, "request refused"),
    ] {
        store.record_audit(e).await.unwrap();
    }
    assert_eq!(
        store.usage_refusals(&period()).await.unwrap(),
        [("r1".to_owned(), 6), ("r2".to_owned(), 1)]
    );
}

async fn a_rules_last_use_is_its_latest_request_that_got_access_and_recent_requesters_are_distinct(
    store: Arc<dyn Stores>,
) {
    with_rule(&store).await;
    let mut late = row("g-late", 3, 18, GrantState::Active, None);
    late.deferred = Some(Deferred {
        duration: Duration::from_secs(3600),
        starts_at: Some(hour(22)),
        required: 0,
        lapses_at: None,
        activated_at: Some(hour(22)),
        break_glass: None,
    });
    insert(
        &store,
        &[
            row("g-old", 1, -100, GrantState::Ended, Some(-99)),
            row("g-used", 2, 5, GrantState::Ended, Some(6)),
            row("g-refused", 1, 8, GrantState::Rejected, Some(9)),
            late,
            row("g-again", 2, 7, GrantState::Failed, None),
        ],
    )
    .await;
    assert_eq!(store.last_use("r1", hour(20)).await.unwrap(), Some(hour(5)));
    assert_eq!(
        store.last_use("r1", hour(23)).await.unwrap(),
        Some(hour(18)),
        "once its access started"
    );
    assert_eq!(store.last_use("r1", hour(-100)).await.unwrap(), None);
    assert_eq!(store.last_use("other", hour(20)).await.unwrap(), None);

    let mut since = store.requesters_since("r1", hour(5)).await.unwrap();
    since.sort();
    assert_eq!(since, [person(1), person(2), person(3)]);
    let mut since = store.requesters_since("r1", hour(8)).await.unwrap();
    since.sort();
    assert_eq!(since, [person(1), person(3)]);
}

on_all!(
    a_periods_rows_are_its_requests_and_the_grants_held_into_it_a_page_at_a_time,
    refusals_are_refused_and_rejected_requests_of_the_period_with_folded_repeats,
    a_rules_last_use_is_its_latest_request_that_got_access_and_recent_requesters_are_distinct
);
