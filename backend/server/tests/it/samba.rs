//! The test DC itself, for tests that must own a role group: read and changed as its
//! administrator with the OpenLDAP tools (`ldapsearch`, `ldapmodify`).

use std::{
    collections::BTreeSet,
    io::Write,
    process::{Command, Stdio},
};

/// The test DC, read and changed as its administrator with the OpenLDAP tools.
pub struct Samba;

pub fn env(key: &str) -> String {
    std::env::var(key).unwrap()
}

impl Samba {
    /// `None` (the test skips, see `service`) when the DC is not up.
    pub fn up() -> Option<Self> {
        crate::service::SAMBA.up().then_some(Self)
    }

    fn admin_args() -> Vec<String> {
        ["-x", "-H", &env("AD_LDAPS_URL"), "-D", &env("AD_ADMIN_DN")]
            .into_iter()
            .map(str::to_owned)
            .chain(["-w".into(), env("AD_ADMIN_PASS")])
            .collect()
    }

    /// Values of `attribute` on the entries `filter` finds under `base`.
    pub fn search(&self, base: &str, scope: &str, filter: &str, attribute: &str) -> Vec<String> {
        let out = Command::new("ldapsearch")
            .args(["-LLL", "-o", "ldif-wrap=no"])
            .args(Self::admin_args())
            .args(["-b", base, "-s", scope, filter, attribute])
            .env("LDAPTLS_CACERT", env("AD_CA_FILE"))
            .output()
            .unwrap();
        assert!(out.status.success(), "ldapsearch: {out:?}");
        let prefix = format!("{}:", attribute.to_lowercase());
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .filter(|l| l.to_lowercase().starts_with(&prefix))
            .map(|l| l[prefix.len()..].trim_start_matches(':').trim().to_owned())
            .collect()
    }

    /// Applies `ldif` as the administrator; whether the DC accepted it.
    pub fn modify(&self, ldif: &str) -> bool {
        let Ok(mut child) = Command::new("ldapmodify")
            .args(Self::admin_args())
            .env("LDAPTLS_CACERT", env("AD_CA_FILE"))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
        else {
            return false;
        };
        let written = child.stdin.take().unwrap().write_all(ldif.as_bytes());
        written.is_ok() && child.wait().is_ok_and(|s| s.success())
    }

    pub fn dn_of(&self, account: &str) -> String {
        self.search(
            &env("AD_BASE_DN"),
            "sub",
            &format!("(sAMAccountName={account})"),
            "dn",
        )
        .remove(0)
    }

    /// A fresh global security group in OU=JIT Roles with carol as its permanent member
    /// (an earlier run's group of the same name is replaced).
    pub fn role_group(&self, name: &str) -> RoleGroup {
        let dn = format!("CN={name},{}", env("AD_ROLE_OU"));
        if !self
            .search(&env("AD_ROLE_OU"), "one", &format!("(cn={name})"), "dn")
            .is_empty()
        {
            assert!(self.modify(&format!("dn: {dn}\nchangetype: delete\n")));
        }
        assert!(self.modify(&format!(
            "dn: {dn}\nchangetype: add\nobjectClass: group\nsAMAccountName: {name}\n\
             groupType: -2147483646\nmember: {}\n",
            self.dn_of("carol")
        )));
        RoleGroup {
            name: name.into(),
            dn,
        }
    }

    /// The role group `name` in OU=JIT Roles as it is (deleted when dropped).
    pub fn role_group_named(&self, name: &str) -> RoleGroup {
        RoleGroup {
            name: name.into(),
            dn: format!("CN={name},{}", env("AD_ROLE_OU")),
        }
    }

    /// The lower-cased DNs of `group`'s direct members.
    pub fn members(&self, group: &RoleGroup) -> BTreeSet<String> {
        self.search(&group.dn, "base", "(objectClass=*)", "member")
            .into_iter()
            .map(|m| m.to_lowercase())
            .collect()
    }
}

pub struct RoleGroup {
    pub name: String,
    pub dn: String,
}

impl Drop for RoleGroup {
    fn drop(&mut self) {
        Samba.modify(&format!("dn: {}\nchangetype: delete\n", self.dn));
    }
}
