//! Crash points for the crash tests: `JITROLES_TEST_CRASH_AT=<name>[,<name>…]` makes the process
//! abort (no cleanup, like SIGKILL) when it reaches a named point. They exist only in a build
//! with the `crash-points` feature (the tests turn it on); in any other build a point is an
//! empty function and the variable is never read.

pub const AFTER_ACTIVATING_COMMIT: &str = "after-activating-commit";
pub const AFTER_DIRECTORY_ADD: &str = "after-directory-add";
pub const AFTER_ENDING_COMMIT: &str = "after-ending-commit";
pub const AFTER_DIRECTORY_REMOVE: &str = "after-directory-remove";

#[cfg(feature = "crash-points")]
fn armed() -> &'static [String] {
    static ARMED: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    ARMED.get_or_init(|| {
        std::env::var("JITROLES_TEST_CRASH_AT")
            .map(|v| v.split(',').map(|p| p.trim().to_owned()).collect())
            .unwrap_or_default()
    })
}

/// Aborts the process here if `point` is armed.
#[cfg(feature = "crash-points")]
pub fn point(point: &str) {
    if armed().iter().any(|p| p == point) {
        eprintln!("crash point {point} reached: aborting");
        std::process::abort();
    }
}

/// Crash points are compiled out of this build.
#[cfg(not(feature = "crash-points"))]
#[inline(always)]
pub fn point(_point: &str) {}
