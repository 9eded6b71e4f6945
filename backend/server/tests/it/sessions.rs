//! Browser sessions through the auth layer, on two instances sharing one database, with people
//! from the real Samba DC. (The sign-in itself, through the provider's login page, is driven in
//! sign_in.rs without a browser and by Chromium in e2e/.)

use std::time::{Duration, Instant};

use jitroles_domain::Clock;
use jitroles_domain::session::{SessionPolicy, SessionStore, SignedIn};
use jitroles_proto::v1::{self as pb, role_service_client::RoleServiceClient};
use jitroles_server::{Running, auth::session::key_of, clock::SystemClock};
use jitroles_store::Database;
use tonic::{Code, Request};

use crate::{
    stack::directory_and_provider,
    support::{no_redirects, query_param, sqlite_file},
};

const COOKIE: &str = "jitroles-session";

struct Instances {
    a: Running,
    b: Running,
    db: Database,
    policy: SessionPolicy,
    _dir: tempfile::TempDir,
}

/// Two servers with browser sign-in on one SQLite file.
async fn instances() -> Option<Instances> {
    let dir = tempfile::tempdir().unwrap();
    let (mut config, _) = directory_and_provider(dir.path())?;
    let oidc = config.oidc.as_mut().unwrap();
    oidc.client_id = Some(std::env::var("OIDC_CLIENT_ID").unwrap());
    oidc.client_secret = Some(std::env::var("OIDC_CLIENT_SECRET").unwrap().into());
    config.session.insecure_localhost_cookie = true;
    let a = jitroles_server::start(&config).await.unwrap();
    let b = jitroles_server::start(&config).await.unwrap();
    let db = Database::connect(&format!("sqlite://{}", sqlite_file(dir.path()).display()))
        .await
        .unwrap();
    Some(Instances {
        a,
        b,
        db,
        policy: config.session.policy(),
        _dir: dir,
    })
}

impl Instances {
    /// A session for `account`, as a finished sign-in would make it; returns the cookie value.
    async fn session_for(&self, account: &str) -> String {
        self.session_from(account, SystemClock.now()).await
    }

    /// The same, signed in at `at` and not used since.
    async fn session_from(&self, account: &str, at: chrono::DateTime<chrono::Utc>) -> String {
        let token = format!("test-{}", uuid::Uuid::new_v4());
        let who = SignedIn {
            account: account.into(),
            display_name: account.into(),
            subject: account.into(),
            id_token: None,
        };
        let session = self.policy.open(key_of(&token), who, at);
        self.db.insert_session(&session).await.unwrap();
        token
    }
}

async fn who(
    server: &Running,
    headers: &[(&'static str, String)],
) -> Result<pb::WhoAmIResponse, tonic::Status> {
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", server.addr()))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut request = Request::new(pb::WhoAmIRequest {});
    for (name, value) in headers {
        request.metadata_mut().insert(*name, value.parse().unwrap());
    }
    RoleServiceClient::new(channel)
        .who_am_i(request)
        .await
        .map(tonic::Response::into_inner)
}

/// What the web app sends: the cookie and its header.
fn from_the_app(token: &str) -> Vec<(&'static str, String)> {
    vec![
        ("cookie", format!("{COOKIE}={token}")),
        ("x-jitroles-csrf", "1".into()),
    ]
}

#[tokio::test]
async fn a_session_cookie_from_the_app_names_the_signed_in_person_on_every_instance() {
    let Some(it) = instances().await else { return };
    let token = it.session_for("dave").await;
    for server in [&it.a, &it.b] {
        let me = who(server, &from_the_app(&token)).await.unwrap();
        assert_eq!(me.account_name, "dave");
        assert_eq!(me.display_name, "Dave Dba");
        assert_eq!(me.authenticated_by, "session");
        assert!(!me.is_admin);
    }
    let admin = it.session_for("alice").await;
    assert!(who(&it.a, &from_the_app(&admin)).await.unwrap().is_admin);
}

#[tokio::test]
async fn cookie_calls_from_another_origin_or_without_the_app_header_are_refused() {
    let Some(it) = instances().await else { return };
    let token = it.session_for("dave").await;
    let cookie = ("cookie", format!("{COOKIE}={token}"));

    let no_header = who(&it.a, std::slice::from_ref(&cookie)).await.unwrap_err();
    assert_eq!(no_header.code(), Code::PermissionDenied);
    assert!(
        no_header.message().contains("x-jitroles-csrf"),
        "{no_header:?}"
    );

    let mut elsewhere = from_the_app(&token);
    elsewhere.push(("origin", "http://127.0.0.1:1".into()));
    let refused = who(&it.a, &elsewhere).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert!(refused.message().contains("cross-origin"), "{refused:?}");

    let mut cross_site = from_the_app(&token);
    cross_site.push(("sec-fetch-site", "cross-site".into()));
    assert_eq!(
        who(&it.a, &cross_site).await.unwrap_err().code(),
        Code::PermissionDenied
    );

    let mut same_origin = from_the_app(&token);
    same_origin.push(("origin", format!("http://{}", it.a.addr())));
    same_origin.push(("sec-fetch-site", "same-origin".into()));
    assert_eq!(who(&it.a, &same_origin).await.unwrap().account_name, "dave");

    // no-referrer makes the app's own posts say `Origin: null`: believed only with the
    // browser's own word that the call is same-origin
    let mut hidden_origin = from_the_app(&token);
    hidden_origin.push(("origin", "null".into()));
    assert_eq!(
        who(&it.a, &hidden_origin).await.unwrap_err().code(),
        Code::PermissionDenied
    );
    hidden_origin.push(("sec-fetch-site", "same-origin".into()));
    assert_eq!(
        who(&it.a, &hidden_origin).await.unwrap().account_name,
        "dave"
    );
}

#[tokio::test]
async fn signing_out_on_one_instance_ends_the_session_on_another_within_five_seconds() {
    let Some(it) = instances().await else { return };
    let token = it.session_for("dave").await;
    // instance B has the session cached
    assert_eq!(
        who(&it.b, &from_the_app(&token))
            .await
            .unwrap()
            .account_name,
        "dave"
    );

    let http = no_redirects();
    let out = http
        .post(format!("http://{}/auth/logout", it.a.addr()))
        .header("cookie", format!("{COOKIE}={token}"))
        .header("origin", format!("http://{}", it.a.addr()))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), reqwest::StatusCode::SEE_OTHER);
    let cleared = out.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cleared.starts_with(&format!("{COOKIE}=;")) && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    let signed_out = Instant::now();

    let refused = loop {
        match who(&it.b, &from_the_app(&token)).await {
            Ok(_) => {
                assert!(
                    signed_out.elapsed() < Duration::from_secs(5),
                    "instance B still accepts the session 5 s after sign-out"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(status) => break status,
        }
    };
    assert_eq!(refused.code(), Code::Unauthenticated);
    assert!(refused.message().contains("signed out"), "{refused:?}");

    // the cookie replayed on the instance that signed it out
    let replayed = who(&it.a, &from_the_app(&token)).await.unwrap_err();
    assert_eq!(replayed.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn a_session_of_a_disabled_or_unknown_account_is_refused_with_the_reason() {
    let Some(it) = instances().await else { return };
    let erin = it.session_for("erin").await;
    let refused = who(&it.a, &from_the_app(&erin)).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert!(
        refused.message().contains("erin is disabled"),
        "{refused:?}"
    );

    let ghost = it.session_for("nobody-here").await;
    let refused = who(&it.a, &from_the_app(&ghost)).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    assert!(
        refused.message().contains("no directory account"),
        "{refused:?}"
    );

    let unknown = who(&it.a, &from_the_app("made-up")).await.unwrap_err();
    assert_eq!(unknown.code(), Code::Unauthenticated);
    assert!(unknown.message().contains("sign in again"), "{unknown:?}");
}

#[tokio::test]
async fn sign_in_starts_at_the_provider_with_pkce_state_and_nonce_bound_to_the_browser() {
    let Some(it) = instances().await else { return };
    let http = no_redirects();
    // the raw answer: the cookie's attributes are checked below
    let start = http
        .get(format!(
            "http://{}/auth/login?return_to=/admin",
            it.a.addr()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), reqwest::StatusCode::SEE_OTHER);
    let to = reqwest::Url::parse(start.headers()["location"].to_str().unwrap()).unwrap();
    let param = |name: &str| query_param(&to, name);
    assert_eq!(param("client_id"), std::env::var("OIDC_CLIENT_ID").unwrap());
    assert_eq!(param("response_type"), "code");
    assert_eq!(param("code_challenge_method"), "S256");
    assert_eq!(
        param("redirect_uri"),
        format!("http://{}/auth/callback", it.a.addr())
    );
    assert!(param("scope").split(' ').any(|s| s == "openid"));
    assert!(!param("nonce").is_empty());
    let state = param("state");
    let cookie = start.headers()["set-cookie"].to_str().unwrap();
    // the sign-in under way, sealed: the state is in it, but not readable
    assert!(
        cookie.starts_with("jitroles-sign-in=")
            && !cookie.contains(&state)
            && cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );

    // the provider's answer reaching a browser that did not start this sign-in (login CSRF)
    let forged = http
        .get(format!(
            "http://{}/auth/callback?code=x&state={state}",
            it.b.addr()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), reqwest::StatusCode::BAD_REQUEST);
    assert!(forged.headers().get("set-cookie").is_some());

    // an error answer carries text anyone can write: the page never echoes it
    let planted = http
        .get(format!(
            "http://{}/auth/callback?error=%3Cb%3Epwned%3C%2Fb%3E&error_description=Call+0800-FAKE-HELPDESK",
            it.a.addr()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(planted.status(), reqwest::StatusCode::FORBIDDEN);
    let page = planted.text().await.unwrap();
    assert!(
        !page.contains("pwned") && !page.contains("HELPDESK"),
        "{page}"
    );
    assert!(page.contains("Sign-in did not complete"), "{page}");
}

#[tokio::test]
async fn idle_and_overlong_sessions_are_refused_with_the_reason() {
    let Some(it) = instances().await else { return };
    let now = SystemClock.now();
    let idle = it
        .session_from("dave", now - chrono::TimeDelta::minutes(31))
        .await;
    let refused = who(&it.a, &from_the_app(&idle)).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    assert!(refused.message().contains("inactivity"), "{refused:?}");

    let old = it
        .session_from("dave", now - chrono::TimeDelta::hours(11))
        .await;
    let key = key_of(&old);
    // used a minute ago, but signed in longer ago than session.max_hours
    it.db
        .touch_session(&key, now - chrono::TimeDelta::minutes(1))
        .await
        .unwrap();
    let refused = who(&it.a, &from_the_app(&old)).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    assert!(refused.message().contains("maximum length"), "{refused:?}");
}
