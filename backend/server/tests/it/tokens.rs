//! Bearer JWTs against the real test OIDC provider (`scripts/oidc up`): a real client-credentials
//! token passes; every forged or stale variant is refused with a reason a person understands.
//! Forged tokens are signed with the provider's own key (read from its key file) unless the
//! point is a wrong key.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Instant,
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::Duration;
use jitroles_server::auth::jwt::{JwtSettings, JwtVerifier, TokenError};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

use crate::oidc::{Provider, provider, real_now};

#[tokio::test]
async fn a_client_credentials_token_from_the_provider_verifies_and_names_its_client() {
    let Some(op) = provider() else { return };
    let token = op.ci_bot_token().await;

    let claims = op.verifier().verify(&token, real_now()).await.unwrap();

    assert_eq!(claims.client_id.as_deref(), Some("ci-bot"));
    assert_eq!(claims.iss, op.issuer);
}

#[tokio::test]
async fn stale_and_misaddressed_tokens_are_refused_with_the_reason() {
    let Some(op) = provider() else { return };
    let verifier = op.verifier();
    let now = real_now();
    let token = op.ci_bot_token().await;

    // the same real token, seen by a clock past its expiry (10 min) and the 60 s leeway
    assert_eq!(
        verifier.verify(&token, now + Duration::minutes(12)).await,
        Err(TokenError::Expired)
    );
    assert!(
        verifier
            .verify(&token, now + Duration::minutes(10))
            .await
            .is_ok(),
        "within the leeway"
    );

    let mut future = op.claims(now);
    future["nbf"] = json!((now + Duration::minutes(5)).timestamp());
    assert_eq!(
        verifier.verify(&op.sign(&future), now).await,
        Err(TokenError::NotYetValid)
    );

    let mut issuer = op.claims(now);
    issuer["iss"] = json!("http://127.0.0.1:1/elsewhere");
    assert_eq!(
        verifier.verify(&op.sign(&issuer), now).await,
        Err(TokenError::Issuer)
    );

    let mut audience = op.claims(now);
    audience["aud"] = json!("urn:someone-else");
    assert_eq!(
        verifier.verify(&op.sign(&audience), now).await,
        Err(TokenError::Audience)
    );

    assert!(
        verifier
            .verify(&op.sign(&op.claims(now)), now)
            .await
            .is_ok(),
        "the control case passes"
    );
}

#[tokio::test]
async fn forged_tokens_are_refused() {
    let Some(op) = provider() else { return };
    let verifier = op.verifier();
    let now = real_now();
    let good = op.sign(&op.claims(now));
    let parts: Vec<&str> = good.split('.').collect();

    // claims changed after signing
    let mut claims = op.claims(now);
    claims["client_id"] = json!("someone-else");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        parts[2]
    );
    assert_eq!(
        verifier.verify(&tampered, now).await,
        Err(TokenError::Signature)
    );

    // alg none, no signature
    let none =
        URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": "JWT", "kid": op.kid}).to_string());
    let unsigned = format!("{none}.{}.", parts[1]);
    assert_eq!(
        verifier.verify(&unsigned, now).await,
        Err(TokenError::Algorithm("none".into()))
    );

    // HS256 with the provider's public key as the HMAC secret
    let mut hs = Header::new(Algorithm::HS256);
    hs.kid = Some(op.kid.clone());
    let confused = jsonwebtoken::encode(
        &hs,
        &op.claims(now),
        &EncodingKey::from_secret(&op.public_n),
    )
    .unwrap();
    assert_eq!(
        verifier.verify(&confused, now).await,
        Err(TokenError::Algorithm("HS256".into()))
    );

    // a kid the issuer never published
    let mut unknown = Header::new(Algorithm::RS256);
    unknown.kid = Some("not-a-key-of-the-issuer".into());
    let stray = jsonwebtoken::encode(&unknown, &op.claims(now), &op.key).unwrap();
    assert_eq!(
        verifier.verify(&stray, now).await,
        Err(TokenError::UnknownKey("not-a-key-of-the-issuer".into()))
    );

    // no kid at all, and not a JWT at all
    let anonymous =
        jsonwebtoken::encode(&Header::new(Algorithm::RS256), &op.claims(now), &op.key).unwrap();
    assert_eq!(
        verifier.verify(&anonymous, now).await,
        Err(TokenError::NoKeyId)
    );
    assert_eq!(
        verifier.verify("not.a.jwt", now).await,
        Err(TokenError::Malformed)
    );
}

#[tokio::test]
async fn an_unreachable_jwks_is_reported_as_such() {
    let Some(op) = provider() else { return };
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let verifier = JwtVerifier::new(JwtSettings::new(
        &op.issuer,
        &op.audience,
        format!("http://{closed}/jwks"),
    ));
    let err = verifier
        .verify(&op.sign(&op.claims(real_now())), real_now())
        .await
        .unwrap_err();
    assert!(matches!(err, TokenError::Jwks(_)), "{err:?}");
}

#[tokio::test]
async fn a_remembered_token_is_still_refused_once_it_expires() {
    let Some(op) = provider() else { return };
    let verifier = op.verifier();
    let now = real_now();
    let token = op.ci_bot_token().await;

    assert!(verifier.verify(&token, now).await.is_ok());
    assert!(verifier.verify(&token, now).await.is_ok(), "from the cache");
    assert_eq!(
        verifier.verify(&token, now + Duration::minutes(12)).await,
        Err(TokenError::Expired)
    );
}

/// What the test JWKS endpoint does: serve the provider's key, fail, or never answer.
#[derive(Clone, Copy, PartialEq, Eq)]
enum JwksMode {
    Serve,
    Fail,
    Hang,
}

/// A JWKS endpoint on loopback serving the test provider's public key, whose behaviour a test
/// switches (the provider's fault simulated; the verifier is the real one), counting requests.
struct JwksEndpoint {
    url: String,
    mode: Arc<Mutex<JwksMode>>,
    fetches: Arc<AtomicUsize>,
}

impl JwksEndpoint {
    async fn start(op: &Provider) -> Self {
        let mode = Arc::new(Mutex::new(JwksMode::Serve));
        let fetches = Arc::new(AtomicUsize::new(0));
        let jwks = json!({"keys": [{
            "kty": "RSA", "kid": op.kid, "alg": "RS256", "use": "sig",
            "n": URL_SAFE_NO_PAD.encode(&op.public_n), "e": "AQAB",
        }]});
        let (m, f) = (mode.clone(), fetches.clone());
        let app = axum::Router::new().route(
            "/jwks",
            axum::routing::get(move || {
                let (m, f, jwks) = (m.clone(), f.clone(), jwks.clone());
                async move {
                    f.fetch_add(1, Ordering::SeqCst);
                    let mode = *m.lock().unwrap();
                    match mode {
                        JwksMode::Serve => (axum::http::StatusCode::OK, jwks.to_string()),
                        JwksMode::Fail => {
                            (axum::http::StatusCode::INTERNAL_SERVER_ERROR, String::new())
                        }
                        JwksMode::Hang => std::future::pending().await,
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/jwks", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, mode, fetches }
    }

    fn set(&self, mode: JwksMode) {
        *self.mode.lock().unwrap() = mode;
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

/// A token naming a key the issuer never published; its signature is never looked at (the
/// key is missing first), so an attacker needs no key to make one.
fn with_made_up_kid(op: &Provider, i: usize) -> String {
    let header = json!({"alg": "RS256", "typ": "at+jwt", "kid": format!("made-up-{i}")});
    format!(
        "{}.{}.c2lnbmF0dXJl",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(op.claims(real_now()).to_string())
    )
}

/// A verifier against `jwks` that may fetch again for an unknown key at once after a success,
/// so only the bound after failures (and the single flight) stands between made-up keys and
/// the provider.
fn eager_verifier(op: &Provider, jwks: &JwksEndpoint) -> Arc<JwtVerifier> {
    Arc::new(JwtVerifier::new(JwtSettings {
        refetch_after: std::time::Duration::ZERO,
        ..JwtSettings::new(&op.issuer, &op.audience, jwks.url.clone())
    }))
}

/// An eager verifier (above) that has fetched the keys once and verified a token with them.
async fn warmed(
    op: &Provider,
) -> (
    JwksEndpoint,
    Arc<JwtVerifier>,
    chrono::DateTime<chrono::Utc>,
) {
    let jwks = JwksEndpoint::start(op).await;
    let verifier = eager_verifier(op, &jwks);
    let now = real_now();
    verifier
        .verify(&op.sign(&op.claims(now)), now)
        .await
        .unwrap();
    assert_eq!(jwks.fetches(), 1);
    (jwks, verifier, now)
}

/// A token signed with the known key that the verifier has not seen (its own `jti`).
fn unseen(op: &Provider, now: chrono::DateTime<chrono::Utc>, jti: &str) -> String {
    let mut claims = op.claims(now);
    claims["jti"] = json!(jti);
    op.sign(&claims)
}

#[tokio::test]
async fn a_failing_jwks_is_fetched_once_for_a_hundred_made_up_keys() {
    let Some(op) = provider() else { return };
    let (jwks, verifier, now) = warmed(&op).await;

    jwks.set(JwksMode::Fail);
    for i in 0..100 {
        assert_eq!(
            verifier.verify(&with_made_up_kid(&op, i), now).await,
            Err(TokenError::UnknownKey(format!("made-up-{i}")))
        );
    }

    assert_eq!(
        jwks.fetches(),
        2,
        "one fetch for the first made-up key, then the back-off holds"
    );
    assert!(
        verifier
            .verify(&unseen(&op, now, "another token"), now)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_hanging_jwks_fetch_neither_repeats_nor_delays_tokens_with_known_keys() {
    let Some(op) = provider() else { return };
    let (jwks, verifier, now) = warmed(&op).await;
    let known = unseen(&op, now, "not verified before");

    jwks.set(JwksMode::Hang);
    let made_up: Vec<_> = (0..100)
        .map(|i| {
            let (verifier, token) = (verifier.clone(), with_made_up_kid(&op, i));
            tokio::spawn(async move { verifier.verify(&token, real_now()).await })
        })
        .collect();
    let deadline = Instant::now() + std::time::Duration::from_secs(5);
    while jwks.fetches() < 2 {
        assert!(Instant::now() < deadline, "no fetch for the made-up keys");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }

    let started = Instant::now();
    let verified = tokio::time::timeout(
        std::time::Duration::from_secs(2),
        verifier.verify(&known, now),
    )
    .await
    .expect("a token with a known key waited for the hanging fetch");
    assert!(verified.is_ok(), "{verified:?}");
    assert!(
        started.elapsed() < std::time::Duration::from_millis(100),
        "took {:?}",
        started.elapsed()
    );
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(jwks.fetches(), 2, "one fetch under way for all 100 tokens");
    for task in made_up {
        task.abort();
    }
}

#[tokio::test]
async fn id_tokens_are_refused_as_access_tokens() {
    let Some(op) = provider() else { return };
    let verifier = op.verifier();
    let now = real_now();
    let refused = |r: Result<_, TokenError>| matches!(r, Err(TokenError::NotAnAccessToken(_)));

    let mut id_token = op.claims(now);
    id_token["nonce"] = json!("n-0S6_WzA2Mj");
    assert!(refused(verifier.verify(&op.sign(&id_token), now).await));
    let claims = op.claims(now);
    for typ in [Some("JWT"), Some("id+jwt"), None] {
        let token = op.sign_typed(&claims, typ, &op.kid);
        assert!(refused(verifier.verify(&token, now).await), "{typ:?}");
    }
    let typed = op.sign_typed(&claims, Some("application/at+jwt"), &op.kid);
    assert!(verifier.verify(&typed, now).await.is_ok());

    // a provider that does not type its access tokens: the nonce still gives ID tokens away
    let untyped = JwtVerifier::new(JwtSettings {
        require_at_jwt: false,
        ..JwtSettings::new(&op.issuer, &op.audience, format!("{}/jwks", op.issuer))
    });
    assert!(
        untyped
            .verify(&op.sign_typed(&claims, Some("JWT"), &op.kid), now)
            .await
            .is_ok()
    );
    let id_token = op.sign_typed(&id_token, Some("JWT"), &op.kid);
    assert!(refused(untyped.verify(&id_token, now).await));
}
