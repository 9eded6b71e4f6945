//! sea-orm entities: private to the store; converted to domain types in `store.rs`.

pub mod approval_decision;
pub mod audit_chain;
pub mod audit_event;
pub mod channel;
pub mod freeze;
pub mod grant;
pub mod installation;
pub mod membership_lease;
pub mod notification;
pub mod rule;
pub mod rule_channel;
pub mod rule_version;
pub mod session;
