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

/// Whether a violation the server reported on `reported` belongs under a form's `field`
/// (`acl[1].display_name` under `acl`, `webhook.headers[0]` under `webhook.headers`).
fn belongs(field: &str, reported: &str) -> bool {
    reported
        .strip_prefix(field)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
}

impl ApiError {
    /// What the server said about `field` (and anything under it), for a message next to it.
    pub fn about(&self, field: &str) -> Option<String> {
        match self {
            Self::Invalid(_, fields) => {
                let said: Vec<&str> = fields
                    .iter()
                    .filter(|(f, _)| belongs(field, f))
                    .map(|(_, reason)| reason.as_str())
                    .collect();
                (!said.is_empty()).then(|| said.join(" "))
            }
            _ => None,
        }
    }

    /// The violations none of a form's `fields` can show, as "field: reason", so a form can
    /// say them in one message and none is lost.
    pub fn unplaced(&self, fields: &[&str]) -> Vec<String> {
        match self {
            Self::Invalid(_, reported) => reported
                .iter()
                .filter(|(f, _)| !fields.iter().any(|k| belongs(k, f)))
                .map(|(f, reason)| format!("{f}: {reason}"))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The form-level message for an invalid save: the violations no field shows, if any.
    pub fn invalid_summary(&self, fields: &[&str]) -> Option<String> {
        let Self::Invalid(message, reported) = self else {
            return None;
        };
        if reported.is_empty() {
            return Some(format!("Invalid input: {message}"));
        }
        let stray = self.unplaced(fields);
        Some(if stray.is_empty() {
            "Some settings need attention: see the messages next to them.".to_owned()
        } else {
            format!("Some settings need attention: {}", stray.join("; "))
        })
    }
}
