//! JWT access tokens from the configured issuer, verified against its JWKS: signature with an
//! allow-listed algorithm and a key named by `kid`, issuer, audience, expiry and not-before with
//! a small leeway, and that it is an access token at all (no `nonce`; `typ` `at+jwt` unless
//! `require_at_jwt` is off). Signatures are checked with ring (already in the build through
//! rustls): RS256 and ES256 only, so `none` and HMAC tokens never verify.
//!
//! The JWKS is cached and fetched again when a token names an unknown key (key rotation). Anyone
//! can send a token with a made-up `kid`, so that fetch is bounded: one at a time (later callers
//! wait for its outcome instead of fetching again), never while holding the lock that readers of
//! the known keys take, and at most one per interval whatever its outcome (`refetch_after` after
//! a success, growing after consecutive failures; see [`Refetch`]).
//!
//! Time is a value: `verify` takes `now`, so expiry is tested with a manual clock.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::Duration,
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use thiserror::Error;
use tokio::time::Instant;

/// Why a token was refused; every variant becomes UNAUTHENTICATED with this text.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TokenError {
    #[error("the bearer token is not a well-formed JWT")]
    Malformed,
    #[error("tokens signed with {0} are not accepted")]
    Algorithm(String),
    #[error("the token names no signing key (kid)")]
    NoKeyId,
    #[error("the token's signing key {0:?} is not one of the issuer's keys")]
    UnknownKey(String),
    #[error("the token's signature does not verify")]
    Signature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token was not issued by the configured issuer")]
    Issuer,
    #[error("the token is not meant for jitroles (wrong audience)")]
    Audience,
    #[error("the issuer's signing keys cannot be fetched: {0}")]
    Jwks(String),
    /// An ID token (or another kind of token) sent where an access token belongs.
    #[error("the bearer token is not an access token: {0}")]
    NotAnAccessToken(String),
}

/// The claims jitroles reads from an access token.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: Option<String>,
    pub exp: i64,
    pub nbf: Option<i64>,
    /// The OAuth client, for client-credentials tokens (RFC 9068).
    pub client_id: Option<String>,
    /// Every other claim: the identity mapping picks the one that names a person.
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

impl AccessClaims {
    /// A claim as text (`sub` or any other string claim).
    pub fn claim(&self, name: &str) -> Option<&str> {
        match name {
            "sub" => self.sub.as_deref(),
            _ => self.other.get(name).and_then(|v| v.as_str()),
        }
    }
}

/// The signature algorithms jitroles can accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    RS256,
    ES256,
}

impl Alg {
    fn parse(name: &str) -> Option<Self> {
        match name {
            "RS256" => Some(Self::RS256),
            "ES256" => Some(Self::ES256),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct JwtSettings {
    pub issuer: String,
    pub audience: String,
    /// `None`: `jwks_uri` from the issuer's discovery document, looked up on first need.
    pub jwks_url: Option<String>,
    pub algorithms: Vec<Alg>,
    pub leeway: Duration,
    /// Least time between two JWKS fetches caused by unknown `kid`s (after a success; failures
    /// back off further, see [`Refetch`]).
    pub refetch_after: Duration,
    /// Accept only tokens whose header says `typ: at+jwt` (RFC 9068), as providers that type
    /// their access tokens set it: an ID token then never passes for an access token.
    pub require_at_jwt: bool,
}

impl JwtSettings {
    /// RS256 and ES256, 60 s leeway, JWKS re-fetched at most every 30 s, `at+jwt` required.
    pub fn new(
        issuer: impl Into<String>,
        audience: impl Into<String>,
        jwks_url: impl Into<String>,
    ) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            jwks_url: Some(jwks_url.into()),
            algorithms: vec![Alg::RS256, Alg::ES256],
            leeway: Duration::from_secs(60),
            refetch_after: Duration::from_secs(30),
            require_at_jwt: true,
        }
    }
}

pub struct JwtVerifier {
    settings: JwtSettings,
    http: reqwest::Client,
    /// The keys of the last good fetch. Never held across an await: a token whose key is known
    /// verifies while a fetch is slow or failing.
    keys: RwLock<Arc<Keys>>,
    /// When to fetch again; a std mutex, held only to read or record.
    refetch: std::sync::Mutex<Refetch>,
    /// Held by the one fetch under way; callers with an unknown `kid` wait on it for its outcome.
    flight: tokio::sync::Mutex<()>,
    /// Tokens whose signature, issuer and audience already verified, by SHA-256 of the token:
    /// a service sends the same token on every call until it expires. Expiry and not-before
    /// are still checked on every call.
    verified: std::sync::Mutex<HashMap<[u8; 32], AccessClaims>>,
}

/// Most verified tokens remembered; past it, expired ones are dropped, then all.
const VERIFIED_CAPACITY: usize = 10_000;

/// A public key from the JWKS, ready for ring.
#[derive(Clone)]
enum PublicKey {
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    /// Uncompressed SEC1 point: 0x04 ‖ x ‖ y.
    P256(Vec<u8>),
}

#[derive(Clone)]
struct CachedKey {
    key: PublicKey,
    /// The algorithm the JWK names, if any; a key is never used with another.
    alg: Option<String>,
}

/// One entry of a JWKS (RFC 7517), the fields jitroles uses.
#[derive(Deserialize)]
struct Jwk {
    kid: Option<String>,
    kty: String,
    alg: Option<String>,
    n: Option<String>,
    e: Option<String>,
    crv: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

#[derive(Deserialize)]
struct JwkSet {
    keys: Vec<Jwk>,
}

/// The issuer's keys, decoded once per fetch.
#[derive(Default)]
struct Keys {
    by_kid: HashMap<String, CachedKey>,
}

/// First retry after a failed fetch while no key was ever fetched: without keys no token
/// verifies, so retrying soon is what brings service back (still at most once a second).
const COLD_RETRY: Duration = Duration::from_secs(1);
/// Longest wait after consecutive failed fetches once keys are known (the known keys still
/// verify meanwhile).
const MAX_BACKOFF: Duration = Duration::from_secs(5 * 60);

/// When the JWKS may be fetched again for an unknown `kid`. Every attempt counts, success or
/// failure, from its start and again from its end (so neither a caller who hangs up mid-fetch
/// nor a fetch that hangs until its timeout lets the next one start early).
#[derive(Debug, Default)]
struct Refetch {
    last_attempt: Option<Instant>,
    /// Attempts started: a caller that waited for a fetch sees it changed and takes that
    /// fetch's outcome instead of starting another.
    attempts: u64,
    /// Consecutive failed fetches.
    failures: u32,
    /// A fetch has succeeded once.
    loaded: bool,
    /// Why the latest fetch failed, while it is the latest outcome.
    error: Option<String>,
}

impl Refetch {
    /// The wait after the latest attempt: `refetch_after` after a success; after failures,
    /// doubling from `refetch_after` up to [`MAX_BACKOFF`], or while no key is known, from
    /// [`COLD_RETRY`] up to `refetch_after`; never less than [`COLD_RETRY`] after a failure.
    fn interval(&self, refetch_after: Duration) -> Duration {
        if self.failures == 0 {
            return refetch_after;
        }
        let doubled = |base: Duration| base.saturating_mul(1 << (self.failures - 1).min(16));
        let after_failure = if self.loaded {
            doubled(refetch_after).min(MAX_BACKOFF.max(refetch_after))
        } else {
            doubled(COLD_RETRY).min(refetch_after)
        };
        after_failure.max(COLD_RETRY)
    }

    fn due(&self, now: Instant, refetch_after: Duration) -> bool {
        self.last_attempt
            .is_none_or(|at| now >= at + self.interval(refetch_after))
    }

    /// Why `kid` cannot be had now: the outage, while no key was ever fetched; else unknown.
    fn refusal(&self, kid: &str) -> TokenError {
        match (&self.error, self.loaded) {
            (Some(error), false) => TokenError::Jwks(error.clone()),
            _ => TokenError::UnknownKey(kid.to_owned()),
        }
    }
}

impl Keys {
    fn from_set(set: JwkSet) -> Self {
        let b64 = |v: &Option<String>| v.as_deref().and_then(|s| URL_SAFE_NO_PAD.decode(s).ok());
        let by_kid = set
            .keys
            .into_iter()
            .filter_map(|jwk| {
                let key = match (jwk.kty.as_str(), jwk.crv.as_deref()) {
                    ("RSA", _) => PublicKey::Rsa {
                        n: b64(&jwk.n)?,
                        e: b64(&jwk.e)?,
                    },
                    ("EC", Some("P-256")) => {
                        let mut point = vec![0x04];
                        point.extend(b64(&jwk.x)?);
                        point.extend(b64(&jwk.y)?);
                        PublicKey::P256(point)
                    }
                    _ => return None,
                };
                Some((jwk.kid?, CachedKey { key, alg: jwk.alg }))
            })
            .collect();
        Self { by_kid }
    }
}

#[derive(Deserialize)]
struct JoseHeader {
    alg: String,
    kid: Option<String>,
    typ: Option<String>,
}

impl JwtVerifier {
    pub fn new(settings: JwtSettings) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Self {
            settings,
            http,
            keys: RwLock::new(Arc::default()),
            refetch: std::sync::Mutex::new(Refetch::default()),
            flight: tokio::sync::Mutex::new(()),
            verified: std::sync::Mutex::new(HashMap::new()),
        }
    }

    pub async fn verify(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<AccessClaims, TokenError> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let known = self.remembered().get(&digest).cloned();
        let Some(claims) = known else {
            let claims = self.verify_uncached(token, now).await?;
            let mut remembered = self.remembered();
            if remembered.len() >= VERIFIED_CAPACITY {
                let now = now.timestamp();
                remembered.retain(|_, c| c.exp > now);
                if remembered.len() >= VERIFIED_CAPACITY {
                    remembered.clear();
                }
            }
            remembered.insert(digest, claims.clone());
            return Ok(claims);
        };
        self.check_times(&claims, now)?;
        Ok(claims)
    }

    /// Full verification, without the cache of verified tokens.
    pub async fn verify_uncached(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<AccessClaims, TokenError> {
        let mut parts = token.split('.');
        let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let header: JoseHeader = decode_json(header_b64)?;
        let alg = Alg::parse(&header.alg)
            .filter(|a| self.settings.algorithms.contains(a))
            .ok_or_else(|| TokenError::Algorithm(header.alg.clone()))?;
        let kid = header.kid.ok_or(TokenError::NoKeyId)?;
        let key = self.key(&kid, &header.alg).await?;

        let signature = URL_SAFE_NO_PAD
            .decode(signature_b64)
            .map_err(|_| TokenError::Malformed)?;
        let signed = &token.as_bytes()[..header_b64.len() + 1 + payload_b64.len()];
        let verified = match (alg, &key) {
            (Alg::RS256, PublicKey::Rsa { n, e }) => RsaPublicKeyComponents { n, e }.verify(
                &signature::RSA_PKCS1_2048_8192_SHA256,
                signed,
                &signature,
            ),
            (Alg::ES256, PublicKey::P256(point)) => {
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(signed, &signature)
            }
            // a key of another type than the algorithm needs
            _ => return Err(TokenError::Algorithm(header.alg)),
        };
        verified.map_err(|_| TokenError::Signature)?;

        let payload: serde_json::Value = decode_json(payload_b64)?;
        self.check_access_token(header.typ.as_deref(), &payload)?;
        if payload["iss"].as_str() != Some(self.settings.issuer.as_str()) {
            return Err(TokenError::Issuer);
        }
        let audience = self.settings.audience.as_str();
        let for_us = match &payload["aud"] {
            serde_json::Value::String(aud) => aud == audience,
            serde_json::Value::Array(auds) => auds.iter().any(|a| a.as_str() == Some(audience)),
            _ => false,
        };
        if !for_us {
            return Err(TokenError::Audience);
        }
        let claims: AccessClaims =
            serde_json::from_value(payload).map_err(|_| TokenError::Malformed)?;
        self.check_times(&claims, now)?;
        Ok(claims)
    }

    fn remembered(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], AccessClaims>> {
        self.verified
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn check_times(&self, claims: &AccessClaims, now: DateTime<Utc>) -> Result<(), TokenError> {
        let leeway = i64::try_from(self.settings.leeway.as_secs()).unwrap_or(i64::MAX);
        let now = now.timestamp();
        if now > claims.exp.saturating_add(leeway) {
            return Err(TokenError::Expired);
        }
        if claims
            .nbf
            .is_some_and(|nbf| now.saturating_add(leeway) < nbf)
        {
            return Err(TokenError::NotYetValid);
        }
        Ok(())
    }

    /// ID tokens carry the `nonce` of the sign-in they finish; access tokens never do. Providers
    /// that follow RFC 9068 type access tokens `at+jwt`, and nothing else.
    fn check_access_token(
        &self,
        typ: Option<&str>,
        payload: &serde_json::Value,
    ) -> Result<(), TokenError> {
        if payload.get("nonce").is_some() {
            return Err(TokenError::NotAnAccessToken(
                "it carries a nonce, as ID tokens do".into(),
            ));
        }
        let at_jwt = typ.is_some_and(|t| {
            let t = t.to_ascii_lowercase();
            t == "at+jwt" || t == "application/at+jwt"
        });
        if self.settings.require_at_jwt && !at_jwt {
            return Err(TokenError::NotAnAccessToken(format!(
                "its type is {}, not at+jwt (RFC 9068); if the provider does not type its access tokens, set oidc.require_at_jwt = false",
                typ.unwrap_or("not given")
            )));
        }
        Ok(())
    }

    /// The key for `kid`, fetching the JWKS when it is unknown (bounded, see [`Refetch`]).
    async fn key(&self, kid: &str, alg: &str) -> Result<PublicKey, TokenError> {
        let found = match self.known(kid) {
            Some(found) => found,
            None => self.refetch_for(kid).await?,
        };
        if found.alg.as_deref().is_some_and(|key_alg| key_alg != alg) {
            return Err(TokenError::Algorithm(alg.to_owned()));
        }
        Ok(found.key)
    }

    fn known(&self, kid: &str) -> Option<CachedKey> {
        let keys = self
            .keys
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        keys.by_kid.get(kid).cloned()
    }

    fn refetch_state(&self) -> std::sync::MutexGuard<'_, Refetch> {
        self.refetch
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Fetches the JWKS for an unknown `kid` if one is due, or waits for the fetch under way.
    async fn refetch_for(&self, kid: &str) -> Result<CachedKey, TokenError> {
        let refetch_after = self.settings.refetch_after;
        let seen = self.refetch_state().attempts;
        let flight = self.flight.lock().await;
        // a fetch that ended while this caller waited may have brought the key
        if let Some(found) = self.known(kid) {
            return Ok(found);
        }
        {
            let mut state = self.refetch_state();
            // one fetch answers everyone who waited for it; only a fresh ask may start one
            if state.attempts != seen || !state.due(Instant::now(), refetch_after) {
                return Err(state.refusal(kid));
            }
            // counted from the start: a caller who hangs up mid-fetch has still spent it
            state.last_attempt = Some(Instant::now());
            state.attempts += 1;
        }
        let outcome = self.fetch().await;
        {
            let mut state = self.refetch_state();
            // and from the end: a fetch that hung for its whole timeout spent the interval too
            state.last_attempt = Some(Instant::now());
            match outcome {
                Ok(set) => {
                    *self
                        .keys
                        .write()
                        .unwrap_or_else(|poisoned| poisoned.into_inner()) =
                        Arc::new(Keys::from_set(set));
                    state.failures = 0;
                    state.loaded = true;
                    state.error = None;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot fetch the issuer's signing keys");
                    state.failures = state.failures.saturating_add(1);
                    state.error = Some(match e {
                        TokenError::Jwks(why) => why,
                        other => other.to_string(),
                    });
                    if !state.loaded {
                        return Err(state.refusal(kid));
                    }
                }
            }
        }
        drop(flight);
        self.known(kid)
            .ok_or_else(|| TokenError::UnknownKey(kid.to_owned()))
    }

    async fn fetch(&self) -> Result<JwkSet, TokenError> {
        let url = match &self.settings.jwks_url {
            Some(url) => url.clone(),
            None => self.discover_jwks_url().await?,
        };
        self.get_json(&url).await
    }

    async fn discover_jwks_url(&self) -> Result<String, TokenError> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.settings.issuer.trim_end_matches('/')
        );
        let document: serde_json::Value = self.get_json(&url).await?;
        document["jwks_uri"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| TokenError::Jwks("the discovery document has no jwks_uri".into()))
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, TokenError> {
        self.http
            .get(url)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| TokenError::Jwks(e.to_string()))?
            .json()
            .await
            .map_err(|e| TokenError::Jwks(e.to_string()))
    }
}

fn decode_json<T: serde::de::DeserializeOwned>(part: &str) -> Result<T, TokenError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| TokenError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| TokenError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_fetches_back_off_and_a_success_resets_the_interval() {
        let thirty = Duration::from_secs(30);
        let mut state = Refetch::default();
        let secs = |s: &Refetch| s.interval(thirty).as_secs();
        // no key yet: retry soon, then less often, up to the normal interval
        state.failures = 1;
        assert_eq!(secs(&state), 1);
        state.failures = 3;
        assert_eq!(secs(&state), 4);
        state.failures = 10;
        assert_eq!(secs(&state), 30);
        // keys known: from the normal interval up to five minutes
        state.loaded = true;
        state.failures = 1;
        assert_eq!(secs(&state), 30);
        state.failures = 2;
        assert_eq!(secs(&state), 60);
        state.failures = 40;
        assert_eq!(secs(&state), 300);
        state.failures = 0;
        assert_eq!(secs(&state), 30);
        // even with no interval asked for, a failure waits a second
        state.failures = 1;
        assert_eq!(state.interval(Duration::ZERO), COLD_RETRY);
    }
}
