//! Why authentication produced no caller. `auth` says what went wrong; it never picks a
//! transport's code: gRPC statuses are chosen in `api/error.rs`, the sign-in pages' HTTP
//! statuses in one function of `browser.rs`.

use jitroles_domain::DomainError;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No usable proof of who is calling: a malformed or refused token, a claim that names
    /// nobody in the directory, no sign-in configured. The text says which, for people.
    #[error("{0}")]
    Unauthenticated(String),
    /// The caller is known but is not let in: a disabled account, a session cookie sent from
    /// another origin or without the web app's header.
    #[error("{0}")]
    Refused(String),
    /// The caller's directory account is disabled (audited as a refused call or sign-in).
    #[error("{why}")]
    Disabled { account: String, why: String },
    /// What authentication relies on failed (the provider's keys, the directory, the session
    /// store); reported like any domain error (an outage as unavailable, a bug with a log id).
    #[error(transparent)]
    Failed(#[from] DomainError),
}
