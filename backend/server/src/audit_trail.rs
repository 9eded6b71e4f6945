//! The audit events of what happens around grants: sign-ins, sign-outs and refusals, with
//! the client's address. Refusals can come in floods (a script retrying, a stranger at the
//! sign-in callback), and audit rows are only ever inserted, so repeats of one refusal (the
//! same action, person, rule and reason) within [`WINDOW`] are written as the first event
//! plus one summary when the window closes ([`Repeats`]); at most [`MAX_OPEN`] windows are
//! open per instance, beyond that repeats share one window per action.

use std::sync::{Arc, Mutex, MutexGuard};

use chrono::TimeDelta;
use jitroles_domain::{
    Clock, DomainError,
    audit::{AuditAction, NewAudit, repeats::Repeats},
    ports::GrantStore,
};

/// How long repeats of one refusal fold into one event (as refusal notices do).
pub const WINDOW: TimeDelta = TimeDelta::minutes(10);
/// Open windows per instance: what a flood from many names can make it hold.
const MAX_OPEN: usize = 10_000;

/// Who did what, for an event of the trail.
pub struct Event<'a> {
    pub action: AuditAction,
    pub actor: &'a str,
    pub rule_id: Option<&'a str>,
    pub detail: String,
    pub source: &'a str,
}

pub struct AuditTrail {
    store: Arc<dyn GrantStore>,
    clock: Arc<dyn Clock>,
    repeats: Mutex<Repeats>,
}

impl AuditTrail {
    pub fn new(store: Arc<dyn GrantStore>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            clock,
            repeats: Mutex::new(Repeats::new(WINDOW, MAX_OPEN)),
        }
    }

    fn event(&self, e: Event<'_>) -> NewAudit {
        NewAudit {
            at: self.clock.now(),
            action: e.action,
            actor: e.actor.to_owned(),
            rule_id: e.rule_id.map(str::to_owned),
            grant_id: None,
            subject_account: (e.actor != "unknown").then(|| e.actor.to_owned()),
            detail: e.detail,
            source: Some(e.source.to_owned()),
        }
    }

    fn repeats(&self) -> MutexGuard<'_, Repeats> {
        self.repeats.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes `e` (a sign-in, a sign-out): each one is an event.
    pub async fn record(&self, e: Event<'_>) {
        let event = self.event(e);
        self.write(vec![event]).await;
    }

    /// Writes the refusal `e` for the reason named `reason` (a short, stable name), unless it
    /// repeats one written within the window.
    pub async fn refusal(&self, e: Event<'_>, reason: &str) {
        let event = self.event(e);
        let write = self.repeats().observe(event, reason);
        self.write(write).await;
    }

    /// Writes the summaries of windows that closed.
    pub async fn close_due(&self) {
        let now = self.clock.now();
        let summaries = self.repeats().close_due(now);
        self.write(summaries).await;
    }

    /// Writes the summaries of every open window (the server stops).
    pub async fn close_all(&self) {
        let now = self.clock.now();
        let summaries = self.repeats().close_all(now);
        self.write(summaries).await;
    }

    async fn write(&self, events: Vec<NewAudit>) {
        for event in events {
            let action = event.action.as_str();
            if let Err(e) = self.store.record_audit(event).await {
                log_lost(action, &e);
            }
        }
    }
}

fn log_lost(action: &str, e: &DomainError) {
    tracing::warn!(%action, error = %e, "an audit event could not be written");
}

/// Closes due windows every second until the process ends.
pub async fn run(trail: Arc<AuditTrail>) {
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        trail.close_due().await;
    }
}
