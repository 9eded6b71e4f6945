//! One deadline per call that changes grants (RequestRole, ExtendGrant, ReleaseGrant,
//! ApproveRequest, RevokeGrant), so a hung directory costs a caller
//! `directory.timeout_seconds` once, not once per directory call and retry:
//!
//! - the deadline is `directory.timeout_seconds` after the call arrived, or the caller's own
//!   `grpc-timeout` (less a margin for the reply to travel) when that is sooner;
//! - every directory call made for it ends at the deadline ([`bounded`]), so nothing is sent
//!   to the directory, or sent again, after it;
//! - the caller is answered by the deadline plus at most [`GRACE`], whatever the directory or
//!   the database still do ([`answer_within`]): UNAVAILABLE, "the directory did not answer
//!   within N s";
//! - the engine's work runs in a task of its own ([`detached`]), so a call answered (or
//!   cancelled by the client) mid-way never leaves a grant half-done: the work ends by itself,
//!   undoing what it wrote outside the deadline ([`lifted`]).
//!
//! The deadline travels with the call as a task-local value: the directory port's signature
//! stays as it is, and work outside a call (the scheduler, reconciliation) has none.

use std::{future::Future, time::Duration};

use jitroles_domain::DomainError;
use tokio::time::Instant;

/// Longest the answer may come after the directory's deadline (the database's share).
pub const GRACE: Duration = Duration::from_secs(1);
/// The most a caller's own deadline is brought forward so the reply reaches it in time.
const REPLY_MARGIN: Duration = Duration::from_millis(200);

tokio::task_local! {
    static CURRENT: Option<Deadline>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    /// Directory calls end here.
    directory_by: Instant,
    /// The caller is answered by here.
    answer_by: Instant,
    /// `directory_by`, from the call's arrival: what the caller is told.
    budget: Duration,
}

impl Deadline {
    /// The deadline of a call arriving at `arrived`: `directory` later, or by the caller's
    /// `grpc-timeout` when that is sooner.
    pub fn of_call(arrived: Instant, directory: Duration, caller: Option<Duration>) -> Self {
        let directory_by = arrived + directory;
        let mut deadline = Self {
            directory_by,
            answer_by: directory_by + GRACE,
            budget: directory,
        };
        if let Some(caller) = caller {
            let margin = (caller / 10).min(REPLY_MARGIN);
            let by = arrived + caller.saturating_sub(margin);
            if by < deadline.answer_by {
                deadline.answer_by = by;
            }
            if by < deadline.directory_by {
                deadline.directory_by = by;
                deadline.budget = caller.saturating_sub(margin);
            }
        }
        deadline
    }

    /// What the caller is told when the deadline passed first.
    pub fn missed(&self) -> DomainError {
        let id = uuid::Uuid::new_v4();
        let within = seconds(self.budget);
        tracing::warn!(error_id = %id, "a call did not finish within {within} s; its work goes on");
        DomainError::Unavailable(format!(
            "the directory did not answer within {within} s (error {id})"
        ))
    }
}

/// `1 s`, `2.5 s`: whole seconds without a fraction.
fn seconds(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        d.as_secs().to_string()
    } else {
        format!("{:.1}", d.as_secs_f64())
    }
}

fn current() -> Option<Deadline> {
    CURRENT.try_with(|d| *d).ok().flatten()
}

/// Runs a call under `deadline`; its answer, or [`Deadline::missed`] by the time it is due.
pub async fn answer_within<T>(
    deadline: Deadline,
    call: impl Future<Output = Result<T, DomainError>>,
) -> Result<T, DomainError> {
    tokio::time::timeout_at(deadline.answer_by, CURRENT.scope(Some(deadline), call))
        .await
        .unwrap_or_else(|_| Err(deadline.missed()))
}

/// A directory call, ended at the deadline of the call it is made for (if any).
pub async fn bounded<T>(
    call: impl Future<Output = Result<T, DomainError>>,
) -> Result<T, DomainError> {
    match current() {
        // the adapter shares what is left among the DCs it tries, so the next DC is asked
        // before the deadline and not after it
        Some(deadline) => tokio::time::timeout_at(
            deadline.directory_by,
            jitroles_directory::within(deadline.directory_by.into_std(), call),
        )
        .await
        .unwrap_or_else(|_| Err(deadline.missed())),
        None => call.await,
    }
}

/// Work that must be done even after the deadline (undoing a write whose outcome is unknown).
pub async fn lifted<F: Future>(work: F) -> F::Output {
    CURRENT.scope(None, work).await
}

/// The deadline's error if it has passed: a write not started yet is better not started.
pub fn check() -> Result<(), DomainError> {
    match current() {
        Some(deadline) if Instant::now() >= deadline.directory_by => Err(deadline.missed()),
        _ => Ok(()),
    }
}

/// Whether the caller has been answered (or is being answered) without this call's result.
pub fn answered() -> bool {
    current().is_some_and(|deadline| Instant::now() >= deadline.answer_by)
}

/// Runs `work` to its end in a task of its own, under the current deadline, and returns its
/// result: if the caller is answered first (or goes away), the work still finishes.
pub async fn detached<T: Send + 'static>(
    work: impl Future<Output = Result<T, DomainError>> + Send + 'static,
) -> Result<T, DomainError> {
    use tracing::Instrument;
    let task = tokio::spawn(CURRENT.scope(current(), work).in_current_span());
    task.await.unwrap_or_else(|e| {
        Err(DomainError::Internal(format!(
            "the engine's task for this call failed: {e}"
        )))
    })
}

/// A `grpc-timeout` header's value (gRPC over HTTP/2: at most 8 digits and a unit).
pub fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n * 3600),
        "M" => Duration::from_secs(n * 60),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_directory_timeout_bounds_a_call_with_a_second_for_the_answer() {
        let t0 = Instant::now();
        let d = Deadline::of_call(t0, Duration::from_secs(10), None);
        assert_eq!(d.directory_by, t0 + Duration::from_secs(10));
        assert_eq!(d.answer_by, t0 + Duration::from_secs(11));
        let longer = Deadline::of_call(t0, Duration::from_secs(10), Some(Duration::from_secs(60)));
        assert_eq!(longer, d, "a longer client deadline changes nothing");
    }

    #[test]
    fn a_sooner_client_deadline_is_answered_before_it_runs_out() {
        let t0 = Instant::now();
        let d = Deadline::of_call(t0, Duration::from_secs(10), Some(Duration::from_secs(1)));
        assert_eq!(d.directory_by, t0 + Duration::from_millis(900));
        assert_eq!(d.answer_by, d.directory_by);
        let said = d.missed().to_string();
        assert!(said.contains("within 0.9 s"), "{said}");
        // between the directory's deadline and its grace: the directory keeps its own
        let d = Deadline::of_call(
            t0,
            Duration::from_secs(2),
            Some(Duration::from_millis(2500)),
        );
        assert_eq!(d.directory_by, t0 + Duration::from_secs(2));
        assert_eq!(d.answer_by, t0 + Duration::from_millis(2300));
        assert!(d.missed().to_string().contains("within 2 s"));
    }

    #[test]
    fn grpc_timeouts_parse_as_the_protocol_writes_them() {
        assert_eq!(parse_grpc_timeout("1S"), Some(Duration::from_secs(1)));
        assert_eq!(
            parse_grpc_timeout("1500m"),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(parse_grpc_timeout("2M"), Some(Duration::from_secs(120)));
        assert_eq!(
            parse_grpc_timeout("99999999u"),
            Some(Duration::from_micros(99_999_999))
        );
        for bad in ["", "S", "123456789S", "1s", "-1S", "1.5S", "١S"] {
            assert_eq!(parse_grpc_timeout(bad), None, "{bad:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn directory_calls_end_at_the_deadline_and_undoing_goes_on_after_it() {
        let deadline = Deadline::of_call(Instant::now(), Duration::from_secs(2), None);
        let hung = || async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok::<_, DomainError>(())
        };
        let started = Instant::now();
        let outcome = answer_within(deadline, async {
            let cut = bounded(hung()).await;
            assert!(matches!(cut, Err(DomainError::Unavailable(_))), "{cut:?}");
            assert!(check().is_err(), "no new write after the deadline");
            let undone = lifted(bounded(async { Ok::<_, DomainError>(7) })).await;
            assert_eq!(undone.unwrap(), 7);
            Ok::<_, DomainError>(())
        })
        .await;
        outcome.unwrap();
        assert_eq!(started.elapsed(), Duration::from_secs(2));
        assert!(bounded(async { Ok::<_, DomainError>(()) }).await.is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn the_answer_comes_by_the_deadline_and_detached_work_finishes() {
        let deadline = Deadline::of_call(Instant::now(), Duration::from_secs(2), None);
        let (done, finished) = tokio::sync::oneshot::channel();
        let started = Instant::now();
        let outcome = answer_within(
            deadline,
            detached(async move {
                // the database, say, takes its time
                tokio::time::sleep(Duration::from_secs(30)).await;
                let _ = done.send(answered());
                Ok::<_, DomainError>(())
            }),
        )
        .await;
        let said = outcome.unwrap_err().to_string();
        assert!(said.contains("did not answer within 2 s"), "{said}");
        assert_eq!(started.elapsed(), Duration::from_secs(3));
        assert!(finished.await.unwrap(), "it knew the caller had its answer");
    }
}
