//! Who may do what: rule ACLs (allow and deny entries on user and group SIDs, deny wins,
//! nested groups through token groups) and admin rights (transitive membership of configured
//! admin groups).
//!
//! A check that passes returns a capability value that only this module can make; privileged
//! operations take it as an argument, so forgetting the check does not compile.

use crate::{
    DomainError,
    directory::{Directory, DirectoryUser, SearchPage, SearchScope, Sid},
};

/// A signed-in person or service, as the directory knows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub sid: Sid,
    pub dn: String,
    pub account_name: String,
    pub display_name: String,
    /// Token groups: every security group, transitively, including the primary group.
    pub groups: Vec<Sid>,
    pub disabled: bool,
}

impl Caller {
    /// A directory user with their token groups.
    pub fn new(user: DirectoryUser, groups: Vec<Sid>) -> Self {
        Self {
            sid: user.sid,
            dn: user.dn,
            account_name: user.account_name,
            display_name: user.display_name,
            groups,
            disabled: user.disabled,
        }
    }

    /// The user's own SID and all of their groups.
    fn sids(&self) -> impl Iterator<Item = &Sid> {
        std::iter::once(&self.sid).chain(self.groups.iter())
    }

    pub(crate) fn holds(&self, sid: &Sid) -> bool {
        self.sids().any(|s| s == sid)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalKind {
    User,
    Group,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclEntry {
    pub principal: Sid,
    /// For people reading the rule; decisions use the SID only.
    pub display_name: String,
    pub kind: PrincipalKind,
    pub effect: Effect,
}

/// What an ACL says about a caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AclDecision {
    Allowed,
    /// A deny entry matched (it wins over any allow); names the entry.
    Denied {
        by: String,
    },
    /// No entry matched.
    NotListed,
}

/// Deny wins; then any allow; otherwise not listed.
pub fn evaluate(acl: &[AclEntry], caller: &Caller) -> AclDecision {
    let matching = || acl.iter().filter(|e| caller.holds(&e.principal));
    if let Some(deny) = matching().find(|e| e.effect == Effect::Deny) {
        return AclDecision::Denied {
            by: deny.display_name.clone(),
        };
    }
    if matching().any(|e| e.effect == Effect::Allow) {
        return AclDecision::Allowed;
    }
    AclDecision::NotListed
}

/// Proof that the caller may request one rule. Made only by [`authorize_request`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MayRequest {
    rule: String,
    subject: Sid,
}

impl MayRequest {
    pub fn rule(&self) -> &str {
        &self.rule
    }

    pub fn subject(&self) -> &Sid {
        &self.subject
    }
}

pub fn authorize_request(
    caller: &Caller,
    rule: &str,
    acl: &[AclEntry],
) -> Result<MayRequest, DomainError> {
    refuse_disabled(caller)?;
    match evaluate(acl, caller) {
        AclDecision::Allowed => Ok(MayRequest {
            rule: rule.to_owned(),
            subject: caller.sid.clone(),
        }),
        AclDecision::Denied { by } => Err(DomainError::Denied(format!(
            "{} is denied this role by the entry for {by}",
            caller.account_name
        ))),
        AclDecision::NotListed => Err(DomainError::Denied(format!(
            "{} is not allowed to request this role",
            caller.account_name
        ))),
    }
}

/// Proof that the caller is an administrator. Made only by [`authorize_admin`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminRight {
    admin: Sid,
}

impl AdminRight {
    pub fn admin(&self) -> &Sid {
        &self.admin
    }
}

/// Admins are members, directly or through nested groups, of one of `admin_groups`.
pub fn authorize_admin(caller: &Caller, admin_groups: &[Sid]) -> Result<AdminRight, DomainError> {
    refuse_disabled(caller)?;
    if admin_groups.iter().any(|g| caller.holds(g)) {
        Ok(AdminRight {
            admin: caller.sid.clone(),
        })
    } else {
        Err(DomainError::Denied(format!(
            "{} is not a jitroles administrator",
            caller.account_name
        )))
    }
}

/// Page size for picker searches when the caller names none, and the most they may ask for.
pub const DEFAULT_SEARCH_PAGE: usize = 20;
pub const MAX_SEARCH_PAGE: usize = 100;

/// The admin pickers' directory search: admins only, bounded.
pub async fn search_directory(
    _right: &AdminRight,
    directory: &dyn Directory,
    text: &str,
    scope: SearchScope,
    page_size: usize,
) -> Result<SearchPage, DomainError> {
    let limit = if page_size == 0 {
        DEFAULT_SEARCH_PAGE
    } else {
        page_size.min(MAX_SEARCH_PAGE)
    };
    directory.search(text, scope, limit).await
}

/// A disabled directory account gets nothing: no capability, no session, no token use
/// (DENIED, saying so). The one place this rule lives.
pub fn refuse_disabled(caller: &Caller) -> Result<(), DomainError> {
    if caller.disabled {
        return Err(DomainError::Denied(format!(
            "the directory account {} is disabled",
            caller.account_name
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sid(rid: u32) -> Sid {
        format!("S-1-5-21-1-2-3-{rid}").parse().unwrap()
    }

    const DAVE: u32 = 1101;
    const BOB: u32 = 1102;
    const DBA_TEAM: u32 = 2001;
    const DBA_ONCALL: u32 = 2002;
    const ADMINS: u32 = 2003;

    fn caller(rid: u32, groups: &[u32]) -> Caller {
        Caller {
            sid: sid(rid),
            dn: format!("CN=u{rid},CN=Users,DC=example,DC=test"),
            account_name: format!("u{rid}"),
            display_name: format!("User {rid}"),
            groups: groups.iter().copied().map(sid).collect(),
            disabled: false,
        }
    }

    fn entry(rid: u32, kind: PrincipalKind, effect: Effect) -> AclEntry {
        AclEntry {
            principal: sid(rid),
            display_name: format!("p{rid}"),
            kind,
            effect,
        }
    }

    #[test]
    fn a_user_listed_directly_is_allowed() {
        let acl = [entry(DAVE, PrincipalKind::User, Effect::Allow)];
        assert_eq!(evaluate(&acl, &caller(DAVE, &[])), AclDecision::Allowed);
    }

    #[test]
    fn a_user_in_a_nested_group_is_allowed_through_token_groups() {
        // dave is in dba-team, which is in dba-oncall: token groups hold both
        let acl = [entry(DBA_ONCALL, PrincipalKind::Group, Effect::Allow)];
        assert_eq!(
            evaluate(&acl, &caller(DAVE, &[DBA_TEAM, DBA_ONCALL])),
            AclDecision::Allowed
        );
    }

    #[test]
    fn deny_beats_allow_whatever_the_order() {
        let allow = entry(DBA_ONCALL, PrincipalKind::Group, Effect::Allow);
        let deny = entry(DBA_TEAM, PrincipalKind::Group, Effect::Deny);
        let dave = caller(DAVE, &[DBA_TEAM, DBA_ONCALL]);
        for acl in [[allow.clone(), deny.clone()], [deny.clone(), allow.clone()]] {
            assert_eq!(
                evaluate(&acl, &dave),
                AclDecision::Denied { by: "p2001".into() }
            );
        }
        let direct = [
            entry(DAVE, PrincipalKind::User, Effect::Allow),
            entry(DAVE, PrincipalKind::User, Effect::Deny),
        ];
        assert!(matches!(
            evaluate(&direct, &dave),
            AclDecision::Denied { .. }
        ));
    }

    #[test]
    fn someone_in_no_listed_group_is_not_listed() {
        let acl = [entry(DBA_ONCALL, PrincipalKind::Group, Effect::Allow)];
        assert_eq!(evaluate(&acl, &caller(BOB, &[513])), AclDecision::NotListed);
        assert_eq!(evaluate(&[], &caller(BOB, &[])), AclDecision::NotListed);
    }

    #[test]
    fn a_deny_that_does_not_match_does_not_block() {
        let acl = [
            entry(DBA_ONCALL, PrincipalKind::Group, Effect::Allow),
            entry(BOB, PrincipalKind::User, Effect::Deny),
        ];
        assert_eq!(
            evaluate(&acl, &caller(DAVE, &[DBA_ONCALL])),
            AclDecision::Allowed
        );
    }

    #[test]
    fn authorize_request_gives_the_capability_only_when_allowed() {
        let acl = [entry(DBA_ONCALL, PrincipalKind::Group, Effect::Allow)];
        let right = authorize_request(&caller(DAVE, &[DBA_ONCALL]), "rule-1", &acl).unwrap();
        assert_eq!(right.rule(), "rule-1");
        assert_eq!(right.subject(), &sid(DAVE));
        let err = authorize_request(&caller(BOB, &[]), "rule-1", &acl).unwrap_err();
        assert!(
            matches!(err, DomainError::Denied(ref m) if m.contains("not allowed")),
            "{err}"
        );
    }

    #[test]
    fn a_disabled_account_gets_no_capability() {
        let mut erin = caller(DAVE, &[DBA_ONCALL, ADMINS]);
        erin.disabled = true;
        let acl = [entry(DBA_ONCALL, PrincipalKind::Group, Effect::Allow)];
        assert!(
            matches!(authorize_request(&erin, "r", &acl), Err(DomainError::Denied(ref m)) if m.contains("disabled"))
        );
        assert!(authorize_admin(&erin, &[sid(ADMINS)]).is_err());
    }

    #[test]
    fn admins_are_members_of_an_admin_group_directly_or_nested() {
        let admin_groups = [sid(ADMINS)];
        assert_eq!(
            authorize_admin(&caller(DAVE, &[ADMINS]), &admin_groups)
                .unwrap()
                .admin(),
            &sid(DAVE)
        );
        let err = authorize_admin(&caller(BOB, &[DBA_TEAM]), &admin_groups).unwrap_err();
        assert!(
            matches!(err, DomainError::Denied(ref m) if m.contains("not a jitroles administrator"))
        );
        assert!(
            authorize_admin(&caller(BOB, &[]), &[]).is_err(),
            "no admin groups: nobody is admin"
        );
    }
}
