//! Browser sessions: who signed in, and until when the session holds.
//!
//! A session ends at the first of: sign-out, `idle` without use, or `absolute` after sign-in,
//! whatever activity there is. The rules are pure; the store keeps sessions so that they
//! survive restarts and are shared by every instance.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};

use crate::DomainError;

/// How long sessions last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// Ends a session nobody used for this long.
    pub idle: Duration,
    /// Ends every session this long after sign-in.
    pub absolute: Duration,
}

/// `last_seen_at` is written at most this often, so a busy session does not write on every
/// call; idle expiry is therefore exact to within this much.
pub const TOUCH_INTERVAL: Duration = Duration::from_secs(60);

/// A signed-in browser. `key` is what the store indexes by: a hash of the cookie's secret,
/// never the secret itself, so a copy of the database does not hand out live sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub key: String,
    /// The directory lookup value the identity mapping produced (e.g. the sAMAccountName).
    pub account: String,
    pub display_name: String,
    /// The provider's `sub`.
    pub subject: String,
    /// Kept for RP-initiated logout (`id_token_hint`).
    pub id_token: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
}

/// Why a session no longer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEnd {
    SignedOut,
    Idle,
    Expired,
}

impl SessionEnd {
    /// For the sign-in prompt and logs.
    pub fn describe(self) -> &'static str {
        match self {
            Self::SignedOut => "the session was signed out",
            Self::Idle => "the session ended after a period of inactivity",
            Self::Expired => "the session reached its maximum length",
        }
    }
}

/// Who is signing in, as the provider and the directory described them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    pub account: String,
    pub display_name: String,
    pub subject: String,
    pub id_token: Option<String>,
}

impl SessionPolicy {
    pub fn open(&self, key: String, who: SignedIn, now: DateTime<Utc>) -> Session {
        Session {
            key,
            account: who.account,
            display_name: who.display_name,
            subject: who.subject,
            id_token: who.id_token,
            created_at: now,
            last_seen_at: now,
            expires_at: now + delta(self.absolute),
            ended_at: None,
        }
    }

    /// Whether `session` still holds at `now`.
    pub fn check(&self, session: &Session, now: DateTime<Utc>) -> Result<(), SessionEnd> {
        if session.ended_at.is_some() {
            Err(SessionEnd::SignedOut)
        } else if now >= session.expires_at {
            Err(SessionEnd::Expired)
        } else if now >= session.last_seen_at + delta(self.idle) {
            Err(SessionEnd::Idle)
        } else {
            Ok(())
        }
    }

    /// Whether use at `now` should be recorded (see [`TOUCH_INTERVAL`]).
    pub fn needs_touch(&self, session: &Session, now: DateTime<Utc>) -> bool {
        now >= session.last_seen_at + delta(TOUCH_INTERVAL.min(self.idle / 2))
    }
}

/// A sign-in under way: what the callback needs to finish it (sealed into the browser's
/// sign-in cookie, matched by the `state` the provider sends back).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingSignIn {
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
    /// The app path to return to afterwards (already checked to be a local path).
    pub return_to: String,
    pub expires_at: DateTime<Utc>,
}

/// How long a user may take at the provider's login page.
pub const SIGN_IN_WINDOW: Duration = Duration::from_secs(10 * 60);

/// Where sessions are kept (sign-ins under way travel in a sealed cookie, not here).
#[async_trait]
pub trait SessionStore: Send + Sync {
    async fn insert_session(&self, session: &Session) -> Result<(), DomainError>;
    async fn session(&self, key: &str) -> Result<Option<Session>, DomainError>;
    async fn touch_session(&self, key: &str, now: DateTime<Utc>) -> Result<(), DomainError>;
    /// Marks the session ended; false if there was no live one.
    async fn end_session(&self, key: &str, now: DateTime<Utc>) -> Result<bool, DomainError>;

    /// Deletes sessions that no longer hold under `policy` at `now` (signed out, idle,
    /// expired); returns how many rows went.
    async fn purge_sessions(
        &self,
        policy: SessionPolicy,
        now: DateTime<Utc>,
    ) -> Result<u64, DomainError>;
}

/// The local path a sign-in may return to: only same-origin absolute paths, so `/auth/login`
/// cannot be used to send someone to another site (`//evil.example`, `/\evil`, `https://…`),
/// and never back into the sign-in routes.
pub fn safe_return_path(requested: Option<&str>) -> String {
    match requested {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.starts_with("/\\")
                && !path.starts_with("/auth/")
                && !has_dot_segment(path)
                && path.len() <= 2048
                && !path.chars().any(|c| c.is_control() || c == '\\') =>
        {
            path.to_owned()
        }
        _ => "/".to_owned(),
    }
}

/// A `.` or `..` segment, also percent-encoded (`%2e`): browsers resolve them away, so
/// `/./auth/login` or `/admin/%2e%2e/auth/login` would land in `/auth/` past the prefix check.
/// The app's own paths never have one.
fn has_dot_segment(path: &str) -> bool {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    path.split('/').any(|segment| {
        let segment = segment.to_ascii_lowercase().replace("%2e", ".");
        segment == "." || segment == ".."
    })
}

fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: SessionPolicy = SessionPolicy {
        idle: Duration::from_secs(30 * 60),
        absolute: Duration::from_secs(8 * 3600),
    };

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-27T09:00:00Z")
            .unwrap()
            .to_utc()
    }

    fn session() -> Session {
        POLICY.open(
            "k".into(),
            SignedIn {
                account: "dave".into(),
                display_name: "Dave Dba".into(),
                subject: "dave".into(),
                id_token: None,
            },
            t0(),
        )
    }

    fn minutes(m: i64) -> TimeDelta {
        TimeDelta::minutes(m)
    }

    #[test]
    fn a_fresh_session_holds() {
        assert_eq!(POLICY.check(&session(), t0() + minutes(1)), Ok(()));
    }

    #[test]
    fn a_session_unused_for_the_idle_time_ends() {
        let s = session();
        assert_eq!(POLICY.check(&s, t0() + minutes(29)), Ok(()));
        assert_eq!(POLICY.check(&s, t0() + minutes(30)), Err(SessionEnd::Idle));
    }

    #[test]
    fn use_keeps_a_session_alive_until_its_absolute_end() {
        let mut s = session();
        s.last_seen_at = t0() + minutes(8 * 60 - 1);
        assert_eq!(POLICY.check(&s, t0() + minutes(8 * 60 - 1)), Ok(()));
        assert_eq!(
            POLICY.check(&s, t0() + minutes(8 * 60)),
            Err(SessionEnd::Expired)
        );
    }

    #[test]
    fn a_signed_out_session_never_holds_again() {
        let mut s = session();
        s.ended_at = Some(t0() + minutes(1));
        assert_eq!(
            POLICY.check(&s, t0() + minutes(2)),
            Err(SessionEnd::SignedOut)
        );
    }

    #[test]
    fn use_is_recorded_at_most_once_a_minute() {
        let s = session();
        assert!(!POLICY.needs_touch(&s, t0() + TimeDelta::seconds(59)));
        assert!(POLICY.needs_touch(&s, t0() + TimeDelta::seconds(60)));
    }

    #[test]
    fn sign_in_returns_only_to_local_paths() {
        assert_eq!(
            safe_return_path(Some("/admin/rules?x=1")),
            "/admin/rules?x=1"
        );
        for bad in [
            "//evil.example/",
            "/\\evil.example",
            "https://evil.example/",
            "evil",
            "/auth/logout",
            "/./auth/login",
            "/admin/%2E%2e/auth/callback",
            "/a\nb",
        ] {
            assert_eq!(safe_return_path(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(safe_return_path(None), "/");
    }
}
