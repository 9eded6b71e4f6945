//! The [`RuleStore`] port: rules, versioned and soft-deleted, each change committed with its
//! audit event; a rule's channels in `rule_channels`.

use std::{collections::HashMap, time::Duration};

use async_trait::async_trait;
use jitroles_domain::{
    DomainError,
    access::{AclEntry, Effect, PrincipalKind},
    approval::ApprovalPolicy,
    audit::NewAudit,
    freeze::{Freeze, FreezeScope, not_frozen},
    ports::{RuleBatch, RuleStore},
    rule::{
        JustificationPolicy, RoleRule, RuleChannels, TargetGroup, ValidSpec, history::RuleVersion,
    },
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, FromQueryResult,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait, TryIntoModel,
    sea_query::{Expr, ExprTrait},
};
use serde::{Deserialize, Serialize};

use crate::{
    entity::{freeze, grant, rule},
    records::{corrupt, insert_audit, live_states, stale, unique_or},
    rule_channels, rule_versions,
    store::{Database, db_error},
};

/// An ACL entry as stored in the rule's JSON columns (the ACL and the approvers).
#[derive(Serialize, Deserialize)]
struct StoredAce {
    sid: String,
    name: String,
    group: bool,
    deny: bool,
}

/// The approval policy as stored in the rule's `approval` JSON column (the store's own layout).
#[derive(Serialize, Deserialize)]
struct StoredApproval {
    approvers: Vec<StoredAce>,
    required: u8,
    pending_window_secs: u64,
    break_glass: bool,
    service_approvers: bool,
}

fn to_acl(aces: Vec<StoredAce>) -> Result<Vec<AclEntry>, DomainError> {
    aces.into_iter()
        .map(|a| {
            Ok(AclEntry {
                principal: a.sid.parse().map_err(|e| corrupt("ACL SID", e))?,
                display_name: a.name,
                kind: if a.group {
                    PrincipalKind::Group
                } else {
                    PrincipalKind::User
                },
                effect: if a.deny { Effect::Deny } else { Effect::Allow },
            })
        })
        .collect()
}

fn stored_acl(acl: &[AclEntry]) -> Vec<StoredAce> {
    acl.iter()
        .map(|a| StoredAce {
            sid: a.principal.to_string(),
            name: a.display_name.clone(),
            group: a.kind == PrincipalKind::Group,
            deny: a.effect == Effect::Deny,
        })
        .collect()
}

fn to_approval(json: &str) -> Result<ApprovalPolicy, DomainError> {
    let stored: StoredApproval =
        serde_json::from_str(json).map_err(|e| corrupt("approval policy", e))?;
    Ok(ApprovalPolicy {
        approvers: to_acl(stored.approvers)?,
        required: stored.required,
        pending_window: Duration::from_secs(stored.pending_window_secs),
        break_glass: stored.break_glass,
        service_approvers: stored.service_approvers,
    })
}

fn stored_approval(p: &ApprovalPolicy) -> String {
    let stored = StoredApproval {
        approvers: stored_acl(&p.approvers),
        required: p.required,
        pending_window_secs: p.pending_window.as_secs(),
        break_glass: p.break_glass,
        service_approvers: p.service_approvers,
    };
    serde_json::to_string(&stored).unwrap_or_else(|_| "{}".into())
}

pub(crate) fn to_rule(r: rule::Model, channels: RuleChannels) -> Result<RoleRule, DomainError> {
    let aces: Vec<StoredAce> = serde_json::from_str(&r.acl).map_err(|e| corrupt("rule ACL", e))?;
    let acl = to_acl(aces)?;
    let secs = |n: i64| Duration::from_secs(u64::try_from(n).unwrap_or(0));
    Ok(RoleRule {
        id: r.id,
        spec: ValidSpec {
            name: r.name,
            description: r.description,
            acl,
            max_duration: secs(r.max_duration_secs),
            default_duration: secs(r.default_duration_secs),
            allow_extension: r.allow_extension,
            max_total_duration: r.max_total_duration_secs.map(secs),
            justification: JustificationPolicy::parse(&r.justification)
                .ok_or_else(|| corrupt("justification policy", &r.justification))?,
            enabled: r.enabled,
            expires_at: r.expires_at,
            channels,
            approval: r.approval.as_deref().map(to_approval).transpose()?,
            max_lead: r.max_lead_secs.map(secs),
        },
        target: TargetGroup {
            sid: r.target_sid.parse().map_err(|e| corrupt("group SID", e))?,
            guid: r.target_guid,
            dn: r.target_dn,
            name: r.target_name,
        },
        version: r.version,
        created_at: r.created_at,
        updated_at: r.updated_at,
    })
}

fn rule_row(r: &RoleRule) -> rule::ActiveModel {
    let aces = stored_acl(&r.spec.acl);
    let secs = |d: Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
    rule::ActiveModel {
        id: Set(r.id.clone()),
        name: Set(r.spec.name.clone()),
        name_key: Set(r.spec.name.to_lowercase()),
        description: Set(r.spec.description.clone()),
        target_sid: Set(r.target.sid.to_string()),
        target_guid: Set(r.target.guid.clone()),
        target_dn: Set(r.target.dn.clone()),
        target_name: Set(r.target.name.clone()),
        acl: Set(serde_json::to_string(&aces).unwrap_or_else(|_| "[]".into())),
        max_duration_secs: Set(secs(r.spec.max_duration)),
        default_duration_secs: Set(secs(r.spec.default_duration)),
        allow_extension: Set(r.spec.allow_extension),
        max_total_duration_secs: Set(r.spec.max_total_duration.map(secs)),
        justification: Set(r.spec.justification.as_str().to_owned()),
        enabled: Set(r.spec.enabled),
        expires_at: Set(r.spec.expires_at),
        approval: Set(r.spec.approval.as_ref().map(stored_approval)),
        max_lead_secs: Set(r.spec.max_lead.map(secs)),
        version: Set(r.version),
        created_at: Set(r.created_at),
        updated_at: Set(r.updated_at),
        deleted_at: Set(None),
    }
}

/// What every saved rule writes after its row: its channels, its version, its audit event.
async fn saved(
    tx: &DatabaseTransaction,
    r: &RoleRule,
    row: &rule::Model,
    audit: NewAudit,
) -> Result<(), DomainError> {
    rule_channels::replace(tx, &r.id, &r.spec.channels).await?;
    rule_versions::record(
        tx,
        row,
        &r.spec.channels,
        audit.at,
        &audit.actor,
        audit.action,
    )
    .await?;
    insert_audit(tx, audit).await
}

impl Database {
    async fn create_in(
        &self,
        tx: &DatabaseTransaction,
        r: &RoleRule,
        audit: NewAudit,
    ) -> Result<(), DomainError> {
        let row = rule_row(r);
        let model = row.clone().try_into_model().map_err(db_error)?;
        rule::Entity::insert(row)
            .exec_without_returning(tx)
            .await
            .map_err(|e| {
                unique_or(e, || {
                    DomainError::AlreadyExists(format!("a rule named {} exists", r.spec.name))
                })
            })?;
        saved(tx, r, &model, audit).await
    }

    async fn update_in(
        &self,
        tx: &DatabaseTransaction,
        r: &RoleRule,
        expected_version: i64,
        audit: NewAudit,
    ) -> Result<(), DomainError> {
        let stored = rule::Entity::find_by_id(r.id.clone())
            .filter(rule::Column::DeletedAt.is_null())
            .one(tx)
            .await
            .map_err(db_error)?
            .ok_or_else(|| DomainError::NotFound {
                what: format!("rule {}", r.id),
            })?;
        if stored.target_sid != r.target.sid.as_str() && self.live_grant_count(tx, &r.id).await? > 0
        {
            return Err(DomainError::FailedPrecondition(
                "the rule has live grants: its group cannot change until they end".into(),
            ));
        }
        rule_versions::record_if_missing(tx, &stored).await?;
        let mut row = rule_row(r);
        row.created_at = Set(stored.created_at);
        let model = row.clone().try_into_model().map_err(db_error)?;
        let done = rule::Entity::update_many()
            .set(row)
            .filter(rule::Column::Id.eq(r.id.clone()))
            .filter(rule::Column::Version.eq(expected_version))
            .filter(rule::Column::DeletedAt.is_null())
            .exec(tx)
            .await
            .map_err(|e| {
                unique_or(e, || {
                    DomainError::AlreadyExists(format!("a rule named {} exists", r.spec.name))
                })
            })?;
        if done.rows_affected == 0 {
            return Err(stale("rule", stored.version, expected_version));
        }
        saved(tx, r, &model, audit).await
    }

    async fn delete_in(
        &self,
        tx: &DatabaseTransaction,
        id: &str,
        expected_version: i64,
        audit: NewAudit,
    ) -> Result<(), DomainError> {
        if self.live_grant_count(tx, id).await? > 0 {
            return Err(DomainError::FailedPrecondition(
                "the rule has live grants: revoke them or let them expire first".into(),
            ));
        }
        let stored = rule::Entity::find_by_id(id.to_owned())
            .filter(rule::Column::DeletedAt.is_null())
            .one(tx)
            .await
            .map_err(db_error)?
            .ok_or_else(|| DomainError::NotFound {
                what: format!("rule {id}"),
            })?;
        if stored.version != expected_version {
            return Err(stale("rule", stored.version, expected_version));
        }
        let done = rule::Entity::update_many()
            .col_expr(rule::Column::DeletedAt, Expr::value(audit.at))
            .col_expr(
                rule::Column::Version,
                Expr::col(rule::Column::Version).add(1),
            )
            .filter(rule::Column::Id.eq(id))
            .filter(rule::Column::Version.eq(expected_version))
            .filter(rule::Column::DeletedAt.is_null())
            .exec(tx)
            .await
            .map_err(db_error)?;
        if done.rows_affected == 0 {
            return Err(stale("rule", stored.version + 1, expected_version));
        }
        rule_versions::record_if_missing(tx, &stored).await?;
        let channels = rule_channels::of_rule(tx, id).await?;
        let deleted = rule::Model {
            version: stored.version + 1,
            updated_at: audit.at,
            deleted_at: Some(audit.at),
            ..stored
        };
        rule_versions::record(
            tx,
            &deleted,
            &channels,
            audit.at,
            &audit.actor,
            audit.action,
        )
        .await?;
        freeze::Entity::delete_by_id(id.to_owned())
            .exec(tx)
            .await
            .map_err(db_error)?;
        insert_audit(tx, audit).await?;
        Ok(())
    }

    async fn live_grant_count(
        &self,
        db: &impl ConnectionTrait,
        rule_id: &str,
    ) -> Result<u64, DomainError> {
        grant::Entity::find()
            .filter(grant::Column::RuleId.eq(rule_id))
            .filter(grant::Column::State.is_in(live_states()))
            .count(db)
            .await
            .map_err(db_error)
    }
}

#[async_trait]
impl RuleStore for Database {
    async fn create_rule(&self, r: &RoleRule, audit: NewAudit) -> Result<(), DomainError> {
        let tx = self.conn.begin().await.map_err(db_error)?;
        self.create_in(&tx, r, audit).await?;
        tx.commit().await.map_err(db_error)
    }

    async fn rule(&self, id: &str) -> Result<Option<RoleRule>, DomainError> {
        let Some(r) = rule::Entity::find_by_id(id.to_owned())
            .filter(rule::Column::DeletedAt.is_null())
            .one(&self.conn)
            .await
            .map_err(db_error)?
        else {
            return Ok(None);
        };
        let channels = rule_channels::of_rule(&self.conn, id).await?;
        to_rule(r, channels).map(Some)
    }

    async fn rules(&self) -> Result<Vec<RoleRule>, DomainError> {
        let found = rule::Entity::find()
            .filter(rule::Column::DeletedAt.is_null())
            .order_by_asc(rule::Column::NameKey)
            .all(&self.conn)
            .await
            .map_err(db_error)?;
        let mut channels = rule_channels::all(&self.conn).await?;
        found
            .into_iter()
            .map(|r| {
                let lists = channels.remove(&r.id).unwrap_or_default();
                to_rule(r, lists)
            })
            .collect()
    }

    async fn update_rule(
        &self,
        r: &RoleRule,
        expected_version: i64,
        audit: NewAudit,
    ) -> Result<(), DomainError> {
        let tx = self.conn.begin().await.map_err(db_error)?;
        self.update_in(&tx, r, expected_version, audit).await?;
        tx.commit().await.map_err(db_error)
    }

    async fn delete_rule(
        &self,
        id: &str,
        expected_version: i64,
        audit: NewAudit,
    ) -> Result<(), DomainError> {
        let tx = self.conn.begin().await.map_err(db_error)?;
        self.delete_in(&tx, id, expected_version, audit).await?;
        tx.commit().await.map_err(db_error)
    }

    async fn apply_rules(&self, batch: RuleBatch) -> Result<(), DomainError> {
        let tx = self.conn.begin().await.map_err(db_error)?;
        for (id, version, audit) in batch.delete {
            self.delete_in(&tx, &id, version, audit).await?;
        }
        for (rule, version, audit) in batch.update {
            self.update_in(&tx, &rule, version, audit).await?;
        }
        for (rule, audit) in batch.create {
            self.create_in(&tx, &rule, audit).await?;
        }
        tx.commit().await.map_err(db_error)
    }

    async fn rule_history(&self, id: &str, limit: u32) -> Result<Vec<RuleVersion>, DomainError> {
        rule_versions::history(&self.conn, id, u64::from(limit)).await
    }

    async fn rule_version(
        &self,
        id: &str,
        version: i64,
    ) -> Result<Option<RuleVersion>, DomainError> {
        rule_versions::version(&self.conn, id, version).await
    }

    async fn live_grant_counts(&self) -> Result<HashMap<String, u32>, DomainError> {
        #[derive(FromQueryResult)]
        struct Count {
            rule_id: String,
            n: i64,
        }
        let counts = grant::Entity::find()
            .select_only()
            .column(grant::Column::RuleId)
            .column_as(grant::Column::Id.count(), "n")
            .filter(grant::Column::State.is_in(live_states()))
            .group_by(grant::Column::RuleId)
            .into_model::<Count>()
            .all(&self.conn)
            .await
            .map_err(db_error)?;
        Ok(counts
            .into_iter()
            .map(|c| (c.rule_id, u32::try_from(c.n).unwrap_or(u32::MAX)))
            .collect())
    }

    async fn freezes(&self) -> Result<Vec<Freeze>, DomainError> {
        let rows = freeze::Entity::find()
            .all(&self.conn)
            .await
            .map_err(db_error)?;
        let mut all: Vec<Freeze> = rows
            .into_iter()
            .map(|f| Freeze {
                scope: FreezeScope::from_key(&f.scope),
                reason: f.reason,
                frozen_by: f.frozen_by,
                frozen_at: f.frozen_at,
            })
            .collect();
        all.sort_by(|a, b| a.scope.cmp(&b.scope));
        Ok(all)
    }

    async fn freeze(&self, f: &Freeze, audit: NewAudit) -> Result<(), DomainError> {
        let row = freeze::ActiveModel {
            scope: Set(f.scope.key().to_owned()),
            reason: Set(f.reason.clone()),
            frozen_by: Set(f.frozen_by.clone()),
            frozen_at: Set(f.frozen_at),
        };
        let tx = self.conn.begin().await.map_err(db_error)?;
        // an upsert: freezing what is frozen replaces the reason (on every database)
        freeze::Entity::insert(row)
            .on_conflict(
                sea_orm::sea_query::OnConflict::column(freeze::Column::Scope)
                    .update_columns([
                        freeze::Column::Reason,
                        freeze::Column::FrozenBy,
                        freeze::Column::FrozenAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&tx)
            .await
            .map_err(db_error)?;
        insert_audit(&tx, audit).await?;
        tx.commit().await.map_err(db_error)
    }

    async fn unfreeze(&self, scope: &FreezeScope, audit: NewAudit) -> Result<(), DomainError> {
        let tx = self.conn.begin().await.map_err(db_error)?;
        let done = freeze::Entity::delete_by_id(scope.key().to_owned())
            .exec(&tx)
            .await
            .map_err(db_error)?;
        if done.rows_affected == 0 {
            return Err(not_frozen(scope));
        }
        insert_audit(&tx, audit).await?;
        tx.commit().await.map_err(db_error)
    }
}
