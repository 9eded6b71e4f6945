//! Browser sessions on top of the store: the cookie's secret, a short per-instance cache, and
//! the rules of `jitroles_domain::session`.
//!
//! The cookie holds 32 random bytes; the database holds only their SHA-256, so neither a
//! database copy nor a log line hands out a live session. Each instance re-reads a session at
//! least every [`RECHECK`], so a sign-out or expiry on one instance holds on all of them
//! within that time.

use std::{collections::HashMap, sync::Arc, time::Duration};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jitroles_domain::{
    Clock, DomainError,
    session::{Session, SessionEnd, SessionPolicy, SessionStore, SignedIn},
};
use ring::rand::{SecureRandom, SystemRandom};
use sha2::{Digest, Sha256};
use tokio::time::Instant;

/// How stale a cached session may be (DESIGN: sign-out holds everywhere within 5 s).
pub const RECHECK: Duration = Duration::from_secs(4);
/// Most sessions cached per instance; past it the cache starts over.
const CACHE_CAPACITY: usize = 10_000;

pub struct Sessions {
    store: Arc<dyn SessionStore>,
    policy: SessionPolicy,
    clock: Arc<dyn Clock>,
    recheck: Duration,
    cache: std::sync::Mutex<HashMap<String, (Session, Instant)>>,
    random: SystemRandom,
}

/// What a cookie stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Live(Session),
    Ended(SessionEnd),
    /// Not a session this deployment knows (never was, or purged).
    Unknown,
}

impl Sessions {
    pub fn new(
        store: Arc<dyn SessionStore>,
        policy: SessionPolicy,
        clock: Arc<dyn Clock>,
        recheck: Duration,
    ) -> Self {
        Self {
            store,
            policy,
            clock,
            recheck,
            cache: std::sync::Mutex::new(HashMap::new()),
            random: SystemRandom::new(),
        }
    }

    pub fn policy(&self) -> SessionPolicy {
        self.policy
    }

    /// A fresh unguessable cookie secret: 32 random bytes, base64url.
    fn random_token(&self) -> Result<String, DomainError> {
        let mut bytes = [0u8; 32];
        self.random
            .fill(&mut bytes)
            .map_err(|_| DomainError::Internal("the system random source failed".into()))?;
        Ok(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Starts a session; returns the cookie value.
    pub async fn open(&self, who: SignedIn) -> Result<String, DomainError> {
        let token = self.random_token()?;
        let session = self.policy.open(key_of(&token), who, self.clock.now());
        self.store.insert_session(&session).await?;
        Ok(token)
    }

    /// The session a cookie stands for, as of at most [`RECHECK`] ago; records use.
    pub async fn find(&self, token: &str) -> Result<Lookup, DomainError> {
        let key = key_of(token);
        let now = self.clock.now();
        let cached = self
            .cached()
            .get(&key)
            .filter(|(_, at)| at.elapsed() < self.recheck)
            .map(|(s, _)| s.clone());
        let session = match cached {
            Some(s) => s,
            None => match self.store.session(&key).await? {
                Some(s) => {
                    self.remember(&s);
                    s
                }
                None => {
                    self.cached().remove(&key);
                    return Ok(Lookup::Unknown);
                }
            },
        };
        if let Err(end) = self.policy.check(&session, now) {
            return Ok(Lookup::Ended(end));
        }
        if self.policy.needs_touch(&session, now) {
            self.store.touch_session(&key, now).await?;
            let mut touched = session.clone();
            touched.last_seen_at = now;
            self.remember(&touched);
        }
        Ok(Lookup::Live(session))
    }

    /// Ends the session behind `token` everywhere; returns it if it was live.
    pub async fn end(&self, token: &str) -> Result<Option<Session>, DomainError> {
        let key = key_of(token);
        self.cached().remove(&key);
        let session = self.store.session(&key).await?;
        let ended = self.store.end_session(&key, self.clock.now()).await?;
        Ok(session.filter(|_| ended))
    }

    /// Deletes what can no longer be used; run now and then.
    pub async fn purge(&self) -> Result<u64, DomainError> {
        self.store
            .purge_sessions(self.policy, self.clock.now())
            .await
    }

    fn remember(&self, session: &Session) {
        let mut cache = self.cached();
        if cache.len() >= CACHE_CAPACITY {
            cache.clear();
        }
        cache.insert(session.key.clone(), (session.clone(), Instant::now()));
    }

    fn cached(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Session, Instant)>> {
        self.cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// What the store indexes a session by: the hex SHA-256 of the cookie's secret.
pub fn key_of(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_key_is_a_hash_never_the_cookie_secret() {
        let key = key_of("secret");
        assert_eq!(key.len(), 64);
        assert!(!key.contains("secret"));
        assert_eq!(key, key_of("secret"));
        assert_ne!(key, key_of("secret2"));
    }
}
