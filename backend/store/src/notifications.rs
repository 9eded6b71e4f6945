//! Notification channels and the outbox.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use jitroles_domain::{
    DomainError,
    audit::NewAudit,
    grant::Grant,
    notify::{self, Channel, ChannelSpec, DeliveryState, Event, NewNotification, Notification},
    page::{Page, PageRequest},
    ports::NotificationStore,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    TransactionTrait, sea_query::OnConflict,
};

use crate::{
    channel_record::{events_json, events_of, transport_json, transport_of},
    entity::{channel, notification},
    records::{corrupt, insert_audit, stale, unique_or},
    rule_channels,
    store::{Database, db_error},
};

fn to_channel(c: channel::Model) -> Result<Channel, DomainError> {
    let transport = transport_of(&c.transport).map_err(|e| corrupt("channel settings", e))?;
    let lifecycle = events_of(&c.lifecycle).map_err(|e| corrupt("channel events", e))?;
    Ok(Channel {
        id: c.id,
        spec: ChannelSpec {
            name: c.name,
            transport,
            lifecycle,
            expiring_lead: c
                .expiring_lead_secs
                .map(|s| std::time::Duration::from_secs(u64::try_from(s).unwrap_or(0))),
            enabled: c.enabled,
        },
        version: c.version,
        created_at: c.created_at,
        updated_at: c.updated_at,
    })
}

fn channel_row(c: &Channel) -> channel::ActiveModel {
    channel::ActiveModel {
        id: Set(c.id.clone()),
        name: Set(c.spec.name.clone()),
        name_key: Set(c.spec.name.to_lowercase()),
        transport: Set(transport_json(&c.spec.transport)),
        lifecycle: Set(events_json(&c.spec.lifecycle)),
        expiring_lead_secs: Set(c
            .spec
            .expiring_lead
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))),
        enabled: Set(c.spec.enabled),
        version: Set(c.version),
        created_at: Set(c.created_at),
        updated_at: Set(c.updated_at),
    }
}

fn to_notification(n: notification::Model) -> Result<Notification, DomainError> {
    Ok(Notification {
        event: Event::parse(&n.event).ok_or_else(|| corrupt("notification event", &n.event))?,
        facts: serde_json::from_str(&n.facts).map_err(|e| corrupt("notification facts", e))?,
        state: DeliveryState::parse(&n.state)
            .ok_or_else(|| corrupt("notification state", &n.state))?,
        id: n.id,
        channel_id: n.channel_id,
        grant_id: n.grant_id,
        attempts: u32::try_from(n.attempts).unwrap_or(0),
        last_error: n.last_error,
        created_at: n.created_at,
        next_attempt_at: n.next_attempt_at,
        sent_at: n.sent_at,
        version: n.version,
    })
}

fn new_row(n: &NewNotification) -> notification::ActiveModel {
    notification::ActiveModel {
        id: Set(n.id.clone()),
        channel_id: Set(n.channel_id.clone()),
        event: Set(n.event.as_str().to_owned()),
        grant_id: Set(n.grant_id.clone()),
        facts: Set(serde_json::to_string(&n.facts).unwrap_or_else(|_| "{}".into())),
        state: Set(DeliveryState::Pending.as_str().to_owned()),
        attempts: Set(0),
        last_error: Set(None),
        created_at: Set(n.at),
        next_attempt_at: Set(n.due),
        sent_at: Set(None),
        dedupe_key: Set(n.dedupe_key.clone()),
        version: Set(1),
    }
}

async fn all_channels(db: &impl ConnectionTrait) -> Result<Vec<Channel>, DomainError> {
    channel::Entity::find()
        .order_by_asc(channel::Column::NameKey)
        .all(db)
        .await
        .map_err(db_error)?
        .into_iter()
        .map(to_channel)
        .collect()
}

/// Inserts `notes`, skipping any whose `dedupe_key` is there already; how many were added.
async fn insert(db: &impl ConnectionTrait, notes: &[NewNotification]) -> Result<u64, DomainError> {
    if notes.is_empty() {
        return Ok(0);
    }
    notification::Entity::insert_many(notes.iter().map(new_row))
        .on_conflict(
            OnConflict::column(notification::Column::DedupeKey)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await
        .map_err(db_error)
}

/// The notifications an audited transition of `g` announces, written in the caller's
/// transaction (the outbox): routed to the rule's channels and the lifecycle subscribers.
pub(crate) async fn outbox(
    tx: &impl ConnectionTrait,
    g: &Grant,
    audit: &NewAudit,
) -> Result<(), DomainError> {
    if Event::of(audit.action).is_none() {
        return Ok(());
    }
    // a channel that cannot be read is left out, never the reason a grant cannot change
    let channels: Vec<Channel> = channel::Entity::find()
        .all(tx)
        .await
        .map_err(db_error)?
        .into_iter()
        .filter_map(|c| {
            let id = c.id.clone();
            to_channel(c)
                .inspect_err(|e| tracing::error!(channel = %id, error = %e, "channel left out"))
                .ok()
        })
        .collect();
    if channels.is_empty() {
        return Ok(());
    }
    let routes = rule_channels::of_rule(tx, &g.rule_id).await?;
    let notes = notify::of_transition(g, audit, &routes, &channels, || {
        uuid::Uuid::new_v4().to_string()
    });
    insert(tx, &notes).await.map(|_| ())
}

fn name_taken(name: &str) -> DomainError {
    DomainError::AlreadyExists(format!("a channel named {name} exists"))
}

#[async_trait]
impl NotificationStore for Database {
    async fn create_channel(&self, c: &Channel, audit: NewAudit) -> Result<(), DomainError> {
        let tx = self.conn.begin().await.map_err(db_error)?;
        channel::Entity::insert(channel_row(c))
            .exec_without_returning(&tx)
            .await
            .map_err(|e| unique_or(e, || name_taken(&c.spec.name)))?;
        insert_audit(&tx, audit).await?;
        tx.commit().await.map_err(db_error)
    }

    async fn update_channel(
        &self,
        c: &Channel,
        expected_version: i64,
        audit: NewAudit,
    ) -> Result<(), DomainError> {
        let tx = self.conn.begin().await.map_err(db_error)?;
        let stored = channel::Entity::find_by_id(c.id.clone())
            .one(&tx)
            .await
            .map_err(db_error)?
            .ok_or_else(|| DomainError::NotFound {
                what: format!("channel {}", c.id),
            })?;
        let mut row = channel_row(c);
        row.created_at = Set(stored.created_at);
        let done = channel::Entity::update_many()
            .set(row)
            .filter(channel::Column::Id.eq(c.id.clone()))
            .filter(channel::Column::Version.eq(expected_version))
            .exec(&tx)
            .await
            .map_err(|e| unique_or(e, || name_taken(&c.spec.name)))?;
        if done.rows_affected == 0 {
            return Err(stale("channel", stored.version, expected_version));
        }
        insert_audit(&tx, audit).await?;
        tx.commit().await.map_err(db_error)
    }

    async fn delete_channel(
        &self,
        id: &str,
        expected_version: i64,
        audit: NewAudit,
    ) -> Result<(), DomainError> {
        let tx = self.conn.begin().await.map_err(db_error)?;
        let users = rule_channels::live_users(&tx, id).await?;
        if !users.is_empty() {
            return Err(DomainError::FailedPrecondition(format!(
                "the channel is used by the rules {}: remove it there first",
                users.join(", ")
            )));
        }
        // a rule that lists it meanwhile makes the foreign key refuse the delete
        let done = channel::Entity::delete_many()
            .filter(channel::Column::Id.eq(id))
            .filter(channel::Column::Version.eq(expected_version))
            .exec(&tx)
            .await
            .map_err(|e| {
                if matches!(
                    e.sql_err(),
                    Some(sea_orm::SqlErr::ForeignKeyConstraintViolation(_))
                ) {
                    DomainError::FailedPrecondition(
                        "a rule was given the channel meanwhile: remove it there first".into(),
                    )
                } else {
                    db_error(e)
                }
            })?;
        if done.rows_affected == 0 {
            let exists = channel::Entity::find_by_id(id.to_owned())
                .one(&tx)
                .await
                .map_err(db_error)?;
            return Err(match exists {
                Some(c) => stale("channel", c.version, expected_version),
                None => DomainError::NotFound {
                    what: format!("channel {id}"),
                },
            });
        }
        insert_audit(&tx, audit).await?;
        tx.commit().await.map_err(db_error)
    }

    async fn channel(&self, id: &str) -> Result<Option<Channel>, DomainError> {
        channel::Entity::find_by_id(id.to_owned())
            .one(&self.conn)
            .await
            .map_err(db_error)?
            .map(to_channel)
            .transpose()
    }

    async fn audit(&self, audit: NewAudit) -> Result<(), DomainError> {
        insert_audit(&self.conn, audit).await
    }

    async fn channels(&self) -> Result<Vec<Channel>, DomainError> {
        all_channels(&self.conn).await
    }

    async fn enqueue(&self, notes: &[NewNotification]) -> Result<usize, DomainError> {
        let added = insert(&self.conn, notes).await?;
        Ok(usize::try_from(added).unwrap_or(usize::MAX))
    }

    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Notification>, DomainError> {
        let due = notification::Entity::find()
            .filter(notification::Column::State.eq(DeliveryState::Pending.as_str()))
            .filter(notification::Column::NextAttemptAt.lte(now))
            .order_by_asc(notification::Column::NextAttemptAt)
            .limit(u64::from(limit))
            .all(&self.conn)
            .await
            .map_err(db_error)?;
        let mut claimed = Vec::with_capacity(due.len());
        for n in due {
            let done = notification::Entity::update_many()
                .set(notification::ActiveModel {
                    next_attempt_at: Set(lease_until),
                    version: Set(n.version + 1),
                    ..Default::default()
                })
                .filter(notification::Column::Id.eq(n.id.clone()))
                .filter(notification::Column::Version.eq(n.version))
                .exec(&self.conn)
                .await
                .map_err(db_error)?;
            if done.rows_affected == 1 {
                claimed.push(to_notification(notification::Model {
                    next_attempt_at: lease_until,
                    version: n.version + 1,
                    ..n
                })?);
            }
        }
        Ok(claimed)
    }

    async fn record(
        &self,
        before: &Notification,
        after: &Notification,
    ) -> Result<Notification, DomainError> {
        let stored = Notification {
            version: before.version + 1,
            ..after.clone()
        };
        let done = notification::Entity::update_many()
            .set(notification::ActiveModel {
                state: Set(stored.state.as_str().to_owned()),
                attempts: Set(i32::try_from(stored.attempts).unwrap_or(i32::MAX)),
                last_error: Set(stored.last_error.clone()),
                next_attempt_at: Set(stored.next_attempt_at),
                sent_at: Set(stored.sent_at),
                version: Set(stored.version),
                ..Default::default()
            })
            .filter(notification::Column::Id.eq(before.id.clone()))
            .filter(notification::Column::Version.eq(before.version))
            .exec(&self.conn)
            .await
            .map_err(db_error)?;
        if done.rows_affected == 0 {
            return Err(DomainError::Conflict(
                "the notification was claimed by another instance".into(),
            ));
        }
        Ok(stored)
    }

    async fn notification(&self, id: &str) -> Result<Option<Notification>, DomainError> {
        notification::Entity::find_by_id(id.to_owned())
            .one(&self.conn)
            .await
            .map_err(db_error)?
            .map(to_notification)
            .transpose()
    }

    async fn next_attempt(&self) -> Result<Option<DateTime<Utc>>, DomainError> {
        Ok(notification::Entity::find()
            .filter(notification::Column::State.eq(DeliveryState::Pending.as_str()))
            .order_by_asc(notification::Column::NextAttemptAt)
            .one(&self.conn)
            .await
            .map_err(db_error)?
            .map(|n| n.next_attempt_at))
    }

    async fn notifications(
        &self,
        state: Option<DeliveryState>,
        page: PageRequest,
    ) -> Result<Page<Notification>, DomainError> {
        let mut query = notification::Entity::find();
        if let Some(state) = state {
            query = query.filter(notification::Column::State.eq(state.as_str()));
        }
        let found = query
            .order_by_desc(notification::Column::CreatedAt)
            .order_by_desc(notification::Column::Id)
            .offset(page.offset)
            .limit(u64::from(page.size) + 1)
            .all(&self.conn)
            .await
            .map_err(db_error)?;
        let items = found
            .into_iter()
            .map(to_notification)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(page.page(items))
    }
}
