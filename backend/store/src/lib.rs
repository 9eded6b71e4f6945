//! jitroles storage: the [`Store`](jitroles_domain::ports::Store) port on SQLite (the embedded
//! default) or PostgreSQL (several instances), through sea-orm.
//!
//! Entities stay private to this crate; callers see domain types only.

mod approvals;
mod audit_chain;
mod channel_record;
mod entity;
mod grants;
mod migration;
mod notifications;
mod records;
mod rule_channels;
mod rule_versions;
mod rules;
mod sessions;
mod store;
mod usage;

pub use store::{Database, StoreError};
