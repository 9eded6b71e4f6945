//! The one place that reads the system clock.

use chrono::{DateTime, Utc};
use jitroles_domain::Clock;

pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // this is the Clock implementation
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}
