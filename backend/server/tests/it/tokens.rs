//! Bearer JWTs against the real test OIDC provider (`scripts/oidc up`): a real client-credentials
//! token passes; every forged or stale variant is refused with a reason a person understands.
//! Forged tokens are signed with the provider's own key (read from its key file) unless the
//! point is a wrong key.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::Duration;
use jitroles_server::auth::jwt::{JwtSettings, JwtVerifier, TokenError};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

use crate::oidc::{provider, real_now};

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
