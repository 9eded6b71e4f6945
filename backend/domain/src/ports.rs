//! Ports: what the domain needs from the outside world, shaped around use cases.
//! Adapters implement them in their own crates; the server holds them as `Arc<dyn Port>`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::{DomainError, system::Installation};

#[async_trait]
pub trait Store: Send + Sync {
    /// The deployment this database belongs to, made on first use at `now`.
    async fn installation(&self, now: DateTime<Utc>) -> Result<Installation, DomainError>;

    /// Cheap round trip for health checks.
    async fn ping(&self) -> Result<(), DomainError>;
}
