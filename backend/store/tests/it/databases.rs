//! Fresh, empty databases for tests: a SQLite file, or a new database on the test PostgreSQL.

use sea_orm::ConnectionTrait;
use tempfile::TempDir;

pub struct TestDb {
    pub url: String,
    _dir: Option<TempDir>,
}

pub fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("test.db").display());
    TestDb {
        url,
        _dir: Some(dir),
    }
}

/// A new database on the test server named by `JITROLES_TEST_POSTGRES_URL`, e.g.
/// `postgres://postgres@127.0.0.1:55432/postgres` (`scripts/postgres up` prints it), or `None`
/// (the test skips, see `service`) without one.
pub async fn postgres() -> Option<TestDb> {
    let admin_url = crate::service::POSTGRES.var()?;
    let admin = sea_orm::Database::connect(&admin_url)
        .await
        .unwrap_or_else(|e| panic!("cannot reach the test PostgreSQL at {admin_url}: {e}"));
    let name = format!("jit_test_{}", uuid::Uuid::new_v4().simple());
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create test database");
    admin.close().await.ok();
    let (base, _) = admin_url.rsplit_once('/').expect("URL ends with /DATABASE");
    Some(TestDb {
        url: format!("{base}/{name}"),
        _dir: None,
    })
}
