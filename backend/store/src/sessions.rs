//! The [`SessionStore`] port: browser sessions and sign-ins under way.

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use jitroles_domain::{
    DomainError,
    session::{Session, SessionPolicy, SessionStore},
};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, Set, sea_query::Expr};

use crate::{
    entity::session,
    store::{Database, db_error},
};

#[async_trait]
impl SessionStore for Database {
    async fn insert_session(&self, s: &Session) -> Result<(), DomainError> {
        let row = session::ActiveModel {
            key: Set(s.key.clone()),
            account: Set(s.account.clone()),
            display_name: Set(s.display_name.clone()),
            subject: Set(s.subject.clone()),
            id_token: Set(s.id_token.clone()),
            created_at: Set(s.created_at),
            last_seen_at: Set(s.last_seen_at),
            expires_at: Set(s.expires_at),
            ended_at: Set(s.ended_at),
        };
        session::Entity::insert(row)
            .exec_without_returning(&self.conn)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn session(&self, key: &str) -> Result<Option<Session>, DomainError> {
        Ok(session::Entity::find_by_id(key.to_owned())
            .one(&self.conn)
            .await
            .map_err(db_error)?
            .map(|r| Session {
                key: r.key,
                account: r.account,
                display_name: r.display_name,
                subject: r.subject,
                id_token: r.id_token,
                created_at: r.created_at,
                last_seen_at: r.last_seen_at,
                expires_at: r.expires_at,
                ended_at: r.ended_at,
            }))
    }

    async fn touch_session(&self, key: &str, now: DateTime<Utc>) -> Result<(), DomainError> {
        session::Entity::update_many()
            .col_expr(session::Column::LastSeenAt, Expr::value(now))
            .filter(session::Column::Key.eq(key))
            .filter(session::Column::LastSeenAt.lt(now))
            .filter(session::Column::EndedAt.is_null())
            .exec(&self.conn)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn end_session(&self, key: &str, now: DateTime<Utc>) -> Result<bool, DomainError> {
        let done = session::Entity::update_many()
            .col_expr(session::Column::EndedAt, Expr::value(now))
            .filter(session::Column::Key.eq(key))
            .filter(session::Column::EndedAt.is_null())
            .exec(&self.conn)
            .await
            .map_err(db_error)?;
        Ok(done.rows_affected > 0)
    }

    async fn purge_sessions(
        &self,
        policy: SessionPolicy,
        now: DateTime<Utc>,
    ) -> Result<u64, DomainError> {
        let idle = TimeDelta::from_std(policy.idle).unwrap_or(TimeDelta::MAX);
        let idle_before = now
            .checked_sub_signed(idle)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let sessions = session::Entity::delete_many()
            .filter(
                Condition::any()
                    .add(session::Column::EndedAt.is_not_null())
                    .add(session::Column::ExpiresAt.lte(now))
                    .add(session::Column::LastSeenAt.lte(idle_before)),
            )
            .exec(&self.conn)
            .await
            .map_err(db_error)?;
        Ok(sessions.rows_affected)
    }
}
