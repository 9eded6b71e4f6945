//! Requests that wait, on in-memory ports and a manual clock: approvals (N of M, rejection,
//! the pending window), cancel, the check of the requester at activation, scheduled starts
//! and break-glass; and two decisions at once.

use super::*;
use jitroles_domain::{
    approval::{ApprovalSpec, RequestTiming},
    notify::{Channel, ChannelSpec, Email, Event, SmtpTls, Transport},
    page::PageRequest,
};

/// A mail channel to the approvers, stored as it is.
fn approvers_mail(w: &World) -> String {
    w.store.put_channel(Channel {
        id: "approvers-mail".into(),
        spec: ChannelSpec {
            name: "Approvers".into(),
            transport: Transport::Email(Email {
                host: "smtp.example.com".into(),
                port: 587,
                tls: SmtpTls::StartTls,
                username: String::new(),
                password: None,
                sender: "jitroles <jitroles@example.com>".into(),
                recipients: vec!["dba-approvers@example.com".into()],
                to_requester: false,
                subject_template: String::new(),
                body_template: String::new(),
                to_approvers: false,
            }),
            lifecycle: Vec::new(),
            expiring_lead: None,
            enabled: true,
        },
        version: 1,
        created_at: t0(),
        updated_at: t0(),
    });
    "approvers-mail".into()
}

fn approvers() -> AclEntry {
    AclEntry {
        principal: sid(APPROVERS),
        display_name: String::new(),
        kind: PrincipalKind::Group,
        effect: Effect::Allow,
    }
}

fn approval(required: u32) -> ApprovalSpec {
    ApprovalSpec {
        approvers: vec![approvers()],
        required,
        pending_window: None,
        break_glass: false,
        service_approvers: false,
    }
}

impl World {
    async fn rule_with(&self, name: &str, f: impl FnOnce(&mut RuleSpec)) -> RoleRule {
        let mut s = spec(name);
        f(&mut s);
        self.engine
            .rules
            .create(&self.admin, &self.alice, s, "jit-role-dba")
            .await
            .expect("the rule is created")
    }

    async fn approval_rule(&self, name: &str, required: u32) -> RoleRule {
        self.rule_with(name, |s| s.approval = Some(approval(required)))
            .await
    }

    async fn ask(
        &self,
        who: &Caller,
        rule: &RoleRule,
        timing: RequestTiming,
    ) -> Result<Grant, DomainError> {
        let ask = Ask {
            timing,
            ..Ask::default()
        };
        self.engine.requests.request(who, &rule.id, ask).await
    }

    async fn approve(&self, who: &Caller, g: &Grant) -> Result<Grant, DomainError> {
        self.engine.approvals.approve(who, false, &g.id, "").await
    }

    async fn pending_for(&self, who: &Caller) -> (Vec<String>, u64) {
        let page = PageRequest::parse(0, "").unwrap();
        let found = self.engine.approvals.list(who, false, page).await.unwrap();
        let ids = found.page.items.into_iter().map(|d| d.request.id).collect();
        (ids, found.pending)
    }
}

fn in_hours(h: i64) -> RequestTiming {
    RequestTiming {
        starts_at: Some(t0() + TimeDelta::hours(h)),
        break_glass_reason: None,
    }
}

#[tokio::test]
async fn a_request_under_an_approval_policy_waits_and_writes_nothing_to_the_directory() {
    let w = world();
    let rule = w.approval_rule("DBA", 1).await;

    let g = w.request(&w.dave, &rule).await.unwrap();

    assert_eq!(g.state, GrantState::Pending);
    assert_eq!(w.members(), vec![sid(CAROL)], "nobody added");
    assert_eq!(w.trail(&g.id), vec![AuditAction::ApprovalRequested]);
    assert!(matches!(
        w.request(&w.dave, &rule).await,
        Err(DomainError::AlreadyExists(m)) if m.contains("pending request")
    ));
}

#[tokio::test]
async fn the_last_approval_starts_the_access_and_its_clock() {
    let w = world();
    let rule = w.approval_rule("DBA", 1).await;
    let g = w.request(&w.dave, &rule).await.unwrap();
    w.advance(3600);

    let active = w.approve(&w.frank, &g).await.unwrap();

    assert_eq!(active.state, GrantState::Active);
    assert_eq!(
        active.expires_at,
        t0() + TimeDelta::hours(1) + TimeDelta::minutes(10),
        "ten minutes from the approval, not from the request"
    );
    assert_eq!(w.members(), vec![sid(DAVE), sid(CAROL)]);
    assert_eq!(
        w.trail(&g.id),
        vec![
            AuditAction::ApprovalRequested,
            AuditAction::Approved,
            AuditAction::Granted
        ]
    );
}

#[tokio::test]
async fn two_of_two_needs_two_distinct_approvers() {
    let w = world();
    let rule = w.approval_rule("DBA", 2).await;
    let g = w.request(&w.dave, &rule).await.unwrap();

    let first = w.approve(&w.frank, &g).await.unwrap();
    assert_eq!(first.state, GrantState::Pending);
    assert!(matches!(
        w.approve(&w.frank, &g).await,
        Err(DomainError::FailedPrecondition(_))
    ));
    assert_eq!(w.pending_for(&w.frank).await.1, 0, "frank decided");
    assert_eq!(w.pending_for(&w.grace).await.1, 1);
    let second = w.approve(&w.grace, &g).await.unwrap();

    assert_eq!(second.state, GrantState::Active);
    assert_eq!(w.members(), vec![sid(DAVE), sid(CAROL)]);
    let decided = w.engine.approvals.get(&w.dave, false, &g.id).await.unwrap();
    assert_eq!(decided.decisions.len(), 2);
}

#[tokio::test]
async fn nobody_decides_their_own_request_and_outsiders_decide_nothing() {
    let w = world();
    // dave's own group approves: dave still may not approve his own request
    let rule = w
        .rule_with("DBA", |s| {
            let mut a = approval(1);
            a.approvers.push(AclEntry {
                principal: sid(ONCALL),
                ..approvers()
            });
            s.approval = Some(a);
        })
        .await;
    let g = w.request(&w.dave, &rule).await.unwrap();

    assert!(matches!(
        w.approve(&w.dave, &g).await,
        Err(DomainError::Denied(_))
    ));
    assert!(
        matches!(w.approve(&w.alice, &g).await, Err(DomainError::Denied(_))),
        "an admin is not an approver"
    );
    assert!(
        w.pending_for(&w.dave).await.0.is_empty(),
        "his own request is not listed"
    );
    assert_eq!(
        w.stored(&g.id).state,
        GrantState::Pending,
        "nothing changed"
    );
}

#[tokio::test]
async fn a_rejection_needs_a_reason_and_ends_the_request() {
    let w = world();
    let rule = w.approval_rule("DBA", 2).await;
    let g = w.request(&w.dave, &rule).await.unwrap();
    w.approve(&w.frank, &g).await.unwrap();

    let no_reason = w.engine.approvals.reject(&w.grace, false, &g.id, " ").await;
    assert!(matches!(no_reason, Err(DomainError::Invalid { .. })));
    let rejected = w
        .engine
        .approvals
        .reject(&w.grace, false, &g.id, "not during the freeze")
        .await
        .unwrap();

    assert_eq!(rejected.state, GrantState::Rejected);
    assert_eq!(rejected.end_note.as_deref(), Some("not during the freeze"));
    assert_eq!(w.members(), vec![sid(CAROL)]);
    assert!(w.request(&w.dave, &rule).await.is_ok(), "he may ask again");
}

#[tokio::test]
async fn the_requester_cancels_before_access_starts_and_a_cancelled_request_takes_no_approval() {
    let w = world();
    let rule = w.approval_rule("DBA", 1).await;
    let g = w.request(&w.dave, &rule).await.unwrap();
    assert!(matches!(
        w.engine.approvals.cancel(&w.frank, &g.id).await,
        Err(DomainError::Denied(_))
    ));

    let cancelled = w.engine.approvals.cancel(&w.dave, &g.id).await.unwrap();

    assert_eq!(cancelled.state, GrantState::Cancelled);
    assert!(matches!(
        w.approve(&w.frank, &g).await,
        Err(DomainError::FailedPrecondition(_))
    ));
    assert_eq!(w.members(), vec![sid(CAROL)]);
}

#[tokio::test]
async fn an_undecided_request_lapses_after_its_window() {
    let w = world();
    let rule = w.approval_rule("DBA", 1).await;
    let g = w.request(&w.dave, &rule).await.unwrap();
    w.advance(24 * 3600 - 1);
    assert_eq!(w.engine.approvals.run_waiting().await.unwrap(), 0);
    w.advance(1);

    assert_eq!(w.engine.approvals.run_waiting().await.unwrap(), 1);

    assert_eq!(w.stored(&g.id).state, GrantState::Lapsed);
    assert!(matches!(
        w.approve(&w.frank, &g).await,
        Err(DomainError::FailedPrecondition(_))
    ));
    assert!(w.trail(&g.id).contains(&AuditAction::Lapsed));
}

#[tokio::test]
async fn at_activation_the_requester_is_checked_again() {
    let w = world();
    let rule = w.approval_rule("DBA", 1).await;
    let g = w.request(&w.dave, &rule).await.unwrap();
    // dave leaves the on-call rota before anyone approves
    w.directory.add_user(user(DAVE, "dave"), vec![]);

    let failed = w.approve(&w.frank, &g).await.unwrap();

    assert_eq!(failed.state, GrantState::Failed);
    assert!(
        failed
            .last_error
            .as_deref()
            .unwrap_or_default()
            .contains("not allowed"),
        "{failed:?}"
    );
    assert_eq!(w.members(), vec![sid(CAROL)], "never added");
    assert_eq!(
        w.trail(&g.id),
        vec![
            AuditAction::ApprovalRequested,
            AuditAction::Approved,
            AuditAction::Failed
        ]
    );
}

#[tokio::test]
async fn a_directory_that_does_not_answer_at_the_last_approval_changes_nothing() {
    let w = world();
    let rule = w.approval_rule("DBA", 1).await;
    let g = w.request(&w.dave, &rule).await.unwrap();
    w.directory.set_unavailable(true);

    let refused = w.approve(&w.frank, &g).await;

    assert!(
        matches!(refused, Err(DomainError::Unavailable(_))),
        "{refused:?}"
    );
    assert_eq!(w.stored(&g.id).state, GrantState::Pending);
    w.directory.set_unavailable(false);
    assert_eq!(
        w.approve(&w.frank, &g).await.unwrap().state,
        GrantState::Active,
        "the approval can be given again"
    );
}

#[tokio::test]
async fn a_scheduled_request_starts_on_time_and_keeps_its_planned_end_when_late() {
    let w = world();
    let rule = w
        .rule_with("DBA", |s| s.max_lead = Some(Duration::from_secs(86_400)))
        .await;
    let g = w.ask(&w.dave, &rule, in_hours(2)).await.unwrap();
    assert_eq!(g.state, GrantState::Scheduled);
    assert!(matches!(
        w.ask(&w.dave, &rule, in_hours(3)).await,
        Err(DomainError::AlreadyExists(_))
    ));
    w.advance(3600);
    assert_eq!(w.engine.approvals.run_waiting().await.unwrap(), 0);
    assert_eq!(w.members(), vec![sid(CAROL)]);
    // the server was down over the start: it starts 5 minutes late
    w.advance(3600 + 300);

    assert_eq!(w.engine.approvals.run_waiting().await.unwrap(), 1);

    let active = w.stored(&g.id);
    assert_eq!(active.state, GrantState::Active);
    assert_eq!(
        active.expires_at,
        t0() + TimeDelta::hours(2) + TimeDelta::minutes(10),
        "the planned end"
    );
    assert_eq!(w.members(), vec![sid(DAVE), sid(CAROL)]);
}

#[tokio::test]
async fn a_scheduled_window_missed_entirely_lapses_with_the_reason() {
    let w = world();
    let rule = w
        .rule_with("DBA", |s| s.max_lead = Some(Duration::from_secs(86_400)))
        .await;
    let g = w.ask(&w.dave, &rule, in_hours(2)).await.unwrap();
    w.advance(3 * 3600);

    w.engine.approvals.run_waiting().await.unwrap();

    let lapsed = w.stored(&g.id);
    assert_eq!(lapsed.state, GrantState::Lapsed);
    assert!(lapsed.end_note.unwrap().contains("was over"));
    assert_eq!(w.members(), vec![sid(CAROL)]);
}

#[tokio::test]
async fn bad_start_times_are_refused_and_nothing_is_written() {
    let w = world();
    let rule = w
        .rule_with("DBA", |s| s.max_lead = Some(Duration::from_secs(86_400)))
        .await;
    for bad in [in_hours(-1), in_hours(25)] {
        let e = w.ask(&w.dave, &rule, bad).await.unwrap_err();
        assert!(
            matches!(&e, DomainError::Invalid { field, .. } if field == "start_time"),
            "{e:?}"
        );
    }
    let plain = w.rule("Plain").await;
    assert!(w.ask(&w.dave, &plain, in_hours(1)).await.is_err());
    assert!(w.store.all_grants().is_empty());
}

#[tokio::test]
async fn an_approved_request_with_a_later_start_waits_for_it() {
    let w = world();
    let rule = w
        .rule_with("DBA", |s| {
            s.approval = Some(approval(1));
            s.max_lead = Some(Duration::from_secs(86_400));
        })
        .await;
    let g = w.ask(&w.dave, &rule, in_hours(2)).await.unwrap();
    assert_eq!(g.state, GrantState::Pending);

    let approved = w.approve(&w.frank, &g).await.unwrap();
    assert_eq!(approved.state, GrantState::Scheduled);
    let scheduled = w
        .store
        .audit_log()
        .into_iter()
        .find(|a| a.action == AuditAction::Scheduled)
        .unwrap();
    assert!(
        scheduled
            .detail
            .contains(&format!("from {}", t0() + TimeDelta::hours(2))),
        "{}",
        scheduled.detail
    );
    w.advance(2 * 3600);
    w.engine.approvals.run_waiting().await.unwrap();

    assert_eq!(w.stored(&g.id).state, GrantState::Active);
    assert_eq!(w.members(), vec![sid(DAVE), sid(CAROL)]);
}

#[tokio::test]
async fn break_glass_needs_a_channel_that_reaches_the_approvers() {
    let w = world();
    let mut s = spec("DBA");
    let mut a = approval(1);
    a.break_glass = true;
    s.approval = Some(a);

    let refused = w
        .engine
        .rules
        .create(&w.admin, &w.alice, s, "jit-role-dba")
        .await
        .unwrap_err();

    assert!(
        matches!(&refused, DomainError::Invalid { field, .. } if field == "approval_channels"),
        "{refused:?}"
    );
}

#[tokio::test]
async fn approvers_are_told_of_each_request_and_each_decision() {
    let w = world();
    let mail = approvers_mail(&w);
    let rule = w
        .rule_with("DBA", |s| {
            s.approval = Some(approval(2));
            s.channels.approval = vec![mail.clone()];
        })
        .await;
    let g = w.request(&w.dave, &rule).await.unwrap();
    w.approve(&w.frank, &g).await.unwrap();
    w.engine
        .approvals
        .reject(&w.grace, false, &g.id, "not today")
        .await
        .unwrap();

    let told: Vec<(Event, String)> = w
        .store
        .outbox()
        .into_iter()
        .filter(|n| n.grant_id == g.id)
        .map(|n| (n.event, n.channel_id))
        .collect();
    assert_eq!(
        told,
        [
            (Event::ApprovalRequested, mail.clone()),
            (Event::Approved, mail.clone()),
            (Event::Rejected, mail)
        ],
        "when one approver decides, the others hear of it"
    );
}

#[tokio::test]
async fn break_glass_grants_at_once_and_waits_for_an_approvers_review() {
    let w = world();
    let mail = approvers_mail(&w);
    let rule = w
        .rule_with("DBA", |s| {
            let mut a = approval(2);
            a.break_glass = true;
            s.approval = Some(a);
            s.channels.approval = vec![mail.clone()];
        })
        .await;
    let short = RequestTiming {
        starts_at: None,
        break_glass_reason: Some("urgent".into()),
    };
    assert!(matches!(
        w.ask(&w.dave, &rule, short).await,
        Err(DomainError::Invalid { .. })
    ));
    let glass = RequestTiming {
        starts_at: None,
        break_glass_reason: Some("production database is down, INC-4711".into()),
    };

    let g = w.ask(&w.dave, &rule, glass).await.unwrap();

    assert_eq!(g.state, GrantState::Active);
    assert_eq!(w.members(), vec![sid(DAVE), sid(CAROL)]);
    assert_eq!(w.trail(&g.id)[0], AuditAction::BreakGlassUsed);
    assert!(
        w.store
            .outbox()
            .iter()
            .any(|n| n.grant_id == g.id && n.event == Event::BreakGlassUsed),
        "every approver is told at once"
    );
    assert_eq!(
        w.pending_for(&w.frank).await.0,
        vec![g.id.clone()],
        "needs review"
    );
    let reviewed = w
        .engine
        .approvals
        .acknowledge(&w.frank, false, &g.id, "checked the incident")
        .await
        .unwrap();
    assert!(
        reviewed
            .deferred
            .unwrap()
            .break_glass
            .unwrap()
            .acknowledged
            .is_some()
    );
    assert!(w.pending_for(&w.grace).await.0.is_empty());
    assert!(matches!(
        w.engine
            .approvals
            .acknowledge(&w.grace, false, &g.id, "me too")
            .await,
        Err(DomainError::FailedPrecondition(_))
    ));
}

#[tokio::test]
async fn two_last_approvals_at_once_on_two_instances_activate_exactly_once() {
    let a = world_named("a");
    let b = engine_on(&a.store, &a.directory, &a.clock, "b");
    let rule = a.approval_rule("DBA", 2).await;
    let g = a.request(&a.dave, &rule).await.unwrap();

    let (frank, grace) = tokio::join!(
        a.engine.approvals.approve(&a.frank, false, &g.id, ""),
        b.approvals.approve(&a.grace, false, &g.id, ""),
    );

    let states = [frank.unwrap().state, grace.unwrap().state];
    assert!(
        states.contains(&GrantState::Active) && states.contains(&GrantState::Pending),
        "one approval was the first, the other the last: {states:?}"
    );
    assert_eq!(a.members(), vec![sid(DAVE), sid(CAROL)]);
    let granted = a
        .trail(&g.id)
        .iter()
        .filter(|x| **x == AuditAction::Granted)
        .count();
    assert_eq!(granted, 1);
}

#[tokio::test]
async fn an_approval_racing_a_cancel_ends_in_exactly_one_of_them() {
    let a = world_named("a");
    let b = engine_on(&a.store, &a.directory, &a.clock, "b");
    let rule = a.approval_rule("DBA", 1).await;
    let g = a.request(&a.dave, &rule).await.unwrap();

    let (approved, cancelled) = tokio::join!(
        a.engine.approvals.approve(&a.frank, false, &g.id, ""),
        b.approvals.cancel(&a.dave, &g.id),
    );

    let stored = a.stored(&g.id);
    match (approved, cancelled) {
        (Ok(active), Err(DomainError::FailedPrecondition(_))) => {
            assert_eq!(active.state, GrantState::Active);
            assert_eq!(a.members(), vec![sid(DAVE), sid(CAROL)]);
        }
        (Err(DomainError::FailedPrecondition(_)), Ok(cancelled)) => {
            assert_eq!(cancelled.state, GrantState::Cancelled);
            assert_eq!(stored.state, GrantState::Cancelled);
            assert_eq!(a.members(), vec![sid(CAROL)]);
        }
        other => panic!("both or neither won: {other:?}"),
    }
}

#[tokio::test]
async fn an_emergency_revoke_of_a_person_also_cancels_their_waiting_requests() {
    let w = world();
    let scheduled_rule = w
        .rule_with("DBA later", |s| {
            s.max_lead = Some(Duration::from_secs(86_400))
        })
        .await;
    let approval_rule = w.approval_rule("DBA approvals", 1).await;
    let scheduled = w.ask(&w.dave, &scheduled_rule, in_hours(2)).await.unwrap();
    let pending = w.request(&w.dave, &approval_rule).await.unwrap();

    let done = w
        .engine
        .emergency
        .revoke_person(&w.admin, &w.alice, "dave", "laptop stolen")
        .await
        .unwrap();

    assert_eq!(done.revoked.len(), 2);
    for id in [&scheduled.id, &pending.id] {
        let g = w.stored(id);
        assert_eq!(g.state, GrantState::Cancelled);
        assert_eq!(g.end_note.as_deref(), Some("laptop stolen"));
    }
    w.advance(3 * 3600);
    w.engine.approvals.run_waiting().await.unwrap();
    assert_eq!(w.members(), vec![sid(CAROL)], "nothing starts later");
}
