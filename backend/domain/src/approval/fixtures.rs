//! Builders shared by the unit tests of the approval decisions.

use std::time::Duration;

use super::{ApprovalSpec, Opening, RequestTiming, opening, waiting};
use crate::{
    access::{AclEntry, Caller, Effect, PrincipalKind},
    grant::{
        Grant,
        fixtures::{ask, dave, request, rule, t0},
    },
    rule::{JustificationPolicy, RoleRule},
};

const APPROVERS: &str = "S-1-5-21-1-2-3-1300";

pub(crate) fn approvers_group() -> AclEntry {
    AclEntry {
        principal: APPROVERS.parse().unwrap(),
        display_name: "dba-approvers".into(),
        kind: PrincipalKind::Group,
        effect: Effect::Allow,
    }
}

pub(crate) fn spec(required: u32) -> ApprovalSpec {
    ApprovalSpec {
        approvers: vec![approvers_group()],
        required,
        pending_window: None,
        break_glass: false,
        service_approvers: false,
    }
}

pub(crate) fn plain_rule() -> RoleRule {
    rule(JustificationPolicy::Optional)
}

pub(crate) fn approval_rule(required: u32) -> RoleRule {
    let mut r = plain_rule();
    r.spec.approval = Some(spec(required).validate().unwrap());
    r
}

pub(crate) fn scheduling_rule(lead: Duration) -> RoleRule {
    let mut r = plain_rule();
    r.spec.max_lead = Some(lead);
    r
}

pub(crate) fn requester() -> Caller {
    dave()
}

/// Approver number `n`, in the approvers' group.
pub(crate) fn approver(n: u32) -> Caller {
    Caller {
        sid: format!("S-1-5-21-1-2-3-14{n:02}").parse().unwrap(),
        dn: format!("CN=Approver {n}"),
        account_name: format!("approver{n}"),
        display_name: format!("Approver {n}"),
        groups: vec![APPROVERS.parse().unwrap()],
        disabled: false,
    }
}

/// Dave's request of `rule` for an hour, asked at t0, waiting for approvals.
pub(crate) fn pending(rule: &RoleRule) -> Grant {
    let fresh = request(rule, ask(Some(3600), "deploy"), t0()).unwrap();
    let opened = opening(
        rule,
        &RequestTiming::default(),
        Duration::from_secs(3600),
        t0(),
    )
    .unwrap();
    assert!(matches!(opened, Opening::Pending(_)), "{opened:?}");
    waiting(fresh, opened)
}
