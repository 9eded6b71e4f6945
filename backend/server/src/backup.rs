//! `jitroles backup`: a consistent copy of the SQLite database taken while the server runs,
//! and, after a restore, saying that the members it could not explain were reviewed.

use std::path::Path;

use anyhow::Context;
use chrono::{DateTime, Utc};
use jitroles_domain::system::DatabaseKind;
use jitroles_store::Database;

use crate::config::Config;

/// Copies the database to `to` (which must not exist) as it is at `now`.
pub async fn to_file(config: &Config, to: &Path, now: DateTime<Utc>) -> anyhow::Result<String> {
    let database = open_existing(config).await?;
    let result = database.backup_to(to, now).await;
    database.close().await;
    result?;
    let size = std::fs::metadata(to).map(|m| m.len()).unwrap_or(0);
    Ok(format!(
        "backed up to {} ({} KB), a snapshot of {}; to restore, stop jitroles and copy it to \
         {} (README: Backups)",
        to.display(),
        size.div_ceil(1024),
        now.format("%Y-%m-%d %H:%M:%S UTC"),
        config.data_dir.join("jitroles.db").display()
    ))
}

/// Clears the restored mark, once an admin dealt with the members `jitroles doctor` and the
/// Directory page list.
pub async fn reviewed(config: &Config) -> anyhow::Result<String> {
    let database = open_existing(config).await?;
    let taken = database.snapshot_taken_at().await;
    let cleared = database.snapshot_reviewed().await;
    database.close().await;
    cleared?;
    Ok(match taken? {
        Some(at) => format!(
            "the restore from the backup of {} is marked reviewed",
            at.format("%Y-%m-%d %H:%M:%S UTC")
        ),
        None => "the database is not a restored backup: nothing to mark".into(),
    })
}

/// The configured database, which must exist already: a backup of a database opened for the
/// first time would be of an empty one made by the backup itself.
async fn open_existing(config: &Config) -> anyhow::Result<Database> {
    if config.database.url.is_none() {
        let file = config.data_dir.join("jitroles.db");
        anyhow::ensure!(
            file.exists(),
            "no database at {}: check data_dir (or database.url) in the configuration",
            file.display()
        );
    }
    let database = Database::connect(&config.database_url())
        .await
        .context("opening the database")?;
    anyhow::ensure!(
        database.kind() == DatabaseKind::Sqlite || database.pending_migrations().await? == 0,
        "the database has pending migrations: run `jitroles migrate` first"
    );
    Ok(database)
}
