//! The engine's behaviour on in-memory ports and a manual clock: the whole life of grants in
//! milliseconds, without Samba. The service and crash tests prove the same against real parts.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, TimeDelta, Utc};
use jitroles_domain::{
    DomainError, ManualClock,
    access::{AclEntry, AdminRight, Caller, Effect, PrincipalKind, authorize_admin},
    audit::AuditAction,
    directory::{DirectoryGroup, DirectoryUser, Sid},
    grant::{Ask, EndReason, Grant, GrantState, Lease},
    rule::{JustificationPolicy, RoleRule, RuleSpec},
    testing::{DirectoryOp, FakeDirectory, MemoryStore, StoreOp},
};

use super::{Engine, Leases, Ports, Unobserved};

mod access;
mod approvals;
mod emergency;
mod reconcile;
mod recovery;
mod rules;
mod targets;
mod usage;

const DOMAIN: &str = "S-1-5-21-1-2-3";

fn sid(rid: u32) -> Sid {
    format!("{DOMAIN}-{rid}")
        .parse()
        .expect("a well-formed SID")
}

const ALICE: u32 = 1100;
const DAVE: u32 = 1106;
const CAROL: u32 = 1107;
const SVC: u32 = 1108;
const ONCALL: u32 = 1104;
const ADMINS: u32 = 2003;
const APPROVERS: u32 = 2004;
const FRANK: u32 = 1110;
const GRACE: u32 = 1111;
const DBA_GROUP: u32 = 2000;

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-29T09:00:00Z")
        .expect("a timestamp")
        .to_utc()
}

fn user(rid: u32, name: &str) -> DirectoryUser {
    DirectoryUser {
        sid: sid(rid),
        guid: format!("guid-{rid}"),
        dn: format!("CN={name},OU=People,DC=example,DC=test"),
        account_name: name.to_owned(),
        display_name: name.to_uppercase(),
        upn: None,
        mail: None,
        disabled: false,
    }
}

fn group(rid: u32, name: &str) -> DirectoryGroup {
    DirectoryGroup {
        sid: sid(rid),
        guid: format!("guid-{rid}"),
        dn: format!("CN={name},OU=JIT Roles,DC=example,DC=test"),
        name: name.to_owned(),
        description: None,
        protected: false,
    }
}

struct World {
    clock: Arc<ManualClock>,
    store: Arc<MemoryStore>,
    directory: Arc<FakeDirectory>,
    engine: Engine,
    alice: Caller,
    admin: AdminRight,
    dave: Caller,
    carol: Caller,
    svc: Caller,
    /// frank and grace approve dba rules (dba-approvers).
    frank: Caller,
    grace: Caller,
}

/// The test population in a fake forest: dave and svc-ci in dba-oncall, carol a permanent
/// member of jit-role-dba, alice an admin.
fn world() -> World {
    world_named("a")
}

/// A world whose engine leases as `holder`; others may share its store and directory.
fn world_named(holder: &str) -> World {
    let clock = Arc::new(ManualClock::new(t0()));
    let store = MemoryStore::new();
    let directory = FakeDirectory::new(clock.clone());
    let people = [
        (ALICE, "alice", vec![sid(ADMINS)]),
        (DAVE, "dave", vec![sid(ONCALL)]),
        (CAROL, "carol", vec![sid(ONCALL), sid(DBA_GROUP)]),
        (SVC, "svc-ci", vec![sid(ONCALL)]),
    ];
    let mut callers = Vec::new();
    for (rid, name, groups) in people {
        directory.add_user(user(rid, name), groups.clone());
        callers.push(Caller::new(user(rid, name), groups));
    }
    let [frank, grace] = [(FRANK, "frank"), (GRACE, "grace")].map(|(rid, name)| {
        directory.add_user(user(rid, name), vec![sid(APPROVERS)]);
        Caller::new(user(rid, name), vec![sid(APPROVERS)])
    });
    for (rid, name) in [
        (DBA_GROUP, "jit-role-dba"),
        (ONCALL, "dba-oncall"),
        (ADMINS, "jitroles-admins"),
        (APPROVERS, "dba-approvers"),
    ] {
        directory.add_group(group(rid, name), true);
    }
    directory.set_member(&sid(DBA_GROUP), &sid(CAROL), true);
    let engine = engine_on(&store, &directory, &clock, holder);
    let [alice, dave, carol, svc] = callers.try_into().expect("four callers");
    let admin = authorize_admin(&alice, &[sid(ADMINS)]).expect("alice is an admin");
    World {
        clock,
        store,
        directory,
        engine,
        alice,
        admin,
        dave,
        carol,
        svc,
        frank,
        grace,
    }
}

fn engine_on(
    store: &Arc<MemoryStore>,
    directory: &Arc<FakeDirectory>,
    clock: &Arc<ManualClock>,
    holder: &str,
) -> Engine {
    Engine::new(
        Ports {
            rules: store.clone(),
            grants: store.clone(),
            notifications: store.clone(),
            approvals: store.clone(),
            directory: directory.clone(),
            clock: clock.clone(),
        },
        Leases {
            holder: holder.to_owned(),
            length: Duration::from_secs(30),
            shared_database: true,
        },
        Arc::new(Unobserved),
    )
}

fn spec(name: &str) -> RuleSpec {
    RuleSpec {
        name: name.to_owned(),
        description: String::new(),
        acl: vec![AclEntry {
            principal: sid(ONCALL),
            display_name: String::new(),
            kind: PrincipalKind::Group,
            effect: Effect::Allow,
        }],
        max_duration: Some(Duration::from_secs(3600)),
        default_duration: Some(Duration::from_secs(600)),
        allow_extension: true,
        max_total_duration: Some(Duration::from_secs(7200)),
        justification: Some(JustificationPolicy::Optional),
        enabled: true,
        expires_at: None,
        channels: Default::default(),
        approval: None,
        max_lead: None,
    }
}

impl World {
    async fn rule(&self, name: &str) -> RoleRule {
        self.engine
            .rules
            .create(&self.admin, &self.alice, spec(name), "jit-role-dba")
            .await
            .expect("the rule is created")
    }

    async fn request(&self, who: &Caller, rule: &RoleRule) -> Result<Grant, DomainError> {
        self.engine
            .requests
            .request(who, &rule.id, Ask::default())
            .await
    }

    fn members(&self) -> Vec<Sid> {
        let mut m = self.directory.members_of(&sid(DBA_GROUP));
        m.sort();
        m
    }

    fn stored(&self, id: &str) -> Grant {
        self.store
            .all_grants()
            .into_iter()
            .find(|g| g.id == id)
            .expect("the grant is stored")
    }

    fn trail(&self, grant_id: &str) -> Vec<AuditAction> {
        self.store
            .audit_log()
            .into_iter()
            .filter(|a| a.grant_id.as_deref() == Some(grant_id))
            .map(|a| a.action)
            .collect()
    }

    /// Grant `id` left `ending` by instance `holder`, its lease running 30 s from t0, as an
    /// instance that died mid-removal leaves it.
    fn left_ending(&self, id: &str, reason: EndReason, holder: &str) {
        self.store.put_grant(Grant {
            state: GrantState::Ending,
            end_reason: Some(reason),
            lease: Some(Lease {
                holder: holder.into(),
                until: t0() + TimeDelta::seconds(30),
            }),
            ..self.stored(id)
        });
    }

    fn advance(&self, secs: i64) {
        self.clock.advance(TimeDelta::seconds(secs));
    }
}

#[tokio::test]
async fn a_request_adds_the_member_and_records_requested_then_granted() {
    let w = world();
    let rule = w.rule("DBA").await;
    let g = w.request(&w.dave, &rule).await.unwrap();
    assert_eq!(g.state, GrantState::Active);
    assert_eq!(g.expires_at, t0() + TimeDelta::minutes(10));
    assert_eq!(w.members(), vec![sid(DAVE), sid(CAROL)]);
    assert_eq!(
        w.trail(&g.id),
        [AuditAction::Requested, AuditAction::Granted]
    );
}

#[tokio::test]
async fn a_request_on_a_group_jitroles_may_not_write_fails_at_once_and_blocks_no_later_request() {
    let w = world();
    w.directory.add_group(group(2010, "jit-role-locked"), false);
    let rule = w
        .engine
        .rules
        .create(&w.admin, &w.alice, spec("Locked"), "jit-role-locked")
        .await
        .expect("the rule is created (the editor warns)");
    for _ in 0..2 {
        let e = w.request(&w.dave, &rule).await.unwrap_err();
        assert!(matches!(e, DomainError::FailedPrecondition(_)), "{e:?}");
    }
    let grants = w.store.all_grants();
    assert_eq!(
        grants.len(),
        2,
        "the second request was not blocked by the first"
    );
    assert!(
        grants.iter().all(|g| g.state == GrantState::Failed),
        "{grants:#?}"
    );
    // the refused add wrote nothing, so nothing is undone (which would be refused too)
    assert_eq!(w.directory.count(DirectoryOp::RemoveMember), 0);
    assert_eq!(
        w.trail(&grants[0].id),
        [AuditAction::Requested, AuditAction::Failed]
    );
}

#[tokio::test]
async fn a_request_reads_the_group_only_when_token_groups_say_it_may_hold_the_person() {
    let w = world();
    let rule = w.rule("DBA").await;
    w.request(&w.dave, &rule).await.unwrap();
    assert_eq!(w.directory.count(DirectoryOp::Members), 0);
    assert_eq!(w.directory.count(DirectoryOp::AddMember), 1);
    w.request(&w.carol, &rule).await.unwrap_err();
    assert_eq!(w.directory.count(DirectoryOp::Members), 1);
}

#[tokio::test]
async fn a_second_request_of_the_same_role_is_refused_and_writes_nothing() {
    let w = world();
    let rule = w.rule("DBA").await;
    w.request(&w.dave, &rule).await.unwrap();
    let e = w.request(&w.dave, &rule).await.unwrap_err();
    assert!(matches!(e, DomainError::AlreadyExists(_)), "{e:?}");
    assert_eq!(w.store.all_grants().len(), 1);
    assert_eq!(w.directory.count(DirectoryOp::AddMember), 1);
}

#[tokio::test]
async fn a_person_outside_the_acl_is_refused_before_the_directory_is_asked() {
    let w = world();
    let rule = w.rule("DBA").await;
    let e = w.request(&w.alice, &rule).await.unwrap_err();
    assert!(matches!(e, DomainError::Denied(_)), "{e:?}");
    assert!(w.store.all_grants().is_empty());
    for op in [
        DirectoryOp::Capabilities,
        DirectoryOp::Members,
        DirectoryOp::AddMember,
    ] {
        assert_eq!(w.directory.count(op), 0, "{op:?}");
    }
}

#[tokio::test]
async fn extensions_move_the_expiry_up_to_the_total_cap_and_then_are_refused() {
    let w = world();
    let rule = w.rule("DBA").await;
    let g = w.request(&w.dave, &rule).await.unwrap();
    w.advance(300);
    let longer = w
        .engine
        .requests
        .extend(&w.dave, &g.id, Some(Duration::from_secs(3600)))
        .await
        .unwrap();
    assert_eq!(longer.expires_at, t0() + TimeDelta::seconds(300 + 3600));
    assert_eq!(longer.extension_count, 1);
    w.advance(3500);
    let capped = w
        .engine
        .requests
        .extend(&w.dave, &g.id, Some(Duration::from_secs(3600)))
        .await
        .unwrap();
    assert_eq!(
        capped.expires_at,
        t0() + TimeDelta::seconds(7200),
        "total cap"
    );
    let e = w
        .engine
        .requests
        .extend(&w.dave, &g.id, None)
        .await
        .unwrap_err();
    assert!(matches!(e, DomainError::FailedPrecondition(_)), "{e:?}");
    let e = w
        .engine
        .requests
        .extend(&w.svc, &g.id, None)
        .await
        .unwrap_err();
    assert!(
        matches!(e, DomainError::Denied(_)),
        "not svc-ci's grant: {e:?}"
    );
}

#[tokio::test]
async fn release_removes_the_member_and_ends_the_grant_released() {
    let w = world();
    let rule = w.rule("DBA").await;
    let g = w.request(&w.dave, &rule).await.unwrap();
    let ended = w.engine.endings.release(&w.dave, &g.id).await.unwrap();
    assert_eq!(ended.state, GrantState::Ended);
    assert_eq!(ended.end_reason, Some(EndReason::Released));
    assert_eq!(w.members(), vec![sid(CAROL)]);
    assert_eq!(
        w.trail(&g.id),
        [
            AuditAction::Requested,
            AuditAction::Granted,
            AuditAction::Released,
            AuditAction::Ended
        ]
    );
}

#[tokio::test]
async fn revoke_ends_the_grant_with_the_admins_reason() {
    let w = world();
    let rule = w.rule("DBA").await;
    let g = w.request(&w.dave, &rule).await.unwrap();
    let ended = w
        .engine
        .endings
        .revoke(&w.admin, &w.alice, &g.id, "  left the team ")
        .await
        .unwrap();
    assert_eq!(ended.end_reason, Some(EndReason::Revoked));
    assert_eq!(
        ended.end_note.as_deref(),
        Some("left the team"),
        "kept on the grant"
    );
    assert_eq!(w.members(), vec![sid(CAROL)]);
    let revoked = w
        .store
        .audit_log()
        .into_iter()
        .find(|a| a.action == AuditAction::Revoked)
        .expect("a revoked event");
    assert_eq!(
        (revoked.actor.as_str(), revoked.detail.as_str()),
        ("alice", "left the team")
    );
}

#[tokio::test]
async fn revoke_without_a_reason_is_refused_and_changes_nothing() {
    let w = world();
    let rule = w.rule("DBA").await;
    let g = w.request(&w.dave, &rule).await.unwrap();
    for blank in ["", "  \n "] {
        let refused = w
            .engine
            .endings
            .revoke(&w.admin, &w.alice, &g.id, blank)
            .await
            .unwrap_err();
        assert_eq!(
            refused,
            DomainError::Invalid {
                field: "reason".into(),
                reason: "is required".into()
            }
        );
    }
    assert_eq!(w.store.all_grants()[0].state, GrantState::Active);
    assert_eq!(w.members(), vec![sid(DAVE), sid(CAROL)]);
}

#[tokio::test]
async fn expiry_on_the_manual_clock_removes_the_member_when_due_and_not_before() {
    let w = world();
    let rule = w.rule("DBA").await;
    let g = w.request(&w.dave, &rule).await.unwrap();
    assert_eq!(
        w.engine.expiry.next_expiry().await.unwrap(),
        Some(g.expires_at)
    );
    w.advance(599);
    assert_eq!(w.engine.expiry.run_due().await.unwrap(), 0);
    assert_eq!(w.members(), vec![sid(DAVE), sid(CAROL)]);
    w.advance(1);
    assert_eq!(w.engine.expiry.run_due().await.unwrap(), 1);
    assert_eq!(w.members(), vec![sid(CAROL)]);
    let ended = w.stored(&g.id);
    assert_eq!(
        (ended.state, ended.end_reason),
        (GrantState::Ended, Some(EndReason::Expired))
    );
    assert_eq!(ended.ended_at, Some(g.expires_at));
}

#[tokio::test]
async fn ending_one_of_two_overlapping_grants_keeps_the_membership_until_the_other_ends() {
    let w = world();
    let first = w.rule("DBA").await;
    let second = w.rule("DBA again").await;
    let a = w.request(&w.dave, &first).await.unwrap();
    w.advance(60);
    let b = w.request(&w.dave, &second).await.unwrap();
    assert_eq!(w.directory.count(DirectoryOp::AddMember), 2);
    w.engine.endings.release(&w.dave, &a.id).await.unwrap();
    assert_eq!(
        w.members(),
        vec![sid(DAVE), sid(CAROL)],
        "b still covers dave"
    );
    assert_eq!(w.directory.count(DirectoryOp::RemoveMember), 0);
    w.advance(600);
    assert_eq!(w.engine.expiry.run_due().await.unwrap(), 1);
    assert_eq!(w.stored(&b.id).state, GrantState::Ended);
    assert_eq!(w.members(), vec![sid(CAROL)]);
}

#[tokio::test]
async fn a_permanent_member_is_refused_and_never_touched() {
    let w = world();
    let rule = w.rule("DBA").await;
    let e = w.request(&w.carol, &rule).await.unwrap_err();
    assert!(
        matches!(&e, DomainError::FailedPrecondition(m) if m.contains("outside jitroles")),
        "{e:?}"
    );
    assert!(w.store.all_grants().is_empty(), "nothing recorded");
    assert_eq!(w.directory.count(DirectoryOp::AddMember), 0);
    assert_eq!(w.directory.count(DirectoryOp::RemoveMember), 0);
    assert_eq!(w.members(), vec![sid(CAROL)]);
}

#[tokio::test]
async fn a_member_added_outside_since_the_token_groups_were_read_is_refused_and_kept() {
    let w = world();
    let rule = w.rule("DBA").await;
    // someone added dave by hand; his cached token groups do not show it yet
    w.directory.set_member(&sid(DBA_GROUP), &sid(DAVE), true);
    let e = w.request(&w.dave, &rule).await.unwrap_err();
    assert!(matches!(e, DomainError::FailedPrecondition(_)), "{e:?}");
    let failed = &w.store.all_grants()[0];
    assert_eq!(failed.state, GrantState::Failed);
    assert_eq!(w.members(), vec![sid(DAVE), sid(CAROL)], "left as it was");
}

#[tokio::test]
async fn under_pam_the_link_carries_the_ttl_and_the_directory_removes_it_itself() {
    let w = world();
    w.directory.set_pam(true);
    let rule = w.rule("DBA").await;
    let g = w.request(&w.dave, &rule).await.unwrap();
    assert_eq!(
        w.directory.link_until(&sid(DBA_GROUP), &sid(DAVE)),
        Some(g.expires_at)
    );
    w.advance(300);
    let longer = w
        .engine
        .requests
        .extend(&w.dave, &g.id, Some(Duration::from_secs(1200)))
        .await
        .unwrap();
    assert_eq!(
        w.directory.link_until(&sid(DBA_GROUP), &sid(DAVE)),
        Some(longer.expires_at),
        "the link's TTL follows the extension"
    );
    w.advance(1200);
    assert_eq!(
        w.members(),
        vec![sid(CAROL)],
        "the directory removed the link"
    );
    // reconciliation leaves the lapsed link to the scheduler, which records the expiry
    assert_eq!(w.engine.reconciler.reconcile().await.unwrap(), 0);
    assert_eq!(w.engine.expiry.run_due().await.unwrap(), 1);
    assert_eq!(w.stored(&g.id).end_reason, Some(EndReason::Expired));
}

#[tokio::test]
async fn under_pam_a_member_added_by_hand_is_refused_and_keeps_a_permanent_link() {
    let w = world();
    w.directory.set_pam(true);
    let rule = w.rule("DBA").await;
    // added by hand after dave's token groups were read: they do not show it
    w.directory.set_member(&sid(DBA_GROUP), &sid(DAVE), true);
    let e = w.request(&w.dave, &rule).await.unwrap_err();
    assert!(matches!(e, DomainError::FailedPrecondition(_)), "{e:?}");
    assert_eq!(
        w.directory.count(DirectoryOp::AddMember),
        0,
        "nothing written"
    );
    assert_eq!(
        w.directory.link_until(&sid(DBA_GROUP), &sid(DAVE)),
        None,
        "the membership stays permanent"
    );
    assert!(w.store.all_grants().is_empty());
}
