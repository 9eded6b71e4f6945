//! Browser sign-in under attack and under key rotation: a flood of `/auth/login` writes
//! nothing while a person signs in through the real provider and requests a role; an ID token
//! signed with a key the provider published after jitroles read its keys is accepted once
//! jitroles reads them again, and made-up keys do not make it read them more than once.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jitroles_ad_fixture::{Fixture, Options};
use jitroles_proto::v1::{self as pb, role_service_client::RoleServiceClient};
use reqwest::{StatusCode, header};
use serde_json::{Value, json};
use tonic::Request;

use crate::{
    oidc::{Provider, provider, real_now},
    stack::{on_fixture, oncall_rule},
    support::{
        cookie_header, location, no_redirects, query_param, set_cookies, sqlite_file, start_sign_in,
    },
};

const SIGN_IN_COOKIE: &str = "jitroles-sign-in";
pub const SESSION_COOKIE: &str = "jitroles-session";
const FLOOD: usize = 10_000;

/// Signs `account` in at `server` through the test provider's login form, as a browser would;
/// returns the session cookie's value.
pub async fn sign_in(server: &str, account: &str) -> String {
    let http = no_redirects();
    let (ours, mut at) = start_sign_in(&http, server, "").await;
    let mut provider_jar = HashMap::new();
    for _ in 0..12 {
        if at.as_str().starts_with(&format!("{server}/auth/callback")) {
            let back = http
                .get(at.clone())
                .header(header::COOKIE, cookie_header(&ours))
                .send()
                .await
                .unwrap();
            assert_eq!(
                back.status(),
                StatusCode::SEE_OTHER,
                "{}",
                back.text().await.unwrap()
            );
            return set_cookies(&back)
                .remove(SESSION_COOKIE)
                .expect("a session cookie");
        }
        let page = http
            .get(at.clone())
            .header(header::COOKIE, cookie_header(&provider_jar))
            .send()
            .await
            .unwrap();
        provider_jar.extend(set_cookies(&page));
        if page.status() == StatusCode::SEE_OTHER || page.status() == StatusCode::FOUND {
            at = location(&page, &at);
            continue;
        }
        // the provider's interaction page: log in (any password), or consent
        let html = page.text().await.unwrap();
        let form: &[(&str, &str)] = if html.contains("name=\"login\"") {
            &[("prompt", "login"), ("login", account), ("password", "x")]
        } else {
            &[("prompt", "consent")]
        };
        let submitted = http
            .post(at.clone())
            .header(header::COOKIE, cookie_header(&provider_jar))
            .form(form)
            .send()
            .await
            .unwrap();
        provider_jar.extend(set_cookies(&submitted));
        at = location(&submitted, &at);
    }
    panic!("the sign-in did not come back to jitroles");
}

/// A server on its own directory fixture with browser sign-in at the test provider.
async fn with_browser_sign_in(
    op: &Provider,
) -> (jitroles_server::Running, Fixture, tempfile::TempDir) {
    let fixture = Fixture::start(Options::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = on_fixture(dir.path(), fixture.url(), op);
    let oidc = config.oidc.as_mut().unwrap();
    oidc.client_id = Some(std::env::var("OIDC_CLIENT_ID").unwrap());
    oidc.client_secret = Some(std::env::var("OIDC_CLIENT_SECRET").unwrap().into());
    config.session.insecure_localhost_cookie = true;
    let running = jitroles_server::start(&config).await.unwrap();
    (running, fixture, dir)
}

/// Rows in every table of the server's SQLite database.
async fn total_rows(data_dir: &std::path::Path) -> i64 {
    use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};
    let db = sea_orm::Database::connect(format!("sqlite://{}", sqlite_file(data_dir).display()))
        .await
        .unwrap();
    let tables = db
        .query_all_raw(Statement::from_string(
            DatabaseBackend::Sqlite,
            "SELECT name FROM sqlite_master WHERE type = 'table'",
        ))
        .await
        .unwrap();
    let mut total = 0;
    for table in tables {
        let name: String = table.try_get("", "name").unwrap();
        let count = db
            .query_one_raw(Statement::from_string(
                DatabaseBackend::Sqlite,
                format!("SELECT COUNT(*) AS n FROM \"{name}\""),
            ))
            .await
            .unwrap()
            .unwrap();
        total += count.try_get::<i64>("", "n").unwrap();
    }
    db.close().await.unwrap();
    total
}

#[tokio::test]
async fn a_sign_in_flood_writes_nothing_while_a_person_signs_in_and_requests_a_role() {
    let Some(op) = provider() else { return };
    let (server, _fixture, dir) = with_browser_sign_in(&op).await;
    let url = format!("http://{}", server.addr());
    let channel = tonic::transport::Channel::from_shared(url.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let rule = oncall_rule(
        channel.clone(),
        &op,
        ("Flood", "jit-role-dba"),
        600,
        pb::JustificationPolicy::Optional,
    )
    .await;

    let before = total_rows(dir.path()).await;
    // the flood: one client, 16 requests at a time
    let sent = Arc::new(AtomicUsize::new(0));
    let flood = {
        let (sent, url) = (sent.clone(), url.clone());
        tokio::spawn(async move {
            let http = no_redirects();
            let mut statuses = HashMap::new();
            let mut pending = tokio::task::JoinSet::new();
            for _ in 0..FLOOD {
                if pending.len() >= 16
                    && let Some(done) = pending.join_next().await
                {
                    *statuses.entry(done.unwrap()).or_insert(0) += 1;
                }
                let (http, url, sent) = (http.clone(), url.clone(), sent.clone());
                pending.spawn(async move {
                    let status = http
                        .get(format!("{url}/auth/login"))
                        .send()
                        .await
                        .map(|r| r.status().as_u16())
                        .unwrap_or(0);
                    sent.fetch_add(1, Ordering::SeqCst);
                    status
                });
            }
            while let Some(done) = pending.join_next().await {
                *statuses.entry(done.unwrap()).or_insert(0) += 1;
            }
            statuses
        })
    };
    while sent.load(Ordering::SeqCst) < 500 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let session = sign_in(&url, "dave").await;
    let mut ask = Request::new(pb::RequestRoleRequest {
        rule_id: rule.id.clone(),
        duration: None,
        justification: "during the flood".into(),
        client_request_id: String::new(),
        break_glass_reason: Default::default(),
        start_time: Default::default(),
    });
    ask.metadata_mut().insert(
        "cookie",
        format!("{SESSION_COOKIE}={session}").parse().unwrap(),
    );
    ask.metadata_mut()
        .insert("x-jitroles-csrf", "1".parse().unwrap());
    let grant = RoleServiceClient::new(channel)
        .request_role(ask)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(grant.state(), pb::GrantState::Active);
    let during = sent.load(Ordering::SeqCst);
    assert!(
        during < FLOOD,
        "the flood was over before the person was done"
    );

    let statuses = flood.await.unwrap();
    assert_eq!(statuses.get(&303), Some(&FLOOD), "{statuses:?}");
    let after = total_rows(dir.path()).await;
    // dave's sign-in, session, grant and their audit events and notifications: a handful; a
    // row per call would be 10,000
    assert!(
        after - before < 50,
        "sign-ins under way are kept in the browser, not the database: {before} rows before, {after} after"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_sign_in_cookie_that_was_tampered_with_or_is_someone_elses_is_refused() {
    let Some(op) = provider() else { return };
    let (server, _fixture, _dir) = with_browser_sign_in(&op).await;
    let url = format!("http://{}", server.addr());
    let http = no_redirects();
    let start = |http: reqwest::Client| {
        let url = url.clone();
        async move {
            let (mut cookies, to) = start_sign_in(&http, &url, "").await;
            (
                cookies.remove(SIGN_IN_COOKIE).unwrap(),
                query_param(&to, "state"),
            )
        }
    };
    let (cookie, state) = start(http.clone()).await;
    assert!(
        !cookie.contains(&state),
        "the state is sealed, not in clear"
    );
    let (other_cookie, _) = start(http.clone()).await;
    let mut bytes = URL_SAFE_NO_PAD.decode(&cookie).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let tampered = URL_SAFE_NO_PAD.encode(bytes);
    for bad in [tampered, other_cookie, "garbage".into()] {
        let back = http
            .get(format!("{url}/auth/callback?code=x&state={state}"))
            .header(header::COOKIE, format!("{SIGN_IN_COOKIE}={bad}"))
            .send()
            .await
            .unwrap();
        assert_eq!(back.status(), StatusCode::BAD_REQUEST);
        assert!(back.text().await.unwrap().contains("expired"));
    }
    server.shutdown().await.unwrap();
}

/// An OpenID provider on loopback whose keys a test rotates: it publishes `published` kids
/// (all the test provider's key), and its token endpoint answers with an ID token for
/// `next_id_token` signed under `signing_kid`. Counts discovery-document reads.
struct RotatingProvider {
    issuer: String,
    published: Arc<Mutex<Vec<String>>>,
    next: Arc<Mutex<(String, Value)>>,
    discoveries: Arc<AtomicUsize>,
}

impl RotatingProvider {
    async fn start(op: &Provider) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let published = Arc::new(Mutex::new(vec!["first".to_owned()]));
        let next = Arc::new(Mutex::new((String::new(), json!({}))));
        let discoveries = Arc::new(AtomicUsize::new(0));
        let n = URL_SAFE_NO_PAD.encode(&op.public_n);
        let key = Arc::new(op.key.clone());
        let discovery = {
            let (issuer, discoveries) = (issuer.clone(), discoveries.clone());
            move || {
                discoveries.fetch_add(1, Ordering::SeqCst);
                let doc = json!({
                    "issuer": issuer,
                    "authorization_endpoint": format!("{issuer}/authorize"),
                    "token_endpoint": format!("{issuer}/token"),
                    "jwks_uri": format!("{issuer}/jwks"),
                    "response_types_supported": ["code"],
                    "subject_types_supported": ["public"],
                    "id_token_signing_alg_values_supported": ["RS256"],
                });
                async move { json_reply(&doc) }
            }
        };
        let jwks = {
            let published = published.clone();
            move || {
                let keys: Vec<Value> = published
                    .lock()
                    .unwrap()
                    .iter()
                    .map(|kid| json!({"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig", "n": n, "e": "AQAB"}))
                    .collect();
                async move { json_reply(&json!({ "keys": keys })) }
            }
        };
        let token = {
            let next = next.clone();
            move || {
                let (kid, claims) = next.lock().unwrap().clone();
                let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
                header.kid = Some(kid);
                let id_token = jsonwebtoken::encode(&header, &claims, &key).unwrap();
                async move {
                    json_reply(&json!({
                        "access_token": "opaque", "token_type": "Bearer",
                        "expires_in": 600, "id_token": id_token,
                    }))
                }
            }
        };
        let app = axum::Router::new()
            .route(
                "/.well-known/openid-configuration",
                axum::routing::get(discovery),
            )
            .route("/jwks", axum::routing::get(jwks))
            .route("/token", axum::routing::post(token));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            issuer,
            published,
            next,
            discoveries,
        }
    }
}

fn json_reply(value: &Value) -> ([(header::HeaderName, &'static str); 1], String) {
    (
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
}

/// Starts a sign-in at `server` and finishes it with the ID token the provider signs under
/// `kid`; returns the callback's status.
async fn sign_in_with_key(server: &str, op: &RotatingProvider, kid: &str) -> StatusCode {
    let http = no_redirects();
    let (cookies, to) = start_sign_in(&http, server, "").await;
    let param = |name: &str| query_param(&to, name);
    let now = real_now().timestamp();
    *op.next.lock().unwrap() = (
        kid.to_owned(),
        json!({
            "iss": op.issuer, "aud": param("client_id"), "sub": "dave",
            "preferred_username": "dave", "nonce": param("nonce"),
            "iat": now, "exp": now + 600,
        }),
    );
    let back = http
        .get(format!(
            "{server}/auth/callback?code=c&state={}",
            param("state")
        ))
        .header(header::COOKIE, cookie_header(&cookies))
        .send()
        .await
        .unwrap();
    back.status()
}

#[tokio::test]
async fn browser_sign_in_reads_the_providers_keys_again_when_an_id_token_names_a_new_one() {
    let Some(op) = provider() else { return };
    let rotating = RotatingProvider::start(&op).await;
    let fixture = Fixture::start(Options::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = on_fixture(dir.path(), fixture.url(), &op);
    let oidc = config.oidc.as_mut().unwrap();
    oidc.issuer = rotating.issuer.clone();
    oidc.client_id = Some("jitroles".into());
    oidc.client_secret = Some("rotating-secret".to_owned().into());
    config.session.insecure_localhost_cookie = true;
    let server = jitroles_server::start(&config).await.unwrap();
    let url = format!("http://{}", server.addr());

    assert_eq!(
        sign_in_with_key(&url, &rotating, "first").await,
        StatusCode::SEE_OTHER
    );
    assert_eq!(rotating.discoveries.load(Ordering::SeqCst), 1);

    // the provider rotates: a new key, published after jitroles read the keys
    rotating.published.lock().unwrap().push("second".into());
    assert_eq!(
        sign_in_with_key(&url, &rotating, "second").await,
        StatusCode::SEE_OTHER,
        "the new key is read on first need"
    );
    assert_eq!(rotating.discoveries.load(Ordering::SeqCst), 2);

    // a key nobody published: refused, and no second read within the interval
    for _ in 0..3 {
        assert_eq!(
            sign_in_with_key(&url, &rotating, "made-up").await,
            StatusCode::FORBIDDEN
        );
    }
    assert_eq!(rotating.discoveries.load(Ordering::SeqCst), 2);
    server.shutdown().await.unwrap();
}
