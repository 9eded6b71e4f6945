//! The services integration tests need (Samba AD DC, PostgreSQL, OIDC provider, SMTP sink),
//! and the one way a test without its service skips. Not a crate: each integration-test
//! binary includes this file (`#[path]`), so they all print and record skips alike.
//!
//! Under `CI=true` a missing service fails the test: CI never skips. Elsewhere the test
//! passes without running, prints `SKIPPED: <test>: no <service> (…)` to the terminal (past
//! libtest's output capture, so it shows for passing tests too) and, when run through
//! `scripts/cargo-runner` (set in `.cargo/config.toml`), appends that line to the file named
//! by `JITROLES_SKIPPED_FILE`; the runner counts them after the binary's own summary, so a
//! green local `cargo test` never passes for a full run. libtest has no end-of-run hook and
//! the workspace forbids the `unsafe` an `atexit` would need, hence the runner.

#![allow(dead_code)] // each test binary uses the services it needs

use std::io::Write;

/// A service tests need, found through the environment its start script prints.
pub struct Service {
    /// What people call it, after "no".
    pub name: &'static str,
    /// The variable whose presence says it is up.
    pub var: &'static str,
    /// How to start it.
    pub start: &'static str,
}

pub const SAMBA: Service = Service {
    name: "Samba AD DC",
    var: "AD_LDAPS_URL",
    start: "eval \"$(scripts/ad up)\"",
};

pub const POSTGRES: Service = Service {
    name: "PostgreSQL",
    var: "JITROLES_TEST_POSTGRES_URL",
    start: "eval \"$(scripts/postgres up)\"",
};

pub const OIDC: Service = Service {
    name: "OIDC provider",
    var: "OIDC_ISSUER",
    start: "eval \"$(scripts/oidc up)\"",
};

pub const SMTP: Service = Service {
    name: "SMTP sink",
    var: "SMTP_OUTBOX",
    start: "eval \"$(scripts/smtp up)\"",
};

impl Service {
    /// The service's variable when it is up. Otherwise the test fails under `CI=true`, and
    /// elsewhere says it is skipped and gets `None` (it should return at once).
    pub fn var(&self) -> Option<String> {
        if let Ok(value) = std::env::var(self.var) {
            return Some(value);
        }
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{} is not set: CI needs the {} ({})",
            self.var,
            self.name,
            self.start
        );
        skipped(self);
        None
    }

    /// Whether the service is up (see [`Service::var`]).
    pub fn up(&self) -> bool {
        self.var().is_some()
    }
}

fn skipped(service: &Service) {
    // libtest names each test's thread after the test
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("a test");
    let line = format!(
        "SKIPPED: {test}: no {} (set {}: {})\n",
        service.name, service.var, service.start
    );
    // straight to the stream: eprintln! would be captured and hidden for a passing test
    let _ = std::io::stderr().write_all(line.as_bytes());
    if let Ok(path) = std::env::var("JITROLES_SKIPPED_FILE") {
        let appended = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut file| file.write_all(line.as_bytes()));
        if let Err(e) = appended {
            let _ = writeln!(std::io::stderr(), "cannot record the skip: {e}");
        }
    }
}
