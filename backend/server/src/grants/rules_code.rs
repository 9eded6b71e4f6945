//! Rules as code: every rule exported as a rules file (`rules_file`), and a file planned
//! (what applying it would create, change and delete) or applied in one transaction. A file
//! is resolved as an edit is: each group and principal in the directory (the SID wins over a
//! name, and the plan says where they disagree), channels by name, the settings validated and
//! the target checked; every problem is reported with its line and column.

use std::{collections::HashMap, sync::Arc};

use jitroles_domain::{
    DomainError,
    access::{AclEntry, AdminRight, Caller},
    audit::AuditAction,
    ports::RuleBatch,
    rule::{
        JustificationPolicy, RoleRule,
        history::{duration_text, lines},
        plan::{Plan, Step, plan},
    },
};

mod resolve;

use resolve::Resolver;

use super::shared::{Shared, rule_audit};
use crate::rules_file::{
    self, Approval, Channels, Entry, FileRule, Justification, Principal, RulesFile, unplaced,
};

const HEADER: &str = "jitroles rules: every rule, its group and principals by name and SID.\n\
Check a change with `jitroles rules plan FILE`, make it with `jitroles rules apply FILE`.";

/// What applying a file does (or did), with the notes (a name and a SID that disagree) and
/// the refusals (changes the API refuses: then nothing is applied).
pub struct PlanReport {
    pub plan: Plan,
    pub notes: Vec<String>,
    pub refusals: Vec<String>,
}

impl PlanReport {
    /// The plan as `jitroles rules plan` prints it: one line per step (a change of one field
    /// is one line), nothing when nothing changes.
    pub fn text(&self) -> String {
        self.plan
            .steps
            .iter()
            .map(Step::text)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

pub struct RulesAsCode(Arc<Shared>);

impl RulesAsCode {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        Self(shared)
    }

    /// Every live rule as a rules file. Applying it to an empty database and exporting again
    /// gives the same file (it holds no ids, versions or times).
    pub async fn export(&self, _: &AdminRight) -> Result<String, DomainError> {
        let rules = self.0.ports.rules.rules().await?;
        let names: HashMap<String, String> = self
            .0
            .ports
            .notifications
            .channels()
            .await?
            .into_iter()
            .map(|c| (c.id, c.spec.name))
            .collect();
        let file = RulesFile {
            rules: rules.iter().map(|r| file_rule(r, &names)).collect(),
        };
        rules_file::write(&file, HEADER)
            .map_err(|e| DomainError::Internal(format!("cannot write the rules file: {e}")))
    }

    /// What applying `text` would do, without writing anything.
    pub async fn plan(
        &self,
        _: &AdminRight,
        text: &str,
        prune: bool,
    ) -> Result<PlanReport, DomainError> {
        let file =
            rules_file::parse(text).map_err(|e| DomainError::invalid("file", e.to_string()))?;
        let mut resolver = Resolver::new(&self.0);
        let mut wanted = Vec::with_capacity(file.rules.len());
        for rule in file.rules {
            if let Some(w) = resolver.rule(rule).await? {
                wanted.push(w);
            }
        }
        resolver.finish()?;
        let current = self.0.ports.rules.rules().await?;
        let plan = plan(current, wanted, prune);
        let live = self.0.ports.rules.live_grant_counts().await?;
        Ok(PlanReport {
            refusals: plan.refusals(&live),
            plan,
            notes: resolver.notes,
        })
    }

    /// Applies `text` in one transaction, or nothing when the plan has refusals or any write
    /// fails (a rule changed meanwhile: `Conflict`).
    pub async fn apply(
        &self,
        right: &AdminRight,
        actor: &Caller,
        text: &str,
        prune: bool,
    ) -> Result<PlanReport, DomainError> {
        let report = self.plan(right, text, prune).await?;
        if !report.refusals.is_empty() {
            return Err(DomainError::FailedPrecondition(format!(
                "nothing was applied: {}",
                report.refusals.join("; ")
            )));
        }
        if !report.plan.writes() {
            return Ok(report);
        }
        let now = self.0.now();
        let mut batch = RuleBatch::default();
        let audit = |action, rule: &RoleRule, changes: &str| {
            let mut event = rule_audit(action, actor, rule, now);
            event.detail = if changes.is_empty() {
                format!("{}, from a rules file", event.detail)
            } else {
                format!("{}, from a rules file:\n{changes}", event.detail)
            };
            event
        };
        for step in &report.plan.steps {
            match step {
                Step::Create(w) => {
                    let rule = RoleRule {
                        id: uuid::Uuid::new_v4().to_string(),
                        spec: w.spec.clone(),
                        target: w.target.clone(),
                        version: 1,
                        created_at: now,
                        updated_at: now,
                    };
                    let event = audit(AuditAction::RuleCreated, &rule, "");
                    batch.create.push((rule, event));
                }
                Step::Change {
                    current,
                    wanted,
                    changes,
                } => {
                    let rule = RoleRule {
                        spec: wanted.spec.clone(),
                        target: wanted.target.clone(),
                        version: current.version + 1,
                        updated_at: now,
                        ..(**current).clone()
                    };
                    let event = audit(AuditAction::RuleUpdated, &rule, &lines(changes));
                    batch.update.push((rule, current.version, event));
                }
                Step::Delete(r) => {
                    let event = audit(AuditAction::RuleDeleted, r, "");
                    batch.delete.push((r.id.clone(), r.version, event));
                }
                Step::Keep(_) => {}
            }
        }
        self.0.ports.rules.apply_rules(batch).await?;
        self.0.rules_changed();
        Ok(report)
    }
}

/// A rule as the file writes it.
fn file_rule(r: &RoleRule, channel_names: &HashMap<String, String>) -> FileRule {
    let s = &r.spec;
    let entries = |acl: &[AclEntry]| {
        acl.iter()
            .map(|e| {
                unplaced(Entry {
                    effect: e.effect.into(),
                    kind: e.kind.into(),
                    name: Some(e.display_name.clone()),
                    sid: Some(e.principal.to_string()),
                })
            })
            .collect()
    };
    let channels = |ids: &[String]| {
        ids.iter()
            .map(|id| unplaced(channel_names.get(id).cloned().unwrap_or_else(|| id.clone())))
            .collect()
    };
    let duration = |d| unplaced(duration_text(d));
    FileRule {
        name: unplaced(s.name.clone()),
        description: s.description.clone(),
        group: unplaced(Principal {
            name: Some(r.target.name.clone()),
            sid: Some(r.target.sid.to_string()),
        }),
        acl: entries(&s.acl),
        max_duration: duration(s.max_duration),
        default_duration: Some(duration(s.default_duration)),
        allow_extension: s.allow_extension,
        max_total_duration: s.max_total_duration.map(duration),
        justification: match s.justification {
            JustificationPolicy::Required => Justification::Required,
            JustificationPolicy::Optional => Justification::Optional,
            JustificationPolicy::Hidden => Justification::Hidden,
        },
        enabled: s.enabled,
        expires_at: s.expires_at.map(unplaced),
        max_lead: s.max_lead.map(duration),
        channels: Channels {
            success: channels(&s.channels.success),
            failure: channels(&s.channels.failure),
            approval: channels(&s.channels.approval),
        },
        approval: s.approval.as_ref().map(|p| Approval {
            approvers: entries(&p.approvers),
            required: u32::from(p.required),
            pending_window: Some(duration(p.pending_window)),
            break_glass: p.break_glass,
            service_approvers: p.service_approvers,
        }),
    }
}
