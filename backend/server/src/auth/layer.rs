//! The auth layer in front of the gRPC services: a bearer token, when present, must verify and
//! name a directory account, or the call ends here with UNAUTHENTICATED (or PERMISSION_DENIED
//! for a disabled account). Calls without credentials pass on without a caller; each RPC
//! decides whether it needs one. Async (JWKS, directory), hence a layer, not an interceptor.

use std::sync::Arc;

use axum::{
    extract::{Request, State},
    middleware::Next,
    response::Response,
};
use http::header::AUTHORIZATION;
use tonic::Status;

use super::caller::Authenticator;

pub async fn authenticate(
    State(auth): State<Option<Arc<Authenticator>>>,
    mut request: Request,
    next: Next,
) -> Response {
    if let Some(value) = request.headers().get(AUTHORIZATION) {
        let Some(token) = value.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")) else {
            return refuse(Status::unauthenticated(
                "the authorization header must be `Bearer <token>`",
            ));
        };
        let Some(auth) = auth else {
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
    }
    next.run(request).await
}

fn refuse(status: Status) -> Response {
    status.into_http()
}
