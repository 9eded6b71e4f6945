//! The one place that chooses gRPC status codes for domain errors. Internal errors are logged
//! with an id; their text never reaches the client.

use jitroles_domain::DomainError;
use tonic::Status;

pub fn status(error: DomainError) -> Status {
    match error {
        DomainError::NotFound { what } => Status::not_found(format!("{what} not found")),
        DomainError::Invalid { field, reason } => {
            Status::invalid_argument(format!("invalid {field}: {reason}"))
        }
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
