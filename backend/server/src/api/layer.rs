//! The auth layer in front of the gRPC services: runs [`Gate::identify`] (async: JWKS,
//! database, directory, hence a layer, not an interceptor), keeps what it found in the
//! request's extensions for the RPC, or ends the call with the status `error.rs` chooses.

use axum::{
    extract::{Request, State},
    middleware::Next,
    response::Response,
};

use super::error;
use crate::auth::gate::{self, Gate};

pub async fn authenticate(State(gate): State<Gate>, mut request: Request, next: Next) -> Response {
    match gate.identify(request.headers()).await {
        Ok(identified) => gate::remember(identified, request.extensions_mut()),
        Err(e) => return error::auth_status(e).into_http(),
    }
    next.run(request).await
}
