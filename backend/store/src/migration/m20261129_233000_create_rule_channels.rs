//! A rule's notification channels as rows with foreign keys, instead of JSON arrays in two
//! text columns of `rules` that deleting a channel had to search with `LIKE`. Existing lists
//! are carried over in order (ids of channels deleted meanwhile, which only soft-deleted rules
//! can still name, are left out), then the JSON columns are dropped. `down` writes them back.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Each list: its `kind` in `rule_channels`, and its JSON column in `rules`.
const KINDS: [(&str, Rules, &str); 2] = [
    ("success", Rules::SuccessChannels, "success_channels"),
    ("failure", Rules::FailureChannels, "failure_channels"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RuleChannels::Table)
                    .if_not_exists()
                    .col(string_len(RuleChannels::RuleId, 36))
                    // success | failure
                    .col(string_len(RuleChannels::Kind, 16))
                    .col(string_len(RuleChannels::ChannelId, 36))
                    // the list's order, as the admin saved it
                    .col(integer(RuleChannels::Position))
                    .primary_key(
                        Index::create()
                            .col(RuleChannels::RuleId)
                            .col(RuleChannels::Kind)
                            .col(RuleChannels::ChannelId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("rule_channels_rule")
                            .from(RuleChannels::Table, RuleChannels::RuleId)
                            .to(Rules::Table, Rules::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    // no cascade: a channel a rule names cannot be deleted under it
                    .foreign_key(
                        ForeignKey::create()
                            .name("rule_channels_channel")
                            .from(RuleChannels::Table, RuleChannels::ChannelId)
                            .to(Channels::Table, Channels::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("rule_channels_channel")
                    .table(RuleChannels::Table)
                    .col(RuleChannels::ChannelId)
                    .to_owned(),
            )
            .await?;
        carry_over(manager).await?;
        // one column per statement: SQLite alters one thing at a time
        for (_, column, _) in KINDS {
            manager
                .alter_table(
                    Table::alter()
                        .table(Rules::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (_, column, _) in KINDS {
            manager
                .alter_table(
                    Table::alter()
                        .table(Rules::Table)
                        .add_column(text(column).default("[]"))
                        .to_owned(),
                )
                .await?;
        }
        carry_back(manager).await?;
        manager
            .drop_table(Table::drop().table(RuleChannels::Table).to_owned())
            .await
    }
}

/// Every rule's JSON lists as rows.
async fn carry_over(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let channels: std::collections::HashSet<String> = db
        .query_all(
            &Query::select()
                .column(Channels::Id)
                .from(Channels::Table)
                .to_owned(),
        )
        .await?
        .iter()
        .map(|row| row.try_get::<String>("", "id"))
        .collect::<Result<_, _>>()?;
    let rules = db
        .query_all(
            &Query::select()
                .columns([Rules::Id, Rules::SuccessChannels, Rules::FailureChannels])
                .from(Rules::Table)
                .to_owned(),
        )
        .await?;
    for row in rules {
        let rule_id: String = row.try_get("", "id")?;
        for (kind, _, column) in KINDS {
            let json: String = row.try_get("", column)?;
            let ids: Vec<String> = serde_json::from_str(&json).map_err(|e| {
                DbErr::Migration(format!(
                    "the {kind} channels of rule {rule_id} cannot be read ({e}): {json}"
                ))
            })?;
            let mut kept: Vec<String> = Vec::new();
            for id in ids {
                if channels.contains(&id) && !kept.contains(&id) {
                    kept.push(id);
                }
            }
            for (position, channel_id) in kept.into_iter().enumerate() {
                db.execute(
                    &Query::insert()
                        .into_table(RuleChannels::Table)
                        .columns([
                            RuleChannels::RuleId,
                            RuleChannels::Kind,
                            RuleChannels::ChannelId,
                            RuleChannels::Position,
                        ])
                        .values_panic([
                            rule_id.clone().into(),
                            kind.into(),
                            channel_id.into(),
                            <i32 as TryFrom<usize>>::try_from(position)
                                .unwrap_or(i32::MAX)
                                .into(),
                        ])
                        .to_owned(),
                )
                .await?;
            }
        }
    }
    Ok(())
}

/// Every rule's rows as JSON lists again.
async fn carry_back(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let rows = db
        .query_all(
            &Query::select()
                .columns([
                    RuleChannels::RuleId,
                    RuleChannels::Kind,
                    RuleChannels::ChannelId,
                ])
                .from(RuleChannels::Table)
                .order_by(RuleChannels::RuleId, Order::Asc)
                .order_by(RuleChannels::Kind, Order::Asc)
                .order_by(RuleChannels::Position, Order::Asc)
                .to_owned(),
        )
        .await?;
    let mut lists: std::collections::BTreeMap<(String, String), Vec<String>> = Default::default();
    for row in rows {
        let key = (row.try_get("", "rule_id")?, row.try_get("", "kind")?);
        lists
            .entry(key)
            .or_default()
            .push(row.try_get("", "channel_id")?);
    }
    for ((rule_id, kind), ids) in lists {
        let Some((_, column, _)) = KINDS.into_iter().find(|(k, _, _)| *k == kind) else {
            continue;
        };
        let json = serde_json::to_string(&ids).map_err(|e| DbErr::Migration(e.to_string()))?;
        db.execute(
            &Query::update()
                .table(Rules::Table)
                .value(column, json)
                .and_where(Expr::col(Rules::Id).eq(rule_id))
                .to_owned(),
        )
        .await?;
    }
    Ok(())
}

#[derive(DeriveIden)]
enum Rules {
    Table,
    Id,
    SuccessChannels,
    FailureChannels,
}

#[derive(DeriveIden)]
enum Channels {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum RuleChannels {
    Table,
    RuleId,
    Kind,
    ChannelId,
    Position,
}
