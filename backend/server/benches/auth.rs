//! Per-request cost of authenticating a bearer token: JWT verification with the JWKS cached.
//!
//!     eval "$(scripts/oidc up)" && cargo bench -p jitroles-server --bench auth
//!
//! A real client-credentials token from the test provider, verified 20,000 times after one
//! warm-up (which fetches the JWKS): fully (signature, issuer, audience, times) and as a token
//! seen before (verification cache; times still checked). Sequential, one thread.
//!
//! Browser sessions on SQLite (a temp file): a session lookup from the database and from the
//! per-instance cache.
//!
//! With the Samba DC too (`eval "$(scripts/ad up)"`): the whole authentication of a call
//! (bearer token or session → directory account → token groups), without and with the caller
//! cache.

#![allow(clippy::unwrap_used, clippy::disallowed_methods)] // a benchmark reads the clock

use std::{collections::BTreeMap, sync::Arc, time::Duration, time::Instant};

use jitroles_directory::{ActiveDirectory, DirectoryConfig};
use jitroles_domain::session::{SessionPolicy, SignedIn};
use jitroles_server::{
    auth::{
        caller::{Authenticator, CALLER_TTL, ClientPolicy, IdentityMapping},
        jwt::{JwtSettings, JwtVerifier},
        session::{self, Lookup, Sessions},
    },
    clock::SystemClock,
};
use jitroles_store::Database;

/// Prints p50/p99/max of `micros`.
fn report(what: &str, mut micros: Vec<f64>) {
    micros.sort_by(f64::total_cmp);
    let pct = |p: f64| micros[((p * micros.len() as f64) as usize).min(micros.len() - 1)];
    println!(
        "{what} ({} runs): p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs",
        micros.len(),
        pct(0.5),
        pct(0.99),
        micros[micros.len() - 1]
    );
}

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

    for (name, remembered) in [
        ("full verification (RSA), cached JWKS", false),
        ("token seen before (verification cache)", true),
    ] {
        let mut micros = Vec::with_capacity(RUNS);
        for _ in 0..RUNS {
            let t = Instant::now();
            if remembered {
                verifier.verify(&token, now).await.unwrap();
            } else {
                verifier.verify_uncached(&token, now).await.unwrap();
            }
            micros.push(t.elapsed().as_secs_f64() * 1e6);
        }
        report(&format!("JWT {name}, RS256 2048-bit"), micros);
    }

    let dir = tempfile::tempdir().unwrap();
    let db = Database::connect(&format!(
        "sqlite://{}",
        dir.path().join("bench.db").display()
    ))
    .await
    .unwrap();
    db.migrate().await.unwrap();
    let policy = SessionPolicy {
        idle: Duration::from_secs(30 * 60),
        absolute: Duration::from_secs(10 * 3600),
    };
    let dave = SignedIn {
        account: "dave".into(),
        display_name: "Dave Dba".into(),
        subject: "dave".into(),
        id_token: None,
    };
    let mut session_cookie = String::new();
    for (name, recheck, runs) in [
        ("read from SQLite every time", Duration::ZERO, 5_000),
        (
            "per-instance cache, re-read every 4 s",
            session::RECHECK,
            RUNS,
        ),
    ] {
        let sessions = Sessions::new(Arc::new(db.clone()), policy, Arc::new(SystemClock), recheck);
        let token = sessions.open(dave.clone()).await.unwrap();
        sessions.find(&token).await.unwrap();
        let mut micros = Vec::with_capacity(runs);
        for _ in 0..runs {
            let t = Instant::now();
            let found = sessions.find(&token).await.unwrap();
            micros.push(t.elapsed().as_secs_f64() * 1e6);
            assert!(matches!(found, Lookup::Live(_)));
        }
        report(&format!("session lookup, {name}"), micros);
        session_cookie = token;
    }
    let sessions = Sessions::new(
        Arc::new(db.clone()),
        policy,
        Arc::new(SystemClock),
        session::RECHECK,
    );

    let Ok(ldaps) = std::env::var("AD_LDAPS_URL") else {
        println!("(AD_LDAPS_URL not set: effective-group resolution not measured)");
        return;
    };
    let mut directory = DirectoryConfig::new(ldaps, env("AD_SVC_DN"), env("AD_SVC_PASS"));
    directory.ca_file = Some(env("AD_CA_FILE").into());
    let directory: Arc<ActiveDirectory> = Arc::new(ActiveDirectory::new(directory).unwrap());
    for (name, ttl, runs) in [
        ("without the caller cache", Duration::ZERO, 1_000),
        ("with the caller cache", CALLER_TTL, RUNS),
    ] {
        let auth = Authenticator::new(
            JwtVerifier::new(JwtSettings::new(
                &issuer,
                env("OIDC_API_AUDIENCE"),
                format!("{issuer}/jwks"),
            )),
            directory.clone(),
            IdentityMapping::default(),
            ClientPolicy {
                service_accounts: BTreeMap::from([("ci-bot".to_owned(), "svc-ci".to_owned())]),
                ..ClientPolicy::default()
            },
            Arc::new(jitroles_server::admin_groups::AdminGroups::new(
                Vec::new(),
                directory.clone(),
            )),
            Arc::new(SystemClock),
            ttl,
        );
        auth.from_bearer(&token).await.unwrap();
        let mut micros = Vec::with_capacity(runs);
        for _ in 0..runs {
            let t = Instant::now();
            let who = auth.from_bearer(&token).await.unwrap();
            micros.push(t.elapsed().as_secs_f64() * 1e6);
            assert_eq!(who.caller.account_name, "svc-ci");
        }
        report(
            &format!("bearer authentication incl. effective groups, {name}"),
            micros,
        );

        // a browser call: session (cached) → person → token groups
        let mut micros = Vec::with_capacity(runs);
        for _ in 0..runs {
            let t = Instant::now();
            let Lookup::Live(found) = sessions.find(&session_cookie).await.unwrap() else {
                panic!("the session ended");
            };
            let who = auth.person(&found.account).await.unwrap();
            micros.push(t.elapsed().as_secs_f64() * 1e6);
            assert_eq!(who.account_name, "dave");
        }
        report(
            &format!("session authentication incl. effective groups, {name}"),
            micros,
        );
    }
}
