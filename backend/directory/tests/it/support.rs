//! Settings of the test DC, an admin connection for fixtures, and throw-away groups.

use std::{collections::HashSet, time::Duration};

use jitroles_directory::{ActiveDirectory, DirectoryConfig};
use jitroles_domain::directory::{Directory, DirectoryGroup, GroupRef, UserLookup};
use ldap3::{Ldap, LdapConnAsync, Mod, Scope, SearchEntry};

pub struct Ad {
    pub url: String,
    pub ldaps_url: String,
    pub ca_file: String,
    pub base_dn: String,
    pub admin_dn: String,
    pub admin_pass: String,
    pub svc_dn: String,
    pub svc_pass: String,
    pub role_ou: String,
}

/// The test DC's settings from `scripts/ad up`, or `None` (the test skips, see `service`)
/// when there is none.
pub fn ad() -> Option<Ad> {
    let ldaps_url = crate::service::SAMBA.var()?;
    let need = |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k} is not set"));
    Some(Ad {
        url: need("AD_URL"),
        ldaps_url,
        ca_file: need("AD_CA_FILE"),
        base_dn: need("AD_BASE_DN"),
        admin_dn: need("AD_ADMIN_DN"),
        admin_pass: need("AD_ADMIN_PASS"),
        svc_dn: need("AD_SVC_DN"),
        svc_pass: need("AD_SVC_PASS"),
        role_ou: need("AD_ROLE_OU"),
    })
}

impl Ad {
    /// jitroles' own settings: LDAPS with the test CA, as the delegated service account.
    pub fn config(&self) -> DirectoryConfig {
        let mut c = DirectoryConfig::new(&self.ldaps_url, &self.svc_dn, &self.svc_pass);
        c.ca_file = Some(self.ca_file.clone().into());
        c.timeout = Duration::from_secs(5);
        c
    }

    /// The adapter reaching the DC through an in-test TCP proxy that the test can cut, with
    /// short timeouts so a cut shows at once.
    pub async fn behind_proxy(&self) -> (ActiveDirectory, jitroles_ad_fixture::proxy::Proxy) {
        let upstream: std::net::SocketAddr = self
            .ldaps_url
            .trim_start_matches("ldaps://")
            .parse()
            .unwrap();
        let proxy = jitroles_ad_fixture::proxy::Proxy::start(upstream)
            .await
            .unwrap();
        let mut config = self.config();
        config.urls = vec![format!("ldaps://{}", proxy.addr())];
        config.timeout = std::time::Duration::from_secs(2);
        config.retries = 1;
        (ActiveDirectory::new(config).unwrap(), proxy)
    }

    pub fn directory(&self) -> ActiveDirectory {
        ActiveDirectory::new(self.config()).unwrap()
    }

    /// A raw connection as the domain administrator, for fixtures only.
    pub async fn admin(&self) -> Ldap {
        let (conn, mut ldap) = LdapConnAsync::new(&self.url).await.unwrap();
        ldap3::drive!(conn);
        ldap.simple_bind(&self.admin_dn, &self.admin_pass)
            .await
            .unwrap()
            .success()
            .unwrap();
        ldap
    }

    /// A new, empty group in the role OU (where jit-svc may write members).
    pub async fn scratch_group(&self, purpose: &str) -> ScratchGroup {
        let name = format!("t-{purpose}-{}", std::process::id() ^ rand_u32());
        let dn = format!("CN={name},{}", self.role_ou);
        let mut admin = self.admin().await;
        admin
            .add(
                &dn,
                vec![
                    ("objectClass", HashSet::from(["top", "group"])),
                    ("sAMAccountName", HashSet::from([name.as_str()])),
                ],
            )
            .await
            .unwrap()
            .success()
            .unwrap();
        let group = self
            .directory()
            .group(&GroupRef::Dn(dn.clone()))
            .await
            .unwrap()
            .unwrap();
        ScratchGroup { group, admin }
    }

    pub async fn user(&self, account: &str) -> jitroles_domain::directory::DirectoryUser {
        self.directory()
            .find_user(&UserLookup::SamAccountName(account.into()))
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{account} is in the seed"))
    }

    pub async fn group_named(&self, name: &str) -> DirectoryGroup {
        let dn = self.group_dn(name).await;
        self.directory()
            .group(&GroupRef::Dn(dn))
            .await
            .unwrap()
            .unwrap()
    }

    pub async fn group_dn(&self, name: &str) -> String {
        let mut admin = self.admin().await;
        let (entries, _) = admin
            .search(
                &self.base_dn,
                Scope::Subtree,
                &format!("(&(objectClass=group)(sAMAccountName={name}))"),
                vec!["dn"],
            )
            .await
            .unwrap()
            .success()
            .unwrap();
        SearchEntry::construct(
            entries
                .into_iter()
                .next()
                .unwrap_or_else(|| panic!("no group {name}")),
        )
        .dn
    }

    /// Member DNs as the administrator sees them (not through the adapter).
    pub async fn members_seen_by_admin(&self, group_dn: &str) -> Vec<String> {
        let mut admin = self.admin().await;
        let (entries, _) = admin
            .search(group_dn, Scope::Base, "(objectClass=*)", vec!["member"])
            .await
            .unwrap()
            .success()
            .unwrap();
        let e = SearchEntry::construct(entries.into_iter().next().unwrap());
        e.attrs.get("member").cloned().unwrap_or_default()
    }
}

pub struct ScratchGroup {
    pub group: DirectoryGroup,
    admin: Ldap,
}

impl ScratchGroup {
    pub async fn delete(mut self) {
        self.admin
            .delete(&self.group.dn)
            .await
            .unwrap()
            .success()
            .unwrap();
    }

    pub async fn add_as_admin(&mut self, member_dns: &[String]) {
        let values: HashSet<&str> = member_dns.iter().map(String::as_str).collect();
        self.admin
            .modify(&self.group.dn, vec![Mod::Add("member", values)])
            .await
            .unwrap()
            .success()
            .unwrap();
    }
}

fn rand_u32() -> u32 {
    use std::time::{SystemTime, UNIX_EPOCH};
    #[allow(clippy::disallowed_methods)] // a unique name, not a time decision
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    nanos.wrapping_mul(2_654_435_761)
}
