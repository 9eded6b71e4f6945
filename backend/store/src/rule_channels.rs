//! A rule's notification channels: rows of `rule_channels` (rule, kind, channel, position),
//! whose foreign keys keep a rule from naming a channel that does not exist.

use std::collections::HashMap;

use jitroles_domain::{DomainError, rule::RuleChannels};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, Set, SqlErr,
};

use crate::{entity::rule_channel, store::db_error};

const SUCCESS: &str = "success";
const FAILURE: &str = "failure";
const APPROVAL: &str = "approval";

/// A write refused because a channel it names is gone (deleted meanwhile).
pub(crate) fn channel_gone_or(e: DbErr) -> DomainError {
    if matches!(e.sql_err(), Some(SqlErr::ForeignKeyConstraintViolation(_))) {
        DomainError::FailedPrecondition(
            "a channel the rule names was deleted meanwhile; reload the channels and save again"
                .into(),
        )
    } else {
        db_error(e)
    }
}

fn add(lists: &mut HashMap<String, RuleChannels>, row: rule_channel::Model) {
    let list = lists.entry(row.rule_id).or_default();
    match row.kind.as_str() {
        SUCCESS => list.success.push(row.channel_id),
        FAILURE => list.failure.push(row.channel_id),
        APPROVAL => list.approval.push(row.channel_id),
        // written by this module only; an unknown kind routes nothing
        other => tracing::error!(kind = other, "rule channel of unknown kind left out"),
    }
}

fn ordered() -> sea_orm::Select<rule_channel::Entity> {
    rule_channel::Entity::find()
        .order_by_asc(rule_channel::Column::RuleId)
        .order_by_asc(rule_channel::Column::Kind)
        .order_by_asc(rule_channel::Column::Position)
}

/// One rule's lists, in the order they were saved.
pub(crate) async fn of_rule(
    db: &impl ConnectionTrait,
    rule_id: &str,
) -> Result<RuleChannels, DomainError> {
    let rows = ordered()
        .filter(rule_channel::Column::RuleId.eq(rule_id))
        .all(db)
        .await
        .map_err(db_error)?;
    let mut lists = HashMap::new();
    rows.into_iter().for_each(|row| add(&mut lists, row));
    Ok(lists.remove(rule_id).unwrap_or_default())
}

/// Every rule's lists, by rule id (rules without channels are absent).
pub(crate) async fn all(
    db: &impl ConnectionTrait,
) -> Result<HashMap<String, RuleChannels>, DomainError> {
    let rows = ordered().all(db).await.map_err(db_error)?;
    let mut lists = HashMap::new();
    rows.into_iter().for_each(|row| add(&mut lists, row));
    Ok(lists)
}

/// Replaces a rule's lists (in the caller's transaction).
pub(crate) async fn replace(
    db: &impl ConnectionTrait,
    rule_id: &str,
    channels: &RuleChannels,
) -> Result<(), DomainError> {
    rule_channel::Entity::delete_many()
        .filter(rule_channel::Column::RuleId.eq(rule_id))
        .exec(db)
        .await
        .map_err(db_error)?;
    let mut rows = Vec::new();
    for (kind, ids) in [
        (SUCCESS, &channels.success),
        (FAILURE, &channels.failure),
        (APPROVAL, &channels.approval),
    ] {
        let mut seen: Vec<&String> = Vec::new();
        for id in ids {
            // the key is (rule, kind, channel): a channel listed twice is kept once
            if seen.contains(&id) {
                continue;
            }
            let position = i32::try_from(seen.len()).unwrap_or(i32::MAX);
            seen.push(id);
            rows.push(rule_channel::ActiveModel {
                rule_id: Set(rule_id.to_owned()),
                kind: Set(kind.to_owned()),
                channel_id: Set(id.clone()),
                position: Set(position),
            });
        }
    }
    if rows.is_empty() {
        return Ok(());
    }
    rule_channel::Entity::insert_many(rows)
        .exec_without_returning(db)
        .await
        .map_err(channel_gone_or)?;
    Ok(())
}

/// Names of live rules that list `channel_id`; the rows of soft-deleted rules that list it
/// are removed first, so they never hold a channel's deletion up.
pub(crate) async fn live_users(
    db: &impl ConnectionTrait,
    channel_id: &str,
) -> Result<Vec<String>, DomainError> {
    use crate::entity::rule;
    let rule_ids: Vec<String> = rule_channel::Entity::find()
        .filter(rule_channel::Column::ChannelId.eq(channel_id))
        .all(db)
        .await
        .map_err(db_error)?
        .into_iter()
        .map(|row| row.rule_id)
        .collect();
    if rule_ids.is_empty() {
        return Ok(Vec::new());
    }
    let rules = rule::Entity::find()
        .filter(rule::Column::Id.is_in(rule_ids))
        .order_by_asc(rule::Column::NameKey)
        .all(db)
        .await
        .map_err(db_error)?;
    let (live, deleted): (Vec<_>, Vec<_>) = rules.into_iter().partition(|r| r.deleted_at.is_none());
    if !deleted.is_empty() {
        rule_channel::Entity::delete_many()
            .filter(rule_channel::Column::ChannelId.eq(channel_id))
            .filter(rule_channel::Column::RuleId.is_in(deleted.into_iter().map(|r| r.id)))
            .exec(db)
            .await
            .map_err(db_error)?;
    }
    Ok(live.into_iter().map(|r| r.name).collect())
}
