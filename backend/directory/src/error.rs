//! Every LDAP and TLS failure, classified once: what a person reads, whether a retry may help,
//! and which domain error it becomes.

use jitroles_domain::DomainError;
use ldap3::LdapError;
use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum DirectoryError {
    #[error("the directory at {url} cannot be reached: {detail}")]
    Unreachable { url: String, detail: String },
    #[error("TLS with the directory at {url} failed: {detail} (is the CA file right?)")]
    Tls { url: String, detail: String },
    #[error("the directory did not answer within {seconds} s")]
    Timeout { seconds: u64 },
    #[error("the directory refused the service account's credentials ({bind_dn}): {detail}")]
    BadCredentials { bind_dn: String, detail: String },
    #[error("the service account may not do this: {detail}")]
    InsufficientRights { detail: String },
    #[error("not found in the directory: {0}")]
    NoSuchObject(String),
    #[error("the directory refused the request: {0}")]
    Invalid(String),
    #[error("the directory is busy or unavailable: {0}")]
    Busy(String),
    #[error("the directory refused the request (LDAP result {rc}): {detail}")]
    Refused { rc: u32, detail: String },
    #[error("directory configuration: {0}")]
    Config(String),
    #[error(
        "the directory did not keep the time-to-live set on {group}'s link (asked {asked} s, it holds {held}), not even when the link was written again"
    )]
    TtlNotKept {
        group: String,
        asked: u64,
        held: String,
    },
}

impl DirectoryError {
    /// Whether trying again (on a fresh connection) may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Unreachable { .. } | Self::Timeout { .. } | Self::Busy(_)
        )
    }

    /// Whether the connection it happened on should be thrown away.
    pub(crate) fn breaks_connection(&self) -> bool {
        matches!(
            self,
            Self::Unreachable { .. } | Self::Timeout { .. } | Self::Tls { .. }
        )
    }

    /// Classifies an ldap3 error on the DC at `url`; the bind DN and the timeout the operation
    /// had make messages concrete.
    pub(crate) fn from_ldap(
        e: LdapError,
        url: &str,
        bind_dn: &str,
        timeout: std::time::Duration,
    ) -> Self {
        match e {
            LdapError::LdapResult { result } => Self::from_code(result.rc, &result.text, bind_dn),
            LdapError::Timeout { .. } => Self::Timeout {
                seconds: (timeout + std::time::Duration::from_millis(500)).as_secs(),
            },
            LdapError::Rustls { source } => Self::Tls {
                url: url.into(),
                detail: source.to_string(),
            },
            LdapError::DNSName { source } => Self::Tls {
                url: url.into(),
                detail: source.to_string(),
            },
            LdapError::Io { source } => {
                let detail = source.to_string();
                // rustls reports handshake failures (bad certificate, unknown CA) as I/O errors
                if detail.contains("certificate")
                    || detail.contains("InvalidCertificate")
                    || detail.contains("tls")
                {
                    Self::Tls {
                        url: url.into(),
                        detail,
                    }
                } else {
                    Self::Unreachable {
                        url: url.into(),
                        detail,
                    }
                }
            }
            LdapError::OpSend { .. } | LdapError::ResultRecv { .. } | LdapError::EndOfStream => {
                Self::Unreachable {
                    url: url.into(),
                    detail: "the connection was closed".into(),
                }
            }
            LdapError::UrlParsing { source } => {
                Self::Config(format!("bad directory URL {url}: {source}"))
            }
            LdapError::UnknownScheme(s) => Self::Config(format!(
                "unknown scheme {s} in {url}: use ldaps:// or ldap://"
            )),
            other => Self::Refused {
                rc: 80,
                detail: other.to_string(),
            },
        }
    }

    /// LDAP result codes (RFC 4511 4.1.9) that mean something to jitroles.
    pub(crate) fn from_code(rc: u32, text: &str, bind_dn: &str) -> Self {
        let detail = if text.is_empty() {
            format!("result code {rc}")
        } else {
            text.to_owned()
        };
        match rc {
            49 => Self::BadCredentials {
                bind_dn: bind_dn.into(),
                detail,
            },
            50 => Self::InsufficientRights { detail },
            32 => Self::NoSuchObject(detail),
            // invalidAttributeSyntax, constraintViolation, invalidDNSyntax, namingViolation
            21 | 19 | 34 | 64 => Self::Invalid(detail),
            51 | 52 => Self::Busy(detail),
            _ => Self::Refused { rc, detail },
        }
    }
}

impl DirectoryError {
    /// What a caller may read: the kind of failure without the DC's URL, the bind DN or AD's
    /// diagnostic text, which go to the log under `error_id` instead.
    fn summary(&self, id: &str) -> String {
        match self {
            Self::Unreachable { .. } => format!("the directory cannot be reached (error {id})"),
            Self::Tls { .. } => format!("the TLS connection to the directory failed (error {id})"),
            Self::Timeout { seconds } => {
                format!("the directory did not answer within {seconds} s (error {id})")
            }
            Self::BadCredentials { .. } => {
                format!("the directory refused the service account's credentials (error {id})")
            }
            Self::InsufficientRights { .. } => format!(
                "the service account lacks the right to do this; an AD admin can delegate \
                 writing the group's members to it (error {id})"
            ),
            Self::NoSuchObject(_) => format!("the directory object (error {id})"),
            Self::Invalid(_) => format!("the directory refused the value (error {id})"),
            Self::Busy(_) => format!("the directory is busy or unavailable (error {id})"),
            Self::Refused { rc, .. } => {
                format!("the directory refused the request (result {rc}, error {id})")
            }
            Self::Config(_) => format!("the directory settings are wrong (error {id})"),
            Self::TtlNotKept { group, asked, .. } => format!(
                "the directory did not keep the {asked} s time-to-live set on the membership of \
                 {group}; nothing was changed. `jitroles directory check --probe-ttl` shows what \
                 this DC does with TTL links (error {id})"
            ),
        }
    }
}

/// Every directory failure is logged whole under an id; the domain error carries the summary.
impl From<DirectoryError> for DomainError {
    fn from(e: DirectoryError) -> Self {
        let id = uuid::Uuid::new_v4().to_string();
        tracing::warn!(error_id = %id, error = %e, "directory operation failed");
        let summary = e.summary(&id);
        match e {
            DirectoryError::Unreachable { .. }
            | DirectoryError::Tls { .. }
            | DirectoryError::Timeout { .. }
            | DirectoryError::BadCredentials { .. }
            | DirectoryError::Busy(_) => DomainError::Unavailable(summary),
            DirectoryError::InsufficientRights { .. }
            | DirectoryError::Refused { .. }
            | DirectoryError::TtlNotKept { .. } => DomainError::FailedPrecondition(summary),
            DirectoryError::NoSuchObject(_) => DomainError::NotFound { what: summary },
            DirectoryError::Invalid(_) => DomainError::invalid("directory", summary),
            DirectoryError::Config(_) => DomainError::Internal(summary),
        }
    }
}
