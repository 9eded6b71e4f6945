//! Connecting, migrating, and the `Store` port implemented over sea-orm.

use std::{path::Path, time::Duration};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use jitroles_domain::{
    DomainError,
    ports::Store,
    secret::Secret,
    system::{DatabaseKind, Installation},
};
use sea_orm::{
    ColumnTrait, ConnectOptions, ConnectionTrait, DatabaseConnection, DbBackend, DbErr,
    EntityTrait, QueryFilter, Set, Statement,
    sea_query::Expr,
    sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous},
};
use sea_orm_migration::MigratorTrait;
use thiserror::Error;

use crate::{entity::installation, migration::Migrator};

/// Errors of setting the store up; once it runs, operations report [`DomainError`]s.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error(
        "unsupported database URL {0:?}: use sqlite://PATH (one instance) or postgres://USER@HOST/DB (several)"
    )]
    UnsupportedUrl(String),
    #[error("cannot open the database at {url}: {source}")]
    Connect { url: String, source: DbErr },
    #[error("database migration failed: {0}")]
    Migrate(DbErr),
    #[error("backup failed: {0}")]
    Backup(String),
}

/// An open database: SQLite or PostgreSQL, chosen by URL.
#[derive(Debug, Clone)]
pub struct Database {
    pub(crate) conn: DatabaseConnection,
    kind: DatabaseKind,
}

/// How long to wait for a connection before calling the database unavailable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a writer waits for SQLite's write lock before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

impl Database {
    /// Opens (and for SQLite creates) the database at `url` and checks that it answers.
    ///
    /// SQLite runs in WAL mode with `synchronous = FULL`: every commit is on disk before it
    /// returns, so a write-ahead record a directory write relies on survives a power loss
    /// (NORMAL survives only a process crash), and readers never block the writer.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let kind = database_kind(url).ok_or_else(|| StoreError::UnsupportedUrl(redact_url(url)))?;
        let mut options = ConnectOptions::new(url.to_owned());
        options
            .connect_timeout(CONNECT_TIMEOUT)
            .acquire_timeout(CONNECT_TIMEOUT)
            .sqlx_logging(false)
            .map_sqlx_sqlite_opts(|o| {
                o.create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Full)
                    .busy_timeout(SQLITE_BUSY_TIMEOUT)
                    .foreign_keys(true)
            });
        let connect_error = |source| StoreError::Connect {
            url: redact_url(url),
            source,
        };
        let conn = sea_orm::Database::connect(options)
            .await
            .map_err(connect_error)?;
        conn.ping().await.map_err(connect_error)?;
        Ok(Self { conn, kind })
    }

    pub fn kind(&self) -> DatabaseKind {
        self.kind
    }

    /// Applies every pending migration; returns how many ran.
    pub async fn migrate(&self) -> Result<usize, StoreError> {
        let pending = self.pending_migrations().await?;
        Migrator::up(&self.conn, None)
            .await
            .map_err(StoreError::Migrate)?;
        Ok(pending)
    }

    /// Applies the pending migrations that come before the one named `name` (tests of a
    /// migration seed the schema it starts from).
    pub async fn migrate_until(&self, name: &str) -> Result<(), StoreError> {
        let all = Migrator::migrations();
        let position = all
            .iter()
            .position(|m| m.name() == name)
            .ok_or_else(|| StoreError::Migrate(DbErr::Custom(format!("no migration {name}"))))?;
        let applied = all.len() - self.pending_migrations().await?;
        let steps = u32::try_from(position.saturating_sub(applied)).unwrap_or(u32::MAX);
        if steps > 0 {
            Migrator::up(&self.conn, Some(steps))
                .await
                .map_err(StoreError::Migrate)?;
        }
        Ok(())
    }

    /// Migrations not yet applied.
    pub async fn pending_migrations(&self) -> Result<usize, StoreError> {
        Ok(Migrator::get_pending_migrations(&self.conn)
            .await
            .map_err(StoreError::Migrate)?
            .len())
    }

    /// Rolls every migration back: an empty schema. For tests of the migrations themselves.
    pub async fn rollback_all(&self) -> Result<(), StoreError> {
        Migrator::down(&self.conn, None)
            .await
            .map_err(StoreError::Migrate)
    }

    /// Writes a consistent copy of a running SQLite database to `to` (`VACUUM INTO`: one read
    /// transaction, so grants being written meanwhile are either in it whole or not at all),
    /// and marks the copy as a snapshot taken at `taken_at`: a server started on it knows it
    /// was restored, and from when ([`Self::snapshot_taken_at`]). `to` must not exist.
    /// PostgreSQL is backed up with its own tools (`pg_dump`): an error says so.
    pub async fn backup_to(&self, to: &Path, taken_at: DateTime<Utc>) -> Result<(), StoreError> {
        let fail = |why: String| StoreError::Backup(format!("{}: {why}", to.display()));
        if self.kind != DatabaseKind::Sqlite {
            return Err(StoreError::Backup(
                "jitroles backs up SQLite only; back PostgreSQL up with pg_dump (README: Backups)"
                    .into(),
            ));
        }
        if to.exists() {
            return Err(fail("already exists; name a new file".into()));
        }
        let path = to.to_str().ok_or_else(|| fail("not a UTF-8 path".into()))?;
        self.conn
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Sqlite,
                "VACUUM INTO ?",
                [path.into()],
            ))
            .await
            .map_err(|e| fail(e.to_string()))?;
        let copy = Self::connect(&format!("sqlite://{path}"))
            .await
            .map_err(|e| fail(e.to_string()))?;
        let marked = copy
            .conn
            .execute_unprepared(&format!(
                "PRAGMA user_version = {}",
                taken_at.timestamp().max(1)
            ))
            .await;
        copy.close().await;
        marked.map_err(|e| fail(e.to_string()))?;
        Ok(())
    }

    /// When this database is a restored snapshot an admin has not yet reviewed: the time the
    /// snapshot was taken. SQLite keeps it in its header's `user_version`, which only
    /// [`Self::backup_to`] sets (in the copy) and [`Self::snapshot_reviewed`] clears.
    pub async fn snapshot_taken_at(&self) -> Result<Option<DateTime<Utc>>, DomainError> {
        if self.kind != DatabaseKind::Sqlite {
            return Ok(None);
        }
        let row = self
            .conn
            .query_one_raw(Statement::from_string(
                DbBackend::Sqlite,
                "PRAGMA user_version",
            ))
            .await
            .map_err(db_error)?;
        let seconds: i64 = match row {
            Some(row) => row.try_get_by_index(0).map_err(db_error)?,
            None => 0,
        };
        Ok((seconds > 0)
            .then(|| DateTime::from_timestamp(seconds, 0))
            .flatten())
    }

    /// The admin reviewed what a restore forgot: the database is no longer a snapshot.
    pub async fn snapshot_reviewed(&self) -> Result<(), DomainError> {
        if self.kind == DatabaseKind::Sqlite {
            self.conn
                .execute_unprepared("PRAGMA user_version = 0")
                .await
                .map_err(db_error)?;
        }
        Ok(())
    }

    /// Closes the pool, waiting for connections in use (so SQLite checkpoints its WAL).
    pub async fn close(self) {
        if let Err(e) = self.conn.close().await {
            tracing::warn!(error = %e, "closing the database pool failed");
        }
    }
}

#[async_trait]
impl Store for Database {
    async fn installation(&self, now: DateTime<Utc>) -> Result<Installation, DomainError> {
        const ROW: i32 = 1;
        if let Some(row) = installation::Entity::find_by_id(ROW)
            .one(&self.conn)
            .await
            .map_err(db_error)?
        {
            return Ok(self.to_installation(row));
        }
        // Several instances may start at once: the first insert wins, the others keep its id.
        let fresh = installation::ActiveModel {
            id: Set(ROW),
            installation_id: Set(uuid::Uuid::new_v4().to_string()),
            created_at: Set(now),
            sign_in_key: Set(None),
        };
        installation::Entity::insert(fresh)
            .on_conflict_do_nothing()
            .exec(&self.conn)
            .await
            .map_err(db_error)?;
        let row = installation::Entity::find_by_id(ROW)
            .one(&self.conn)
            .await
            .map_err(db_error)?
            .ok_or_else(|| DomainError::Internal("installation row missing after insert".into()))?;
        Ok(self.to_installation(row))
    }

    async fn sign_in_key(&self, fresh: &Secret) -> Result<Secret, DomainError> {
        // only where none is stored: instances starting together all end with the first one's
        installation::Entity::update_many()
            .col_expr(
                installation::Column::SignInKey,
                Expr::value(fresh.expose().to_owned()),
            )
            .filter(installation::Column::SignInKey.is_null())
            .exec(&self.conn)
            .await
            .map_err(db_error)?;
        installation::Entity::find_by_id(1)
            .one(&self.conn)
            .await
            .map_err(db_error)?
            .and_then(|row| row.sign_in_key)
            .map(Secret::from)
            .ok_or_else(|| {
                DomainError::Internal("the installation record has no sign-in key".into())
            })
    }

    async fn ping(&self) -> Result<(), DomainError> {
        self.conn.ping().await.map_err(db_error)
    }
}

impl Database {
    fn to_installation(&self, row: installation::Model) -> Installation {
        Installation {
            id: row.installation_id,
            created_at: row.created_at,
            database: self.kind,
        }
    }
}

fn database_kind(url: &str) -> Option<DatabaseKind> {
    if url.starts_with("sqlite:") {
        Some(DatabaseKind::Sqlite)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Some(DatabaseKind::Postgres)
    } else {
        None
    }
}

/// A database error at the store's edge: unreachable becomes `Unavailable`, the rest is
/// internal (its text goes to logs, never to clients).
pub(crate) fn db_error(e: DbErr) -> DomainError {
    match e {
        DbErr::Conn(_) | DbErr::ConnectionAcquire(_) => {
            DomainError::Unavailable("the database does not answer".into())
        }
        other => DomainError::Internal(other.to_string()),
    }
}

/// The URL with any password replaced, for messages and logs.
pub(crate) fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::{ConnectionTrait, Statement};

    #[test]
    fn redact_url_hides_the_password_only() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/jit"),
            "postgres://app:***@db:5432/jit"
        );
        assert_eq!(redact_url("postgres://app@db/jit"), "postgres://app@db/jit");
        assert_eq!(
            redact_url("sqlite:///var/lib/jitroles/jitroles.db"),
            "sqlite:///var/lib/jitroles/jitroles.db"
        );
    }

    #[test]
    fn database_kind_follows_the_url_scheme() {
        assert_eq!(
            database_kind("sqlite:///tmp/x.db?mode=rwc"),
            Some(DatabaseKind::Sqlite)
        );
        assert_eq!(
            database_kind("postgresql://h/db"),
            Some(DatabaseKind::Postgres)
        );
        assert_eq!(database_kind("mysql://h/db"), None);
    }

    #[tokio::test]
    async fn sqlite_runs_in_wal_mode_with_full_synchronous() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let db = Database::connect(&url).await.unwrap();
        let pragma = |name: &'static str| {
            let conn = db.conn.clone();
            async move {
                let row = conn
                    .query_one_raw(Statement::from_string(
                        conn.get_database_backend(),
                        format!("PRAGMA {name}"),
                    ))
                    .await
                    .unwrap()
                    .unwrap();
                row.try_get_by_index::<String>(0)
                    .or_else(|_| row.try_get_by_index::<i64>(0).map(|n| n.to_string()))
                    .unwrap()
            }
        };
        assert_eq!(pragma("journal_mode").await, "wal");
        assert_eq!(
            pragma("synchronous").await,
            "2",
            "2 = FULL: a commit is on disk before the directory write that relies on it"
        );
    }
}
