//! Which AD groups a rule may write. A rule hands out membership to whoever its ACL allows, so
//! a rule on a group that controls the domain (or jitroles itself) would let a stolen admin
//! session, or a careless one, make anyone a domain admin on request. Such targets are refused
//! when a rule is saved and again at every request (AD refreshes `adminCount` only hourly, and
//! a group can be nested into a privileged one after the rule was saved).

use crate::{
    DomainError,
    directory::{DirectoryGroup, Sid},
};

/// The operator's settings (`[access]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetPolicy {
    /// `allow_protected_targets`: rules may target protected groups (off by default).
    pub allow_protected: bool,
    /// `role_group_bases`: when not empty, a target must be inside one of these OUs.
    pub bases: Vec<String>,
}

/// Domain-relative RIDs of the groups that control a domain or forest: Domain Admins,
/// Domain Controllers, Schema Admins, Enterprise Admins, Group Policy Creator Owners, Key
/// Admins, Enterprise Key Admins.
const PRIVILEGED_RIDS: [u32; 7] = [512, 516, 518, 519, 520, 526, 527];

/// Builtin groups with control over domain controllers: Administrators, Account, Server,
/// Print and Backup Operators.
const PRIVILEGED_BUILTIN: [&str; 5] = [
    "S-1-5-32-544",
    "S-1-5-32-548",
    "S-1-5-32-549",
    "S-1-5-32-550",
    "S-1-5-32-551",
];

/// Why `group` is privileged in itself, if it is.
fn privileged(group: &DirectoryGroup) -> Option<&'static str> {
    let sid = group.sid.as_str();
    let domain_rid = sid
        .strip_prefix("S-1-5-21-")
        .and_then(|rest| rest.rsplit('-').next())
        .and_then(|rid| rid.parse::<u32>().ok());
    if domain_rid.is_some_and(|rid| PRIVILEGED_RIDS.contains(&rid)) {
        Some("it is one of the groups that control the domain or forest")
    } else if PRIVILEGED_BUILTIN.contains(&sid) {
        Some("it is a builtin group with control over the domain controllers")
    } else if group.name.eq_ignore_ascii_case("DnsAdmins") {
        Some("DnsAdmins can run code on domain controllers")
    } else if group.protected {
        Some("it is protected by AdminSDHolder (adminCount = 1)")
    } else {
        None
    }
}

/// Whether `dn` lies inside the OU `base` (both compared without case or spaces after commas).
fn inside(dn: &str, base: &str) -> bool {
    let canonical = |s: &str| {
        s.split(',')
            .map(str::trim)
            .collect::<Vec<_>>()
            .join(",")
            .to_lowercase()
    };
    canonical(dn).ends_with(&format!(",{}", canonical(base)))
}

/// The part of the check that needs only the group's DN: done before anything else is read.
pub fn check_base(policy: &TargetPolicy, group: &DirectoryGroup) -> Result<(), DomainError> {
    if policy.bases.is_empty() || policy.bases.iter().any(|b| inside(&group.dn, b)) {
        return Ok(());
    }
    Err(DomainError::FailedPrecondition(format!(
        "{} is outside the OUs role groups must be in ({}); the operator sets them in \
         access.role_group_bases",
        group.name,
        policy.bases.join("; ")
    )))
}

/// Whether `group`, nested in `containing` (directly or transitively), may be a rule's target.
/// jitroles' own admin groups are never a target (a rule on them would make requesters admins
/// of jitroles); privileged groups, and groups nested in them, only when the operator allows
/// protected targets.
pub fn check_target(
    policy: &TargetPolicy,
    admin_groups: &[Sid],
    group: &DirectoryGroup,
    containing: &[DirectoryGroup],
) -> Result<(), DomainError> {
    check_base(policy, group)?;
    let refuse = |why: String| {
        Err(DomainError::FailedPrecondition(format!(
            "{} cannot be a role's group: {why}",
            group.name
        )))
    };
    if admin_groups.contains(&group.sid) {
        return refuse("it is one of jitroles' admin groups".into());
    }
    if let Some(admin) = containing.iter().find(|g| admin_groups.contains(&g.sid)) {
        return refuse(format!(
            "it is nested in {}, one of jitroles' admin groups",
            admin.name
        ));
    }
    if policy.allow_protected {
        return Ok(());
    }
    let opt_in = " (an operator may allow protected groups with access.allow_protected_targets)";
    if let Some(why) = privileged(group) {
        return refuse(format!("{why}{opt_in}"));
    }
    if let Some((outer, why)) = containing
        .iter()
        .find_map(|g| privileged(g).map(|why| (g, why)))
    {
        return refuse(format!("it is nested in {} ({why}){opt_in}", outer.name));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOMAIN: &str = "S-1-5-21-1-2-3";

    fn group(name: &str, sid: &str, dn: &str) -> DirectoryGroup {
        DirectoryGroup {
            sid: sid.parse().unwrap(),
            guid: String::new(),
            dn: dn.into(),
            name: name.into(),
            description: None,
            protected: false,
        }
    }

    fn role() -> DirectoryGroup {
        group(
            "jit-role-a",
            &format!("{DOMAIN}-1200"),
            "CN=jit-role-a,OU=Roles,DC=example,DC=com",
        )
    }

    fn refused(result: Result<(), DomainError>) -> String {
        match result {
            Err(DomainError::FailedPrecondition(why)) => why,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn an_ordinary_group_is_a_target() {
        check_target(&TargetPolicy::default(), &[], &role(), &[]).unwrap();
    }

    #[test]
    fn the_domain_and_forest_admin_groups_are_refused_by_rid() {
        for rid in PRIVILEGED_RIDS {
            let g = group(
                "x",
                &format!("{DOMAIN}-{rid}"),
                "CN=x,CN=Users,DC=example,DC=com",
            );
            let why = refused(check_target(&TargetPolicy::default(), &[], &g, &[]));
            assert!(why.contains("control the domain"), "{rid}: {why}");
        }
        // a RID written with a leading zero is the same group
        let g = group("x", &format!("{DOMAIN}-0512"), "CN=x,DC=example,DC=com");
        refused(check_target(&TargetPolicy::default(), &[], &g, &[]));
    }

    #[test]
    fn builtin_operators_dnsadmins_and_admincount_groups_are_refused() {
        let policy = TargetPolicy::default();
        for sid in PRIVILEGED_BUILTIN {
            let g = group("b", sid, "CN=b,CN=Builtin,DC=example,DC=com");
            refused(check_target(&policy, &[], &g, &[]));
        }
        let dns = group("DnsAdmins", &format!("{DOMAIN}-1101"), "CN=DnsAdmins,DC=x");
        assert!(refused(check_target(&policy, &[], &dns, &[])).contains("DnsAdmins"));
        let mut guarded = role();
        guarded.protected = true;
        assert!(refused(check_target(&policy, &[], &guarded, &[])).contains("adminCount"));
    }

    #[test]
    fn a_group_nested_in_a_privileged_group_is_refused_and_named() {
        let admins = group(
            "Domain Admins",
            &format!("{DOMAIN}-512"),
            "CN=Domain Admins,DC=x",
        );
        let middle = group("helpdesk", &format!("{DOMAIN}-1300"), "CN=helpdesk,DC=x");
        let why = refused(check_target(
            &TargetPolicy::default(),
            &[],
            &role(),
            &[middle, admins],
        ));
        assert!(why.contains("nested in Domain Admins"), "{why}");
    }

    #[test]
    fn the_operator_may_allow_protected_targets_but_never_jitroles_admin_groups() {
        let policy = TargetPolicy {
            allow_protected: true,
            ..TargetPolicy::default()
        };
        let admins = group(
            "Domain Admins",
            &format!("{DOMAIN}-512"),
            "CN=Domain Admins,DC=x",
        );
        check_target(&policy, &[], &admins, &[]).unwrap();
        let jit_admins = group("jitroles-admins", &format!("{DOMAIN}-1400"), "CN=j,DC=x");
        let admin_groups = [jit_admins.sid.clone()];
        let why = refused(check_target(&policy, &admin_groups, &jit_admins, &[]));
        assert!(why.contains("jitroles' admin groups"), "{why}");
        let why = refused(check_target(&policy, &admin_groups, &role(), &[jit_admins]));
        assert!(why.contains("nested in jitroles-admins"), "{why}");
    }

    #[test]
    fn with_bases_a_group_outside_them_is_refused() {
        let policy = TargetPolicy {
            bases: vec!["OU=Roles, DC=example, DC=com".into()],
            ..TargetPolicy::default()
        };
        check_target(&policy, &[], &role(), &[]).unwrap();
        let elsewhere = group(
            "x",
            &format!("{DOMAIN}-1500"),
            "CN=x,OU=Other,DC=example,DC=com",
        );
        assert!(refused(check_target(&policy, &[], &elsewhere, &[])).contains("outside the OUs"));
        // the OU itself is not inside itself; a look-alike suffix is not inside either
        let lookalike = group(
            "y",
            &format!("{DOMAIN}-1501"),
            "CN=y,OU=NotRoles,DC=example,DC=com",
        );
        refused(check_target(&policy, &[], &lookalike, &[]));
    }
}
