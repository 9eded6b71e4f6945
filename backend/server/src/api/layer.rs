//! The auth layer in front of the gRPC services: runs [`Gate::identify`] (async: JWKS,
//! database, directory, hence a layer, not an interceptor), keeps what it found in the
//! request's extensions for the RPC, or ends the call with the status `error.rs` chooses.

use axum::{
    extract::{Request, State},
    middleware::Next,
    response::Response,
};

use jitroles_domain::audit::AuditAction;

use super::error;
use crate::{
    audit_trail::Event,
    auth::{
        error::AuthError,
        gate::{self, Gate},
    },
    net::ClientAddress,
};

pub async fn authenticate(State(gate): State<Gate>, mut request: Request, next: Next) -> Response {
    match gate.identify(request.headers()).await {
        Ok(identified) => gate::remember(identified, request.extensions_mut()),
        Err(e) => {
            if let AuthError::Disabled { account, why } = &e {
                let source = request.extensions().get::<ClientAddress>();
                let event = Event {
                    action: AuditAction::CallRefused,
                    actor: account,
                    rule_id: None,
                    detail: format!("{} refused: {why}", request.uri().path()),
                    source: source.map_or("unknown", |s| s.0.as_str()),
                };
                gate.trail.refusal(event, "account_disabled").await;
            }
            return error::auth_status(e).into_http();
        }
    }
    next.run(request).await
}
