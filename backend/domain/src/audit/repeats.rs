//! Repeats of one event (the same action, actor, rule and reason) within a window are written
//! as the first event plus, when the window closes, one summary with their count. Audit rows
//! are only ever inserted, so a flood of refusals costs two rows per window, not one per
//! refusal; and the windows themselves are bounded: past [`Repeats::new`]'s `max_open`
//! distinct keys, further events share one window per action (their actor and rule summed up
//! as "several").

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};

use super::{AuditAction, NewAudit};

/// What makes two events repeats of each other.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    action: AuditAction,
    actor: String,
    rule_id: Option<String>,
    /// A short, stable name of the reason (`not_allowed`, `not_admin`, …).
    reason: String,
}

#[derive(Debug)]
struct Window {
    first: NewAudit,
    closes: DateTime<Utc>,
    repeats: u64,
    last: DateTime<Utc>,
}

/// The open windows. Pure: the caller passes the time and writes what comes back.
#[derive(Debug)]
pub struct Repeats {
    length: TimeDelta,
    max_open: usize,
    open: HashMap<Key, Window>,
}

/// The actor and rule of the shared window events fall into once the windows are full.
pub const SEVERAL: &str = "several";

impl Repeats {
    pub fn new(length: TimeDelta, max_open: usize) -> Self {
        Self {
            length,
            max_open: max_open.max(1),
            open: HashMap::new(),
        }
    }

    /// `event` happened (for the reason named `reason`): what to write now. Nothing if it
    /// repeats an open window; else the event, after the summary of its key's window if that
    /// closed with repeats and was not collected yet.
    pub fn observe(&mut self, event: NewAudit, reason: &str) -> Vec<NewAudit> {
        let mut key = Key {
            action: event.action,
            actor: event.actor.clone(),
            rule_id: event.rule_id.clone(),
            reason: reason.to_owned(),
        };
        let at = event.at;
        if let Some(window) = self.open.get_mut(&key)
            && at < window.closes
        {
            window.repeats += 1;
            window.last = at;
            return Vec::new();
        }
        if self.open.len() >= self.max_open && !self.open.contains_key(&key) {
            key = Key {
                actor: SEVERAL.into(),
                rule_id: None,
                ..key
            };
            if let Some(window) = self.open.get_mut(&key)
                && at < window.closes
            {
                window.repeats += 1;
                window.last = at;
                return Vec::new();
            }
        }
        let window = Window {
            first: event.clone(),
            closes: at + self.length,
            repeats: 0,
            last: at,
        };
        let mut write: Vec<NewAudit> = self
            .open
            .insert(key.clone(), window)
            .filter(|closed| closed.repeats > 0)
            .map(|closed| summary(&key, &closed, at))
            .into_iter()
            .collect();
        write.push(event);
        write
    }

    /// Summaries of the windows closed by `now` that saw repeats; those windows are forgotten.
    pub fn close_due(&mut self, now: DateTime<Utc>) -> Vec<NewAudit> {
        self.close(|w| w.closes <= now, now)
    }

    /// Summaries of every open window (the server stops).
    pub fn close_all(&mut self, now: DateTime<Utc>) -> Vec<NewAudit> {
        self.close(|_| true, now)
    }

    fn close(&mut self, due: impl Fn(&Window) -> bool, now: DateTime<Utc>) -> Vec<NewAudit> {
        let closing: Vec<Key> = self
            .open
            .iter()
            .filter(|(_, w)| due(w))
            .map(|(k, _)| k.clone())
            .collect();
        let mut summaries: Vec<NewAudit> = closing
            .into_iter()
            .filter_map(|k| {
                let window = self.open.remove(&k)?;
                (window.repeats > 0).then(|| summary(&k, &window, now))
            })
            .collect();
        summaries.sort_by(|a, b| a.detail.cmp(&b.detail));
        summaries
    }

    /// How many windows are open.
    pub fn open(&self) -> usize {
        self.open.len()
    }
}

fn summary(key: &Key, window: &Window, now: DateTime<Utc>) -> NewAudit {
    let first = &window.first;
    let times = if window.repeats == 1 { "time" } else { "times" };
    NewAudit {
        at: now,
        action: AuditAction::Repeated,
        actor: key.actor.clone(),
        rule_id: key.rule_id.clone(),
        grant_id: None,
        subject_account: (key.actor != SEVERAL)
            .then(|| first.subject_account.clone())
            .flatten(),
        detail: format!(
            "{} repeated {} more {times} from {} to {} ({})",
            key.action.as_str(),
            window.repeats,
            first.at.format("%Y-%m-%d %H:%M:%S UTC"),
            window.last.format("%Y-%m-%d %H:%M:%S UTC"),
            key.reason
        ),
        source: (key.actor != SEVERAL)
            .then(|| first.source.clone())
            .flatten(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::UNIX_EPOCH + TimeDelta::seconds(seconds)
    }

    fn refused(actor: &str, rule: &str, seconds: i64) -> NewAudit {
        NewAudit {
            at: at(seconds),
            action: AuditAction::RequestRefused,
            actor: actor.into(),
            rule_id: Some(rule.into()),
            grant_id: None,
            subject_account: Some(actor.into()),
            detail: "not allowed".into(),
            source: Some("192.0.2.7".into()),
        }
    }

    #[test]
    fn repeats_within_the_window_are_one_event_and_one_summary_with_their_count() {
        let mut r = Repeats::new(TimeDelta::minutes(10), 100);
        assert_eq!(r.observe(refused("bob", "r1", 0), "not_allowed").len(), 1);
        for s in 1..100 {
            assert!(r.observe(refused("bob", "r1", s), "not_allowed").is_empty());
        }
        assert!(r.close_due(at(599)).is_empty(), "the window is still open");
        let summaries = r.close_due(at(600));
        assert_eq!(summaries.len(), 1);
        let s = &summaries[0];
        assert_eq!(s.action, AuditAction::Repeated);
        assert_eq!(
            (s.actor.as_str(), s.rule_id.as_deref()),
            ("bob", Some("r1"))
        );
        assert!(
            s.detail
                .starts_with("request_refused repeated 99 more times"),
            "{}",
            s.detail
        );
        assert_eq!(s.source.as_deref(), Some("192.0.2.7"));
        assert_eq!(r.open(), 0);
        // after the window, the next one is written again; a window closed but not collected
        // gives its summary before the new event
        assert_eq!(r.observe(refused("bob", "r1", 700), "not_allowed").len(), 1);
        assert!(
            r.observe(refused("bob", "r1", 701), "not_allowed")
                .is_empty()
        );
        let late = r.observe(refused("bob", "r1", 1400), "not_allowed");
        let actions: Vec<_> = late.iter().map(|e| e.action).collect();
        assert_eq!(
            actions,
            [AuditAction::Repeated, AuditAction::RequestRefused]
        );
    }

    #[test]
    fn another_person_rule_or_reason_is_its_own_event_and_a_lone_event_has_no_summary() {
        let mut r = Repeats::new(TimeDelta::minutes(10), 100);
        assert_eq!(r.observe(refused("bob", "r1", 0), "not_allowed").len(), 1);
        assert_eq!(r.observe(refused("carol", "r1", 1), "not_allowed").len(), 1);
        assert_eq!(r.observe(refused("bob", "r2", 2), "not_allowed").len(), 1);
        assert_eq!(r.observe(refused("bob", "r1", 3), "rule_closed").len(), 1);
        assert!(r.close_due(at(10_000)).is_empty(), "nothing repeated");
    }

    #[test]
    fn past_the_open_window_limit_everyone_shares_one_window_per_action() {
        let mut r = Repeats::new(TimeDelta::minutes(10), 3);
        let mut written = 0;
        for n in 0..10_000 {
            let e = refused(&format!("user{n}"), &format!("rule{n}"), 1);
            written += r.observe(e, "not_allowed").len();
        }
        assert_eq!(written, 4, "three own windows and one shared");
        assert_eq!(r.open(), 4);
        let summaries = r.close_all(at(2));
        assert_eq!(summaries.len(), 1);
        assert_eq!(summaries[0].actor, SEVERAL);
        assert!(
            summaries[0].detail.contains("9996 more times"),
            "{}",
            summaries[0].detail
        );
        assert_eq!(summaries[0].source, None);
    }
}
