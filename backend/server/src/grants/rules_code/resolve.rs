//! Resolving a rules file: each group and principal looked up in the directory once (the SID
//! wins over a disagreeing name, noted with its line), channels by name, durations read, the
//! settings validated and each distinct target group checked once; every problem gathered
//! with its line and column.

use std::collections::{HashMap, hash_map::Entry as Slot};

use jitroles_domain::{
    DomainError,
    access::{AclEntry, PrincipalKind},
    approval::ApprovalSpec,
    directory::{DirectoryGroup, DirectoryUser, GroupRef, Sid, UserLookup, find_group},
    rule::{
        JustificationPolicy, RuleChannels, RuleSpec, TargetGroup, history::duration_from_text,
        plan::Wanted,
    },
};
use serde_saphyr::{Location, Spanned};

use crate::{
    grants::shared::Shared,
    rules_file::{Entry, FileError, FileRule, Justification, Principal},
};

/// The most problems one answer lists.
const MAX_PROBLEMS: usize = 50;

/// Resolves a file's rules, reading each group and principal once, and gathers every problem
/// (up to [`MAX_PROBLEMS`]) and note.
pub(super) struct Resolver<'a> {
    shared: &'a Shared,
    users: HashMap<String, Option<DirectoryUser>>,
    groups: HashMap<String, Option<DirectoryGroup>>,
    channels: Option<HashMap<String, String>>,
    targets: HashMap<Sid, Result<(), String>>,
    problems: Vec<FileError>,
    pub(super) notes: Vec<String>,
}

impl<'a> Resolver<'a> {
    pub(super) fn new(shared: &'a Shared) -> Self {
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
    pub(super) fn finish(&self) -> Result<(), DomainError> {
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
    pub(super) async fn rule(&mut self, rule: FileRule) -> Result<Option<Wanted>, DomainError> {
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
