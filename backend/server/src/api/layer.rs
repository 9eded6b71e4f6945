//! The auth layer in front of the gRPC services: runs [`Gate::identify`] (async: JWKS,
//! database, directory, hence a layer, not an interceptor), keeps what it found in the
//! request's extensions for the RPC, or ends the call with the status `error.rs` chooses.
//! Outside it, the deadline layer gives each call that changes grants one deadline
//! ([`crate::deadline`]), authentication included.

use std::time::Duration;

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
    deadline::{self, Deadline},
    net::ClientAddress,
};

/// The calls that change grants: each has one deadline, `directory` (the directory's timeout)
/// or the caller's `grpc-timeout` when sooner.
const WITH_DEADLINE: &[&str] = &[
    "/jitroles.v1.RoleService/RequestRole",
    "/jitroles.v1.RoleService/ExtendGrant",
    "/jitroles.v1.RoleService/ReleaseGrant",
    // the last approval writes the member
    "/jitroles.v1.RoleService/ApproveRequest",
    "/jitroles.v1.AdminService/RevokeGrant",
];

pub async fn deadline(State(directory): State<Duration>, request: Request, next: Next) -> Response {
    if !WITH_DEADLINE.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    let caller = request
        .headers()
        .get("grpc-timeout")
        .and_then(|v| v.to_str().ok())
        .and_then(deadline::parse_grpc_timeout);
    let by = Deadline::of_call(tokio::time::Instant::now(), directory, caller);
    let answered = deadline::answer_within(by, async { Ok(next.run(request).await) }).await;
    answered.unwrap_or_else(|missed| error::status(missed).into_http())
}

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
