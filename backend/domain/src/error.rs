//! The domain's one error type: semantic, with no infrastructure types inside.
//! Adapters convert their errors into it at their edge; the server maps it to gRPC status codes
//! in one place.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum DomainError {
    #[error("{what} not found")]
    NotFound { what: String },
    #[error("invalid {field}: {reason}")]
    Invalid { field: String, reason: String },
    #[error("permission denied: {0}")]
    Denied(String),
    /// Someone changed it meanwhile (a stale version).
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    FailedPrecondition(String),
    /// A dependency (database, directory) cannot be reached now; the caller may retry.
    /// The text is a whole sentence for people ("the database does not answer").
    #[error("{0}")]
    Unavailable(String),
    /// A bug or an unexpected state. The text is for logs, never for clients.
    #[error("internal error: {0}")]
    Internal(String),
}
