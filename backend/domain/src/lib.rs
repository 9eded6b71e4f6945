//! The jitroles domain: the rules that must never break, decided without I/O.
//!
//! Adapters (store, directory, server) depend on this crate and implement its ports; it
//! depends on none of them, nor on tonic, prost, sea-orm, sqlx, ldap3 or openidconnect.

pub mod access;
pub mod approval;
pub mod audit;
pub mod clock;
pub mod directory;
pub mod effective;
pub mod error;
pub mod freeze;
pub mod grant;
pub mod grant_filter;
pub mod notify;
pub mod page;
pub mod ports;
pub mod reach;
pub mod rule;
pub mod secret;
pub mod session;
pub mod system;
pub mod target;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod usage;

pub use clock::{Clock, ManualClock};
pub use error::DomainError;
