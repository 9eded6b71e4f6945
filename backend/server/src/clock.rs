//! The one place that reads the system clock.

use chrono::{DateTime, SubsecRound, Utc};
use jitroles_domain::Clock;

pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // this is the Clock implementation
    /// To the microsecond: what PostgreSQL keeps, so a time read back equals the one written.
    fn now(&self) -> DateTime<Utc> {
        Utc::now().trunc_subsecs(6)
    }
}
