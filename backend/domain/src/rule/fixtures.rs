//! Rules for the rule module's tests.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::{
    access::{AclEntry, Effect, PrincipalKind},
    rule::{JustificationPolicy, RoleRule, RuleChannels, TargetGroup, ValidSpec},
};

pub fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-02T09:00:00Z")
        .unwrap()
        .to_utc()
}

pub fn ace(rid: u32, name: &str, kind: PrincipalKind, effect: Effect) -> AclEntry {
    AclEntry {
        principal: format!("S-1-5-21-1-2-3-{rid}").parse().unwrap(),
        display_name: name.into(),
        kind,
        effect,
    }
}

pub fn rule() -> RoleRule {
    RoleRule {
        id: "r".into(),
        spec: ValidSpec {
            name: "DBA on call".into(),
            description: "Production databases".into(),
            acl: vec![ace(1104, "dba-team", PrincipalKind::Group, Effect::Allow)],
            max_duration: Duration::from_secs(3600),
            default_duration: Duration::from_secs(1800),
            allow_extension: false,
            max_total_duration: None,
            justification: JustificationPolicy::Required,
            enabled: true,
            expires_at: None,
            channels: RuleChannels::default(),
            approval: None,
            max_lead: None,
        },
        target: TargetGroup {
            sid: "S-1-5-21-1-2-3-2000".parse().unwrap(),
            guid: "g".into(),
            dn: "CN=db-admins,OU=Groups,DC=corp".into(),
            name: "db-admins".into(),
        },
        version: 1,
        created_at: now(),
        updated_at: now(),
    }
}
