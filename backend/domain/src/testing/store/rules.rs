//! [`MemoryStore`] as the [`RuleStore`]: rules, versioned and soft-deleted, each name once.

use super::*;

#[async_trait]
impl RuleStore for MemoryStore {
    async fn create_rule(&self, rule: &RoleRule, audit: NewAudit) -> Result<(), DomainError> {
        lock(&self.0).create_rule(rule, audit)
    }

    async fn rule(&self, id: &str) -> Result<Option<RoleRule>, DomainError> {
        Ok(lock(&self.0).live_rule(id).cloned())
    }

    async fn rules(&self) -> Result<Vec<RoleRule>, DomainError> {
        let mut rules: Vec<RoleRule> = lock(&self.0)
            .rules
            .values()
            .filter(|(_, deleted)| deleted.is_none())
            .map(|(r, _)| r.clone())
            .collect();
        rules.sort_by_key(|r| r.spec.name.to_lowercase());
        Ok(rules)
    }

    async fn update_rule(
        &self,
        rule: &RoleRule,
        expected_version: i64,
        audit: NewAudit,
    ) -> Result<(), DomainError> {
        lock(&self.0).update_rule(rule, expected_version, audit)
    }

    async fn delete_rule(
        &self,
        id: &str,
        expected_version: i64,
        audit: NewAudit,
    ) -> Result<(), DomainError> {
        lock(&self.0).delete_rule(id, expected_version, audit)
    }

    async fn apply_rules(&self, batch: RuleBatch) -> Result<(), DomainError> {
        let mut t = lock(&self.0);
        // one transaction: all of it, or the tables as they were
        let before = t.clone();
        let done = (|| {
            for (id, version, audit) in batch.delete {
                t.delete_rule(&id, version, audit)?;
            }
            for (rule, version, audit) in batch.update {
                t.update_rule(&rule, version, audit)?;
            }
            for (rule, audit) in batch.create {
                t.create_rule(&rule, audit)?;
            }
            Ok(())
        })();
        if done.is_err() {
            *t = before;
        }
        done
    }

    async fn rule_history(&self, id: &str, limit: u32) -> Result<Vec<RuleVersion>, DomainError> {
        let t = lock(&self.0);
        Ok(t.rule_versions
            .get(id)
            .map(|all| {
                all.iter()
                    .rev()
                    .take(usize::try_from(limit).unwrap_or(usize::MAX))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn rule_version(
        &self,
        id: &str,
        version: i64,
    ) -> Result<Option<RuleVersion>, DomainError> {
        let t = lock(&self.0);
        Ok(t.rule_versions
            .get(id)
            .and_then(|all| all.iter().find(|v| v.rule.version == version).cloned()))
    }

    async fn live_grant_counts(&self) -> Result<HashMap<String, u32>, DomainError> {
        let t = lock(&self.0);
        let mut counts: HashMap<String, u32> = HashMap::new();
        for g in t.grants.values() {
            if GrantState::LIVE.contains(&g.state) {
                *counts.entry(g.rule_id.clone()).or_default() += 1;
            }
        }
        Ok(counts)
    }

    async fn freezes(&self) -> Result<Vec<Freeze>, DomainError> {
        let mut all: Vec<Freeze> = lock(&self.0).freezes.values().cloned().collect();
        all.sort_by(|a, b| a.scope.cmp(&b.scope));
        Ok(all)
    }

    async fn freeze(&self, freeze: &Freeze, audit: NewAudit) -> Result<(), DomainError> {
        let mut t = lock(&self.0);
        t.freezes
            .insert(freeze.scope.key().to_owned(), freeze.clone());
        t.record(audit);
        Ok(())
    }

    async fn unfreeze(&self, scope: &FreezeScope, audit: NewAudit) -> Result<(), DomainError> {
        let mut t = lock(&self.0);
        if t.freezes.remove(scope.key()).is_none() {
            return Err(not_frozen(scope));
        }
        t.record(audit);
        Ok(())
    }
}

/// The rule writes, on the tables a caller holds (one at a time, or a batch).
impl Tables {
    fn create_rule(&mut self, rule: &RoleRule, audit: NewAudit) -> Result<(), DomainError> {
        if self.name_taken(rule) {
            return Err(DomainError::AlreadyExists(format!(
                "a rule named {} exists",
                rule.spec.name
            )));
        }
        self.rules.insert(rule.id.clone(), (rule.clone(), None));
        self.keep_version(rule, &audit);
        self.record(audit);
        Ok(())
    }

    fn update_rule(
        &mut self,
        rule: &RoleRule,
        expected_version: i64,
        audit: NewAudit,
    ) -> Result<(), DomainError> {
        let stored = self
            .live_rule(&rule.id)
            .cloned()
            .ok_or_else(|| DomainError::NotFound {
                what: format!("rule {}", rule.id),
            })?;
        if stored.target.sid != rule.target.sid && self.live_count(&rule.id) > 0 {
            return Err(DomainError::FailedPrecondition(
                "the rule has live grants: its group cannot change until they end".into(),
            ));
        }
        if stored.version != expected_version {
            return Err(stale("rule", stored.version, expected_version));
        }
        if self.name_taken(rule) {
            return Err(DomainError::AlreadyExists(format!(
                "a rule named {} exists",
                rule.spec.name
            )));
        }
        let kept = RoleRule {
            created_at: stored.created_at,
            ..rule.clone()
        };
        self.keep_version(&kept, &audit);
        self.rules.insert(rule.id.clone(), (kept, None));
        self.record(audit);
        Ok(())
    }

    fn delete_rule(
        &mut self,
        id: &str,
        expected_version: i64,
        audit: NewAudit,
    ) -> Result<(), DomainError> {
        if self.live_count(id) > 0 {
            return Err(DomainError::FailedPrecondition(
                "the rule has live grants: revoke them or let them expire first".into(),
            ));
        }
        let Some(stored) = self.live_rule(id).cloned() else {
            return Err(DomainError::NotFound {
                what: format!("rule {id}"),
            });
        };
        if stored.version != expected_version {
            return Err(stale("rule", stored.version, expected_version));
        }
        let deleted = RoleRule {
            version: stored.version + 1,
            updated_at: audit.at,
            ..stored
        };
        self.keep_version(&deleted, &audit);
        self.rules.insert(id.to_owned(), (deleted, Some(audit.at)));
        self.freezes.remove(id);
        self.record(audit);
        Ok(())
    }
}
