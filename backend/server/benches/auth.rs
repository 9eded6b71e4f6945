//! Per-request cost of authenticating a bearer token: JWT verification with the JWKS cached.
//!
//!     eval "$(scripts/oidc up)" && cargo bench -p jitroles-server --bench auth
//!
//! A real client-credentials token from the test provider, verified 20,000 times after one
//! warm-up (which fetches the JWKS); latency per verification, sequential, one thread.

#![allow(clippy::unwrap_used, clippy::disallowed_methods)] // a benchmark reads the clock

use std::time::Instant;

use jitroles_server::auth::jwt::{JwtSettings, JwtVerifier};

const RUNS: usize = 20_000;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let env = |k: &str| {
        std::env::var(k)
            .unwrap_or_else(|_| panic!("{k} is not set: eval \"$(scripts/oidc up)\" first"))
    };
    let issuer = env("OIDC_ISSUER");
    let answer: serde_json::Value = reqwest::Client::new()
        .post(format!("{issuer}/token"))
        .basic_auth("ci-bot", Some(env("OIDC_CI_BOT_SECRET")))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = answer["access_token"].as_str().unwrap().to_owned();
    let verifier = JwtVerifier::new(JwtSettings::new(
        &issuer,
        env("OIDC_API_AUDIENCE"),
        format!("{issuer}/jwks"),
    ));
    let now = chrono::Utc::now();
    verifier.verify(&token, now).await.unwrap(); // fetches and caches the JWKS

    let mut micros = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let t = Instant::now();
        verifier.verify(&token, now).await.unwrap();
        micros.push(t.elapsed().as_secs_f64() * 1e6);
    }
    micros.sort_by(f64::total_cmp);
    let pct = |p: f64| micros[((p * micros.len() as f64) as usize).min(micros.len() - 1)];
    println!(
        "JWT verification, cached JWKS, RS256 2048-bit ({RUNS} runs): p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs",
        pct(0.5),
        pct(0.99),
        micros[micros.len() - 1]
    );
}
