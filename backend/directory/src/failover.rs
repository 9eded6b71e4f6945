//! Which domain controller an operation goes to, without I/O: each configured DC's health (up,
//! or down until a retry time that backs off from the first skip, [`FIRST_BACKOFF`] unless
//! configured, doubling to [`MAX_BACKOFF_FACTOR`] times that), the
//! order in which an operation tries them, and each attempt's share of the operation's one
//! deadline. The pool (`pool.rs`) reads the time and does the I/O; tests here pass instants.

use std::time::{Duration, Instant};

/// How long a DC that stopped answering is skipped after its first failure (by default).
pub const FIRST_BACKOFF: Duration = Duration::from_secs(5);
/// The longest it is skipped, in first skips: the backoff doubles up to this (5 s → 60 s).
pub const MAX_BACKOFF_FACTOR: u32 = 12;

/// One DC as the pool last found it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Health {
    /// Skipped (while another DC answers) until then.
    down_until: Option<Instant>,
    /// The next skip's length.
    backoff: Duration,
    last_error: Option<String>,
    /// Times it was found not answering, since the start.
    failures: u64,
}

impl Health {
    /// Whether an operation should go here now: it answered last time, or its retry time has
    /// come.
    pub fn usable(&self, now: Instant) -> bool {
        self.down_until.is_none_or(|until| until <= now)
    }

    /// Whether it answered the last operation sent to it.
    pub fn up(&self) -> bool {
        self.down_until.is_none()
    }

    /// How long it is still skipped.
    pub fn retry_in(&self, now: Instant) -> Option<Duration> {
        self.down_until
            .map(|until| until.saturating_duration_since(now))
    }

    pub fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }

    pub fn failures(&self) -> u64 {
        self.failures
    }

    /// It did not answer (or not in time): skipped for the backoff (`first` the first time),
    /// which doubles. Whether it was up until now (so the change is worth a log line).
    pub fn failed(&mut self, now: Instant, first: Duration, error: String) -> bool {
        let was_up = self.up();
        let backoff = if self.backoff.is_zero() {
            first
        } else {
            self.backoff
        };
        self.down_until = Some(now + backoff);
        self.backoff = (backoff * 2).min(first * MAX_BACKOFF_FACTOR);
        self.last_error = Some(error);
        self.failures += 1;
        was_up
    }

    /// It answered: up again, the backoff starts over. Whether it was down until now.
    pub fn answered(&mut self) -> bool {
        let was_down = !self.up();
        self.down_until = None;
        self.backoff = Duration::ZERO;
        was_down
    }
}

/// The order in which an operation tries the DCs: those usable now in configured order (the
/// first is preferred, so reads and writes go to one DC while it answers), then the skipped
/// ones, soonest retry first. A skipped DC is tried only after every usable one failed: with
/// all of them down, trying beats failing without asking.
pub fn order(dcs: &[Health], now: Instant) -> Vec<usize> {
    let (mut usable, mut skipped): (Vec<usize>, Vec<usize>) =
        (0..dcs.len()).partition(|&i| dcs[i].usable(now));
    skipped.sort_by_key(|&i| dcs[i].down_until);
    usable.append(&mut skipped);
    usable
}

/// How long attempt `attempt` (0-based) of an operation over `dcs` DCs may take, with
/// `remaining` left of the operation's deadline: while DCs are still untried, the rest is
/// shared among them, so a DC that hangs leaves the next one its share; after that, a retry
/// gets what remains. Never more than `per_op` (the configured timeout).
pub fn share(remaining: Duration, attempt: usize, dcs: usize, per_op: Duration) -> Duration {
    let untried = dcs.saturating_sub(attempt).max(1);
    (remaining / u32::try_from(untried).unwrap_or(u32::MAX)).min(per_op)
}

#[cfg(test)]
mod tests {
    use super::*;

    const F: Duration = FIRST_BACKOFF;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn a_dc_that_fails_is_skipped_for_a_backoff_that_doubles_up_to_a_minute() {
        let t0 = Instant::now();
        let mut dc = Health::default();
        assert!(dc.usable(t0) && dc.up());
        assert!(dc.failed(t0, F, "refused".into()), "was up");
        assert!(!dc.usable(t0 + secs(4)));
        assert!(dc.usable(t0 + secs(5)), "retried after 5 s");
        assert_eq!(dc.retry_in(t0 + secs(1)), Some(secs(4)));
        let mut at = t0 + secs(5);
        let mut skips = Vec::new();
        for _ in 0..6 {
            assert!(!dc.failed(at, F, "refused".into()), "was down already");
            let until = at + dc.retry_in(at).unwrap();
            skips.push(until - at);
            at = until;
        }
        assert_eq!(
            skips,
            [secs(10), secs(20), secs(40), secs(60), secs(60), secs(60)]
        );
        assert_eq!(dc.failures(), 7);
        assert_eq!(dc.last_error(), Some("refused"));
    }

    #[test]
    fn an_answer_brings_a_dc_back_and_its_backoff_starts_over() {
        let t0 = Instant::now();
        let mut dc = Health::default();
        dc.failed(t0, F, "timeout".into());
        dc.failed(t0 + secs(5), F, "timeout".into());
        assert!(dc.answered(), "was down");
        assert!(dc.up() && dc.usable(t0));
        assert!(!dc.answered());
        dc.failed(t0 + secs(30), F, "timeout".into());
        assert_eq!(dc.retry_in(t0 + secs(30)), Some(FIRST_BACKOFF));
    }

    #[test]
    fn operations_go_to_the_first_dc_that_answers_in_configured_order() {
        let t0 = Instant::now();
        let mut dcs = vec![Health::default(); 3];
        assert_eq!(order(&dcs, t0), [0, 1, 2]);
        dcs[0].failed(t0, F, "refused".into());
        assert_eq!(order(&dcs, t0 + secs(1)), [1, 2, 0], "the first is skipped");
        assert_eq!(
            order(&dcs, t0 + secs(5)),
            [0, 1, 2],
            "and preferred again once its retry time has come"
        );
    }

    #[test]
    fn with_every_dc_down_the_one_retried_soonest_is_tried_first() {
        let t0 = Instant::now();
        let mut dcs = vec![Health::default(); 2];
        dcs[0].failed(t0, F, "refused".into());
        dcs[0].failed(t0 + secs(5), F, "refused".into()); // until t0 + 15 s
        dcs[1].failed(t0 + secs(6), F, "refused".into()); // until t0 + 11 s
        assert_eq!(order(&dcs, t0 + secs(7)), [1, 0]);
    }

    #[test]
    fn every_dc_tried_fits_in_the_one_deadline() {
        let per_op = secs(10);
        // two DCs, the first hangs: it gets half, the second the rest
        assert_eq!(share(secs(10), 0, 2, per_op), secs(5));
        assert_eq!(share(secs(5), 1, 2, per_op), secs(5));
        // three: a third each while all are untried
        assert_eq!(share(secs(9), 0, 3, per_op), secs(3));
        assert_eq!(share(secs(6), 1, 3, per_op), secs(3));
        assert_eq!(share(secs(3), 2, 3, per_op), secs(3));
        // a retry after every DC was tried gets what remains, never more than the timeout
        assert_eq!(share(secs(4), 3, 3, per_op), secs(4));
        assert_eq!(share(secs(30), 0, 1, per_op), per_op);
        assert_eq!(share(Duration::ZERO, 0, 2, per_op), Duration::ZERO);
    }
}
