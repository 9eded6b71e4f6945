//! Schema migrations, one per file, never edited after they land. Each refers to tables by its
//! own `Iden` enums, not by entity types, so later entity changes cannot rewrite history.

use sea_orm_migration::prelude::*;

mod m20261127_000001_create_installation;
mod m20261127_000002_create_sessions;
mod m20261127_000003_create_rules_and_grants;
mod m20261127_000004_add_grant_leases;
mod m20261127_000005_create_notifications;
mod m20261129_231500_index_grant_filters;
mod m20261129_232000_add_grant_end_notes;
mod m20261129_233000_create_rule_channels;
mod m20261201_220000_add_sign_in_key;
mod m20261201_223000_drop_sign_ins;
mod m20261202_090000_create_freezes;
mod m20261202_100000_add_audit_source;
mod m20261202_110000_create_membership_leases;
mod m20261203_090000_add_approvals;
mod m20261204_090000_chain_audit_events;
mod m20261205_090000_create_rule_versions;
mod m20261205_140000_index_grant_ends;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261127_000001_create_installation::Migration),
            Box::new(m20261127_000002_create_sessions::Migration),
            Box::new(m20261127_000003_create_rules_and_grants::Migration),
            Box::new(m20261127_000004_add_grant_leases::Migration),
            Box::new(m20261127_000005_create_notifications::Migration),
            Box::new(m20261129_231500_index_grant_filters::Migration),
            Box::new(m20261129_232000_add_grant_end_notes::Migration),
            Box::new(m20261129_233000_create_rule_channels::Migration),
            Box::new(m20261201_220000_add_sign_in_key::Migration),
            Box::new(m20261201_223000_drop_sign_ins::Migration),
            Box::new(m20261202_090000_create_freezes::Migration),
            Box::new(m20261202_100000_add_audit_source::Migration),
            Box::new(m20261202_110000_create_membership_leases::Migration),
            Box::new(m20261203_090000_add_approvals::Migration),
            Box::new(m20261204_090000_chain_audit_events::Migration),
            Box::new(m20261205_090000_create_rule_versions::Migration),
            Box::new(m20261205_140000_index_grant_ends::Migration),
        ]
    }
}
