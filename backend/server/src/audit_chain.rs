//! The server's chainer: appends committed audit events to the hash chain
//! (`jitroles_store::Database::chain_audit`) every second. Every instance runs one; they take
//! turns on the chain head's lock, so the chain stays one line however many run. An event is
//! unchained (and could be edited without a trace) for about this long after it commits.

use std::time::Duration;

use jitroles_store::Database;

pub const CHAIN_EVERY: Duration = Duration::from_secs(1);

/// Runs until the server stops; a failure is logged and tried again at the next tick.
pub async fn run(database: Database, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match database.chain_audit().await {
            Ok(0) => {}
            Ok(chained) => tracing::debug!(chained, "audit events chained"),
            Err(e) => tracing::warn!("cannot chain the audit log (tried again in a second): {e}"),
        }
    }
}
