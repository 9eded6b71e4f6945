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

impl DomainError {
    /// A field the caller got wrong, and why ("at most 200"), for INVALID_ARGUMENT with the
    /// field named.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The error as people may read it where it is kept or passed on (a grant's last error, a
    /// status page, a notification): an internal error's details are for the log only.
    pub fn said(&self) -> String {
        match self {
            Self::Internal(_) => "an internal error (the server's log has the details)".to_owned(),
            other => other.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_details_are_never_said() {
        let e = DomainError::Internal("relation \"grants\" does not exist".into());
        assert!(!e.said().contains("grants"), "{}", e.said());
        let u = DomainError::Unavailable("the directory does not answer".into());
        assert_eq!(u.said(), "the directory does not answer");
    }
}
