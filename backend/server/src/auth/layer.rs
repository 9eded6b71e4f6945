//! The auth layer in front of the gRPC services. A bearer token, when present, must verify and
//! name a directory account, or the call ends here with UNAUTHENTICATED (or PERMISSION_DENIED
//! for a disabled account). Without one, a session cookie from the app's own origin names the
//! caller; a cookie from elsewhere ends the call with PERMISSION_DENIED. Calls without
//! credentials pass on without a caller; each RPC decides whether it needs one. Async (JWKS,
//! database, directory), hence a layer, not an interceptor.

use std::sync::Arc;

use axum::{
    extract::{Request, State},
    middleware::Next,
    response::Response,
};
use http::header::AUTHORIZATION;
use tonic::Status;

use super::{browser::Browser, caller::Authenticator};

/// Who may vouch for a caller: bearer tokens, browser sessions, either or neither.
#[derive(Clone, Default)]
pub struct Gate {
    pub tokens: Option<Arc<Authenticator>>,
    pub browser: Option<Arc<Browser>>,
}

pub async fn authenticate(State(gate): State<Gate>, mut request: Request, next: Next) -> Response {
    if let Some(value) = request.headers().get(AUTHORIZATION) {
        let Some(token) = value.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")) else {
            return refuse(Status::unauthenticated(
                "the authorization header must be `Bearer <token>`",
            ));
        };
        let Some(auth) = gate.tokens else {
            return refuse(Status::unauthenticated(
                "this server accepts no bearer tokens: [oidc] is not configured",
            ));
        };
        match auth.from_bearer(token.trim()).await {
            Ok(authenticated) => {
                request.extensions_mut().insert(authenticated);
            }
            Err(status) => return refuse(status),
        }
    } else if let Some(browser) = gate.browser {
        match browser.authenticate(request.headers()).await {
            Ok(Some(authenticated)) => {
                request.extensions_mut().insert(authenticated);
            }
            Ok(None) => {}
            Err(Ok(no_session)) => {
                request.extensions_mut().insert(no_session);
            }
            Err(Err(status)) => return refuse(status),
        }
    }
    next.run(request).await
}

fn refuse(status: Status) -> Response {
    status.into_http()
}
