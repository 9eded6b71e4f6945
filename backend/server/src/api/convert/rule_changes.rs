//! What changed in rules ⇄ proto: a rule's saved versions with their changes, and a rules
//! file's plan.

use jitroles_domain::rule::{
    history::{Change, RuleVersion},
    plan::Step,
};
use jitroles_proto::v1 as pb;

use super::{audit_action, rule, timestamp};
use crate::grants::{rules::RuleView, rules_code::PlanReport};

fn rule_change(c: Change) -> pb::RuleChange {
    pb::RuleChange {
        text: c.line(),
        field: c.field,
        before: c.before,
        after: c.after,
    }
}

/// A rules file's plan (or what applying it did).
pub fn rules_plan(report: PlanReport) -> pb::RulesPlan {
    let summary = report.plan.summary();
    pb::RulesPlan {
        unchanged: u32::try_from(report.plan.unchanged).unwrap_or(u32::MAX),
        summary,
        notes: report.notes,
        refusals: report.refusals,
        steps: report
            .plan
            .steps
            .into_iter()
            .map(|step| {
                let (action, changes) = match &step {
                    Step::Create(_) => (pb::RulesPlanAction::Create, Vec::new()),
                    Step::Change { changes, .. } => (pb::RulesPlanAction::Change, changes.clone()),
                    Step::Delete(_) => (pb::RulesPlanAction::Delete, Vec::new()),
                    Step::Keep(_) => (pb::RulesPlanAction::Keep, Vec::new()),
                };
                pb::RulesPlanStep {
                    action: action.into(),
                    rule_name: step.name().to_owned(),
                    text: step.text(),
                    changes: changes.into_iter().map(rule_change).collect(),
                }
            })
            .collect(),
    }
}

/// A saved version of a rule with what it changed.
pub fn rule_version(v: RuleVersion, changes: Vec<Change>) -> pb::RuleVersion {
    pb::RuleVersion {
        rule: Some(rule(RuleView {
            rule: v.rule,
            live_grants: 0,
            frozen: None,
        })),
        saved_at: Some(timestamp(v.at)),
        saved_by: v.actor,
        action: audit_action(v.action).into(),
        changes: changes.into_iter().map(rule_change).collect(),
    }
}
