//! Who a call comes from, decided before any RPC runs. A bearer token, when present, must
//! verify and name an enabled directory account, or the call is refused. Without one, a
//! session cookie from the app's own origin names the caller; a cookie from elsewhere is
//! refused. Calls without credentials go on without a caller; each RPC decides whether it
//! needs one. The tower layer that runs this (async: JWKS, database, directory) and turns a
//! refusal into a gRPC status is `api::layer`.

use std::sync::Arc;

use http::{Extensions, HeaderMap, header::AUTHORIZATION};

use super::{
    browser::Browser,
    caller::{Authenticated, Authenticator},
    error::AuthError,
};
use crate::audit_trail::AuditTrail;

/// Who may vouch for a caller: bearer tokens, browser sessions, either or neither.
#[derive(Clone)]
pub struct Gate {
    pub tokens: Option<Arc<Authenticator>>,
    pub browser: Option<Arc<Browser>>,
    /// Where a call refused to a known person (a disabled account) is recorded.
    pub trail: Arc<AuditTrail>,
}

/// What a call's credentials amount to, when they do not end it.
#[derive(Debug)]
pub enum Identified {
    /// A verified token or a live session.
    Caller(Authenticated),
    /// A session cookie that names no live session: the call goes on without a caller, and an
    /// RPC that needs one says why the session no longer holds instead of a bare "sign in".
    Lapsed(NoSession),
    /// No credentials at all: public RPCs still work.
    Anonymous,
}

/// Why a session cookie did not produce a caller; kept in the request's extensions.
#[derive(Debug, Clone)]
pub struct NoSession(pub String);

impl Gate {
    /// The caller `headers` prove, or why the call must end here.
    pub async fn identify(&self, headers: &HeaderMap) -> Result<Identified, AuthError> {
        if let Some(value) = headers.get(AUTHORIZATION) {
            let Some(token) = value.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")) else {
                return Err(AuthError::Unauthenticated(
                    "the authorization header must be `Bearer <token>`".into(),
                ));
            };
            let Some(auth) = &self.tokens else {
                return Err(AuthError::Unauthenticated(
                    "this server accepts no bearer tokens: [oidc] is not configured".into(),
                ));
            };
            return auth.from_bearer(token.trim()).await.map(Identified::Caller);
        }
        match &self.browser {
            Some(browser) => browser.authenticate(headers).await,
            None => Ok(Identified::Anonymous),
        }
    }
}

/// Records what [`Gate::identify`] found in a request's extensions, for [`caller`].
pub fn remember(identified: Identified, extensions: &mut Extensions) {
    match identified {
        Identified::Caller(authenticated) => {
            extensions.insert(authenticated);
        }
        Identified::Lapsed(no_session) => {
            extensions.insert(no_session);
        }
        Identified::Anonymous => {}
    }
}

/// The caller the gate established for this request, or why there is none (saying why a
/// session no longer holds, when there was one).
pub fn caller(extensions: &Extensions) -> Result<Authenticated, AuthError> {
    if let Some(authenticated) = extensions.get::<Authenticated>() {
        return Ok(authenticated.clone());
    }
    Err(AuthError::Unauthenticated(
        match extensions.get::<NoSession>() {
            Some(NoSession(why)) => why.clone(),
            None => "sign in first, or send a bearer token".into(),
        },
    ))
}
