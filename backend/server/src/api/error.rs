//! The one place that chooses gRPC status codes: for domain errors, for authentication
//! failures, and for calls to services this server does not have. Internal errors are logged
//! with an id; their text never reaches the client.

use jitroles_domain::DomainError;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::auth::error::AuthError;

pub fn status(error: DomainError) -> Status {
    match error {
        DomainError::NotFound { what } => Status::not_found(format!("{what} not found")),
        // the field violation lets a form show the message next to the field
        DomainError::Invalid { field, reason } => Status::with_error_details(
            Code::InvalidArgument,
            format!("invalid {field}: {reason}"),
            ErrorDetails::with_bad_request_violation(field, reason),
        ),
        DomainError::Denied(message) => Status::permission_denied(message),
        DomainError::Conflict(message) => Status::aborted(message),
        DomainError::AlreadyExists(message) => Status::already_exists(message),
        DomainError::FailedPrecondition(message) => Status::failed_precondition(message),
        DomainError::Unavailable(message) => Status::unavailable(message),
        DomainError::Internal(detail) => {
            let id = uuid::Uuid::new_v4();
            tracing::error!(error_id = %id, "{detail}");
            Status::internal(format!(
                "internal error {id}; the server log has the details"
            ))
        }
    }
}

/// No caller (UNAUTHENTICATED), a caller not let in (PERMISSION_DENIED), or what
/// authentication relies on failed (as that domain error).
pub fn auth_status(error: AuthError) -> Status {
    match error {
        AuthError::Unauthenticated(message) => Status::unauthenticated(message),
        AuthError::Refused(message) | AuthError::Disabled { why: message, .. } => {
            Status::permission_denied(message)
        }
        AuthError::Failed(e) => status(e),
    }
}

/// A gRPC call to a path no service here answers (the web app's fallback sees these).
pub fn no_such_service(path: &str) -> Status {
    Status::unimplemented(format!("no gRPC service at {path}"))
}
