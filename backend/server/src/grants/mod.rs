//! Rules and grants at work. One module per use case, each a small struct over the same
//! [`Ports`]; what several use cases share (the write-ahead transitions, membership locks,
//! leases, the mechanism) lives below them in `shared` and `transitions`, and no use-case
//! module calls another. The decisions are the domain's (`jitroles_domain::grant`): a use case
//! reads the case, hands it to a pure function with `now`, and carries out the answer.
//!
//! - [`access::Access`]: effective access: who a rule admits now (held briefly for paging),
//!   what a person may request and why;
//! - [`rules::Rules`]: rule edits by admins (targets and ACL principals resolved in the
//!   directory);
//! - [`request::Requests`]: what requesters do: roles they may request, request, extend;
//! - [`approvals::Approvals`]: requests that wait: approve, reject, cancel, acknowledge
//!   break-glass, the approvals list; pending windows and scheduled starts falling due;
//! - [`ending::Endings`]: release and revoke;
//! - [`emergency::Emergency`]: an admin's emergency controls: revoke every live grant of a
//!   person or a rule, freeze requests of a rule or of every rule;
//! - [`expiry::Expiry`]: the scheduler's work: due grants, left-over `ending` ones, recovery
//!   of unconfirmed grants;
//! - [`reconcile::Reconciler`]: role groups against live grants;
//! - [`reports::Reports`]: grant and audit listings, the directory report;
//! - [`scheduler`]: the loops that drive expiry and reconciliation.

pub mod access;
mod activation;
pub mod approvals;
pub mod emergency;
pub mod ending;
pub mod expiry;
pub mod reconcile;
pub mod reports;
pub mod request;
pub mod rules;
pub mod rules_code;
pub mod scheduler;
mod shared;
pub mod targets;
#[cfg(test)]
mod tests;
mod transitions;
pub mod usage;

use std::{sync::Arc, time::Duration};

use jitroles_domain::{
    Clock,
    directory::Directory,
    ports::{ApprovalStore, GrantStore, NotificationStore, RuleStore},
};
use tokio::sync::Notify;

pub use shared::Leases;

/// What the engine works on: the stores, the directory and the clock.
#[derive(Clone)]
pub struct Ports {
    pub rules: Arc<dyn RuleStore>,
    pub grants: Arc<dyn GrantStore>,
    /// Rules may only name existing channels; refused requests are announced in its outbox
    /// (grant transitions announce themselves in the grant store's transaction).
    pub notifications: Arc<dyn NotificationStore>,
    /// Approvers' decisions, the approvals list, waiting requests that fall due.
    pub approvals: Arc<dyn ApprovalStore>,
    pub directory: Arc<dyn Directory>,
    pub clock: Arc<dyn Clock>,
}

/// What the engine reports as it works (the server's metrics implement it).
pub trait Observer: Send + Sync {
    /// A grant ended `by` after its expiry.
    fn expired_late(&self, by: Duration);
}

/// An observer that notes nothing (tests).
pub struct Unobserved;

impl Observer for Unobserved {
    fn expired_late(&self, _: Duration) {}
}

/// The grant engine: one value per use case, sharing the ports.
pub struct Engine {
    pub access: access::Access,
    pub rules: rules::Rules,
    pub rules_code: rules_code::RulesAsCode,
    pub requests: request::Requests,
    pub approvals: approvals::Approvals,
    pub endings: ending::Endings,
    pub emergency: emergency::Emergency,
    pub expiry: expiry::Expiry,
    pub reconciler: reconcile::Reconciler,
    pub reports: reports::Reports,
    wake: Arc<Notify>,
}

impl Engine {
    /// An engine with the default target policy (no protected targets, no OU bases, no admin
    /// groups named).
    pub fn new(ports: Ports, leases: Leases, observer: Arc<dyn Observer>) -> Self {
        Self::configured(ports, leases, observer, targets::TargetSettings::default())
    }

    pub fn configured(
        ports: Ports,
        leases: Leases,
        observer: Arc<dyn Observer>,
        targets: targets::TargetSettings,
    ) -> Self {
        let shared = Arc::new(shared::Shared::new(ports, leases, observer, targets));
        Self {
            access: access::Access::new(shared.clone()),
            rules: rules::Rules::new(shared.clone()),
            rules_code: rules_code::RulesAsCode::new(shared.clone()),
            requests: request::Requests::new(shared.clone()),
            approvals: approvals::Approvals::new(shared.clone()),
            endings: ending::Endings::new(shared.clone()),
            emergency: emergency::Emergency::new(shared.clone()),
            expiry: expiry::Expiry::new(shared.clone()),
            reconciler: reconcile::Reconciler::new(shared.clone()),
            reports: reports::Reports::new(shared.clone()),
            wake: shared.wake.clone(),
        }
    }

    /// What wakes the scheduler when an earlier expiry may have appeared.
    pub fn wake_signal(&self) -> Arc<Notify> {
        self.wake.clone()
    }
}
