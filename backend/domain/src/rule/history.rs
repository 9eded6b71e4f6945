//! A rule's saved versions and what changed between two of them, field by field: the audit
//! event of a change, the rule page's History and `jitroles rules plan` all say it this way.

use std::{collections::BTreeSet, time::Duration};

use chrono::{DateTime, SecondsFormat, Utc};

use super::{RoleRule, RuleSpec, TargetGroup, ValidSpec};
use crate::{
    access::{AclEntry, Effect, PrincipalKind},
    approval::{ApprovalPolicy, ApprovalSpec},
    audit::AuditAction,
};

/// One saved version of a rule, whole, with who saved it, when and how (created, updated,
/// restored, deleted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleVersion {
    pub rule: RoleRule,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: AuditAction,
}

/// One field that differs. An empty `before` is something added (an ACL entry, a channel),
/// an empty `after` something removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub field: String,
    pub before: String,
    pub after: String,
}

impl Change {
    /// "max_duration: 1h → 2h", "acl: + allow group dba-team (S-1-5-…)", "acl: − …".
    pub fn line(&self) -> String {
        match (self.before.is_empty(), self.after.is_empty()) {
            (true, false) => format!("{}: + {}", self.field, self.after),
            (false, true) => format!("{}: − {}", self.field, self.before),
            _ => format!("{}: {} → {}", self.field, self.before, self.after),
        }
    }
}

/// The changes as one text, one change per line ("" when nothing changed).
pub fn lines(changes: &[Change]) -> String {
    changes
        .iter()
        .map(Change::line)
        .collect::<Vec<_>>()
        .join("\n")
}

/// What differs between two versions of a rule: its settings and its group (ids, versions and
/// times are not settings). ACL entries, approvers and channels are compared as sets; a
/// display name that changed in the directory is not a change.
pub fn changes(before: &RoleRule, after: &RoleRule) -> Vec<Change> {
    let mut out = Vec::new();
    if before.target.sid != after.target.sid {
        push(
            &mut out,
            "group",
            group_text(&before.target),
            group_text(&after.target),
        );
    }
    spec_changes(&before.spec, &after.spec, &mut out);
    out
}

/// The changes between two sets of settings (see [`changes`]).
pub fn spec_changes(a: &ValidSpec, b: &ValidSpec, out: &mut Vec<Change>) {
    if a.name != b.name {
        push(out, "name", quoted(&a.name), quoted(&b.name));
    }
    if a.description != b.description {
        push(
            out,
            "description",
            quoted(&a.description),
            quoted(&b.description),
        );
    }
    entries(out, "acl", &a.acl, &b.acl);
    for (field, x, y) in [
        ("max_duration", a.max_duration, b.max_duration),
        ("default_duration", a.default_duration, b.default_duration),
    ] {
        if x != y {
            push(out, field, duration_text(x), duration_text(y));
        }
    }
    if a.allow_extension != b.allow_extension {
        push(
            out,
            "allow_extension",
            a.allow_extension.to_string(),
            b.allow_extension.to_string(),
        );
    }
    for (field, x, y) in [
        (
            "max_total_duration",
            a.max_total_duration,
            b.max_total_duration,
        ),
        ("max_lead", a.max_lead, b.max_lead),
    ] {
        if x != y {
            push(out, field, optional_duration(x), optional_duration(y));
        }
    }
    if a.justification != b.justification {
        push(
            out,
            "justification",
            a.justification.as_str().into(),
            b.justification.as_str().into(),
        );
    }
    if a.enabled != b.enabled {
        push(out, "enabled", a.enabled.to_string(), b.enabled.to_string());
    }
    if a.expires_at != b.expires_at {
        push(
            out,
            "expires_at",
            optional_time(a.expires_at),
            optional_time(b.expires_at),
        );
    }
    for (field, x, y) in [
        ("success_channels", &a.channels.success, &b.channels.success),
        ("failure_channels", &a.channels.failure, &b.channels.failure),
        (
            "approval_channels",
            &a.channels.approval,
            &b.channels.approval,
        ),
    ] {
        let (x, y): (BTreeSet<_>, BTreeSet<_>) = (x.iter().collect(), y.iter().collect());
        for id in y.difference(&x) {
            push(out, field, String::new(), (*id).clone());
        }
        for id in x.difference(&y) {
            push(out, field, (*id).clone(), String::new());
        }
    }
    approval_changes(a.approval.as_ref(), b.approval.as_ref(), out);
}

fn approval_changes(a: Option<&ApprovalPolicy>, b: Option<&ApprovalPolicy>, out: &mut Vec<Change>) {
    let (a, b) = match (a, b) {
        (None, None) => return,
        (Some(a), Some(b)) => (a, b),
        (a, b) => {
            push(out, "approval", policy_text(a), policy_text(b));
            return;
        }
    };
    entries(out, "approval.approvers", &a.approvers, &b.approvers);
    if a.required != b.required {
        push(
            out,
            "approval.required",
            a.required.to_string(),
            b.required.to_string(),
        );
    }
    if a.pending_window != b.pending_window {
        push(
            out,
            "approval.pending_window",
            duration_text(a.pending_window),
            duration_text(b.pending_window),
        );
    }
    for (field, x, y) in [
        ("approval.break_glass", a.break_glass, b.break_glass),
        (
            "approval.service_approvers",
            a.service_approvers,
            b.service_approvers,
        ),
    ] {
        if x != y {
            push(out, field, x.to_string(), y.to_string());
        }
    }
}

/// Entries added, then entries removed, each in the list's order; an entry is its SID, kind
/// and effect.
fn entries(out: &mut Vec<Change>, field: &str, a: &[AclEntry], b: &[AclEntry]) {
    let same = |x: &AclEntry, y: &AclEntry| {
        x.principal == y.principal && x.kind == y.kind && x.effect == y.effect
    };
    for added in b.iter().filter(|y| !a.iter().any(|x| same(x, y))) {
        push(out, field, String::new(), entry_text(added));
    }
    for removed in a.iter().filter(|x| !b.iter().any(|y| same(x, y))) {
        push(out, field, entry_text(removed), String::new());
    }
}

fn push(out: &mut Vec<Change>, field: &str, before: String, after: String) {
    out.push(Change {
        field: field.to_owned(),
        before,
        after,
    });
}

/// "allow group dba-team (S-1-5-21-…-1104)".
pub fn entry_text(e: &AclEntry) -> String {
    format!(
        "{} {} {} ({})",
        match e.effect {
            Effect::Allow => "allow",
            Effect::Deny => "deny",
        },
        match e.kind {
            PrincipalKind::User => "user",
            PrincipalKind::Group => "group",
        },
        e.display_name,
        e.principal
    )
}

fn group_text(g: &TargetGroup) -> String {
    format!("{} ({})", g.name, g.sid)
}

fn policy_text(p: Option<&ApprovalPolicy>) -> String {
    match p {
        None => "none".into(),
        Some(p) => format!(
            "{} of {} approver entries, window {}{}{}",
            p.required,
            p.approvers.len(),
            duration_text(p.pending_window),
            if p.break_glass { ", break-glass" } else { "" },
            if p.service_approvers {
                ", services may approve"
            } else {
                ""
            },
        ),
    }
}

fn quoted(s: &str) -> String {
    format!("{s:?}")
}

fn optional_duration(d: Option<Duration>) -> String {
    d.map_or_else(|| "none".into(), duration_text)
}

fn optional_time(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(
        || "never".into(),
        |t| t.to_rfc3339_opts(SecondsFormat::Secs, true),
    )
}

/// "1d 2h", "8h", "30m", "1m 30s": whole units, largest first, zeros left out.
pub fn duration_text(d: Duration) -> String {
    let mut secs = d.as_secs();
    if secs == 0 {
        return "0s".into();
    }
    let mut parts = Vec::new();
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if secs >= size {
            parts.push(format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    parts.join(" ")
}

/// A duration as [`duration_text`] writes it ("1d 2h", "90s", "1m 30s"): whole numbers with
/// a unit (d, h, m, s) separated by spaces, each unit once, largest first; `Err` says what
/// is wrong for people.
pub fn duration_from_text(text: &str) -> Result<Duration, String> {
    const UNITS: [(char, u64); 4] = [('d', 86_400), ('h', 3_600), ('m', 60), ('s', 1)];
    let bad = || format!("{text:?} is not a duration like \"1h 30m\", \"8h\" or \"7d\"");
    let mut total: u64 = 0;
    let mut last: Option<usize> = None;
    let mut parts = text.split_whitespace().peekable();
    if parts.peek().is_none() {
        return Err(bad());
    }
    for part in parts {
        let unit = part.chars().last().ok_or_else(bad)?;
        let place = UNITS.iter().position(|(u, _)| *u == unit).ok_or_else(bad)?;
        if last.is_some_and(|l| place <= l) {
            return Err(bad());
        }
        last = Some(place);
        let amount: u64 = part[..part.len() - 1].parse().map_err(|_| bad())?;
        total = amount
            .checked_mul(UNITS[place].1)
            .and_then(|secs| total.checked_add(secs))
            .ok_or_else(bad)?;
    }
    Ok(Duration::from_secs(total))
}

impl From<ValidSpec> for RuleSpec {
    /// Settings that passed once, to be checked again (a restore, a rules file): today's
    /// checks apply to them as to any edit.
    fn from(s: ValidSpec) -> Self {
        RuleSpec {
            name: s.name,
            description: s.description,
            acl: s.acl,
            max_duration: Some(s.max_duration),
            default_duration: Some(s.default_duration),
            allow_extension: s.allow_extension,
            max_total_duration: s.max_total_duration,
            justification: Some(s.justification),
            enabled: s.enabled,
            expires_at: s.expires_at,
            channels: s.channels,
            approval: s.approval.map(|p| ApprovalSpec {
                approvers: p.approvers,
                required: u32::from(p.required),
                pending_window: Some(p.pending_window),
                break_glass: p.break_glass,
                service_approvers: p.service_approvers,
            }),
            max_lead: s.max_lead,
        }
    }
}

#[cfg(test)]
mod tests;
