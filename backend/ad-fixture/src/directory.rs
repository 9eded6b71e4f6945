//! The fixture's directory: its objects, the test population, the links and their expiry.

use std::collections::BTreeMap;

use crate::{ADMIN_DN, BASE_DN, CONFIG_DN, DOMAIN_SID, DcIndex, Options, ROLE_OU, ReAdd, SVC_DN};

#[derive(Debug, Clone)]
pub(crate) struct Link {
    pub(crate) dn: String,
    /// Fixture clock second at which the link vanishes; `None`: permanent.
    pub(crate) expires: Option<u64>,
    /// Fixture clock second at which the value was last written (its replication metadata).
    pub(crate) written: u64,
}

#[derive(Debug, Clone)]
pub(crate) struct Obj {
    pub(crate) dn: String,
    pub(crate) classes: Vec<&'static str>,
    pub(crate) rid: Option<u32>,
    pub(crate) guid: [u8; 16],
    pub(crate) attrs: BTreeMap<String, Vec<String>>,
    pub(crate) links: Vec<Link>,
    pub(crate) primary_group_rid: Option<u32>,
}

impl Obj {
    pub(crate) fn sid(&self) -> Option<String> {
        self.rid.map(|rid| {
            let subs: Vec<String> = DOMAIN_SID
                .iter()
                .chain([&rid])
                .map(u32::to_string)
                .collect();
            format!("S-1-5-{}", subs.join("-"))
        })
    }

    pub(crate) fn sid_bytes(&self) -> Option<Vec<u8>> {
        self.rid.map(sid_bytes)
    }

    pub(crate) fn is(&self, class: &str) -> bool {
        self.classes.iter().any(|c| c.eq_ignore_ascii_case(class))
    }
}

pub(crate) fn sid_bytes(rid: u32) -> Vec<u8> {
    let mut b = vec![1, 5, 0, 0, 0, 0, 0, 5];
    for sub in DOMAIN_SID.iter().chain([&rid]) {
        b.extend_from_slice(&sub.to_le_bytes());
    }
    b
}

/// One domain controller of the fixture: its `nTDSDSA` object and the host it answers on.
pub(crate) struct Dc {
    pub(crate) ntds_settings: String,
    pub(crate) host: String,
}

pub(crate) struct State {
    pub(crate) now: u64,
    pub(crate) forest_level: u32,
    pub(crate) pam_enabled: bool,
    pub(crate) readd: ReAdd,
    pub(crate) max_ttl: Option<u64>,
    pub(crate) dcs: Vec<Dc>,
    /// The Domain Naming Master (`fsmoRoleOwner` of `CN=Partitions`).
    pub(crate) naming_master: DcIndex,
    pub(crate) feature_requests: Vec<DcIndex>,
    pub(crate) objects: Vec<Obj>,
    pub(crate) controls_seen: Vec<String>,
    next_rid: u32,
}

impl State {
    /// The test population, with one DC per host (the last one the naming master).
    pub(crate) fn seeded(options: Options, hosts: &[String]) -> Self {
        let sites = format!("CN=Servers,CN=Default-First-Site-Name,CN=Sites,{CONFIG_DN}");
        let dcs: Vec<Dc> = hosts
            .iter()
            .enumerate()
            .map(|(i, host)| Dc {
                ntds_settings: format!("CN=NTDS Settings,CN=DC{},{sites}", i + 1),
                host: host.clone(),
            })
            .collect();
        let mut s = Self {
            now: 0,
            forest_level: options.forest_level,
            pam_enabled: options.pam_enabled,
            readd: options.readd,
            max_ttl: options.max_ttl,
            naming_master: dcs.len().saturating_sub(1),
            dcs,
            feature_requests: Vec::new(),
            objects: Vec::new(),
            controls_seen: Vec::new(),
            next_rid: 1100,
        };
        let users = format!("CN=Users,{BASE_DN}");
        s.add(BASE_DN, &["top", "domain", "domainDNS"], None, &[]);
        s.add(&users, &["top", "container"], None, &[]);
        s.add(ROLE_OU, &["top", "organizationalUnit"], None, &[]);
        s.add(CONFIG_DN, &["top", "configuration"], None, &[]);
        let master = s.dcs[s.naming_master].ntds_settings.clone();
        s.add(
            &format!("CN=Partitions,{CONFIG_DN}"),
            &["top", "crossRefContainer"],
            None,
            &[("fsmoRoleOwner", &master)],
        );
        for i in 0..s.dcs.len() {
            let (ntds, host) = (s.dcs[i].ntds_settings.clone(), s.dcs[i].host.clone());
            let server = ntds.split_once(',').map(|(_, parent)| parent.to_owned());
            let server = server.expect("an nTDSDSA object has a parent");
            s.add(&server, &["top", "server"], None, &[("dNSHostName", &host)]);
            s.add(&ntds, &["top", "applicationSettings", "nTDSDSA"], None, &[]);
        }
        s.add(
            &format!("CN=Privileged Access Management Feature,CN=Optional Features,CN=Directory Service,CN=Windows NT,CN=Services,{CONFIG_DN}"),
            &["top", "msDS-OptionalFeature"],
            None,
            &[],
        );
        s.add(
            &format!("CN=Domain Users,{users}"),
            &["top", "group"],
            Some(513),
            &[("sAMAccountName", "Domain Users")],
        );
        s.add(
            &format!("CN=Domain Admins,{users}"),
            &["top", "group"],
            Some(512),
            &[("sAMAccountName", "Domain Admins"), ("adminCount", "1")],
        );
        for (account, display, disabled) in [
            ("alice", "Alice Admin", false),
            ("bob", "Bob Outsider", false),
            ("carol", "Carol Permanent", false),
            ("dave", "Dave Dba", false),
            ("erin", "Erin Disabled", true),
            ("svc-ci", "CI Service", false),
            ("jit-svc", "jit-svc", false),
            ("Administrator", "Administrator", false),
            ("frank", "Frank Approver", false),
            ("grace", "Grace Approver", false),
        ] {
            let dn = match account {
                "jit-svc" => SVC_DN.to_owned(),
                "Administrator" => ADMIN_DN.to_owned(),
                _ => format!("CN={display},{users}"),
            };
            let rid = s.next_rid();
            let upn = format!("{account}@fixture.test");
            let uac = if disabled { "514" } else { "512" };
            s.add(
                &dn,
                &["top", "person", "organizationalPerson", "user"],
                Some(rid),
                &[
                    ("sAMAccountName", account),
                    ("displayName", display),
                    ("userPrincipalName", &upn),
                    ("mail", &upn),
                    ("userAccountControl", uac),
                ],
            );
            if let Some(user) = s.find_mut(&dn) {
                user.primary_group_rid = Some(513);
            }
        }
        for (name, parent) in [
            ("jitroles-admins", users.clone()),
            ("dba-team", users.clone()),
            ("dba-oncall", users.clone()),
            ("jit-role-dba", ROLE_OU.to_owned()),
            ("jit-role-web", ROLE_OU.to_owned()),
            ("dba-approvers", users.clone()),
        ] {
            let rid = s.next_rid();
            s.add(
                &format!("CN={name},{parent}"),
                &["top", "group"],
                Some(rid),
                &[("sAMAccountName", name)],
            );
        }
        let link = |s: &mut State, group: &str, member: &str| {
            let member = s.find_by_account(member).expect("seeded").dn.clone();
            let group = s.find_by_account(group).expect("seeded").dn.clone();
            let written = s.now;
            s.find_mut(&group).expect("seeded").links.push(Link {
                dn: member,
                expires: None,
                written,
            });
        };
        link(&mut s, "jitroles-admins", "alice");
        link(&mut s, "dba-team", "dave");
        link(&mut s, "dba-team", "erin");
        link(&mut s, "dba-oncall", "dba-team");
        link(&mut s, "dba-oncall", "svc-ci");
        link(&mut s, "jit-role-dba", "carol");
        link(&mut s, "dba-approvers", "frank");
        link(&mut s, "dba-approvers", "grace");
        if s.pam_enabled {
            s.enable_pam();
        }
        s
    }

    pub(crate) fn next_rid(&mut self) -> u32 {
        self.next_rid += 1;
        self.next_rid
    }

    pub(crate) fn add(
        &mut self,
        dn: &str,
        classes: &[&'static str],
        rid: Option<u32>,
        attrs: &[(&str, &str)],
    ) {
        let n = self.objects.len() as u32 + 1;
        let mut guid = [0u8; 16];
        guid[..4].copy_from_slice(&n.to_le_bytes());
        guid[8] = 0x80;
        let cn = dn
            .split(',')
            .next()
            .and_then(|r| r.strip_prefix("CN="))
            .unwrap_or_default();
        let mut map: BTreeMap<String, Vec<String>> = attrs
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), vec![(*v).to_owned()]))
            .collect();
        map.insert("cn".into(), vec![cn.to_owned()]);
        self.objects.push(Obj {
            dn: dn.to_owned(),
            classes: classes.to_vec(),
            rid,
            guid,
            attrs: map,
            links: Vec::new(),
            primary_group_rid: None,
        });
    }

    pub(crate) fn enable_pam(&mut self) {
        self.pam_enabled = true;
        let partitions = format!("CN=Partitions,{CONFIG_DN}");
        if let Some(feature) = self
            .objects
            .iter_mut()
            .find(|o| o.is("msDS-OptionalFeature"))
        {
            feature
                .attrs
                .insert("msds-enabledfeaturebl".into(), vec![partitions]);
        }
    }

    pub(crate) fn find(&self, dn: &str) -> Option<&Obj> {
        self.objects.iter().find(|o| o.dn.eq_ignore_ascii_case(dn))
    }

    pub(crate) fn find_mut(&mut self, dn: &str) -> Option<&mut Obj> {
        self.objects
            .iter_mut()
            .find(|o| o.dn.eq_ignore_ascii_case(dn))
    }

    pub(crate) fn find_by_account(&self, account: &str) -> Option<&Obj> {
        self.objects.iter().find(|o| {
            o.attrs
                .get("samaccountname")
                .is_some_and(|v| v.iter().any(|a| a.eq_ignore_ascii_case(account)))
        })
    }

    /// `<SID=…>`, `<GUID=…>` or a DN.
    pub(crate) fn resolve(&self, base: &str) -> Option<&Obj> {
        if let Some(sid) = base.strip_prefix("<SID=").and_then(|r| r.strip_suffix('>')) {
            return self
                .objects
                .iter()
                .find(|o| o.sid().as_deref() == Some(sid));
        }
        if let Some(guid) = base
            .strip_prefix("<GUID=")
            .and_then(|r| r.strip_suffix('>'))
        {
            return self
                .objects
                .iter()
                .find(|o| guid_text(&o.guid).eq_ignore_ascii_case(guid));
        }
        self.find(base)
    }

    /// Expired links are gone: AD deletes them itself (MS-ADTS 3.1.1.9.2).
    pub(crate) fn purge(&mut self) {
        let now = self.now;
        for o in &mut self.objects {
            o.links.retain(|l| l.expires.is_none_or(|t| t > now));
        }
    }

    /// Groups whose members include `dn`, transitively, plus the primary group.
    /// The groups `dn` is in, directly or through other groups (what tokenGroups and
    /// LDAP_MATCHING_RULE_IN_CHAIN on `member` both answer).
    pub(crate) fn containing(&self, dn: &str) -> Vec<&Obj> {
        let mut found: Vec<&Obj> = Vec::new();
        let mut frontier = vec![dn.to_owned()];
        while let Some(dn) = frontier.pop() {
            for g in self.objects.iter().filter(|o| o.is("group")) {
                if g.links.iter().any(|l| l.dn.eq_ignore_ascii_case(&dn))
                    && !found.iter().any(|f| f.dn == g.dn)
                {
                    found.push(g);
                    frontier.push(g.dn.clone());
                }
            }
        }
        found
    }

    pub(crate) fn token_groups(&self, user: &Obj) -> Vec<Vec<u8>> {
        let found = self.containing(&user.dn);
        let mut sids: Vec<Vec<u8>> = found.iter().filter_map(|g| g.sid_bytes()).collect();
        if let Some(primary) = user.primary_group_rid {
            sids.push(sid_bytes(primary));
        }
        sids
    }
}

/// objectGUID as text. Written here independently of the adapter's parser on purpose: a layout
/// mistake in one is caught by the other.
pub(crate) fn guid_text(b: &[u8; 16]) -> String {
    format!(
        "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
        b[3],
        b[2],
        b[1],
        b[0],
        b[5],
        b[4],
        b[7],
        b[6],
        b[8],
        b[9],
        b[10],
        b[11],
        b[12],
        b[13],
        b[14],
        b[15]
    )
}
