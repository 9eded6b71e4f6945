//! Domain → proto conversions for the API.

use chrono::{DateTime, Utc};
use jitroles_domain::system::DatabaseKind;
use jitroles_proto::v1 as pb;

pub fn database_kind(kind: DatabaseKind) -> pb::DatabaseKind {
    match kind {
        DatabaseKind::Sqlite => pb::DatabaseKind::Sqlite,
        DatabaseKind::Postgres => pb::DatabaseKind::Postgres,
    }
}

pub fn timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: at.timestamp_subsec_nanos() as i32,
    }
}

pub fn search_page(page: jitroles_domain::directory::SearchPage) -> pb::SearchDirectoryResponse {
    use jitroles_domain::directory::DirectoryObject;
    let entries = page
        .objects
        .into_iter()
        .map(|object| match object {
            DirectoryObject::User(u) => pb::DirectoryEntry {
                kind: pb::DirectoryObjectKind::User.into(),
                sid: u.sid.to_string(),
                guid: u.guid,
                dn: u.dn,
                account_name: u.account_name,
                display_name: u.display_name,
                mail: u.mail.unwrap_or_default(),
                disabled: u.disabled,
                protected: false,
            },
            DirectoryObject::Group(g) => pb::DirectoryEntry {
                kind: pb::DirectoryObjectKind::Group.into(),
                sid: g.sid.to_string(),
                guid: g.guid,
                dn: g.dn,
                display_name: g.name.clone(),
                account_name: g.name,
                mail: String::new(),
                disabled: false,
                protected: g.protected,
            },
        })
        .collect();
    pb::SearchDirectoryResponse {
        entries,
        more: page.more,
    }
}

// ---- rules, grants, audit ----

mod access;
mod approvals;
mod emergency;
mod notifications;
#[cfg(test)]
mod properties;
mod rule_changes;
mod usage;

pub use access::{person_access, rule_access};
pub use approvals::decision;
pub use emergency::{freeze, freeze_scope, revocations, unfreeze_scope};
pub use notifications::{channel, channel_spec, delivery_state, notification};
pub use rule_changes::{rule_version, rules_plan};
pub use usage::{usage_ask, usage_report};

use std::time::Duration;

use crate::grants::{reports::DirectoryReport, request::RequestableRole, rules::RuleView};
use jitroles_domain::{
    DomainError,
    access::{AclEntry, Effect, PrincipalKind},
    audit::{AuditAction, AuditEvent},
    directory::Mechanism,
    freeze::FreezeScope,
    grant::{EndReason, Grant, GrantState, tickets_may_last_until},
    grant_filter::{GrantFilter, Person},
    rule::{JustificationPolicy, RuleChannels, RuleSpec, TargetGroup, check_text},
};

/// A duration from a request; `None` when absent.
pub fn duration(
    field: &str,
    d: Option<&prost_types::Duration>,
) -> Result<Option<Duration>, DomainError> {
    let Some(d) = d else { return Ok(None) };
    if d.seconds < 0 || d.nanos < 0 {
        return Err(DomainError::invalid(field, "must not be negative"));
    }
    // a protobuf Duration's nanos are below one second; more would read as a longer duration
    // than the seconds say
    if d.nanos >= 1_000_000_000 {
        return Err(DomainError::invalid(
            field,
            "nanos must be below 1,000,000,000",
        ));
    }
    let secs =
        u64::try_from(d.seconds).map_err(|_| DomainError::invalid(field, "is out of range"))?;
    Ok(Some(
        Duration::from_secs(secs) + Duration::from_nanos(u64::try_from(d.nanos).unwrap_or(0)),
    ))
}

pub fn proto_duration(d: Duration) -> prost_types::Duration {
    prost_types::Duration {
        seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        nanos: i32::try_from(d.subsec_nanos()).unwrap_or(0),
    }
}

pub fn time(
    field: &str,
    t: Option<&prost_types::Timestamp>,
) -> Result<Option<DateTime<Utc>>, DomainError> {
    let Some(t) = t else { return Ok(None) };
    DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap_or(0))
        .map(Some)
        .ok_or_else(|| DomainError::invalid(field, "is not a valid time"))
}

/// Longest `person` a grant listing may filter by (a SID or an account name).
const MAX_PERSON_CHARS: usize = 256;
/// Rule ids are UUIDs.
const MAX_RULE_ID_CHARS: usize = 36;
/// More state names than there are states (with "live") is a mistake.
const MAX_STATES: usize = 6;

/// The filter of an admin's grant listing. Without `states`, `include_ended` chooses between
/// live grants and all of them, as it did before there were filters.
pub fn grant_filter(ask: &pb::ListGrantsRequest) -> Result<GrantFilter, DomainError> {
    let text = |field: &str, v: &str, max: usize| -> Result<Option<String>, DomainError> {
        check_text(field, v, max, false)?;
        let v = v.trim();
        Ok((!v.is_empty()).then(|| v.to_owned()))
    };
    let person = text("person", &ask.person, MAX_PERSON_CHARS)?.map(|p| Person::parse(&p));
    let rule_id = text("rule_id", &ask.rule_id, MAX_RULE_ID_CHARS)?;
    let states = if ask.states.is_empty() {
        if ask.include_ended {
            GrantFilter::all().states
        } else {
            GrantFilter::live().states
        }
    } else {
        if ask.states.len() > MAX_STATES {
            return Err(DomainError::invalid(
                "states",
                format!("at most {MAX_STATES} names"),
            ));
        }
        let mut states = Vec::new();
        for name in &ask.states {
            let named: Vec<GrantState> = match name.as_str() {
                "live" => GrantState::LIVE.to_vec(),
                other => vec![GrantState::parse(other).ok_or_else(|| unknown_state(other))?],
            };
            for s in named {
                if !states.contains(&s) {
                    states.push(s);
                }
            }
        }
        states
    };
    Ok(GrantFilter {
        person,
        rule_id,
        states,
    })
}

/// A state name that is none (echoed only when it is short plain text).
fn unknown_state(name: &str) -> DomainError {
    check_text("states", name, 32, false)
        .err()
        .unwrap_or_else(|| {
            DomainError::invalid(
                "states",
                format!(
                    "unknown state {name:?}: live, activating, active, ending, ended or failed"
                ),
            )
        })
}

/// ACL entries from the wire, each checked; `field` names the list in errors (`acl`,
/// `approval.approvers`).
pub(super) fn acl_entries(
    field: &str,
    entries: &[pb::AclEntry],
) -> Result<Vec<AclEntry>, DomainError> {
    entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            Ok(AclEntry {
                principal: e.principal_sid.parse().map_err(|_| {
                    DomainError::invalid(format!("{field}[{i}].principal_sid"), "is not a SID")
                })?,
                display_name: e.display_name.clone(),
                kind: match e.kind() {
                    pb::PrincipalKind::User => PrincipalKind::User,
                    pb::PrincipalKind::Group => PrincipalKind::Group,
                    pb::PrincipalKind::Unspecified => {
                        return Err(DomainError::invalid(
                            format!("{field}[{i}].kind"),
                            "must be user or group",
                        ));
                    }
                },
                effect: match e.effect() {
                    pb::Effect::Allow => Effect::Allow,
                    pb::Effect::Deny => Effect::Deny,
                    pb::Effect::Unspecified => {
                        return Err(DomainError::invalid(
                            format!("{field}[{i}].effect"),
                            "must be allow or deny",
                        ));
                    }
                },
            })
        })
        .collect()
}

pub(super) fn pb_acl(acl: &[AclEntry]) -> Vec<pb::AclEntry> {
    acl.iter()
        .map(|e| pb::AclEntry {
            principal_sid: e.principal.to_string(),
            display_name: e.display_name.clone(),
            kind: match e.kind {
                PrincipalKind::User => pb::PrincipalKind::User,
                PrincipalKind::Group => pb::PrincipalKind::Group,
            }
            .into(),
            effect: match e.effect {
                Effect::Allow => pb::Effect::Allow,
                Effect::Deny => pb::Effect::Deny,
            }
            .into(),
        })
        .collect()
}

/// The spec and the target group's name from a request.
pub fn rule_spec(spec: Option<&pb::RuleSpec>) -> Result<(RuleSpec, String), DomainError> {
    let spec = spec.ok_or_else(|| DomainError::invalid("spec", "is required"))?;
    let acl = acl_entries("acl", &spec.acl)?;
    Ok((
        RuleSpec {
            name: spec.name.clone(),
            description: spec.description.clone(),
            acl,
            max_duration: duration("max_duration", spec.max_duration.as_ref())?,
            default_duration: duration("default_duration", spec.default_duration.as_ref())?,
            allow_extension: spec.allow_extension,
            max_total_duration: duration("max_total_duration", spec.max_total_duration.as_ref())?,
            justification: match spec.justification() {
                pb::JustificationPolicy::Unspecified => None,
                pb::JustificationPolicy::Required => Some(JustificationPolicy::Required),
                pb::JustificationPolicy::Optional => Some(JustificationPolicy::Optional),
                pb::JustificationPolicy::Hidden => Some(JustificationPolicy::Hidden),
            },
            enabled: spec.enabled,
            expires_at: time("expires_at", spec.expires_at.as_ref())?,
            channels: RuleChannels {
                success: spec.success_channels.clone(),
                failure: spec.failure_channels.clone(),
                approval: spec.approval_channels.clone(),
            },
            approval: spec
                .approval
                .as_ref()
                .map(approvals::approval_spec)
                .transpose()?,
            max_lead: duration("max_lead", spec.max_lead.as_ref())?,
        },
        spec.target_group.clone(),
    ))
}

fn justification(p: JustificationPolicy) -> pb::JustificationPolicy {
    match p {
        JustificationPolicy::Required => pb::JustificationPolicy::Required,
        JustificationPolicy::Optional => pb::JustificationPolicy::Optional,
        JustificationPolicy::Hidden => pb::JustificationPolicy::Hidden,
    }
}

fn target(t: &TargetGroup) -> pb::TargetGroup {
    pb::TargetGroup {
        sid: t.sid.to_string(),
        guid: t.guid.clone(),
        dn: t.dn.clone(),
        name: t.name.clone(),
    }
}

/// A rule as admins see it, with its live grants and its own freeze.
pub fn rule(view: RuleView) -> pb::Rule {
    let RuleView {
        rule: r,
        live_grants,
        frozen,
    } = view;
    let s = &r.spec;
    pb::Rule {
        id: r.id.clone(),
        spec: Some(pb::RuleSpec {
            name: s.name.clone(),
            description: s.description.clone(),
            target_group: r.target.sid.to_string(),
            acl: pb_acl(&s.acl),
            max_duration: Some(proto_duration(s.max_duration)),
            default_duration: Some(proto_duration(s.default_duration)),
            allow_extension: s.allow_extension,
            max_total_duration: s.max_total_duration.map(proto_duration),
            justification: justification(s.justification).into(),
            enabled: s.enabled,
            expires_at: s.expires_at.map(timestamp),
            success_channels: s.channels.success.clone(),
            failure_channels: s.channels.failure.clone(),
            approval_channels: s.channels.approval.clone(),
            approval: s.approval.as_ref().map(approvals::approval_policy),
            max_lead: s.max_lead.map(proto_duration),
        }),
        target: Some(target(&r.target)),
        version: r.version,
        created_at: Some(timestamp(r.created_at)),
        updated_at: Some(timestamp(r.updated_at)),
        live_grants,
        frozen: frozen.map(|f| freeze(f, s.name.clone())),
    }
}

/// A role a requester is offered, with their live grant and the freeze that holds for it.
pub fn role(offered: RequestableRole, max_ticket_lifetime: Duration) -> pb::Role {
    let RequestableRole {
        rule: r,
        live,
        frozen,
    } = offered;
    let frozen = frozen.map(|f| {
        let name = match f.scope {
            FreezeScope::All => String::new(),
            FreezeScope::Rule(_) => r.spec.name.clone(),
        };
        freeze(f, name)
    });
    pb::Role {
        frozen,
        rule_id: r.id,
        name: r.spec.name,
        description: r.spec.description,
        group_name: r.target.name,
        default_duration: Some(proto_duration(r.spec.default_duration)),
        max_duration: Some(proto_duration(r.spec.max_duration)),
        allow_extension: r.spec.allow_extension,
        justification: justification(r.spec.justification).into(),
        required_approvals: r
            .spec
            .approval
            .as_ref()
            .map_or(0, |p| u32::from(p.required)),
        break_glass: r.spec.approval.as_ref().is_some_and(|p| p.break_glass),
        max_lead: r.spec.max_lead.map(proto_duration),
        live_grant: live.map(|g| grant(g, max_ticket_lifetime)),
    }
}

pub fn mechanism(m: Mechanism) -> pb::Mechanism {
    match m {
        Mechanism::Ttl => pb::Mechanism::Ttl,
        Mechanism::Scheduled => pb::Mechanism::Scheduled,
    }
}

/// A grant, with until when Kerberos tickets may carry its group given the domain's
/// `max_ticket_lifetime` (`directory.max_ticket_lifetime_hours`).
pub fn grant(g: Grant, max_ticket_lifetime: Duration) -> pb::Grant {
    pb::Grant {
        tickets_may_last_until: (!g.state.never_had_access())
            .then(|| timestamp(tickets_may_last_until(&g, max_ticket_lifetime))),
        id: g.id,
        rule_id: g.rule_id,
        rule_name: g.rule_name,
        group: Some(target(&g.group)),
        subject_sid: g.subject.sid.to_string(),
        subject_account: g.subject.account,
        subject_display_name: g.subject.display_name,
        requested_by: g.requested_by,
        justification: g.justification,
        requested_at: Some(timestamp(g.requested_at)),
        expires_at: Some(timestamp(g.expires_at)),
        state: grant_state(g.state).into(),
        mechanism: mechanism(g.mechanism).into(),
        extension_count: g.extension_count,
        ended_at: g.ended_at.map(timestamp),
        end_reason: match g.end_reason {
            None => pb::EndReason::Unspecified,
            Some(EndReason::Expired) => pb::EndReason::Expired,
            Some(EndReason::Released) => pb::EndReason::Released,
            Some(EndReason::Revoked) => pb::EndReason::Revoked,
            Some(EndReason::Directory) => pb::EndReason::Directory,
        }
        .into(),
        last_error: g.last_error.unwrap_or_default(),
        end_note: g.end_note.unwrap_or_default(),
        client_request_id: g.client_request_id.unwrap_or_default(),
        ..approvals::deferred(g.deferred.as_ref())
    }
}

pub fn grant_state(s: GrantState) -> pb::GrantState {
    match s {
        GrantState::Pending => pb::GrantState::Pending,
        GrantState::Scheduled => pb::GrantState::Scheduled,
        GrantState::Activating => pb::GrantState::Activating,
        GrantState::Active => pb::GrantState::Active,
        GrantState::Ending => pb::GrantState::Ending,
        GrantState::Ended => pb::GrantState::Ended,
        GrantState::Failed => pb::GrantState::Failed,
        GrantState::Rejected => pb::GrantState::Rejected,
        GrantState::Cancelled => pb::GrantState::Cancelled,
        GrantState::Lapsed => pb::GrantState::Lapsed,
    }
}

pub fn audit_action(action: AuditAction) -> pb::AuditAction {
    use AuditAction as A;
    use pb::AuditAction as P;
    match action {
        A::Requested => P::Requested,
        A::Granted => P::Granted,
        A::Failed => P::Failed,
        A::Extended => P::Extended,
        A::Released => P::Released,
        A::Revoked => P::Revoked,
        A::Expired => P::Expired,
        A::EndedByDirectory => P::EndedByDirectory,
        A::Ended => P::Ended,
        A::RuleCreated => P::RuleCreated,
        A::RuleUpdated => P::RuleUpdated,
        A::RuleDeleted => P::RuleDeleted,
        A::ChannelCreated => P::ChannelCreated,
        A::ChannelUpdated => P::ChannelUpdated,
        A::ChannelDeleted => P::ChannelDeleted,
        A::ChannelTested => P::ChannelTested,
        A::NotificationRetried => P::NotificationRetried,
        A::RevokedAllOfPerson => P::RevokedAllOfPerson,
        A::RevokedAllOfRule => P::RevokedAllOfRule,
        A::RequestsFrozen => P::RequestsFrozen,
        A::RequestsUnfrozen => P::RequestsUnfrozen,
        A::RequestRefused => P::RequestRefused,
        A::CallRefused => P::CallRefused,
        A::SignedIn => P::SignedIn,
        A::SignedOut => P::SignedOut,
        A::SignInRefused => P::SignInRefused,
        A::Repeated => P::Repeated,
        A::ApprovalRequested => P::ApprovalRequested,
        A::Approved => P::Approved,
        A::Rejected => P::Rejected,
        A::Cancelled => P::Cancelled,
        A::Lapsed => P::Lapsed,
        A::BreakGlassUsed => P::BreakGlassUsed,
        A::BreakGlassAcknowledged => P::BreakGlassAcknowledged,
        A::Scheduled => P::Scheduled,
        A::RuleRestored => P::RuleRestored,
    }
}

/// The domain's action for a wire value; `None` for UNSPECIFIED and values this server does not
/// know (a newer client's).
pub fn audit_action_of(wire: i32) -> Option<AuditAction> {
    AuditAction::ALL
        .into_iter()
        .find(|a| audit_action(*a) as i32 == wire)
}

pub fn audit_event(e: AuditEvent) -> pb::AuditEvent {
    pb::AuditEvent {
        id: e.id,
        at: Some(timestamp(e.event.at)),
        action: audit_action(e.event.action).into(),
        actor: e.event.actor,
        rule_id: e.event.rule_id.unwrap_or_default(),
        grant_id: e.event.grant_id.unwrap_or_default(),
        subject_account: e.event.subject_account.unwrap_or_default(),
        detail: e.event.detail,
        source: e.event.source.unwrap_or_default(),
    }
}

/// The directory status page's data. The PAM advice is a sentence for the page.
pub fn directory_status(report: DirectoryReport) -> pb::DirectoryStatus {
    let caps = report.capabilities;
    pb::DirectoryStatus {
        mechanism: mechanism(caps.mechanism).into(),
        pam_enabled: caps.pam_enabled,
        forest_functional_level: caps.forest_functional_level,
        pam_advice: if caps.pam_enabled {
            String::new()
        } else {
            "The Privileged Access Management feature is off, so jitroles' scheduler removes members when grants end. With PAM (forest functional level 2016 or later; irreversible) AD removes them itself: run `jitroles directory enable-pam` to read what it does.".into()
        },
        restored_snapshot_taken_at: report.restored_snapshot.map(timestamp),
        groups: report
            .groups
            .into_iter()
            .map(|g| {
                let (can_write_members, protected, access_problem) = match g.access {
                    Ok(a) => (a.can_write_members, a.protected, None),
                    Err(e) => (false, false, Some(e.said())),
                };
                let (unexplained_members, members_problem) = match g.unexplained {
                    Ok(dns) => (dns, None),
                    Err(e) => (Vec::new(), Some(e.said())),
                };
                pb::RuleGroupStatus {
                    rule_id: g.rule.id.clone(),
                    rule_name: g.rule.spec.name.clone(),
                    group: Some(target(&g.rule.target)),
                    can_write_members,
                    protected,
                    problem: members_problem.or(access_problem).unwrap_or_default(),
                    unexplained_members,
                    added_since_snapshot: g
                        .added_since_snapshot
                        .into_iter()
                        .map(|m| pb::MemberToReview {
                            dn: m.dn,
                            added_at: m.added.map(timestamp),
                        })
                        .collect(),
                }
            })
            .collect(),
    }
}
