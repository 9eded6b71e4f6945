//! The browser's sign-in cookie: a pending sign-in (`state`, `nonce`, PKCE verifier, return
//! path, expiry) sealed so the browser carries it and nothing is written on the server until the
//! callback. See docs/security.md, "Sign-in flood".

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jitroles_domain::{DomainError, secret::Secret, session::PendingSignIn};
use ring::{
    aead::{self, Aad, LessSafeKey, NONCE_LEN, Nonce as AeadNonce},
    hkdf,
    rand::{SecureRandom, SystemRandom},
};
use serde::{Deserialize, Serialize};

/// Seals and opens the sign-in cookie: ChaCha20-Poly1305 (confidential and tamper-evident)
/// under a key derived with HKDF-SHA256 from the deployment's random sign-in key, which every
/// instance reads from the database, with the cookie's name as associated data.
pub struct SignInSeal {
    key: LessSafeKey,
    random: SystemRandom,
}

/// What the sign-in cookie holds (names kept short: it travels with every request until the
/// callback).
#[derive(Serialize, Deserialize)]
struct SealedSignIn {
    #[serde(rename = "s")]
    state: String,
    #[serde(rename = "n")]
    nonce: String,
    #[serde(rename = "v")]
    pkce_verifier: String,
    #[serde(rename = "r")]
    return_to: String,
    /// Unix seconds.
    #[serde(rename = "e")]
    expires_at: i64,
}

/// A fresh key for sealing sign-ins: 32 random bytes, base64. The database keeps the first one
/// any instance offers (`Store::sign_in_key`).
pub fn new_sign_in_key() -> Result<Secret, DomainError> {
    let mut key = [0u8; 32];
    SystemRandom::new()
        .fill(&mut key)
        .map_err(|_| DomainError::Internal("the system random source failed".into()))?;
    Ok(Secret::new(URL_SAFE_NO_PAD.encode(key)))
}

impl SignInSeal {
    /// From the deployment's random sign-in key (never from the client secret: a sealed cookie
    /// would let anyone test guesses of the secret offline).
    pub fn new(sign_in_key: &Secret) -> Self {
        let okm = hkdf::Salt::new(hkdf::HKDF_SHA256, b"jitroles sign-in cookie v2")
            .extract(sign_in_key.expose().as_bytes());
        // a ChaCha20-Poly1305 key is within HKDF-SHA256's output limit: this cannot fail, and
        // if it ever did there would be no key, never a zero one
        let key = okm
            .expand(&[b"chacha20-poly1305"], &aead::CHACHA20_POLY1305)
            .map(aead::UnboundKey::from)
            .map(LessSafeKey::new)
            .expect("a 32-byte key from HKDF-SHA256");
        Self {
            key,
            random: SystemRandom::new(),
        }
    }

    pub fn seal(&self, name: &str, pending: &PendingSignIn) -> Result<String, DomainError> {
        let sealed = SealedSignIn {
            state: pending.state.clone(),
            nonce: pending.nonce.clone(),
            pkce_verifier: pending.pkce_verifier.clone(),
            return_to: pending.return_to.clone(),
            expires_at: pending.expires_at.timestamp(),
        };
        let mut data = serde_json::to_vec(&sealed)
            .map_err(|e| DomainError::Internal(format!("cannot encode the sign-in: {e}")))?;
        let mut nonce = [0u8; NONCE_LEN];
        self.random
            .fill(&mut nonce)
            .map_err(|_| DomainError::Internal("the system random source failed".into()))?;
        self.key
            .seal_in_place_append_tag(
                AeadNonce::assume_unique_for_key(nonce),
                Aad::from(name.as_bytes()),
                &mut data,
            )
            .map_err(|_| DomainError::Internal("cannot seal the sign-in".into()))?;
        let mut out = nonce.to_vec();
        out.extend(data);
        Ok(URL_SAFE_NO_PAD.encode(out))
    }

    /// The sign-in a cookie holds, if this deployment sealed it and it has not expired.
    pub fn open(
        &self,
        name: &str,
        value: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Option<PendingSignIn> {
        let bytes = URL_SAFE_NO_PAD.decode(value).ok()?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce = AeadNonce::try_assume_unique_for_key(nonce).ok()?;
        let mut sealed = sealed.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(name.as_bytes()), &mut sealed)
            .ok()?;
        let s: SealedSignIn = serde_json::from_slice(plain).ok()?;
        let expires_at = chrono::DateTime::from_timestamp(s.expires_at, 0)?;
        (expires_at > now).then_some(PendingSignIn {
            state: s.state,
            nonce: s.nonce,
            pkce_verifier: s.pkce_verifier,
            return_to: s.return_to,
            expires_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(expires_at: chrono::DateTime<chrono::Utc>) -> PendingSignIn {
        PendingSignIn {
            state: "state-value-1234".into(),
            nonce: "nonce-value-5678".into(),
            pkce_verifier: "verifier-value-9012".into(),
            return_to: "/admin".into(),
            expires_at,
        }
    }

    fn at(seconds: i64) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::from_timestamp(seconds, 0).unwrap()
    }

    #[test]
    fn a_sealed_sign_in_opens_only_unchanged_under_its_name_key_and_window() {
        let key = new_sign_in_key().unwrap();
        let seal = SignInSeal::new(&key);
        let sign_in = pending(at(2_000));
        let sealed = seal.seal("jitroles-sign-in", &sign_in).unwrap();

        assert_eq!(
            seal.open("jitroles-sign-in", &sealed, at(1_000)),
            Some(sign_in.clone())
        );
        // the browser cannot read what it carries
        let bytes = URL_SAFE_NO_PAD.decode(&sealed).unwrap();
        assert!(bytes.len() >= NONCE_LEN + 16, "nonce and tag");
        for secret in ["state-value", "nonce-value", "verifier-value"] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{secret}"
            );
        }
        // every single bit flipped is refused
        for i in 0..bytes.len() * 8 {
            let mut flipped = bytes.clone();
            flipped[i / 8] ^= 1 << (i % 8);
            let value = URL_SAFE_NO_PAD.encode(&flipped);
            assert_eq!(
                seal.open("jitroles-sign-in", &value, at(1_000)),
                None,
                "bit {i}"
            );
        }
        assert_eq!(
            seal.open("another-cookie", &sealed, at(1_000)),
            None,
            "name"
        );
        let other = SignInSeal::new(&new_sign_in_key().unwrap());
        assert_eq!(
            other.open("jitroles-sign-in", &sealed, at(1_000)),
            None,
            "key"
        );
        assert_eq!(
            seal.open("jitroles-sign-in", &sealed, at(2_000)),
            None,
            "expired"
        );
        assert_ne!(
            seal.seal("jitroles-sign-in", &sign_in).unwrap(),
            sealed,
            "a fresh nonce per seal"
        );
    }
}
