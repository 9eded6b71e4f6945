//! Rule edits by admins. The target group and every ACL principal are resolved in the
//! directory (a name that resolves to nothing is a field error); the spec is validated by the
//! domain; the store keeps the version check and the audit event in one transaction.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
};

use jitroles_domain::{
    DomainError,
    access::{AclEntry, AdminRight, Caller, PrincipalKind},
    audit::AuditAction,
    directory::{GroupRef, UserLookup, find_group},
    freeze::{Freeze, FreezeScope},
    rule::{
        RoleRule, RuleChannels, RuleSpec, TargetGroup, check_acl_size, check_text,
        history::{Change, RuleVersion, changes, lines},
    },
};

use super::shared::{Shared, rule_audit};

/// A rule as admins see it: with its number of live grants and its own freeze (a freeze of
/// every role is listed by `Emergency::freezes`).
pub struct RuleView {
    pub rule: RoleRule,
    pub live_grants: u32,
    pub frozen: Option<Freeze>,
}

impl RuleView {
    fn of(rule: RoleRule, live: &HashMap<String, u32>, freezes: &[Freeze]) -> Self {
        let frozen = freezes
            .iter()
            .find(|f| f.scope == FreezeScope::Rule(rule.id.clone()))
            .cloned();
        Self {
            live_grants: live.get(&rule.id).copied().unwrap_or(0),
            rule,
            frozen,
        }
    }
}

/// The most versions one history read returns.
pub const MAX_HISTORY: u32 = 500;

pub struct Rules(Arc<Shared>);

impl Rules {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        Self(shared)
    }

    pub async fn create(
        &self,
        _: &AdminRight,
        actor: &Caller,
        mut spec: RuleSpec,
        target: &str,
    ) -> Result<RoleRule, DomainError> {
        let now = self.0.now();
        self.resolve_principals(&mut spec).await?;
        let spec = spec.validate(now)?;
        self.check_channels(&spec.channels).await?;
        let rule = RoleRule {
            id: uuid::Uuid::new_v4().to_string(),
            spec,
            target: self.target(target).await?,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        self.0
            .ports
            .rules
            .create_rule(
                &rule,
                rule_audit(AuditAction::RuleCreated, actor, &rule, now),
            )
            .await?;
        self.0.rules_changed();
        Ok(rule)
    }

    pub async fn update(
        &self,
        _: &AdminRight,
        actor: &Caller,
        id: &str,
        spec: RuleSpec,
        target: &str,
        version: i64,
    ) -> Result<RoleRule, DomainError> {
        let stored = self.0.stored_rule(id).await?;
        self.save(actor, stored, spec, target, version, None).await
    }

    /// Saves version `version` of rule `id` again as its newest, after today's checks (its
    /// principals and group still in the directory, its expiry still ahead, its channels
    /// still there), audited as a restore with what it changes.
    pub async fn restore(
        &self,
        _: &AdminRight,
        actor: &Caller,
        id: &str,
        version: i64,
        expected_version: i64,
    ) -> Result<RoleRule, DomainError> {
        let stored = self.0.stored_rule(id).await?;
        if stored.version != expected_version {
            return Err(DomainError::Conflict(format!(
                "the rule was changed by someone else (now version {}, you read version {expected_version}); reload it and restore again",
                stored.version
            )));
        }
        let old = self
            .0
            .ports
            .rules
            .rule_version(id, version)
            .await?
            .ok_or_else(|| DomainError::NotFound {
                what: format!("version {version} of rule {id}"),
            })?;
        let target = old.rule.target.sid.to_string();
        self.save(
            actor,
            stored,
            old.rule.spec.into(),
            &target,
            expected_version,
            Some(version),
        )
        .await
    }

    /// The newest `limit` versions of rule `id`, newest first, each with what it changed from
    /// the one before (the first version and a deleted rule's last changed nothing).
    pub async fn history(
        &self,
        _: &AdminRight,
        id: &str,
        limit: u32,
    ) -> Result<Vec<(RuleVersion, Vec<Change>)>, DomainError> {
        let limit = limit.clamp(1, MAX_HISTORY);
        let versions = self.0.ports.rules.rule_history(id, limit + 1).await?;
        if versions.is_empty() {
            return Err(DomainError::NotFound {
                what: format!("rule {id}"),
            });
        }
        // each version against the one before it; the oldest read is the limit's extra one
        let diffs: Vec<Vec<Change>> = versions
            .windows(2)
            .map(|pair| changes(&pair[1].rule, &pair[0].rule))
            .chain([Vec::new()])
            .collect();
        Ok(versions
            .into_iter()
            .zip(diffs)
            .take(limit as usize)
            .collect())
    }

    /// An edit or a restore (`restoring`: of that version): the settings resolved and
    /// checked as today's, stored as the next version with the changes in its audit event.
    async fn save(
        &self,
        actor: &Caller,
        stored: RoleRule,
        mut spec: RuleSpec,
        target: &str,
        version: i64,
        restoring: Option<i64>,
    ) -> Result<RoleRule, DomainError> {
        let now = self.0.now();
        self.resolve_principals(&mut spec).await?;
        let spec = spec.validate(now)?;
        self.check_channels(&spec.channels).await?;
        let rule = RoleRule {
            spec,
            target: self.target(target).await?,
            version: version + 1,
            updated_at: now,
            ..stored.clone()
        };
        let changed = changes(&stored, &rule);
        let mut said = Vec::new();
        let action = match restoring {
            None => AuditAction::RuleUpdated,
            Some(v) if changed.is_empty() => {
                return Err(DomainError::FailedPrecondition(format!(
                    "version {v} has the settings the rule has now: there is nothing to restore"
                )));
            }
            Some(v) => {
                said.push(format!("restored version {v}"));
                AuditAction::RuleRestored
            }
        };
        if !changed.is_empty() {
            said.push(lines(&changed));
        }
        let mut audit = rule_audit(action, actor, &rule, now);
        if !said.is_empty() {
            audit.detail = format!("{}:\n{}", audit.detail, said.join("\n"));
        }
        self.0
            .ports
            .rules
            .update_rule(&rule, version, audit)
            .await?;
        self.0.rules_changed();
        Ok(rule)
    }

    pub async fn delete(
        &self,
        _: &AdminRight,
        actor: &Caller,
        id: &str,
        version: i64,
    ) -> Result<(), DomainError> {
        let now = self.0.now();
        let rule = self.0.stored_rule(id).await?;
        self.0
            .ports
            .rules
            .delete_rule(
                id,
                version,
                rule_audit(AuditAction::RuleDeleted, actor, &rule, now),
            )
            .await?;
        self.0.rules_changed();
        Ok(())
    }

    /// A rule with its number of live grants and its own freeze.
    pub async fn get(&self, _: &AdminRight, id: &str) -> Result<RuleView, DomainError> {
        let rule = self.0.stored_rule(id).await?;
        let live = self.0.ports.rules.live_grant_counts().await?;
        let freezes = self.0.ports.rules.freezes().await?;
        Ok(RuleView::of(rule, &live, &freezes))
    }

    /// Rules whose name contains `query` (any case), each with its number of live grants and
    /// its own freeze.
    pub async fn list(&self, _: &AdminRight, query: &str) -> Result<Vec<RuleView>, DomainError> {
        check_text("query", query, 256, false)?;
        let query = query.to_lowercase();
        let live: HashMap<String, u32> = self.0.ports.rules.live_grant_counts().await?;
        let freezes = self.0.ports.rules.freezes().await?;
        Ok(self
            .0
            .ports
            .rules
            .rules()
            .await?
            .into_iter()
            .filter(|r| r.spec.name.to_lowercase().contains(&query))
            .map(|r| RuleView::of(r, &live, &freezes))
            .collect())
    }

    /// Every channel a rule names exists.
    async fn check_channels(&self, channels: &RuleChannels) -> Result<(), DomainError> {
        let known: HashSet<String> = self
            .0
            .ports
            .notifications
            .channels()
            .await?
            .into_iter()
            .map(|c| c.id)
            .collect();
        for (field, ids) in [
            ("success_channels", &channels.success),
            ("failure_channels", &channels.failure),
            ("approval_channels", &channels.approval),
        ] {
            if let Some(id) = ids.iter().find(|id| !known.contains(*id)) {
                return Err(DomainError::invalid(
                    field,
                    format!("there is no channel {id}"),
                ));
            }
        }
        Ok(())
    }

    /// The group `name` (SID, GUID, DN or name) names, or a field error.
    async fn target(&self, name: &str) -> Result<TargetGroup, DomainError> {
        check_text("target_group", name, 1024, false)?;
        if name.trim().is_empty() {
            return Err(DomainError::invalid("target_group", "is required"));
        }
        let group = find_group(self.0.ports.directory.as_ref(), name.trim())
            .await?
            .ok_or_else(|| {
                DomainError::invalid("target_group", format!("the directory has no group {name}"))
            })?;
        self.0.targets.check_new(&self.0.ports, &group).await?;
        Ok(TargetGroup {
            sid: group.sid,
            guid: group.guid,
            dn: group.dn,
            name: group.name,
        })
    }

    /// The rule's ACL and its approvers, each principal resolved in the directory.
    async fn resolve_principals(&self, spec: &mut RuleSpec) -> Result<(), DomainError> {
        self.resolve_acl("acl", &mut spec.acl).await?;
        if let Some(approval) = spec.approval.as_mut() {
            self.resolve_acl("approval.approvers", &mut approval.approvers)
                .await?;
        }
        Ok(())
    }

    /// Every principal of `acl` (the list `field`) must exist in the directory; display names
    /// are taken from it.
    async fn resolve_acl(&self, field: &str, acl: &mut [AclEntry]) -> Result<(), DomainError> {
        check_acl_size(acl)?;
        let directory = &self.0.ports.directory;
        for (i, entry) in acl.iter_mut().enumerate() {
            let name = match entry.kind {
                PrincipalKind::User => directory
                    .find_user(&UserLookup::Sid(entry.principal.clone()))
                    .await?
                    .map(|u| u.display_name),
                PrincipalKind::Group => directory
                    .group(&GroupRef::Sid(entry.principal.clone()))
                    .await?
                    .map(|g| g.name),
            };
            entry.display_name = name.ok_or_else(|| {
                DomainError::invalid(
                    format!("{field}[{i}]"),
                    format!(
                        "the directory has no {} with SID {}",
                        match entry.kind {
                            PrincipalKind::User => "user",
                            PrincipalKind::Group => "group",
                        },
                        entry.principal
                    ),
                )
            })?;
        }
        Ok(())
    }
}
