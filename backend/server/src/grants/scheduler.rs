//! The expiry scheduler (and the periodic reconciliation): sleeps until the next grant falls
//! due, or a waiting request's window ends or its start comes (no polling), is woken when a
//! nearer expiry may have appeared, ends what is due, and backs off while the directory or the
//! database does not answer. On start it first finishes what a previous run left: unconfirmed
//! (`activating`) grants fail and lose their membership; overdue grants end, oldest first.

use std::{sync::Arc, time::Duration};

use jitroles_domain::Clock;
use tokio::sync::Notify;

use super::Engine;

/// Longest sleep with nothing due: a safety net, not a polling interval.
const IDLE_SLEEP: Duration = Duration::from_secs(3600);
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// A returning DC gets its overdue removals within this long.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

pub async fn run(engine: Arc<Engine>, clock: Arc<dyn Clock>, wake: Arc<Notify>) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        match engine.expiry.recover(Duration::ZERO).await {
            Ok(0) => break,
            Ok(n) => {
                tracing::info!(
                    grants = n,
                    "unconfirmed grants from before the restart ended failed"
                );
                break;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot recover unconfirmed grants yet");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
    backoff = FIRST_BACKOFF;
    loop {
        match engine.expiry.run_due().await {
            Ok(n) => {
                if n > 0 {
                    tracing::info!(grants = n, "expired grants ended");
                }
                backoff = FIRST_BACKOFF;
            }
            Err(e) => {
                tracing::warn!(error = %e, retry_in = ?backoff, "expiry postponed");
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = wake.notified() => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        }
        match engine.approvals.run_waiting().await {
            Ok(n) if n > 0 => tracing::info!(requests = n, "waiting requests started or lapsed"),
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, retry_in = ?backoff, "waiting requests postponed");
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = wake.notified() => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        }
        let next = match (
            engine.expiry.next_expiry().await,
            engine.approvals.next_waiting().await,
        ) {
            (Ok(expiry), Ok(waiting)) => Ok(expiry.into_iter().chain(waiting).min()),
            (Err(e), _) | (_, Err(e)) => Err(e),
        };
        let sleep = match next {
            Ok(Some(at)) => (at - clock.now()).to_std().unwrap_or(Duration::ZERO),
            Ok(None) => IDLE_SLEEP,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the next expiry");
                backoff
            }
        };
        tokio::select! {
            () = tokio::time::sleep(sleep.min(IDLE_SLEEP)) => {}
            () = wake.notified() => {}
        }
    }
}

/// Compares role groups with live grants at start-up and every `every` (see
/// [`super::reconcile::Reconciler`]), and ends grants left unconfirmed for `unconfirmed_after`.
pub async fn reconcile(engine: Arc<Engine>, every: Duration, unconfirmed_after: Duration) {
    let mut ticker = tokio::time::interval(every.max(Duration::from_secs(1)));
    loop {
        ticker.tick().await;
        match engine.expiry.recover(unconfirmed_after).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(grants = n, "unconfirmed grants ended failed"),
            Err(e) => tracing::warn!(error = %e, "unconfirmed grants not recovered yet"),
        }
        match engine.reconciler.reconcile().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                grants = n,
                "grants ended: their members were removed outside jitroles"
            ),
            Err(e) => tracing::warn!(error = %e, "reconciliation postponed"),
        }
    }
}
