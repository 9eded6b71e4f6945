//! jitroles' Active Directory adapter: the [`Directory`](jitroles_domain::directory::Directory)
//! port over LDAP with ldap3 (rustls, no OpenSSL).
//!
//! - `pool`: TLS, bind, a few multiplexed connections per DC re-established when they break, a
//!   timeout on every operation and retries with backoff for transient failures; with several
//!   DCs, failover (which DC, and each one's backoff, is decided in `failover`).
//! - `error`: every LDAP/TLS failure becomes a message a person understands, in one place.
//! - `ad`: the port's operations (users, token groups, search, groups, membership, capabilities);
//!   `ad/ttl.rs` the checked TTL-link write, `ad/pam.rs` enabling the PAM feature on the
//!   Domain Naming Master, `ad/probe.rs` the TTL probe an admin runs on their DC.
//! - `wire`: pure parsing and formatting of AD's values (binary SIDs and GUIDs, ranged
//!   attributes, TTL-prefixed DNs, filters).

mod ad;
mod error;
mod failover;
mod pool;
pub mod wire;

pub use ad::{ActiveDirectory, Link, PamEnabled, ProbeReport, ProbeStep, ReAdd, TTL_TOLERANCE};
pub use error::DirectoryError;
pub use failover::{FIRST_BACKOFF, MAX_BACKOFF_FACTOR};
pub use pool::{DirectoryConfig, Transport, UNSURE_FOR, within};
