//! From a verified token or a session to a [`Caller`]: the directory account it speaks for,
//! with token groups. A person is named by a configured claim matched against a configured
//! directory attribute (default `preferred_username` = sAMAccountName); a client-credentials
//! token names a client, which config maps to a service account.
//!
//! Which tokens count: a person's token only from an allowed client (jitroles' own, the mapped
//! service clients, `oidc.allowed_clients`), and a client-credentials token never as a person,
//! even when it carries the person claim (a provider that lets clients add claims to their own
//! tokens would otherwise let any client act as anyone).

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    sync::Arc,
    time::Duration,
};

use jitroles_domain::{
    Clock, DomainError,
    access::{self, Caller},
    directory::{Directory, Sid, UserLookup},
};
use tokio::time::Instant;

use super::{
    error::AuthError,
    jwt::{AccessClaims, JwtVerifier, TokenError},
};
use crate::{admin_groups::AdminGroups, config::UserAttribute};

/// How a person's claim finds their directory account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityMapping {
    pub claim: String,
    pub attribute: UserAttribute,
}

impl Default for IdentityMapping {
    fn default() -> Self {
        Self {
            claim: "preferred_username".into(),
            attribute: UserAttribute::SamAccountName,
        }
    }
}

impl IdentityMapping {
    fn lookup(&self, value: &str) -> Result<UserLookup, AuthError> {
        Ok(match self.attribute {
            UserAttribute::SamAccountName => UserLookup::SamAccountName(value.to_owned()),
            UserAttribute::UserPrincipalName => UserLookup::UserPrincipalName(value.to_owned()),
            UserAttribute::Mail => UserLookup::Mail(value.to_owned()),
            UserAttribute::ObjectSid => UserLookup::Sid(value.parse().map_err(|_| {
                AuthError::Unauthenticated(format!(
                    "the {} claim {value:?} is not a SID",
                    self.claim
                ))
            })?),
        })
    }
}

/// A caller and how they proved it; put into request extensions by the auth layer.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub caller: Caller,
    pub by: String,
    /// A service (a client-credentials token of a client mapped to an account), not a person.
    pub service: bool,
}

pub struct Authenticator {
    verifier: JwtVerifier,
    directory: Arc<dyn Directory>,
    mapping: IdentityMapping,
    clients: ClientPolicy,
    admin_groups: Arc<AdminGroups>,
    clock: Arc<dyn Clock>,
    /// Callers as the directory described them, kept briefly: a service calling many times a
    /// second costs one user lookup and one tokenGroups read per `caller_ttl`, not per call.
    callers: std::sync::Mutex<HashMap<UserLookup, (Caller, Instant)>>,
    caller_ttl: Duration,
}

/// How long a caller's account state and groups are reused (DESIGN: "cache briefly").
pub const CALLER_TTL: Duration = Duration::from_secs(60);
/// Most callers remembered; past it the cache starts over.
const CALLER_CAPACITY: usize = 10_000;

/// Which clients' tokens are accepted, and as whom.
#[derive(Debug, Clone, Default)]
pub struct ClientPolicy {
    /// Client-credentials clients → the directory account (sAMAccountName) they act as.
    pub service_accounts: BTreeMap<String, String>,
    /// Further clients whose tokens may name a person (jitroles' own client, `oidc.allowed_clients`);
    /// the service clients may too.
    pub person_clients: BTreeSet<String>,
}

impl ClientPolicy {
    /// Whether a user token from `client` counts: one of the person clients or a service client.
    pub fn may_name_person(&self, client: &str) -> bool {
        self.person_clients.contains(client) || self.service_accounts.contains_key(client)
    }
}

impl Authenticator {
    pub fn new(
        verifier: JwtVerifier,
        directory: Arc<dyn Directory>,
        mapping: IdentityMapping,
        clients: ClientPolicy,
        admin_groups: Arc<AdminGroups>,
        clock: Arc<dyn Clock>,
        caller_ttl: Duration,
    ) -> Self {
        Self {
            verifier,
            directory,
            mapping,
            clients,
            admin_groups,
            clock,
            callers: std::sync::Mutex::new(HashMap::new()),
            caller_ttl,
        }
    }

    pub fn directory(&self) -> &dyn Directory {
        self.directory.as_ref()
    }

    pub async fn from_bearer(&self, token: &str) -> Result<Authenticated, AuthError> {
        let claims = self
            .verifier
            .verify(token, self.clock.now())
            .await
            .map_err(|e| match e {
                // the provider's keys cannot be fetched: an outage, not a bad token. What went
                // wrong (the provider's URL, its answer) goes to the log, not to the caller
                TokenError::Jwks(detail) => {
                    let id = uuid::Uuid::new_v4();
                    tracing::warn!(error_id = %id, error = %detail, "cannot fetch the issuer's signing keys");
                    DomainError::Unavailable(format!(
                        "the sign-in provider's keys cannot be fetched (error {id})"
                    ))
                    .into()
                }
                e => AuthError::Unauthenticated(e.to_string()),
            })?;
        let (lookup, by, service) = self.identity(&claims)?;
        Ok(Authenticated {
            caller: self.enabled_caller(&lookup).await?,
            by,
            service,
        })
    }

    /// Whom a verified token speaks for (and whether it is a service), if its client may speak
    /// for them.
    fn identity(&self, claims: &AccessClaims) -> Result<(UserLookup, String, bool), AuthError> {
        let claim = self.mapping.claim.as_str();
        // RFC 9068 `client_id`; OIDC providers that do not follow it name the client in `azp`
        let client = claims.client_id.as_deref().or_else(|| claims.claim("azp"));
        // RFC 9068 2.2: without a resource owner, `sub` names the client; some providers say so
        let client_grant = claims.claim("gty") == Some("client-credentials")
            || claims.claim("idtyp") == Some("app")
            || (client.is_some() && claims.sub.as_deref().is_none_or(|sub| Some(sub) == client));
        // with `sub` as the person claim, a client's own `sub` names no person
        let person = claims
            .claim(claim)
            .filter(|p| !(client_grant && claim == "sub" && Some(*p) == client));
        match (client_grant, person, client) {
            (true, Some(person), _) => Err(AuthError::Unauthenticated(format!(
                "a client-credentials token{} also names a person ({claim} {person}); such tokens are refused",
                client.map(|c| format!(" of client {c}")).unwrap_or_default()
            ))),
            (true, None, Some(client)) => {
                let account = self.clients.service_accounts.get(client).cloned().ok_or_else(|| {
                    AuthError::Unauthenticated(format!(
                        "client {client} is not mapped to a directory account (oidc.service_accounts)"
                    ))
                })?;
                Ok((
                    UserLookup::SamAccountName(account),
                    format!("bearer token of client {client}"),
                    true,
                ))
            }
            (false, Some(person), Some(client)) if self.clients.may_name_person(client) => {
                Ok((self.mapping.lookup(person)?, "bearer token".to_owned(), false))
            }
            (false, Some(_), Some(client)) => Err(AuthError::Unauthenticated(format!(
                "tokens issued to client {client} are not accepted for people (oidc.allowed_clients)"
            ))),
            (false, Some(_), None) => Err(AuthError::Unauthenticated(
                "the token names no client (client_id or azp), so it cannot be checked against oidc.allowed_clients".into(),
            )),
            (_, None, _) => Err(AuthError::Unauthenticated(format!(
                "the token names neither a user ({claim} claim) nor a client"
            ))),
        }
    }

    /// The person a sign-in or session names by the mapped claim's `value`.
    pub async fn person(&self, value: &str) -> Result<Caller, AuthError> {
        self.enabled_caller(&self.mapping.lookup(value)?).await
    }

    /// The claim that names a person.
    pub fn user_claim(&self) -> &str {
        &self.mapping.claim
    }

    async fn enabled_caller(&self, lookup: &UserLookup) -> Result<Caller, AuthError> {
        let caller = self.caller(lookup).await?;
        match access::refuse_disabled(&caller) {
            Ok(()) => Ok(caller),
            Err(DomainError::Denied(why)) => Err(AuthError::Disabled {
                account: caller.account_name,
                why,
            }),
            Err(other) => Err(AuthError::Failed(other)),
        }
    }

    /// The account's state and token groups, from the directory or (briefly) remembered.
    async fn caller(&self, lookup: &UserLookup) -> Result<Caller, AuthError> {
        if let Some((caller, at)) = self.remembered().get(lookup)
            && at.elapsed() < self.caller_ttl
        {
            return Ok(caller.clone());
        }
        let user = self.directory.find_user(lookup).await?.ok_or_else(|| {
            AuthError::Unauthenticated(format!(
                "there is no directory account {}",
                describe(lookup)
            ))
        })?;
        let groups = if user.disabled {
            Vec::new()
        } else {
            self.directory.token_groups(&user.dn).await?
        };
        let caller = Caller::new(user, groups);
        if !self.caller_ttl.is_zero() {
            let mut remembered = self.remembered();
            if remembered.len() >= CALLER_CAPACITY {
                remembered.clear();
            }
            remembered.insert(lookup.clone(), (caller.clone(), Instant::now()));
        }
        Ok(caller)
    }

    fn remembered(&self) -> std::sync::MutexGuard<'_, HashMap<UserLookup, (Caller, Instant)>> {
        self.callers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The configured admin groups' SIDs.
    pub async fn admin_groups(&self) -> Result<&[Sid], DomainError> {
        self.admin_groups.sids().await
    }
}

fn describe(lookup: &UserLookup) -> String {
    match lookup {
        UserLookup::SamAccountName(v) => v.clone(),
        UserLookup::UserPrincipalName(v) => format!("with userPrincipalName {v}"),
        UserLookup::Mail(v) => format!("with mail {v}"),
        UserLookup::Sid(v) => format!("with objectSid {v}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_person_token_counts_from_a_listed_or_a_service_client_only() {
        let clients = ClientPolicy {
            service_accounts: BTreeMap::from([("ci-bot".to_owned(), "svc-ci".to_owned())]),
            person_clients: BTreeSet::from(["jitroles".to_owned(), "portal".to_owned()]),
        };
        assert!(clients.may_name_person("jitroles"));
        assert!(clients.may_name_person("portal"));
        assert!(clients.may_name_person("ci-bot"));
        assert!(!clients.may_name_person("someone-elses-app"));
        assert!(!ClientPolicy::default().may_name_person("jitroles"));
    }
}
