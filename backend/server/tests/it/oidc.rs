//! The test OIDC provider (`scripts/oidc up`): its settings, real tokens from it, and tokens
//! signed with its own key that it would never issue.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Duration, Utc};
use jitroles_server::auth::jwt::{JwtSettings, JwtVerifier};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::{BigUint, RsaPrivateKey, pkcs1::EncodeRsaPrivateKey};
use serde_json::{Value, json};

/// The client a person's bearer tokens in these tests are issued to (a CLI, say): the test
/// configurations list it in `oidc.allowed_clients`.
pub const PERSON_CLIENT: &str = "jitroles-cli";

pub struct Provider {
    pub issuer: String,
    pub audience: String,
    pub ci_bot_secret: String,
    pub key: EncodingKey,
    pub kid: String,
    pub public_n: Vec<u8>,
}

pub fn provider() -> Option<Provider> {
    let issuer = crate::service::OIDC.var()?;
    let var = |k: &str| std::env::var(k).unwrap();
    let keys: Value =
        serde_json::from_str(&std::fs::read_to_string(var("OIDC_SIGNING_KEYS")).unwrap()).unwrap();
    let jwk = &keys["keys"][0];
    let part = |name: &str| {
        BigUint::from_bytes_be(&URL_SAFE_NO_PAD.decode(jwk[name].as_str().unwrap()).unwrap())
    };
    let private =
        RsaPrivateKey::from_components(part("n"), part("e"), part("d"), vec![part("p"), part("q")])
            .unwrap();
    Some(Provider {
        issuer,
        audience: var("OIDC_API_AUDIENCE"),
        ci_bot_secret: var("OIDC_CI_BOT_SECRET"),
        key: EncodingKey::from_rsa_der(private.to_pkcs1_der().unwrap().as_bytes()),
        kid: jwk["kid"].as_str().unwrap().to_owned(),
        public_n: URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap(),
    })
}

impl Provider {
    pub fn verifier(&self) -> JwtVerifier {
        JwtVerifier::new(JwtSettings::new(
            &self.issuer,
            &self.audience,
            format!("{}/jwks", self.issuer),
        ))
    }

    pub async fn ci_bot_token(&self) -> String {
        let answer: Value = reqwest::Client::new()
            .post(format!("{}/token", self.issuer))
            .basic_auth("ci-bot", Some(&self.ci_bot_secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .await
            .unwrap();
        answer["access_token"].as_str().unwrap().to_owned()
    }

    pub fn claims(&self, now: DateTime<Utc>) -> Value {
        json!({
            "iss": self.issuer, "aud": self.audience, "sub": "ci-bot", "client_id": "ci-bot",
            "iat": now.timestamp(), "exp": (now + Duration::minutes(10)).timestamp(),
        })
    }

    /// `claims` signed as the provider signs access tokens (RFC 9068: `typ` `at+jwt`).
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_typed(claims, Some("at+jwt"), &self.kid)
    }

    /// `claims` signed with the provider's key, with the given `typ` and `kid` in the header.
    pub fn sign_typed(&self, claims: &Value, typ: Option<&str>, kid: &str) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.to_owned());
        header.typ = typ.map(str::to_owned);
        jsonwebtoken::encode(&header, claims, &self.key).unwrap()
    }
}

#[allow(clippy::disallowed_methods)] // the provider stamps tokens with the real time
pub fn real_now() -> DateTime<Utc> {
    Utc::now()
}

impl Provider {
    /// A token as the provider would issue for a signed-in person (`preferred_username`).
    pub fn person_token(&self, account: &str) -> String {
        let mut claims = self.claims(real_now());
        claims["sub"] = json!(account);
        claims["preferred_username"] = json!(account);
        claims["client_id"] = json!(PERSON_CLIENT);
        self.sign(&claims)
    }
}
