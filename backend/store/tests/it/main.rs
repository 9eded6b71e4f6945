//! Store contract tests, run on SQLite and on PostgreSQL alike.

#![allow(clippy::unwrap_used)] // a panic in a test is its failure report

/// Each test `fn(TestDb)` named, on SQLite and (when it runs) on PostgreSQL.
macro_rules! on_both {
    ($($name:ident),*) => {
        mod sqlite {
            $(#[tokio::test]
            async fn $name() {
                super::$name(super::databases::sqlite()).await;
            })*
        }
        mod postgres {
            $(#[tokio::test]
            async fn $name() {
                if let Some(db) = super::databases::postgres().await {
                    super::$name(db).await;
                }
            })*
        }
    };
}

/// [`on_both!`], and the same tests on `jitroles_domain::testing::MemoryStore`, so the
/// in-memory stand-in of the engine's unit tests keeps the SQL store's contract.
macro_rules! on_all {
    ($($name:ident),*) => {
        mod sqlite {
            $(#[tokio::test]
            async fn $name() {
                let db = super::databases::sqlite();
                super::$name(std::sync::Arc::new(super::open(&db).await)).await;
            })*
        }
        mod postgres {
            $(#[tokio::test]
            async fn $name() {
                if let Some(db) = super::databases::postgres().await {
                    super::$name(std::sync::Arc::new(super::open(&db).await)).await;
                }
            })*
        }
        mod memory {
            $(#[tokio::test]
            async fn $name() {
                super::$name(jitroles_domain::testing::MemoryStore::new()).await;
            })*
        }
    };
}

mod approvals;
mod audit;
mod audit_chain;
mod backup;
mod databases;
mod freezes;
mod grants;
mod migrations;
mod notifications;
mod rule_history;
#[path = "../../../test-support/service.rs"]
mod service;
mod sessions;
mod usage;
