//! A notice's delivery: its state in the outbox, and how often and when a failed one is tried
//! again.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use super::{Event, Facts};
use crate::DomainError;

/// Tries per notification: the first and five retries (see [`retry_after`]).
pub const MAX_ATTEMPTS: u32 = 6;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    Pending,
    Sent,
    Failed,
    /// Not sent: no longer true when it fell due (an expiring-soon notice of a grant that
    /// ended or was extended).
    Skipped,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => Self::Pending,
            "sent" => Self::Sent,
            "failed" => Self::Failed,
            "skipped" => Self::Skipped,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub id: String,
    pub channel_id: String,
    pub event: Event,
    pub grant_id: String,
    pub facts: Facts,
    pub state: DeliveryState,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub next_attempt_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    /// Bumped by every stored change: claims are conditional on it.
    pub version: i64,
}

/// The wait before attempt `attempts + 1` after `attempts` failed ones: 2 s, 8 s, 32 s, ~2 min,
/// ~8.5 min (×4 each time), or `None` when none is left.
pub fn retry_after(attempts: u32) -> Option<Duration> {
    (attempts < MAX_ATTEMPTS).then(|| {
        Duration::from_secs(2u64.saturating_mul(4u64.saturating_pow(attempts.saturating_sub(1))))
    })
}

/// `n` after a failed attempt at `now` with `error`: pending again later, or failed for good.
pub fn attempt_failed(n: &Notification, error: String, now: DateTime<Utc>) -> Notification {
    let attempts = n.attempts + 1;
    match retry_after(attempts) {
        Some(wait) => Notification {
            attempts,
            last_error: Some(error),
            next_attempt_at: now + TimeDelta::from_std(wait).unwrap_or(TimeDelta::MAX),
            ..n.clone()
        },
        None => Notification {
            attempts,
            last_error: Some(error),
            state: DeliveryState::Failed,
            ..n.clone()
        },
    }
}

/// `n` failed for a reason no later attempt can mend (its message cannot be rendered): failed
/// at once, to be sent again on request once the channel is fixed.
pub fn failed_for_good(n: &Notification, error: String) -> Notification {
    Notification {
        attempts: n.attempts + 1,
        last_error: Some(error),
        state: DeliveryState::Failed,
        ..n.clone()
    }
}

/// `n` not sent at `now`, for the reason `why`.
pub fn skipped(n: &Notification, why: &str, now: DateTime<Utc>) -> Notification {
    Notification {
        state: DeliveryState::Skipped,
        last_error: Some(why.to_owned()),
        sent_at: Some(now),
        ..n.clone()
    }
}

/// `n` (failed) pending again from `now`, with a fresh round of attempts; its last error stays
/// until the next attempt.
pub fn retry(n: &Notification, now: DateTime<Utc>) -> Result<Notification, DomainError> {
    if n.state != DeliveryState::Failed {
        return Err(DomainError::FailedPrecondition(format!(
            "only a failed notification is sent again; this one is {}",
            n.state.as_str()
        )));
    }
    Ok(Notification {
        state: DeliveryState::Pending,
        attempts: 0,
        next_attempt_at: now,
        ..n.clone()
    })
}

/// `n` delivered at `now`.
pub fn sent(n: &Notification, now: DateTime<Utc>) -> Notification {
    Notification {
        attempts: n.attempts + 1,
        state: DeliveryState::Sent,
        sent_at: Some(now),
        ..n.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queued() -> Notification {
        Notification {
            id: "n".into(),
            channel_id: "c".into(),
            event: Event::Granted,
            grant_id: "g".into(),
            facts: Facts::default(),
            state: DeliveryState::Pending,
            attempts: 0,
            last_error: None,
            created_at: DateTime::UNIX_EPOCH,
            next_attempt_at: DateTime::UNIX_EPOCH,
            sent_at: None,
            version: 1,
        }
    }

    #[test]
    fn a_message_that_cannot_be_rendered_fails_at_once_without_retries() {
        let n = queued();
        let after = failed_for_good(&n, "too big".into());
        assert_eq!(after.state, DeliveryState::Failed);
        assert_eq!(after.attempts, 1);
        assert_eq!(after.last_error.as_deref(), Some("too big"));
    }

    #[test]
    fn failed_attempts_back_off_and_end_failed_after_the_last() {
        let mut n = queued();
        let mut waits = Vec::new();
        while n.state == DeliveryState::Pending {
            let next = attempt_failed(&n, "refused".into(), DateTime::UNIX_EPOCH);
            if next.state == DeliveryState::Pending {
                waits.push((next.next_attempt_at - DateTime::UNIX_EPOCH).num_seconds());
            }
            n = next;
        }
        assert_eq!(n.state, DeliveryState::Failed);
        assert_eq!(n.attempts, MAX_ATTEMPTS);
        assert_eq!(waits, [2, 8, 32, 128, 512]);
        assert_eq!(n.last_error.as_deref(), Some("refused"));
        let again = retry(&n, DateTime::UNIX_EPOCH + TimeDelta::hours(1)).unwrap();
        assert_eq!(
            (again.state, again.attempts),
            (DeliveryState::Pending, 0),
            "a retry starts a fresh round"
        );
        assert!(matches!(
            retry(&again, DateTime::UNIX_EPOCH),
            Err(DomainError::FailedPrecondition(_))
        ));
        assert_eq!(sent(&n, DateTime::UNIX_EPOCH).state, DeliveryState::Sent);
    }
}
