//! Builders shared by the unit tests of the grant decisions.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{Ask, Grant, GrantState, Lease, Subject, open};
use crate::{
    DomainError,
    access::{AclEntry, Caller, Effect, PrincipalKind, authorize_request},
    directory::Mechanism,
    rule::{JustificationPolicy, RoleRule, RuleSpec, TargetGroup, ValidSpec},
};

pub(super) const DAVE: &str = "S-1-5-21-1-2-3-1106";
const ONCALL: &str = "S-1-5-21-1-2-3-1104";

pub(crate) fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-27T09:00:00Z")
        .unwrap()
        .to_utc()
}

pub(crate) fn spec(policy: JustificationPolicy) -> ValidSpec {
    RuleSpec {
        name: "DBA".into(),
        description: String::new(),
        acl: vec![AclEntry {
            principal: ONCALL.parse().unwrap(),
            display_name: "dba-oncall".into(),
            kind: PrincipalKind::Group,
            effect: Effect::Allow,
        }],
        max_duration: Some(Duration::from_secs(3600)),
        default_duration: Some(Duration::from_secs(600)),
        allow_extension: true,
        max_total_duration: Some(Duration::from_secs(7200)),
        justification: Some(policy),
        enabled: true,
        expires_at: None,
        channels: Default::default(),
        approval: None,
        max_lead: None,
    }
    .validate(t0())
    .unwrap()
}

pub(crate) fn rule(policy: JustificationPolicy) -> RoleRule {
    RoleRule {
        id: "rule-1".into(),
        spec: spec(policy),
        target: TargetGroup {
            sid: "S-1-5-21-1-2-3-2000".parse().unwrap(),
            guid: "guid".into(),
            dn: "CN=jit-role-dba".into(),
            name: "jit-role-dba".into(),
        },
        version: 1,
        created_at: t0(),
        updated_at: t0(),
    }
}

pub(crate) fn dave() -> Caller {
    Caller {
        sid: DAVE.parse().unwrap(),
        dn: "CN=Dave Dba".into(),
        account_name: "dave".into(),
        display_name: "Dave Dba".into(),
        groups: vec![ONCALL.parse().unwrap()],
        disabled: false,
    }
}

fn subject() -> Subject {
    Subject {
        sid: DAVE.parse().unwrap(),
        dn: "CN=Dave Dba".into(),
        account: "dave".into(),
        display_name: "Dave Dba".into(),
    }
}

pub(crate) fn request(rule: &RoleRule, ask: Ask, now: DateTime<Utc>) -> Result<Grant, DomainError> {
    let right = authorize_request(&dave(), &rule.id, &rule.spec.acl).unwrap();
    open(
        right,
        rule,
        subject(),
        "dave",
        ask,
        Mechanism::Scheduled,
        "g1".into(),
        now,
    )
}

pub(crate) fn ask(secs: Option<u64>, why: &str) -> Ask {
    Ask {
        duration: secs.map(Duration::from_secs),
        justification: why.into(),
        ..Ask::default()
    }
}

pub(super) fn lease(holder: &str, until: DateTime<Utc>) -> Lease {
    Lease {
        holder: holder.into(),
        until,
    }
}

pub(crate) fn active(r: &RoleRule) -> Grant {
    Grant {
        state: GrantState::Active,
        ..request(r, ask(None, ""), t0()).unwrap()
    }
}

pub(crate) fn person(n: u32) -> Subject {
    Subject {
        sid: format!("S-1-5-21-1-2-3-{n}").parse().unwrap(),
        dn: format!("CN=P{n}"),
        account: format!("p{n}"),
        display_name: format!("P {n}"),
    }
}
