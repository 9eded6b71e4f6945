//! Crash points for the crash tests: `JITROLES_TEST_CRASH_AT=<name>[,<name>…]` makes the process
//! abort (no cleanup, like SIGKILL) when it reaches a named point. Unset, a point costs one
//! read of a value cached at first use. Never set it in production.

use std::sync::OnceLock;

pub const AFTER_ACTIVATING_COMMIT: &str = "after-activating-commit";
pub const AFTER_DIRECTORY_ADD: &str = "after-directory-add";
pub const AFTER_ENDING_COMMIT: &str = "after-ending-commit";
pub const AFTER_DIRECTORY_REMOVE: &str = "after-directory-remove";

fn armed() -> &'static [String] {
    static ARMED: OnceLock<Vec<String>> = OnceLock::new();
    ARMED.get_or_init(|| {
        std::env::var("JITROLES_TEST_CRASH_AT")
            .map(|v| v.split(',').map(|p| p.trim().to_owned()).collect())
            .unwrap_or_default()
    })
}

/// Aborts the process here if `point` is armed.
pub fn point(point: &str) {
    if armed().iter().any(|p| p == point) {
        eprintln!("crash point {point} reached: aborting");
        std::process::abort();
    }
}
