//! JWT access tokens from the configured issuer, verified against its JWKS: signature with an
//! allow-listed algorithm and a key named by `kid`, issuer, audience, expiry and not-before with
//! a small leeway. The JWKS is cached and re-fetched, at most once per `refetch_after`, when a
//! token names an unknown key (key rotation).
//!
//! Time is a value: `verify` takes `now`, so expiry is tested with a manual clock.

use std::{
    collections::{HashMap, HashSet},
    time::Duration,
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, errors::ErrorKind, jwk::JwkSet};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use thiserror::Error;
use tokio::{sync::RwLock, time::Instant};

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
    /// A person's account name, when the token speaks for a person.
    pub preferred_username: Option<String>,
}

#[derive(Debug, Clone)]
pub struct JwtSettings {
    pub issuer: String,
    pub audience: String,
    /// `None`: `jwks_uri` from the issuer's discovery document, looked up on first need.
    pub jwks_url: Option<String>,
    pub algorithms: Vec<Algorithm>,
    pub leeway: Duration,
    /// Least time between two JWKS fetches caused by unknown `kid`s.
    pub refetch_after: Duration,
}

impl JwtSettings {
    /// RS256 and ES256, 60 s leeway, JWKS re-fetched at most every 30 s.
    pub fn new(
        issuer: impl Into<String>,
        audience: impl Into<String>,
        jwks_url: impl Into<String>,
    ) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            jwks_url: Some(jwks_url.into()),
            algorithms: vec![Algorithm::RS256, Algorithm::ES256],
            leeway: Duration::from_secs(60),
            refetch_after: Duration::from_secs(30),
        }
    }
}

pub struct JwtVerifier {
    settings: JwtSettings,
    http: reqwest::Client,
    keys: RwLock<Keys>,
    /// Tokens whose signature, issuer and audience already verified, by SHA-256 of the token:
    /// a service sends the same token on every call until it expires, and the RSA check is
    /// most of the cost. Expiry and not-before are still checked on every call.
    verified: std::sync::Mutex<HashMap<[u8; 32], AccessClaims>>,
}

/// Most verified tokens remembered; past it, expired ones are dropped, then all.
const VERIFIED_CAPACITY: usize = 10_000;

/// The issuer's keys, decoded once per fetch: verification reuses them.
struct Keys {
    by_kid: HashMap<String, CachedKey>,
    fetched_at: Option<Instant>,
}

#[derive(Clone)]
struct CachedKey {
    key: DecodingKey,
    /// The algorithm the JWK names, if any; a key is never used with another.
    alg: Option<String>,
}

impl Keys {
    fn from_set(set: &JwkSet, fetched_at: Instant) -> Self {
        let by_kid = set
            .keys
            .iter()
            .filter_map(|jwk| {
                let kid = jwk.common.key_id.clone()?;
                let key = DecodingKey::from_jwk(jwk).ok()?;
                Some((
                    kid,
                    CachedKey {
                        key,
                        alg: jwk.common.key_algorithm.map(|a| format!("{a:?}")),
                    },
                ))
            })
            .collect();
        Self {
            by_kid,
            fetched_at: Some(fetched_at),
        }
    }
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
            keys: RwLock::new(Keys {
                by_kid: HashMap::new(),
                fetched_at: None,
            }),
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
        let claims = match known {
            Some(claims) => claims,
            None => {
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
            }
        };
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

    /// Full verification, without the cache of verified tokens.
    pub async fn verify_uncached(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<AccessClaims, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| unaccepted_algorithm(token))?;
        if !self.settings.algorithms.contains(&header.alg) {
            return Err(TokenError::Algorithm(format!("{:?}", header.alg)));
        }
        let kid = header.kid.ok_or(TokenError::NoKeyId)?;
        let key = self.key(&kid, header.alg).await?;

        let mut validation = Validation::new(header.alg);
        // exp and nbf are checked below against `now`, not the system clock
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.required_spec_claims = HashSet::new();
        validation.set_issuer(&[&self.settings.issuer]);
        validation.set_audience(&[&self.settings.audience]);
        let claims = jsonwebtoken::decode::<AccessClaims>(token, &key, &validation)
            .map_err(|e| match e.kind() {
                ErrorKind::InvalidSignature => TokenError::Signature,
                ErrorKind::InvalidIssuer => TokenError::Issuer,
                ErrorKind::InvalidAudience | ErrorKind::MissingRequiredClaim(_) => {
                    TokenError::Audience
                }
                _ => TokenError::Malformed,
            })?
            .claims;

        self.check_times(&claims, now)?;
        Ok(claims)
    }

    /// The key for `kid`, fetching the JWKS when it is unknown (rate-limited).
    async fn key(&self, kid: &str, alg: Algorithm) -> Result<DecodingKey, TokenError> {
        let stale = |keys: &Keys| {
            keys.fetched_at
                .is_none_or(|at| at.elapsed() >= self.settings.refetch_after)
        };
        let cached = {
            let keys = self.keys.read().await;
            keys.by_kid.get(kid).cloned().ok_or_else(|| stale(&keys))
        };
        let found = match cached {
            Ok(found) => found,
            Err(true) => {
                let mut keys = self.keys.write().await;
                // another request may have fetched meanwhile
                if !keys.by_kid.contains_key(kid) && stale(&keys) {
                    *keys = Keys::from_set(&self.fetch().await?, Instant::now());
                }
                keys.by_kid
                    .get(kid)
                    .cloned()
                    .ok_or_else(|| TokenError::UnknownKey(kid.to_owned()))?
            }
            Err(false) => return Err(TokenError::UnknownKey(kid.to_owned())),
        };
        // a key published for one algorithm is never used with another (no RS256 → HS256 confusion)
        if found
            .alg
            .as_ref()
            .is_some_and(|key_alg| *key_alg != format!("{alg:?}"))
        {
            return Err(TokenError::Algorithm(format!("{alg:?}")));
        }
        Ok(found.key)
    }

    async fn fetch(&self) -> Result<JwkSet, TokenError> {
        let url = match &self.settings.jwks_url {
            Some(url) => url.clone(),
            None => self.discover_jwks_url().await?,
        };
        let response = self
            .http
            .get(url)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| TokenError::Jwks(e.to_string()))?;
        response
            .json::<JwkSet>()
            .await
            .map_err(|e| TokenError::Jwks(e.to_string()))
    }
}

impl JwtVerifier {
    async fn discover_jwks_url(&self) -> Result<String, TokenError> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.settings.issuer.trim_end_matches('/')
        );
        let document: serde_json::Value = self
            .http
            .get(url)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| TokenError::Jwks(e.to_string()))?
            .json()
            .await
            .map_err(|e| TokenError::Jwks(e.to_string()))?;
        document["jwks_uri"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| TokenError::Jwks("the discovery document has no jwks_uri".into()))
    }
}

/// A header jsonwebtoken cannot parse: say which algorithm it names (e.g. `none`), if any.
fn unaccepted_algorithm(token: &str) -> TokenError {
    let alg = token
        .split('.')
        .next()
        .and_then(|h| URL_SAFE_NO_PAD.decode(h).ok())
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .and_then(|v| v.get("alg").and_then(|a| a.as_str()).map(str::to_owned));
    match alg {
        Some(alg) => TokenError::Algorithm(alg),
        None => TokenError::Malformed,
    }
}
