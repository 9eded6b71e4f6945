//! What can go wrong with a call, as the pages need to tell it apart.

use std::fmt;

use tonic::{Code, Status};
use tonic_types::StatusExt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// No session, or it ended: the app sends the user to sign in.
    Unauthenticated,
    Forbidden(String),
    /// The message, and the fields the server named with what is wrong with each.
    Invalid(String, Vec<(String, String)>),
    /// Someone else changed it since it was read (a stale version).
    Conflict(String),
    /// The server (or what it depends on) cannot be reached now; retrying may help.
    Unavailable(String),
    Other(String),
}

impl From<Status> for ApiError {
    fn from(status: Status) -> Self {
        let message = status.message().to_owned();
        match status.code() {
            Code::Unauthenticated => Self::Unauthenticated,
            Code::PermissionDenied => Self::Forbidden(message),
            Code::Aborted => Self::Conflict(message),
            Code::InvalidArgument => {
                let fields = status
                    .get_details_bad_request()
                    .map(|b| {
                        b.field_violations
                            .into_iter()
                            .map(|v| (v.field, v.description))
                            .collect()
                    })
                    .unwrap_or_default();
                Self::Invalid(message, fields)
            }
            // fetch() failing (server down, network gone) surfaces as Unknown from the transport
            Code::Unavailable | Code::Unknown | Code::DeadlineExceeded => {
                Self::Unavailable(message)
            }
            _ => Self::Other(message),
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unauthenticated => f.write_str("You are not signed in."),
            Self::Forbidden(m) => write!(f, "Not allowed: {m}"),
            Self::Invalid(m, _) => write!(f, "Invalid input: {m}"),
            Self::Conflict(m) => write!(f, "Someone else saved a change first: {m}"),
            Self::Unavailable(_) => f.write_str("Cannot reach the jitroles server."),
            Self::Other(m) => write!(f, "Something went wrong: {m}"),
        }
    }
}

impl ApiError {
    /// What the server said about `field`, for a message next to it.
    pub fn about(&self, field: &str) -> Option<String> {
        match self {
            Self::Invalid(_, fields) => fields
                .iter()
                .find(|(f, _)| f == field)
                .map(|(_, reason)| reason.clone()),
            _ => None,
        }
    }
}
