//! Facts about the deployment itself.

use std::fmt;

use chrono::{DateTime, Utc};

/// Which database a deployment runs on: SQLite for one instance, PostgreSQL for several.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseKind {
    Sqlite,
    Postgres,
}

impl fmt::Display for DatabaseKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        })
    }
}

/// One deployment of jitroles: every instance on the same database shares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installation {
    /// Random, made when the database is first set up.
    pub id: String,
    pub created_at: DateTime<Utc>,
    pub database: DatabaseKind,
}
