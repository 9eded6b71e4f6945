//! What applying a rules file would do: each rule of the file matched to a live rule by name
//! (any case), and each one created, changed (with its field-level changes) or left as it is;
//! live rules missing from the file deleted only when pruning, else kept and said. A change
//! the API would refuse (a group change or a deletion while grants are live) is a refusal,
//! and a plan with refusals is not applied at all.

use std::collections::HashMap;

use super::{
    RoleRule, TargetGroup, ValidSpec,
    history::{Change, changes},
};

/// A rule as a file wants it: checked settings and the group, resolved in the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub spec: ValidSpec,
    pub target: TargetGroup,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Create(Wanted),
    Change {
        current: Box<RoleRule>,
        wanted: Wanted,
        changes: Vec<Change>,
    },
    Delete(RoleRule),
    /// Live, not in the file, and not pruned.
    Keep(RoleRule),
}

impl Step {
    /// The rule's name as the plan shows it.
    pub fn name(&self) -> &str {
        match self {
            Self::Create(w) | Self::Change { wanted: w, .. } => &w.spec.name,
            Self::Delete(r) | Self::Keep(r) => &r.spec.name,
        }
    }

    /// The step for people: one line for a creation, a deletion, a kept rule and a change of
    /// one field; a change of several fields is a line and one indented line per field.
    pub fn text(&self) -> String {
        let name = self.name();
        match self {
            Self::Create(w) => format!(
                "+ {name:?}: create, group {} ({})",
                w.target.name, w.target.sid
            ),
            Self::Change { changes, .. } if changes.len() == 1 => {
                format!("~ {name:?}: {}", changes[0].line())
            }
            Self::Change { changes, .. } => {
                std::iter::once(format!("~ {name:?}: {} changes", changes.len()))
                    .chain(changes.iter().map(|c| format!("    {}", c.line())))
                    .collect::<Vec<_>>()
                    .join("\n")
            }
            Self::Delete(_) => format!("- {name:?}: delete"),
            Self::Keep(_) => format!("= {name:?}: kept, not in the file (pruning would delete it)"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// Creations and changes in the file's order, then deletions and kept rules by name.
    pub steps: Vec<Step>,
    /// Rules of the file that are as the file wants them.
    pub unchanged: usize,
}

impl Plan {
    /// Whether applying it writes anything.
    pub fn writes(&self) -> bool {
        self.steps.iter().any(|s| !matches!(s, Step::Keep(_)))
    }

    /// What the API would refuse, per rule, given the live grants per rule id: a deletion, or
    /// a change of group, while grants are live.
    pub fn refusals(&self, live: &HashMap<String, u32>) -> Vec<String> {
        let live_of = |r: &RoleRule| live.get(&r.id).copied().unwrap_or(0);
        self.steps
            .iter()
            .filter_map(|s| match s {
                Step::Change {
                    current, wanted, ..
                } if current.target.sid != wanted.target.sid && live_of(current) > 0 => {
                    Some(format!(
                        "{:?}: its group cannot change while it has {} (revoke them or let them end first)",
                        current.spec.name,
                        live_grants(live_of(current))
                    ))
                }
                Step::Delete(r) if live_of(r) > 0 => Some(format!(
                    "{:?}: cannot be deleted while it has {} (revoke them or let them end first)",
                    r.spec.name,
                    live_grants(live_of(r))
                )),
                _ => None,
            })
            .collect()
    }

    /// "2 to create, 1 to change, 0 to delete, 497 unchanged, 0 kept".
    pub fn summary(&self) -> String {
        let count = |f: fn(&Step) -> bool| self.steps.iter().filter(|s| f(s)).count();
        format!(
            "{} to create, {} to change, {} to delete, {} unchanged, {} kept",
            count(|s| matches!(s, Step::Create(_))),
            count(|s| matches!(s, Step::Change { .. })),
            count(|s| matches!(s, Step::Delete(_))),
            self.unchanged,
            count(|s| matches!(s, Step::Keep(_))),
        )
    }
}

fn live_grants(n: u32) -> String {
    if n == 1 {
        "1 live grant".into()
    } else {
        format!("{n} live grants")
    }
}

/// The plan for `wanted` (names unique, any case) over the live rules `current`.
pub fn plan(current: Vec<RoleRule>, wanted: Vec<Wanted>, prune: bool) -> Plan {
    let mut live: HashMap<String, RoleRule> = current
        .into_iter()
        .map(|r| (r.spec.name.to_lowercase(), r))
        .collect();
    let mut out = Plan::default();
    for w in wanted {
        match live.remove(&w.spec.name.to_lowercase()) {
            None => out.steps.push(Step::Create(w)),
            Some(current) => {
                let after = RoleRule {
                    spec: w.spec.clone(),
                    target: w.target.clone(),
                    ..current.clone()
                };
                let changes = changes(&current, &after);
                if changes.is_empty() {
                    out.unchanged += 1;
                } else {
                    out.steps.push(Step::Change {
                        current: Box::new(current),
                        wanted: w,
                        changes,
                    });
                }
            }
        }
    }
    let mut missing: Vec<RoleRule> = live.into_values().collect();
    missing.sort_by_key(|r| r.spec.name.to_lowercase());
    out.steps.extend(missing.into_iter().map(|r| {
        if prune {
            Step::Delete(r)
        } else {
            Step::Keep(r)
        }
    }));
    out
}

#[cfg(test)]
mod tests;
