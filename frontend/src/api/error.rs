//! What can go wrong with a call, as the pages need to tell it apart.

use std::fmt;

use tonic::{Code, Status};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// No session, or it ended: the app sends the user to sign in.
    Unauthenticated,
    Forbidden(String),
    Invalid(String),
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
            Code::InvalidArgument => Self::Invalid(message),
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
            Self::Invalid(m) => write!(f, "Invalid input: {m}"),
            Self::Unavailable(_) => f.write_str("Cannot reach the jitroles server."),
            Self::Other(m) => write!(f, "Something went wrong: {m}"),
        }
    }
}
