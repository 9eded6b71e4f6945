//! Browser sign-in, backend-for-frontend: `/auth/login`, `/auth/callback`, `/auth/logout` on
//! the app's own origin. jitroles is a confidential OIDC client using the authorization code
//! flow with PKCE, `state` and `nonce`; the browser only ever holds an HttpOnly session cookie.
//!
//! The sign-in under way (`state`, `nonce`, PKCE verifier, where to return) lives only in a
//! short-lived cookie of the browser that started it, sealed under the deployment's random key
//! (`auth::seal`): `/auth/login` writes nothing on the server,
//! so a flood of it costs neither rows nor memory, any instance can finish the sign-in, and the
//! sign-in is bound to that browser (login CSRF). Each sign-in finishes at most once: the cookie
//! is cleared by the callback and the provider takes each code once.
//!
//! The provider's discovery document and keys are cached, and read again when an ID token names
//! a key they do not have (key rotation), at most once per `provider::PROVIDER_REFRESH`.

use std::{str::FromStr, sync::Arc};

use axum::{
    Router,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, Uri, header},
    response::Response,
    routing::{get, post},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jitroles_domain::secret::Secret;
use jitroles_domain::{
    Clock,
    session::{PendingSignIn, SIGN_IN_WINDOW, SignedIn, safe_return_path},
};
use openidconnect::{
    AuthorizationCode, ClaimsVerificationError, ClientId, CsrfToken, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, PostLogoutRedirectUrl, Scope, TokenResponse,
    core::{CoreAuthenticationFlow, CoreIdToken},
};
use reqwest::Url;

use jitroles_domain::audit::AuditAction;

use super::{
    caller::{Authenticated, Authenticator},
    error::AuthError,
    gate::{Identified, NoSession},
    outcome::{Ended, not_in},
    pages::{internal, page, provider_unavailable, redirect, refused},
    provider::Providers,
    seal::SignInSeal,
    session::{Lookup, Sessions},
};
use crate::{
    audit_trail::{AuditTrail, Event},
    net::ClientAddress,
};

/// The header the web app sets on every API call (see docs/security.md): a cross-origin page
/// cannot set it without a CORS preflight, which jitroles never grants.
pub const CSRF_HEADER: &str = "x-jitroles-csrf";

/// What the browser flow needs from the configuration, checked at start-up.
#[derive(Debug, Clone)]
pub struct BrowserSettings {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Secret,
    /// Where people reach jitroles, without a trailing slash.
    pub public_url: String,
    /// Cookies carry `Secure` (and the `__Host-` prefix).
    pub secure_cookies: bool,
}

impl BrowserSettings {
    /// Refuses a public URL that would send the session cookie in clear text to anything but
    /// this machine, or without `Secure` when that was not asked for explicitly.
    pub fn check_public_url(
        url: &str,
        insecure_localhost_cookie: bool,
    ) -> Result<(String, bool), String> {
        let parsed =
            Url::parse(url).map_err(|e| format!("server.public_url {url:?} is not a URL: {e}"))?;
        let loopback = matches!(parsed.host_str(), Some("127.0.0.1" | "[::1]" | "localhost"));
        match parsed.scheme() {
            "https" => Ok((url.trim_end_matches('/').to_owned(), true)),
            "http" if loopback && insecure_localhost_cookie => {
                Ok((url.trim_end_matches('/').to_owned(), false))
            }
            "http" if loopback => Err(format!(
                "browser sign-in at {url} needs a Secure cookie, which browsers do not keep over plain HTTP: serve jitroles over https, or for a local demo set session.insecure_localhost_cookie = true"
            )),
            "http" => Err(format!(
                "browser sign-in at {url} would send session cookies in clear text: use an https:// server.public_url (session.insecure_localhost_cookie is for 127.0.0.1/localhost only)"
            )),
            other => Err(format!(
                "server.public_url must be https://, not {other}://"
            )),
        }
    }
}

pub struct Browser {
    settings: BrowserSettings,
    origin: String,
    session_cookie: &'static str,
    sign_in_cookie: &'static str,
    sessions: Arc<Sessions>,
    auth: Arc<Authenticator>,
    clock: Arc<dyn Clock>,
    http: reqwest::Client,
    seal: SignInSeal,
    providers: Providers,
    trail: Arc<AuditTrail>,
}

impl Browser {
    pub fn new(
        settings: BrowserSettings,
        sessions: Arc<Sessions>,
        auth: Arc<Authenticator>,
        clock: Arc<dyn Clock>,
        sign_in_key: &Secret,
        trail: Arc<AuditTrail>,
    ) -> anyhow::Result<Self> {
        let public = Url::parse(&settings.public_url)?;
        let origin = public.origin().ascii_serialization();
        let (session_cookie, sign_in_cookie) = if settings.secure_cookies {
            ("__Host-jitroles-session", "__Host-jitroles-sign-in")
        } else {
            ("jitroles-session", "jitroles-sign-in")
        };
        let http = reqwest::Client::builder()
            // the provider's token endpoint must answer itself (openidconnect's advice: SSRF)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(10))
            .build()?;
        let providers = Providers::new(&settings, http.clone())?;
        Ok(Self {
            settings,
            origin,
            session_cookie,
            sign_in_cookie,
            sessions,
            auth,
            clock,
            http,
            seal: SignInSeal::new(sign_in_key),
            providers,
            trail,
        })
    }

    pub fn routes(self: Arc<Self>) -> Router {
        Router::new()
            .route("/auth/login", get(login))
            .route("/auth/callback", get(callback))
            .route("/auth/logout", post(logout))
            .route("/auth/signed-out", get(signed_out))
            .with_state(self)
    }

    pub fn sessions(&self) -> &Sessions {
        &self.sessions
    }

    /// The caller a session cookie stands for: [`Identified::Anonymous`] without a cookie,
    /// [`Identified::Lapsed`] when it names no live session.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Identified, AuthError> {
        let Some(token) = cookie(headers, self.session_cookie) else {
            return Ok(Identified::Anonymous);
        };
        self.check_same_origin(headers, true)?;
        let session = match self.sessions.find(token).await? {
            Lookup::Live(session) => session,
            Lookup::Ended(end) => {
                return Ok(Identified::Lapsed(NoSession(format!(
                    "{}; sign in again",
                    end.describe()
                ))));
            }
            Lookup::Unknown => {
                return Ok(Identified::Lapsed(NoSession(
                    "your session is not known here (it ended or was never made); sign in again"
                        .into(),
                )));
            }
        };
        let caller = self.auth.person(&session.account).await?;
        Ok(Identified::Caller(Authenticated {
            caller,
            by: "session".into(),
            service: false,
        }))
    }

    /// Cookie-authenticated requests must come from the app itself: not from another origin
    /// (`Origin`, `Sec-Fetch-Site`), and, for API calls, with the header only the app sets.
    fn check_same_origin(&self, headers: &HeaderMap, api_call: bool) -> Result<(), AuthError> {
        // `Referrer-Policy: no-referrer` makes a browser send `Origin: null` on the app's own
        // form posts (sign-out); the browser's `Sec-Fetch-Site`, which no page can set, then
        // says where it came from
        let same_site = headers
            .get("sec-fetch-site")
            .is_some_and(|s| s.as_bytes() == b"same-origin");
        if let Some(origin) = headers.get(header::ORIGIN) {
            let origin = origin.to_str().unwrap_or("(unreadable)");
            if origin != self.origin && !(origin == "null" && same_site) {
                return Err(AuthError::Refused(format!(
                    "cross-origin call refused: it came from {origin}, and jitroles only accepts its session cookie from {}",
                    self.origin
                )));
            }
        }
        if let Some(site) = headers.get("sec-fetch-site")
            && !matches!(site.as_bytes(), b"same-origin" | b"none")
        {
            return Err(AuthError::Refused(
                "cross-origin call refused: the browser says it came from another site".into(),
            ));
        }
        if api_call && !headers.contains_key(CSRF_HEADER) {
            return Err(AuthError::Refused(format!(
                "calls that use the session cookie must carry the {CSRF_HEADER} header (the jitroles web app sends it)"
            )));
        }
        Ok(())
    }

    fn cookie_header(&self, name: &str, value: &str, max_age_secs: u64) -> HeaderValue {
        let secure = if self.settings.secure_cookies {
            "; Secure"
        } else {
            ""
        };
        HeaderValue::from_str(&format!(
            "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}"
        ))
        .unwrap_or_else(|_| HeaderValue::from_static(""))
    }
}

async fn login(State(browser): State<Arc<Browser>>, uri: Uri) -> Response {
    let return_to = safe_return_path(query_param(&uri, "return_to").as_deref());
    let provider = match browser.providers.current().await {
        Ok(p) => p,
        Err(e) => return provider_unavailable(&e),
    };
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = provider
        .client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();
    let pending = PendingSignIn {
        state: state.secret().clone(),
        nonce: nonce.secret().clone(),
        pkce_verifier: verifier.secret().clone(),
        return_to,
        expires_at: browser.clock.now()
            + chrono::TimeDelta::seconds(SIGN_IN_WINDOW.as_secs() as i64),
    };
    let sealed = match browser.seal.seal(browser.sign_in_cookie, &pending) {
        Ok(sealed) => sealed,
        Err(e) => return internal("cannot record the sign-in", &e.to_string()),
    };
    let mut response = redirect(url.as_str());
    response.headers_mut().append(
        header::SET_COOKIE,
        browser.cookie_header(browser.sign_in_cookie, &sealed, SIGN_IN_WINDOW.as_secs()),
    );
    response
}

async fn callback(
    State(browser): State<Arc<Browser>>,
    source: ClientAddress,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let clear_sign_in = browser.cookie_header(browser.sign_in_cookie, "", 0);
    let (mut response, ended) = finish_sign_in(&browser, &headers, &uri).await;
    ended.record(&browser.trail, &source).await;
    response
        .headers_mut()
        .append(header::SET_COOKIE, clear_sign_in);
    response
}

async fn finish_sign_in(browser: &Browser, headers: &HeaderMap, uri: &Uri) -> (Response, Ended) {
    if let Some(error) = query_param(uri, "error") {
        // anyone can send a browser here with any text: only the log sees it, the page says
        // what the standard error codes mean (RFC 6749 4.1.2.1, OIDC Core 3.1.2.6)
        let detail = query_param(uri, "error_description").unwrap_or_default();
        tracing::info!(%error, %detail, "the sign-in provider answered with an error");
        let (said, reason) = match error.as_str() {
            "access_denied" => (
                "The sign-in provider refused the sign-in, or it was cancelled.",
                "provider_refused",
            ),
            "login_required" | "interaction_required" | "consent_required" => (
                "The sign-in provider needs you to sign in there first.",
                "provider_needs_interaction",
            ),
            "temporarily_unavailable" | "server_error" => (
                "The sign-in provider could not complete the sign-in right now.",
                "provider_unavailable",
            ),
            _ => (
                "The sign-in provider answered with an error; the server log has what it said.",
                "provider_error",
            ),
        };
        let page = page(StatusCode::FORBIDDEN, "Sign-in did not complete", said);
        return (page, not_in(reason));
    }
    let (Some(code), Some(state)) = (query_param(uri, "code"), query_param(uri, "state")) else {
        let page = page(
            StatusCode::BAD_REQUEST,
            "Not a sign-in response",
            "This address is where the sign-in provider sends you back; it needs a code and a state.",
        );
        return (page, not_in("not_a_sign_in_response"));
    };
    // the sign-in must finish in the browser that started it (login CSRF)
    let pending = cookie(headers, browser.sign_in_cookie).and_then(|sealed| {
        browser
            .seal
            .open(browser.sign_in_cookie, sealed, browser.clock.now())
    });
    let Some(pending) = pending.filter(|p| p.state == state) else {
        let page = page(
            StatusCode::BAD_REQUEST,
            "This sign-in has expired",
            "It was started in another browser, used already, or took longer than ten minutes. Sign in again.",
        );
        return (page, not_in("expired_or_started_elsewhere"));
    };
    let provider = match browser.providers.current().await {
        Ok(p) => p,
        Err(e) => return (provider_unavailable(&e), not_in("provider_unreachable")),
    };
    let exchange = match provider.client.exchange_code(AuthorizationCode::new(code)) {
        Ok(request) => request.set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier)),
        Err(e) => {
            let page = internal("the provider has no token endpoint", &e.to_string());
            return (page, not_in("provider_misconfigured"));
        }
    };
    let tokens = match exchange.request_async(&browser.http).await {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(error = %e, "sign-in: code exchange failed");
            let page = page(
                StatusCode::BAD_GATEWAY,
                "Sign-in did not complete",
                "The sign-in provider did not accept the sign-in code. Sign in again.",
            );
            return (page, not_in("code_refused"));
        }
    };
    let Some(id_token) = tokens.id_token() else {
        let page = page(
            StatusCode::BAD_GATEWAY,
            "Sign-in did not complete",
            "The sign-in provider sent no ID token.",
        );
        return (page, not_in("no_id_token"));
    };
    let nonce = Nonce::new(pending.nonce);
    let mut verified = id_token.claims(&provider.client.id_token_verifier(), &nonce);
    // a key the cached provider keys lack: the provider may have rotated them since
    if let Err(ClaimsVerificationError::SignatureVerification(_)) = verified
        && let Some(fresh) = browser.providers.refreshed(&provider).await
    {
        verified = id_token.claims(&fresh.client.id_token_verifier(), &nonce);
    }
    let claims = match verified {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "sign-in: ID token refused");
            let page = page(
                StatusCode::FORBIDDEN,
                "Sign-in refused",
                &format!("The ID token did not verify: {e}."),
            );
            return (page, not_in("id_token_invalid"));
        }
    };
    let claim = browser.auth.user_claim();
    let Some(value) = raw_claim(&id_token.to_string(), claim) else {
        let page = page(
            StatusCode::FORBIDDEN,
            "Sign-in refused",
            &format!("The ID token has no {claim} claim, which names you in the directory."),
        );
        return (page, not_in("no_user_claim"));
    };
    let caller = match browser.auth.person(&value).await {
        Ok(c) => c,
        Err(e) => {
            let reason = match &e {
                AuthError::Disabled { .. } => "account_disabled",
                AuthError::Failed(_) => "directory_unavailable",
                _ => "no_directory_account",
            };
            let ended = Ended::Refused {
                reason,
                account: Some(value),
            };
            return (
                refused("Sign-in refused", "cannot look you up in the directory", e),
                ended,
            );
        }
    };
    let who = SignedIn {
        account: value,
        display_name: caller.display_name.clone(),
        subject: claims.subject().to_string(),
        id_token: Some(id_token.to_string()),
    };
    let token = match browser.sessions.open(who).await {
        Ok(t) => t,
        Err(e) => {
            let page = internal("cannot record the session", &e.to_string());
            return (page, not_in("session_not_recorded"));
        }
    };
    tracing::info!(account = %caller.account_name, "signed in");
    let mut response = redirect(&pending.return_to);
    response.headers_mut().append(
        header::SET_COOKIE,
        browser.cookie_header(
            browser.session_cookie,
            &token,
            browser.sessions.policy().absolute.as_secs(),
        ),
    );
    (response, Ended::In(caller.account_name))
}

async fn logout(
    State(browser): State<Arc<Browser>>,
    source: ClientAddress,
    headers: HeaderMap,
) -> Response {
    if let Err(e) = browser.check_same_origin(&headers, false) {
        return refused("Sign-out refused", "cannot check the sign-out", e);
    }
    let ended = match cookie(&headers, browser.session_cookie) {
        Some(token) => match browser.sessions.end(token).await {
            Ok(s) => s,
            Err(e) => return internal("cannot end the session", &e.to_string()),
        },
        None => None,
    };
    if let Some(session) = &ended {
        let event = Event {
            action: AuditAction::SignedOut,
            actor: &session.account,
            rule_id: None,
            detail: "signed out".into(),
            source: &source.0,
        };
        browser.trail.record(event).await;
    }
    let signed_out = format!("{}/auth/signed-out", browser.settings.public_url);
    // end the provider's session too, when it offers RP-initiated logout
    let provider = browser.providers.current().await.ok();
    let end_session = provider.as_ref().and_then(|p| p.end_session.as_ref());
    let target = match (end_session, ended.and_then(|s| s.id_token)) {
        (Some(end), Some(id_token)) => {
            let mut request = openidconnect::LogoutRequest::from(end.clone())
                .set_client_id(ClientId::new(browser.settings.client_id.clone()));
            if let Ok(hint) = CoreIdToken::from_str(&id_token) {
                request = request.set_id_token_hint(&hint);
            }
            if let Ok(back) = PostLogoutRedirectUrl::new(signed_out.clone()) {
                request = request.set_post_logout_redirect_uri(back);
            }
            request.http_get_url().to_string()
        }
        _ => signed_out,
    };
    let mut response = redirect(&target);
    response.headers_mut().append(
        header::SET_COOKIE,
        browser.cookie_header(browser.session_cookie, "", 0),
    );
    response
}

async fn signed_out() -> Response {
    page(
        StatusCode::OK,
        "Signed out",
        "You have signed out of jitroles.",
    )
}

/// A claim of a JWT whose signature was already verified, as text.
fn raw_claim(jwt: &str, name: &str) -> Option<String> {
    let payload = jwt.split('.').nth(1)?;
    let json: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    json.get(name)?.as_str().map(str::to_owned)
}

/// A cookie's value from the request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

fn query_param(uri: &Uri, name: &str) -> Option<String> {
    let url = Url::parse(&format!("http://local{uri}")).ok()?;
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

#[cfg(test)]
mod properties;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_read_by_exact_name() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; jitroles-session-x=2; jitroles-session=3"),
        );
        assert_eq!(cookie(&headers, "jitroles-session"), Some("3"));
        assert_eq!(cookie(&headers, "missing"), None);
    }

    #[test]
    fn public_urls_keep_cookies_off_clear_text_networks() {
        assert_eq!(
            BrowserSettings::check_public_url("https://jit.example.com/", false),
            Ok(("https://jit.example.com".into(), true))
        );
        assert_eq!(
            BrowserSettings::check_public_url("http://127.0.0.1:8080", true),
            Ok(("http://127.0.0.1:8080".into(), false))
        );
        assert!(BrowserSettings::check_public_url("http://127.0.0.1:8080", false).is_err());
        assert!(BrowserSettings::check_public_url("http://jit.example.com", true).is_err());
    }

    #[test]
    fn claims_are_read_from_the_verified_payload() {
        let payload = URL_SAFE_NO_PAD.encode(br#"{"preferred_username":"dave","n":1}"#);
        let jwt = format!("h.{payload}.s");
        assert_eq!(raw_claim(&jwt, "preferred_username"), Some("dave".into()));
        assert_eq!(raw_claim(&jwt, "n"), None);
        assert_eq!(raw_claim("garbage", "preferred_username"), None);
    }
}
