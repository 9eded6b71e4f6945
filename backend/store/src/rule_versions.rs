//! Rule history: each saved version of a rule as a row of `rule_versions`, written in the
//! transaction of the change (create, update, restore, delete) with who made it. The snapshot
//! is the rule's row and its channels as JSON (the store's own layout), read back through the
//! same conversion as a live rule, so every setting a rule has is in its history.

use jitroles_domain::{
    DomainError,
    audit::AuditAction,
    rule::{RuleChannels, history::RuleVersion},
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde::{Deserialize, Serialize};

use crate::{
    entity::{rule, rule_version},
    records::corrupt,
    rule_channels,
    rules::to_rule,
    store::db_error,
};

#[derive(Serialize, Deserialize)]
struct Snapshot {
    rule: rule::Model,
    channels: StoredChannels,
}

#[derive(Serialize, Deserialize)]
struct StoredChannels {
    success: Vec<String>,
    failure: Vec<String>,
    approval: Vec<String>,
}

/// Records `row` (the rule as it now is, with `channels`) as the version `row.version`.
pub(crate) async fn record(
    db: &impl ConnectionTrait,
    row: &rule::Model,
    channels: &RuleChannels,
    at: chrono::DateTime<chrono::Utc>,
    actor: &str,
    action: AuditAction,
) -> Result<(), DomainError> {
    let snapshot = Snapshot {
        rule: row.clone(),
        channels: StoredChannels {
            success: channels.success.clone(),
            failure: channels.failure.clone(),
            approval: channels.approval.clone(),
        },
    };
    let json = serde_json::to_string(&snapshot).map_err(|e| corrupt("rule snapshot", e))?;
    rule_version::Entity::insert(rule_version::ActiveModel {
        rule_id: Set(row.id.clone()),
        version: Set(row.version),
        at: Set(at),
        actor: Set(actor.to_owned()),
        action: Set(action.as_str().to_owned()),
        snapshot: Set(json),
    })
    .exec_without_returning(db)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// Records the stored rule `row` as its version when no row has it yet (a rule saved before
/// history was kept), so the change about to be made has its "before".
pub(crate) async fn record_if_missing(
    db: &impl ConnectionTrait,
    row: &rule::Model,
) -> Result<(), DomainError> {
    let present = rule_version::Entity::find_by_id((row.id.clone(), row.version))
        .one(db)
        .await
        .map_err(db_error)?
        .is_some();
    if present {
        return Ok(());
    }
    let channels = rule_channels::of_rule(db, &row.id).await?;
    record(
        db,
        row,
        &channels,
        row.updated_at,
        "",
        unrecorded_action(row.version),
    )
    .await
}

/// What made a version saved before history was kept: its first or a later save.
fn unrecorded_action(version: i64) -> AuditAction {
    if version == 1 {
        AuditAction::RuleCreated
    } else {
        AuditAction::RuleUpdated
    }
}

fn to_version(row: rule_version::Model) -> Result<RuleVersion, DomainError> {
    let snapshot: Snapshot =
        serde_json::from_str(&row.snapshot).map_err(|e| corrupt("rule snapshot", e))?;
    let channels = RuleChannels {
        success: snapshot.channels.success,
        failure: snapshot.channels.failure,
        approval: snapshot.channels.approval,
    };
    Ok(RuleVersion {
        rule: to_rule(snapshot.rule, channels)?,
        at: row.at,
        actor: row.actor,
        action: AuditAction::parse(&row.action)
            .ok_or_else(|| corrupt("rule version action", &row.action))?,
    })
}

/// The newest `limit` versions of rule `id`, newest first; a live rule saved before history
/// was kept shows its current version (by an unknown actor).
pub(crate) async fn history(
    db: &impl ConnectionTrait,
    id: &str,
    limit: u64,
) -> Result<Vec<RuleVersion>, DomainError> {
    let rows = rule_version::Entity::find()
        .filter(rule_version::Column::RuleId.eq(id))
        .order_by_desc(rule_version::Column::Version)
        .limit(limit)
        .all(db)
        .await
        .map_err(db_error)?;
    let newest = rows.first().map(|r| r.version);
    let mut versions = Vec::with_capacity(rows.len() + 1);
    if let Some(live) = rule::Entity::find_by_id(id.to_owned())
        .filter(rule::Column::DeletedAt.is_null())
        .one(db)
        .await
        .map_err(db_error)?
        && newest.is_none_or(|v| v < live.version)
    {
        let channels = rule_channels::of_rule(db, id).await?;
        versions.push(RuleVersion {
            at: live.updated_at,
            actor: String::new(),
            action: unrecorded_action(live.version),
            rule: to_rule(live, channels)?,
        });
    }
    for row in rows {
        versions.push(to_version(row)?);
    }
    versions.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok(versions)
}

/// Version `version` of rule `id`, if kept.
pub(crate) async fn version(
    db: &impl ConnectionTrait,
    id: &str,
    version: i64,
) -> Result<Option<RuleVersion>, DomainError> {
    let found = history(db, id, 1).await?;
    if let Some(v) = found.into_iter().find(|v| v.rule.version == version) {
        return Ok(Some(v));
    }
    rule_version::Entity::find_by_id((id.to_owned(), version))
        .one(db)
        .await
        .map_err(db_error)?
        .map(to_version)
        .transpose()
}
