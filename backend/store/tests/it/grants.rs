//! The rule and grant store's contract, on SQLite and PostgreSQL alike.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use jitroles_domain::{
    DomainError,
    access::{AclEntry, Effect, PrincipalKind},
    audit::{AuditAction, AuditFilter, NewAudit},
    directory::{Mechanism, Sid},
    grant::{EndReason, Grant, GrantState, Lease, Subject, begin_end, finish_end, noting_end},
    grant_filter::{GrantFilter, Person},
    page::PageRequest,
    ports::{ApprovalStore, GrantStore, NotificationStore, RuleStore},
    rule::{JustificationPolicy, RoleRule, RuleSpec, TargetGroup},
};
use jitroles_store::Database;
use std::sync::Arc;

use crate::databases::{self, TestDb};

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 27, 9, 0, 0).unwrap()
}

pub fn rule(id: &str, name: &str, group_rid: u32) -> RoleRule {
    RoleRule {
        id: id.into(),
        spec: RuleSpec {
            name: name.into(),
            description: "on call".into(),
            acl: vec![AclEntry {
                principal: "S-1-5-21-1-2-3-1104".parse().unwrap(),
                display_name: "dba-oncall".into(),
                kind: PrincipalKind::Group,
                effect: Effect::Allow,
            }],
            max_duration: Some(Duration::from_secs(3600)),
            default_duration: Some(Duration::from_secs(600)),
            allow_extension: true,
            max_total_duration: None,
            justification: Some(JustificationPolicy::Required),
            enabled: true,
            expires_at: None,
            channels: Default::default(),
            approval: None,
            max_lead: None,
        }
        .validate(t0())
        .unwrap(),
        target: TargetGroup {
            sid: format!("S-1-5-21-1-2-3-{group_rid}").parse().unwrap(),
            guid: "5e0c3a0e-0000-4000-8000-000000000001".into(),
            dn: "CN=jit-role-dba,OU=JIT Roles,DC=example,DC=test".into(),
            name: "jit-role-dba".into(),
        },
        version: 1,
        created_at: t0(),
        updated_at: t0(),
    }
}

fn lease(holder: &str, minutes: i64) -> Lease {
    Lease {
        holder: holder.into(),
        until: t0() + TimeDelta::minutes(minutes),
    }
}

pub fn grant(id: &str, r: &RoleRule, minutes: i64) -> Grant {
    Grant {
        id: id.into(),
        rule_id: r.id.clone(),
        rule_name: r.spec.name.clone(),
        group: r.target.clone(),
        subject: Subject {
            sid: "S-1-5-21-1-2-3-1106".parse().unwrap(),
            dn: "CN=Dave Dba,CN=Users,DC=example,DC=test".into(),
            account: "dave".into(),
            display_name: "Dave Dba".into(),
        },
        requested_by: "dave".into(),
        justification: "ticket".into(),
        requested_at: t0(),
        expires_at: t0() + TimeDelta::minutes(minutes),
        state: GrantState::Active,
        mechanism: Mechanism::Scheduled,
        extension_count: 0,
        ended_at: None,
        end_reason: None,
        end_note: None,
        last_error: None,
        client_request_id: None,
        lease: None,
        version: 1,
        deferred: None,
    }
}

pub fn audit(action: AuditAction, g: Option<&Grant>) -> NewAudit {
    NewAudit {
        at: t0(),
        action,
        actor: "alice".into(),
        rule_id: g.map(|g| g.rule_id.clone()),
        grant_id: g.map(|g| g.id.clone()),
        subject_account: g.map(|g| g.subject.account.clone()),
        detail: String::new(),
        source: None,
    }
}

/// The stores the grant engine uses, as one value: the SQL database or the in-memory stand-in.
/// Every store the engine uses, as `on_all!` tests get them.
pub trait Stores: RuleStore + GrantStore + NotificationStore + ApprovalStore {}
impl<T: RuleStore + GrantStore + NotificationStore + ApprovalStore> Stores for T {}

pub async fn open(db: &TestDb) -> Database {
    let store = Database::connect(&db.url).await.unwrap();
    store.migrate().await.unwrap();
    store
}

async fn rules_keep_unique_names_and_refuse_stale_edits(store: Arc<dyn Stores>) {
    let r = rule("r1", "DBA", 2000);
    store
        .create_rule(&r, audit(AuditAction::RuleCreated, None))
        .await
        .unwrap();
    assert_eq!(store.rule("r1").await.unwrap(), Some(r.clone()));
    let twin = rule("r2", "dba", 2001);
    assert!(matches!(
        store
            .create_rule(&twin, audit(AuditAction::RuleCreated, None))
            .await,
        Err(DomainError::AlreadyExists(_))
    ));

    let mut edited = r.clone();
    edited.spec.description = "changed".into();
    edited.version = 2;
    store
        .update_rule(&edited, 1, audit(AuditAction::RuleUpdated, None))
        .await
        .unwrap();
    let stale = store
        .update_rule(&edited, 1, audit(AuditAction::RuleUpdated, None))
        .await;
    assert!(matches!(stale, Err(DomainError::Conflict(_))), "{stale:?}");
    assert_eq!(
        store.rule("r1").await.unwrap().unwrap().spec.description,
        "changed"
    );

    // live grants pin the group and the rule
    let g = grant("g1", &edited, 10);
    store
        .insert_grant(&g, audit(AuditAction::Granted, Some(&g)))
        .await
        .unwrap();
    let mut moved = edited.clone();
    moved.target.sid = "S-1-5-21-1-2-3-2002".parse().unwrap();
    moved.version = 3;
    assert!(matches!(
        store
            .update_rule(&moved, 2, audit(AuditAction::RuleUpdated, None))
            .await,
        Err(DomainError::FailedPrecondition(_))
    ));
    assert!(matches!(
        store
            .delete_rule("r1", 2, audit(AuditAction::RuleDeleted, None))
            .await,
        Err(DomainError::FailedPrecondition(_))
    ));
    assert_eq!(store.live_grant_counts().await.unwrap().get("r1"), Some(&1));

    let ended = finish_end(
        &begin_end(&g, EndReason::Released, lease("a", 1)).unwrap(),
        t0(),
    );
    store.update_grant(&g, &ended, None).await.unwrap();
    store
        .delete_rule("r1", 2, audit(AuditAction::RuleDeleted, None))
        .await
        .unwrap();
    assert_eq!(store.rule("r1").await.unwrap(), None);
    // the name is free again; the old grant keeps its rule reference
    store
        .create_rule(&twin, audit(AuditAction::RuleCreated, None))
        .await
        .unwrap();
    assert_eq!(store.grant("g1").await.unwrap().unwrap().rule_id, "r1");
}

async fn one_live_grant_per_rule_and_subject(store: Arc<dyn Stores>) {
    let r = rule("r1", "DBA", 2000);
    store
        .create_rule(&r, audit(AuditAction::RuleCreated, None))
        .await
        .unwrap();
    let first = grant("g1", &r, 10);
    store
        .insert_grant(&first, audit(AuditAction::Requested, Some(&first)))
        .await
        .unwrap();
    let second = grant("g2", &r, 10);
    assert!(matches!(
        store
            .insert_grant(&second, audit(AuditAction::Requested, Some(&second)))
            .await,
        Err(DomainError::AlreadyExists(_))
    ));
    let ended = finish_end(
        &begin_end(&first, EndReason::Expired, lease("a", 1)).unwrap(),
        t0(),
    );
    let stored = store.update_grant(&first, &ended, None).await.unwrap();
    assert_eq!(stored.version, 2);
    assert!(
        matches!(
            store.update_grant(&first, &ended, None).await,
            Err(DomainError::Conflict(_))
        ),
        "a change based on a stale copy is refused"
    );
    store
        .insert_grant(&second, audit(AuditAction::Requested, Some(&second)))
        .await
        .unwrap();
    assert_eq!(
        store
            .open_grant("r1", &second.subject.sid)
            .await
            .unwrap()
            .unwrap()
            .id,
        "g2"
    );
}

async fn due_work_comes_oldest_first_with_ending_grants(store: Arc<dyn Stores>) {
    let (r1, r2, r3) = (
        rule("r1", "A", 2000),
        rule("r2", "B", 2000),
        rule("r3", "C", 2001),
    );
    for r in [&r1, &r2, &r3] {
        store
            .create_rule(r, audit(AuditAction::RuleCreated, None))
            .await
            .unwrap();
    }
    let later = grant("g-later", &r1, 20);
    let sooner = grant("g-sooner", &r2, 5);
    let future = grant("g-future", &r3, 60);
    for g in [&later, &sooner, &future] {
        store
            .insert_grant(g, audit(AuditAction::Granted, Some(g)))
            .await
            .unwrap();
    }
    assert_eq!(store.next_expiry().await.unwrap(), Some(sooner.expires_at));
    let due: Vec<String> = store
        .due(t0() + TimeDelta::minutes(30), "a", 10)
        .await
        .unwrap()
        .into_iter()
        .map(|g| g.id)
        .collect();
    assert_eq!(due, ["g-sooner", "g-later"]);
    assert_eq!(
        store.overdue(t0() + TimeDelta::minutes(30)).await.unwrap(),
        2,
        "the due backlog counts the same grants"
    );
    // two rules on one group cover the same membership
    assert_eq!(
        store
            .covering(&r1.target.sid, &later.subject.sid)
            .await
            .unwrap()
            .len(),
        2
    );
    let page = store
        .grants_of(&later.subject.sid, PageRequest::parse(2, "").unwrap())
        .await
        .unwrap();
    assert_eq!(page.items.len(), 2);
    assert!(page.next.is_some());
    let events = store
        .audit_events(
            &AuditFilter {
                action: Some(AuditAction::Granted),
                ..Default::default()
            },
            PageRequest::parse(0, "").unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(events.items.len(), 3);
    assert_eq!(
        events.items[0].event.grant_id.as_deref(),
        Some("g-future"),
        "newest first"
    );
}

async fn an_ending_grant_is_left_to_its_lease_holder_until_the_lease_runs_out(
    store: Arc<dyn Stores>,
) {
    let r = rule("r1", "A", 2000);
    store
        .create_rule(&r, audit(AuditAction::RuleCreated, None))
        .await
        .unwrap();
    let g = grant("g1", &r, 60);
    store
        .insert_grant(&g, audit(AuditAction::Granted, Some(&g)))
        .await
        .unwrap();
    let ending = begin_end(&g, EndReason::Revoked, lease("a", 5)).unwrap();
    store.update_grant(&g, &ending, None).await.unwrap();
    let due = |at: i64, holder: &'static str| {
        let store = &store;
        async move {
            store
                .due(t0() + TimeDelta::minutes(at), holder, 10)
                .await
                .unwrap()
                .len()
        }
    };
    assert_eq!(due(1, "a").await, 1, "the holder keeps working on it");
    assert_eq!(due(1, "b").await, 0, "others leave it alone");
    assert_eq!(due(5, "b").await, 1, "until the lease runs out");
    assert_eq!(
        store.next_expiry().await.unwrap(),
        Some(t0() + TimeDelta::minutes(5)),
        "the scheduler wakes when the lease runs out"
    );
    let stored = store.grant("g1").await.unwrap().unwrap();
    assert_eq!(stored.lease, Some(lease("a", 5)));
}

/// The admin's listing filters by person (SID, or account name in any case), rule and
/// states, in SQL, newest first; no filter is live grants only, as before there were filters.
async fn grants_are_listed_by_person_rule_and_state(store: Arc<dyn Stores>) {
    let (r1, r2) = (rule("r1", "DBA", 2000), rule("r2", "Web", 2001));
    for r in [&r1, &r2] {
        store
            .create_rule(r, audit(AuditAction::RuleCreated, None))
            .await
            .unwrap();
    }
    let erin = Subject {
        sid: "S-1-5-21-1-2-3-1107".parse().unwrap(),
        dn: "CN=Erin,CN=Users,DC=example,DC=test".into(),
        account: "Erin".into(),
        display_name: "Erin".into(),
    };
    let at = |minutes: i64| t0() + TimeDelta::minutes(minutes);
    let grants = [
        // (id, rule, subject, state, requested minutes after t0)
        ("a", &r1, None, GrantState::Active, 1),
        ("b", &r2, None, GrantState::Ended, 2),
        ("c", &r1, Some(erin.clone()), GrantState::Failed, 3),
        ("d", &r2, Some(erin.clone()), GrantState::Ending, 4),
        ("e", &r1, None, GrantState::Ended, 5),
    ];
    for (id, r, subject, state, minutes) in grants {
        let mut g = grant(id, r, 60);
        if let Some(s) = subject {
            g.subject = s;
        }
        g.state = state;
        g.requested_at = at(minutes);
        store
            .insert_grant(&g, audit(AuditAction::Requested, Some(&g)))
            .await
            .unwrap();
    }
    let list = |filter: GrantFilter| {
        let store = store.clone();
        async move {
            store
                .grants(&filter, PageRequest::parse(0, "").unwrap())
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|g| g.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        list(GrantFilter::default()).await,
        ["d", "a"],
        "live, newest first"
    );
    assert_eq!(list(GrantFilter::all()).await, ["e", "d", "c", "b", "a"]);
    let by = |person: Option<&str>, rule_id: Option<&str>, states: &[GrantState]| GrantFilter {
        person: person.map(Person::parse),
        rule_id: rule_id.map(str::to_owned),
        states: states.to_vec(),
    };
    assert_eq!(
        list(by(Some("erin"), None, &[])).await,
        ["d", "c"],
        "any case"
    );
    assert_eq!(list(by(Some("ERIN"), None, &[])).await, ["d", "c"]);
    assert_eq!(
        list(by(Some("S-1-5-21-1-2-3-1106"), None, &[])).await,
        ["e", "b", "a"],
        "by SID"
    );
    assert_eq!(list(by(None, Some("r1"), &[])).await, ["e", "c", "a"]);
    assert_eq!(
        list(by(None, None, &[GrantState::Ended, GrantState::Failed])).await,
        ["e", "c", "b"]
    );
    assert_eq!(
        list(by(Some("dave"), Some("r1"), &[GrantState::Ended])).await,
        ["e"],
        "every part must match"
    );
    assert!(list(by(Some("nobody"), None, &[])).await.is_empty());
    let first = store
        .grants(&GrantFilter::all(), PageRequest::parse(2, "").unwrap())
        .await
        .unwrap();
    let token = first.next.expect("more than one page");
    let second = store
        .grants(&GrantFilter::all(), PageRequest::parse(2, &token).unwrap())
        .await
        .unwrap();
    assert_eq!(
        second
            .items
            .iter()
            .map(|g| g.id.as_str())
            .collect::<Vec<_>>(),
        ["c", "b"]
    );
}

/// A revoked grant keeps the admin's reason through `ending` and `ended`; a grant ended
/// otherwise has none.
async fn a_revoked_grant_keeps_the_reason_it_was_given(store: Arc<dyn Stores>) {
    let r = rule("r1", "DBA", 2000);
    store
        .create_rule(&r, audit(AuditAction::RuleCreated, None))
        .await
        .unwrap();
    let g = grant("g1", &r, 10);
    store
        .insert_grant(&g, audit(AuditAction::Requested, Some(&g)))
        .await
        .unwrap();
    assert_eq!(store.grant("g1").await.unwrap().unwrap().end_note, None);
    let noted = noting_end(g.clone(), "left the team".into());
    let ending = store
        .update_grant(
            &noted,
            &begin_end(&noted, EndReason::Revoked, lease("a", 1)).unwrap(),
            Some(audit(AuditAction::Revoked, Some(&g))),
        )
        .await
        .unwrap();
    store
        .update_grant(&ending, &finish_end(&ending, t0()), None)
        .await
        .unwrap();
    let stored = store.grant("g1").await.unwrap().unwrap();
    assert_eq!(stored.state, GrantState::Ended);
    assert_eq!(stored.end_note.as_deref(), Some("left the team"));
}

/// A membership's lease is one holder's until it is released or runs out; its holder may take
/// it again.
async fn a_membership_lease_is_one_holders_until_released_or_run_out(store: Arc<dyn Stores>) {
    let group: Sid = "S-1-5-21-1-2-3-2000".parse().unwrap();
    let dave: Sid = "S-1-5-21-1-2-3-1106".parse().unwrap();
    let at = |s: i64| t0() + TimeDelta::seconds(s);
    let take = |holder: &'static str, now: i64| {
        let (store, group, dave) = (store.clone(), group.clone(), dave.clone());
        async move {
            store
                .take_membership(&group, &dave, holder, at(now), at(now + 30))
                .await
                .unwrap()
        }
    };
    assert!(take("a", 0).await);
    assert!(!take("b", 1).await, "a holds it");
    assert!(take("a", 2).await, "a takes its own again (until 32)");
    store.release_membership(&group, &dave, "b").await.unwrap();
    assert!(!take("b", 3).await, "b cannot give back a's lease");
    store.release_membership(&group, &dave, "a").await.unwrap();
    assert!(take("b", 4).await, "released");
    assert!(!take("a", 33).await, "b's runs until 34");
    assert!(take("a", 34).await, "b's ran out");
    let carol: Sid = "S-1-5-21-1-2-3-1107".parse().unwrap();
    assert!(
        store
            .take_membership(&group, &carol, "b", at(35), at(65))
            .await
            .unwrap(),
        "another person's membership is another lease"
    );
    // an instance gives back every lease of its own (holders `<instance>#…`), no one else's
    assert!(
        store
            .take_membership(&group, &dave, "host/10.0.0.1:8080#1", at(70), at(100))
            .await
            .unwrap()
    );
    store
        .release_memberships_of("host/10.0.0.1:80")
        .await
        .unwrap();
    assert!(
        !take("b", 71).await,
        "another instance's name that starts alike"
    );
    store
        .release_memberships_of("host/10.0.0.1:8080")
        .await
        .unwrap();
    assert!(take("b", 72).await, "given back by its instance");
}

/// A group's live grants come a page at a time by id, of every rule and person on the group,
/// never an ended one or another group's; `covering_any` finds the live ones of the people
/// asked about.
async fn a_groups_live_grants_come_in_pages_by_id(store: Arc<dyn Stores>) {
    let (r1, r2) = (rule("r1", "DBA", 2000), rule("r2", "DBA too", 2000));
    let other = rule("r3", "Web", 2001);
    for r in [&r1, &r2, &other] {
        store
            .create_rule(r, audit(AuditAction::RuleCreated, None))
            .await
            .unwrap();
    }
    let person = |rid: u32| Subject {
        sid: format!("S-1-5-21-1-2-3-{rid}").parse().unwrap(),
        dn: format!("CN=u{rid},CN=Users,DC=example,DC=test"),
        account: format!("u{rid}"),
        display_name: format!("U {rid}"),
    };
    let mut ids = Vec::new();
    for (n, rid) in [1101, 1102, 1103].into_iter().enumerate() {
        for r in [&r1, &r2] {
            let g = Grant {
                id: format!("g{n}-{}", r.id),
                subject: person(rid),
                ..grant("x", r, 10)
            };
            store
                .insert_grant(&g, audit(AuditAction::Requested, Some(&g)))
                .await
                .unwrap();
            ids.push(g.id);
        }
    }
    let elsewhere = grant("w", &other, 10);
    store
        .insert_grant(&elsewhere, audit(AuditAction::Requested, Some(&elsewhere)))
        .await
        .unwrap();
    // one of them ends
    let ending = store.grant("g0-r1").await.unwrap().unwrap();
    let ending = store
        .update_grant(
            &ending,
            &begin_end(&ending, EndReason::Released, lease("a", 1)).unwrap(),
            None,
        )
        .await
        .unwrap();
    store
        .update_grant(&ending, &finish_end(&ending, t0()), None)
        .await
        .unwrap();
    ids.retain(|id| id != "g0-r1");
    ids.sort();

    let group = &r1.target.sid;
    let mut paged = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store
            .live_on_group(group, after.as_deref(), 2)
            .await
            .unwrap();
        assert!(page.len() <= 2);
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        paged.extend(page.into_iter().map(|g| g.id));
    }
    assert_eq!(paged, ids, "every live grant of the group, by id, once");
    let covering = store
        .covering_any(group, &[person(1101).sid, person(1103).sid])
        .await
        .unwrap();
    let mut found: Vec<String> = covering.into_iter().map(|g| g.id).collect();
    found.sort();
    assert_eq!(found, ["g0-r2", "g2-r1", "g2-r2"]);
}

on_all!(
    a_groups_live_grants_come_in_pages_by_id,
    a_membership_lease_is_one_holders_until_released_or_run_out,
    a_revoked_grant_keeps_the_reason_it_was_given,
    grants_are_listed_by_person_rule_and_state,
    rules_keep_unique_names_and_refuse_stale_edits,
    one_live_grant_per_rule_and_subject,
    due_work_comes_oldest_first_with_ending_grants,
    an_ending_grant_is_left_to_its_lease_holder_until_the_lease_runs_out
);
