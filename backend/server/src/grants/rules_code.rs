//! Rules as code: every rule exported as a rules file (`rules_file`), and a file planned
//! (what applying it would create, change and delete) or applied in one transaction. A file
//! is resolved as an edit is: each group and principal in the directory (the SID wins over a
//! name, and the plan says where they disagree), channels by name, the settings validated and
//! the target checked; every problem is reported with its line and column.

use std::{
    collections::{HashMap, hash_map::Entry as Slot},
    sync::Arc,
};

use jitroles_domain::{
    DomainError,
    access::{AclEntry, AdminRight, Caller, PrincipalKind},
    approval::ApprovalSpec,
    audit::AuditAction,
    directory::{DirectoryGroup, DirectoryUser, GroupRef, Sid, UserLookup, find_group},
    ports::RuleBatch,
    rule::{
        JustificationPolicy, RoleRule, RuleChannels, RuleSpec, TargetGroup,
        history::{duration_from_text, duration_text, lines},
        plan::{Plan, Step, Wanted, plan},
    },
};
use serde_saphyr::{Location, Spanned};

use super::shared::{Shared, rule_audit};
use crate::rules_file::{
    self, Approval, Channels, Entry, FileError, FileRule, Justification, Principal, RulesFile,
    unplaced,
};

/// The most problems one answer lists.
const MAX_PROBLEMS: usize = 50;

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

/// Resolves a file's rules, reading each group and principal once, and gathers every problem
/// (up to [`MAX_PROBLEMS`]) and note.
struct Resolver<'a> {
    shared: &'a Shared,
    users: HashMap<String, Option<DirectoryUser>>,
    groups: HashMap<String, Option<DirectoryGroup>>,
    channels: Option<HashMap<String, String>>,
    targets: HashMap<Sid, Result<(), String>>,
    problems: Vec<FileError>,
    notes: Vec<String>,
}

impl<'a> Resolver<'a> {
    fn new(shared: &'a Shared) -> Self {
        Self {
            shared,
            users: HashMap::new(),
            groups: HashMap::new(),
            channels: None,
            targets: HashMap::new(),
            problems: Vec::new(),
            notes: Vec::new(),
        }
    }

    fn problem(&mut self, at: Location, message: impl Into<String>) {
        self.problems.push(FileError::at(at, message));
    }

    /// Every problem found, as one field error.
    fn finish(&self) -> Result<(), DomainError> {
        if self.problems.is_empty() {
            return Ok(());
        }
        let mut text: Vec<String> = self
            .problems
            .iter()
            .take(MAX_PROBLEMS)
            .map(FileError::to_string)
            .collect();
        if self.problems.len() > MAX_PROBLEMS {
            text.push(format!("and {} more", self.problems.len() - MAX_PROBLEMS));
        }
        Err(DomainError::invalid("file", text.join("\n")))
    }

    /// One rule of the file, resolved and checked; `None` when it has problems (recorded).
    async fn rule(&mut self, rule: FileRule) -> Result<Option<Wanted>, DomainError> {
        let before = self.problems.len();
        let at = rule.name.referenced;
        let name = rule.name.value.clone();
        let group = self.group(&rule.group, &name).await?;
        let acl = self.entries(&rule.acl, &name, "acl").await?;
        let max_duration = self.duration(Some(&rule.max_duration));
        let default_duration = self.duration(rule.default_duration.as_ref());
        let max_total_duration = self.duration(rule.max_total_duration.as_ref());
        let max_lead = self.duration(rule.max_lead.as_ref());
        let channels = RuleChannels {
            success: self.channel_ids(&rule.channels.success).await?,
            failure: self.channel_ids(&rule.channels.failure).await?,
            approval: self.channel_ids(&rule.channels.approval).await?,
        };
        let approval = match &rule.approval {
            None => None,
            Some(a) => Some(ApprovalSpec {
                approvers: self.entries(&a.approvers, &name, "approvers").await?,
                required: a.required,
                pending_window: self.duration(a.pending_window.as_ref()),
                break_glass: a.break_glass,
                service_approvers: a.service_approvers,
            }),
        };
        let target = match group {
            Some(g) => match self.check_target(&g).await? {
                Ok(()) => Some(TargetGroup {
                    sid: g.sid,
                    guid: g.guid,
                    dn: g.dn,
                    name: g.name,
                }),
                Err(said) => {
                    self.problem(rule.group.referenced, format!("rule {name:?}: {said}"));
                    None
                }
            },
            None => None,
        };
        if self.problems.len() > before {
            return Ok(None);
        }
        let spec = RuleSpec {
            name: name.clone(),
            description: rule.description,
            acl,
            max_duration,
            default_duration,
            allow_extension: rule.allow_extension,
            max_total_duration,
            justification: Some(match rule.justification {
                Justification::Required => JustificationPolicy::Required,
                Justification::Optional => JustificationPolicy::Optional,
                Justification::Hidden => JustificationPolicy::Hidden,
            }),
            enabled: rule.enabled,
            expires_at: rule.expires_at.map(|t| t.value),
            channels,
            approval,
            max_lead,
        };
        match spec.validate(self.shared.now()) {
            Ok(spec) => Ok(target.map(|target| Wanted { spec, target })),
            Err(e) => {
                let said = file_problem(e)?;
                self.problem(at, format!("rule {name:?}: {said}"));
                Ok(None)
            }
        }
    }

    /// The target check of a group, asked of the directory once per file (rules share
    /// groups); the inner `Err` is the refusal.
    async fn check_target(
        &mut self,
        g: &DirectoryGroup,
    ) -> Result<Result<(), String>, DomainError> {
        if let Some(verdict) = self.targets.get(&g.sid) {
            return Ok(verdict.clone());
        }
        let verdict = match self.shared.targets.check_new(&self.shared.ports, g).await {
            Ok(()) => Ok(()),
            Err(e) => Err(file_problem(e)?),
        };
        self.targets.insert(g.sid.clone(), verdict.clone());
        Ok(verdict)
    }

    fn duration(&mut self, text: Option<&Spanned<String>>) -> Option<std::time::Duration> {
        let text = text?;
        match duration_from_text(&text.value) {
            Ok(d) => Some(d),
            Err(e) => {
                self.problem(text.referenced, e);
                None
            }
        }
    }

    async fn group(
        &mut self,
        group: &Spanned<Principal>,
        rule: &str,
    ) -> Result<Option<DirectoryGroup>, DomainError> {
        let at = group.referenced;
        let p = &group.value;
        let found = match (&p.sid, &p.name) {
            (Some(sid), _) => {
                let Ok(parsed) = sid.parse() else {
                    self.problem(at, format!("rule {rule:?}: {sid:?} is not a SID"));
                    return Ok(None);
                };
                self.group_by(sid, GroupRef::Sid(parsed)).await?
            }
            (None, Some(name)) => self.group_by_name(name).await?,
            (None, None) => {
                self.problem(
                    at,
                    format!("rule {rule:?}: the group needs a name or a SID"),
                );
                return Ok(None);
            }
        };
        let Some(g) = found else {
            let named = p
                .sid
                .as_ref()
                .or(p.name.as_ref())
                .cloned()
                .unwrap_or_default();
            self.problem(
                at,
                format!("rule {rule:?}: the directory has no group {named}"),
            );
            return Ok(None);
        };
        if let (Some(_), Some(name)) = (&p.sid, &p.name)
            && !name.eq_ignore_ascii_case(&g.name)
        {
            self.note(at, rule, "group", name, &g.sid.to_string(), &g.name);
        }
        Ok(Some(g))
    }

    fn note(&mut self, at: Location, rule: &str, what: &str, name: &str, sid: &str, now: &str) {
        self.notes.push(
            FileError::at(
                at,
                format!(
                    "rule {rule:?}: the {what} named {name:?} is {sid}, which the directory calls {now:?}: the SID wins"
                ),
            )
            .to_string(),
        );
    }

    async fn group_by(
        &mut self,
        key: &str,
        by: GroupRef,
    ) -> Result<Option<DirectoryGroup>, DomainError> {
        if let Some(found) = self.groups.get(key) {
            return Ok(found.clone());
        }
        let found = self.shared.ports.directory.group(&by).await?;
        self.groups.insert(key.to_owned(), found.clone());
        Ok(found)
    }

    async fn group_by_name(&mut self, name: &str) -> Result<Option<DirectoryGroup>, DomainError> {
        let key = format!("name:{}", name.to_lowercase());
        if let Some(found) = self.groups.get(&key) {
            return Ok(found.clone());
        }
        let found = find_group(self.shared.ports.directory.as_ref(), name).await?;
        self.groups.insert(key, found.clone());
        Ok(found)
    }

    async fn user_by(
        &mut self,
        key: String,
        by: UserLookup,
    ) -> Result<Option<DirectoryUser>, DomainError> {
        match self.users.entry(key) {
            Slot::Occupied(found) => Ok(found.get().clone()),
            Slot::Vacant(slot) => {
                let found = self.shared.ports.directory.find_user(&by).await?;
                slot.insert(found.clone());
                Ok(found)
            }
        }
    }

    /// An ACL's or the approvers' entries (`list` names which, for messages).
    async fn entries(
        &mut self,
        entries: &[Spanned<Entry>],
        rule: &str,
        list: &str,
    ) -> Result<Vec<AclEntry>, DomainError> {
        let mut out = Vec::with_capacity(entries.len());
        for entry in entries {
            if let Some(e) = self.entry(entry, rule, list).await? {
                out.push(e);
            }
        }
        Ok(out)
    }

    async fn entry(
        &mut self,
        entry: &Spanned<Entry>,
        rule: &str,
        list: &str,
    ) -> Result<Option<AclEntry>, DomainError> {
        let at = entry.referenced;
        let e = &entry.value;
        let kind: PrincipalKind = e.kind.into();
        let kind_word = match kind {
            PrincipalKind::User => "user",
            PrincipalKind::Group => "group",
        };
        let sid = match &e.sid {
            Some(text) => match text.parse::<Sid>() {
                Ok(sid) => Some(sid),
                Err(_) => {
                    self.problem(at, format!("rule {rule:?}, {list}: {text:?} is not a SID"));
                    return Ok(None);
                }
            },
            None => None,
        };
        // (SID, the names the directory knows it by, the name shown)
        let found: Option<(Sid, Vec<String>, String)> = match (kind, &sid, &e.name) {
            (_, None, None) => {
                self.problem(
                    at,
                    format!("rule {rule:?}, {list}: an entry needs a name or a SID"),
                );
                return Ok(None);
            }
            (PrincipalKind::User, Some(sid), _) => self
                .user_by(format!("sid:{sid}"), UserLookup::Sid(sid.clone()))
                .await?
                .map(|u| {
                    (
                        u.sid,
                        vec![u.account_name, u.display_name.clone()],
                        u.display_name,
                    )
                }),
            (PrincipalKind::User, None, Some(name)) => self
                .user_by(
                    format!("name:{}", name.to_lowercase()),
                    UserLookup::SamAccountName(name.clone()),
                )
                .await?
                .map(|u| {
                    (
                        u.sid,
                        vec![u.account_name, u.display_name.clone()],
                        u.display_name,
                    )
                }),
            (PrincipalKind::Group, Some(sid), _) => self
                .group_by(&sid.to_string(), GroupRef::Sid(sid.clone()))
                .await?
                .map(|g| (g.sid, vec![g.name.clone()], g.name)),
            (PrincipalKind::Group, None, Some(name)) => self
                .group_by_name(name)
                .await?
                .map(|g| (g.sid, vec![g.name.clone()], g.name)),
        };
        let Some((found_sid, known_as, shown)) = found else {
            let named = e
                .sid
                .as_ref()
                .or(e.name.as_ref())
                .cloned()
                .unwrap_or_default();
            self.problem(
                at,
                format!("rule {rule:?}, {list}: the directory has no {kind_word} {named}"),
            );
            return Ok(None);
        };
        if let (Some(_), Some(name)) = (&sid, &e.name)
            && !known_as.iter().any(|k| k.eq_ignore_ascii_case(name))
        {
            self.note(at, rule, kind_word, name, &found_sid.to_string(), &shown);
        }
        Ok(Some(AclEntry {
            principal: found_sid,
            display_name: shown,
            kind,
            effect: e.effect.into(),
        }))
    }

    /// Channel ids for channel names; an unknown name is a problem.
    async fn channel_ids(&mut self, names: &[Spanned<String>]) -> Result<Vec<String>, DomainError> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        if self.channels.is_none() {
            let all = self.shared.ports.notifications.channels().await?;
            self.channels = Some(
                all.into_iter()
                    .map(|c| (c.spec.name.to_lowercase(), c.id))
                    .collect(),
            );
        }
        let mut ids = Vec::with_capacity(names.len());
        for name in names {
            let id = self
                .channels
                .as_ref()
                .and_then(|c| c.get(&name.value.to_lowercase()).cloned());
            match id {
                Some(id) => ids.push(id),
                None => self.problem(
                    name.referenced,
                    format!("there is no channel named {:?}", name.value),
                ),
            }
        }
        Ok(ids)
    }
}

/// A check's refusal as a problem of the file; a failure of the directory or the database is
/// not the file's and ends the plan.
fn file_problem(e: DomainError) -> Result<String, DomainError> {
    match e {
        DomainError::Invalid { field, reason } => Ok(format!("{field} {reason}")),
        DomainError::FailedPrecondition(why) | DomainError::Denied(why) => Ok(why),
        DomainError::NotFound { what } => Ok(format!("{what} not found")),
        other => Err(other),
    }
}
