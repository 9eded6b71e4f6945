//! Crash points for the crash tests: `JITROLES_TEST_CRASH_AT=<name>[,<name>…]` makes the process
//! abort (no cleanup, like SIGKILL) when it reaches a named point. Pause points hold the task
//! of one instance where a test armed them ([`pause_next`]), so a test can put another
//! instance's work exactly between two steps. Both exist only in a build with the
//! `crash-points` feature (the tests turn it on); in any other build a point is an empty
//! function and the variable is never read.

pub const AFTER_ACTIVATING_COMMIT: &str = "after-activating-commit";
pub const AFTER_DIRECTORY_ADD: &str = "after-directory-add";
pub const AFTER_ENDING_COMMIT: &str = "after-ending-commit";
pub const AFTER_DIRECTORY_REMOVE: &str = "after-directory-remove";
/// Ending: the coverage check is done, the removal not sent.
pub const BEFORE_DIRECTORY_REMOVE: &str = "before-directory-remove";

/// A pause point armed by a test: the first task of an instance the test picked to reach
/// `point` waits there until [`Paused::resume`].
#[cfg(feature = "crash-points")]
pub struct Paused {
    point: &'static str,
    instance: Box<dyn Fn(&str) -> bool + Send + Sync>,
    reached_by: std::sync::Mutex<Option<String>>,
    reached: tokio::sync::Notify,
    resume: tokio::sync::Notify,
}

#[cfg(feature = "crash-points")]
impl Paused {
    /// Until an instance has stopped at the point; its name (host/address).
    pub async fn reached(&self) -> String {
        self.reached.notified().await;
        self.reached_by
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .unwrap_or_default()
    }

    pub fn resume(&self) {
        self.resume.notify_one();
    }
}

#[cfg(feature = "crash-points")]
fn pauses() -> std::sync::MutexGuard<'static, Vec<std::sync::Arc<Paused>>> {
    static PAUSES: std::sync::Mutex<Vec<std::sync::Arc<Paused>>> =
        std::sync::Mutex::new(Vec::new());
    PAUSES.lock().unwrap_or_else(|p| p.into_inner())
}

/// Arms `point` once, for the first instance whose name (host/address) `instance` accepts
/// (tests in one process run instances of their own).
#[cfg(feature = "crash-points")]
pub fn pause_next(
    point: &'static str,
    instance: impl Fn(&str) -> bool + Send + Sync + 'static,
) -> std::sync::Arc<Paused> {
    let paused = std::sync::Arc::new(Paused {
        point,
        instance: Box::new(instance),
        reached_by: std::sync::Mutex::new(None),
        reached: tokio::sync::Notify::new(),
        resume: tokio::sync::Notify::new(),
    });
    pauses().push(paused.clone());
    paused
}

/// Waits here if a test armed `point` for `instance`.
#[cfg(feature = "crash-points")]
pub async fn pause(point: &str, instance: &str) {
    let armed = {
        let mut all = pauses();
        let i = all
            .iter()
            .position(|p| p.point == point && (p.instance)(instance));
        i.map(|i| all.remove(i))
    };
    if let Some(paused) = armed {
        *paused.reached_by.lock().unwrap_or_else(|p| p.into_inner()) = Some(instance.to_owned());
        paused.reached.notify_one();
        paused.resume.notified().await;
    }
}

/// Pause points are compiled out of this build.
#[cfg(not(feature = "crash-points"))]
#[inline(always)]
pub async fn pause(_point: &str, _instance: &str) {}

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
