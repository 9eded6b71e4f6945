//! Role rules: which AD group a role adds people to, who may ask, and for how long.
//!
//! A [`RuleSpec`] is what an admin sends; [`RuleSpec::validate`] turns it into a
//! [`ValidSpec`] or says which field is wrong and why. The target group is resolved in the
//! directory by the caller (it needs I/O) and passed in as a [`TargetGroup`].

#[cfg(test)]
mod fixtures;
pub mod history;
pub mod plan;

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::{
    DomainError,
    access::AclEntry,
    approval::{ApprovalPolicy, ApprovalSpec, validate_lead},
    directory::Sid,
};

/// Longest grant any rule may allow: a year and a day. Longer is not "just in time".
pub const MAX_DURATION: Duration = Duration::from_secs(366 * 24 * 3600);
pub const MAX_NAME_CHARS: usize = 100;
pub const MAX_DESCRIPTION_CHARS: usize = 2_000;
pub const MAX_ACL_ENTRIES: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JustificationPolicy {
    Required,
    Optional,
    Hidden,
}

impl JustificationPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Required => "required",
            Self::Optional => "optional",
            Self::Hidden => "hidden",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "required" => Some(Self::Required),
            "optional" => Some(Self::Optional),
            "hidden" => Some(Self::Hidden),
            _ => None,
        }
    }
}

/// The AD group a rule writes, kept by SID and GUID (a rename must not break the rule); the DN
/// and name are cached for display and for LDAP writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetGroup {
    pub sid: Sid,
    pub guid: String,
    pub dn: String,
    pub name: String,
}

impl TargetGroup {
    /// How the directory is told which group to read or write: by its objectGUID
    /// (`<GUID=…>`, an alternative DN form every AD DC and Samba accept, MS-ADTS
    /// 3.1.1.3.1.2.4), so a group renamed or moved in AD is still the group jitroles grants
    /// in. `dn` and `name` are for people, and reconciliation keeps them current.
    pub fn address(&self) -> String {
        if self.guid.is_empty() {
            self.dn.clone()
        } else {
            format!("<GUID={}>", self.guid)
        }
    }
}

/// An admin's settings for a rule, as sent; not yet checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSpec {
    pub name: String,
    pub description: String,
    pub acl: Vec<AclEntry>,
    pub max_duration: Option<Duration>,
    pub default_duration: Option<Duration>,
    pub allow_extension: bool,
    pub max_total_duration: Option<Duration>,
    pub justification: Option<JustificationPolicy>,
    pub enabled: bool,
    pub expires_at: Option<DateTime<Utc>>,
    /// Notification channel ids (see [`crate::notify::route`]).
    pub channels: RuleChannels,
    /// Requests wait for approvals (`None`: they never do, as before).
    pub approval: Option<ApprovalSpec>,
    /// A request may name a start time at most this far ahead (`None`: it may not).
    pub max_lead: Option<Duration>,
}

/// The channels a rule notifies: success (granted, extended) and failure (refused, directory
/// write failed), by channel id.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RuleChannels {
    pub success: Vec<String>,
    pub failure: Vec<String>,
    /// The approval events: channels that reach the rule's approvers.
    pub approval: Vec<String>,
}

pub const MAX_RULE_CHANNELS: usize = 20;

/// Settings that passed [`RuleSpec::validate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidSpec {
    pub name: String,
    pub description: String,
    pub acl: Vec<AclEntry>,
    pub max_duration: Duration,
    pub default_duration: Duration,
    pub allow_extension: bool,
    pub max_total_duration: Option<Duration>,
    pub justification: JustificationPolicy,
    pub enabled: bool,
    pub expires_at: Option<DateTime<Utc>>,
    /// Notification channel ids (see [`crate::notify::route`]).
    pub channels: RuleChannels,
    pub approval: Option<ApprovalPolicy>,
    pub max_lead: Option<Duration>,
}

/// One version of a rule, whole: every setting the API returns (its channels included), the
/// group it writes and when the version was made. A feature that adds a setting adds it to
/// [`ValidSpec`], so the snapshot (and a history that keeps snapshots) carries it too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleRule {
    pub id: String,
    pub spec: ValidSpec,
    pub target: TargetGroup,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl RoleRule {
    /// Whether the rule grants anything at `now`; `Err` says why not.
    pub fn check_open(&self, now: DateTime<Utc>) -> Result<(), DomainError> {
        if !self.spec.enabled {
            return Err(DomainError::FailedPrecondition(format!(
                "the role {} is disabled",
                self.spec.name
            )));
        }
        if self.spec.expires_at.is_some_and(|at| at <= now) {
            return Err(DomainError::FailedPrecondition(format!(
                "the role {} has expired",
                self.spec.name
            )));
        }
        Ok(())
    }
}

/// The ACL's size, checked before any entry is looked up in the directory (an ACL of thousands
/// must not cost thousands of directory reads before it is refused).
pub fn check_acl_size(acl: &[AclEntry]) -> Result<(), DomainError> {
    if acl.len() > MAX_ACL_ENTRIES {
        return Err(DomainError::invalid(
            "acl",
            format!("at most {MAX_ACL_ENTRIES} entries"),
        ));
    }
    Ok(())
}

/// Text a person typed: no control characters except, where `multiline`, newlines and tabs.
pub fn check_text(
    field: &str,
    text: &str,
    max_chars: usize,
    multiline: bool,
) -> Result<(), DomainError> {
    if text.chars().count() > max_chars {
        return Err(DomainError::invalid(
            field,
            format!("at most {max_chars} characters"),
        ));
    }
    if text
        .chars()
        .any(|c| c.is_control() && !(multiline && matches!(c, '\n' | '\t' | '\r')))
    {
        return Err(DomainError::invalid(
            field,
            "control characters are not allowed",
        ));
    }
    Ok(())
}

/// A duration a person asked for: at least 1 s, at most [`MAX_DURATION`].
pub fn check_duration(field: &str, d: Duration) -> Result<(), DomainError> {
    if d < Duration::from_secs(1) {
        return Err(DomainError::invalid(field, "must be at least one second"));
    }
    if d > MAX_DURATION {
        return Err(DomainError::invalid(field, "must be at most 366 days"));
    }
    Ok(())
}

impl RuleSpec {
    pub fn validate(self, now: DateTime<Utc>) -> Result<ValidSpec, DomainError> {
        let name = self.name.trim().to_owned();
        if name.is_empty() {
            return Err(DomainError::invalid("name", "must not be empty"));
        }
        check_text("name", &name, MAX_NAME_CHARS, false)?;
        check_text(
            "description",
            &self.description,
            MAX_DESCRIPTION_CHARS,
            true,
        )?;
        let max = self
            .max_duration
            .ok_or_else(|| DomainError::invalid("max_duration", "is required"))?;
        check_duration("max_duration", max)?;
        let default = self.default_duration.unwrap_or(max);
        check_duration("default_duration", default)?;
        if default > max {
            return Err(DomainError::invalid(
                "default_duration",
                "must not be longer than max_duration",
            ));
        }
        if let Some(total) = self.max_total_duration {
            check_duration("max_total_duration", total)?;
            if total < max {
                return Err(DomainError::invalid(
                    "max_total_duration",
                    "must not be shorter than max_duration",
                ));
            }
        }
        check_acl_size(&self.acl)?;
        for (i, entry) in self.acl.iter().enumerate() {
            check_text(
                &format!("acl[{i}].display_name"),
                &entry.display_name,
                256,
                false,
            )?;
            let twice = self.acl[..i]
                .iter()
                .any(|e| e.principal == entry.principal && e.effect == entry.effect);
            if twice {
                return Err(DomainError::invalid(
                    format!("acl[{i}]"),
                    format!("{} is listed twice", entry.display_name),
                ));
            }
        }
        if self.expires_at.is_some_and(|at| at <= now) {
            return Err(DomainError::invalid("expires_at", "must be in the future"));
        }
        let mut channels = self.channels;
        for (field, ids) in [
            ("success_channels", &mut channels.success),
            ("failure_channels", &mut channels.failure),
            ("approval_channels", &mut channels.approval),
        ] {
            ids.sort();
            ids.dedup();
            if ids.len() > MAX_RULE_CHANNELS {
                return Err(DomainError::invalid(
                    field,
                    format!("at most {MAX_RULE_CHANNELS}"),
                ));
            }
        }
        if self.approval.as_ref().is_some_and(|a| a.break_glass) && channels.approval.is_empty() {
            return Err(DomainError::invalid(
                "approval_channels",
                "break-glass tells every approver at once: name a channel that reaches them",
            ));
        }
        Ok(ValidSpec {
            name,
            description: self.description,
            acl: self.acl,
            max_duration: max,
            default_duration: default,
            allow_extension: self.allow_extension,
            max_total_duration: self.max_total_duration,
            justification: self.justification.unwrap_or(JustificationPolicy::Optional),
            enabled: self.enabled,
            expires_at: self.expires_at,
            channels,
            approval: self.approval.map(ApprovalSpec::validate).transpose()?,
            max_lead: self.max_lead.map(validate_lead).transpose()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::{Effect, PrincipalKind};

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-27T09:00:00Z")
            .unwrap()
            .to_utc()
    }

    fn spec() -> RuleSpec {
        RuleSpec {
            name: "DBA on call".into(),
            description: "Production database admin".into(),
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
            channels: RuleChannels::default(),
            approval: None,
            max_lead: None,
        }
    }

    fn field_of(e: DomainError) -> String {
        match e {
            DomainError::Invalid { field, .. } => field,
            other => panic!("not a validation error: {other:?}"),
        }
    }

    #[test]
    fn a_sound_spec_is_accepted() {
        let valid = spec().validate(now()).unwrap();
        assert_eq!(valid.default_duration, Duration::from_secs(600));
    }

    #[test]
    fn the_default_duration_defaults_to_the_maximum() {
        let mut s = spec();
        s.default_duration = None;
        assert_eq!(
            s.validate(now()).unwrap().default_duration,
            Duration::from_secs(3600)
        );
    }

    #[test]
    fn bad_settings_name_their_field() {
        type Breaker = Box<dyn Fn(&mut RuleSpec)>;
        let cases: Vec<(&str, Breaker)> = vec![
            ("name", Box::new(|s| s.name = "  ".into())),
            ("name", Box::new(|s| s.name = "x".repeat(101))),
            ("name", Box::new(|s| s.name = "a\u{7}b".into())),
            ("max_duration", Box::new(|s| s.max_duration = None)),
            (
                "max_duration",
                Box::new(|s| s.max_duration = Some(Duration::ZERO)),
            ),
            (
                "max_duration",
                Box::new(|s| s.max_duration = Some(MAX_DURATION + Duration::from_secs(1))),
            ),
            (
                "default_duration",
                Box::new(|s| s.default_duration = Some(Duration::from_secs(7200))),
            ),
            (
                "max_total_duration",
                Box::new(|s| s.max_total_duration = Some(Duration::from_secs(60))),
            ),
            (
                "expires_at",
                Box::new(|s| s.expires_at = Some(now() - chrono::TimeDelta::seconds(1))),
            ),
            ("acl[1]", Box::new(|s| s.acl.push(s.acl[0].clone()))),
        ];
        for (field, break_it) in cases {
            let mut s = spec();
            break_it(&mut s);
            assert_eq!(field_of(s.validate(now()).unwrap_err()), field);
        }
    }

    #[test]
    fn a_disabled_or_expired_rule_grants_nothing() {
        let rule = |enabled, expires_at| RoleRule {
            id: "r".into(),
            spec: ValidSpec {
                enabled,
                expires_at,
                ..spec().validate(now()).unwrap()
            },
            target: TargetGroup {
                sid: "S-1-5-21-1-2-3-2000".parse().unwrap(),
                guid: "g".into(),
                dn: "CN=g".into(),
                name: "g".into(),
            },
            version: 1,
            created_at: now(),
            updated_at: now(),
        };
        assert!(rule(true, None).check_open(now()).is_ok());
        assert!(rule(false, None).check_open(now()).is_err());
        assert!(rule(true, Some(now())).check_open(now()).is_err());
    }
}
