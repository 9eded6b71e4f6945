//! **A test fixture, not a directory.** An in-process LDAP server that answers the way Active
//! Directory does with the Privileged Access Management optional feature enabled, because no
//! installable directory implements time-to-live links (Samba 4.17 rejects `<TTL=…>` values).
//! It exists to test jitroles' TTL path end to end; everything else is tested against Samba.
//!
//! What it follows, from [MS-ADTS]:
//! - 3.1.1.9 / 3.1.1.9.2: the PAM optional feature — an `msDS-OptionalFeature` object under
//!   `CN=Optional Features,CN=Directory Service,CN=Windows NT,CN=Services,<config NC>` with
//!   `msDS-OptionalFeatureGUID` ec43e873-cce8-4640-b4ab-07ffe4ab5bcd, enabled when its
//!   `msDS-EnabledFeatureBL` is set; link values with an expiry time, added as
//!   `<TTL=seconds,<SID=…>>`; re-adding an existing link with a TTL sets its new expiry;
//!   expired values are gone from every read.
//! - 3.1.1.3.4.1.36 LDAP_SERVER_LINK_TTL_OID (1.2.840.113556.1.4.2309): with it, a search
//!   returns TTL links as `<TTL=remaining>,DN`; links without expiry stay plain DNs.
//! - 3.1.1.3.2.x rootDSE: `forestFunctionality` 7 (Windows Server 2016); the
//!   `enableOptionalFeature` operation (`CN=Partitions,<config NC>:<feature GUID>`).
//! - Ranged retrieval of `member` (`member;range=low-high`, at most 1,500 values per read,
//!   the last range ending in `*`), `tokenGroups` (transitive, with the primary group),
//!   `<SID=…>`/`<GUID=…>` bases, `allowedAttributesEffective` and `adminCount`.
//!
//! It keeps its own clock (seconds, moved by [`Fixture::advance`]) so tests see links expire
//! without waiting. It speaks plain LDAP on loopback (no TLS) and accepts one account: the
//! service account, which may write `member` of the groups in `OU=JIT Roles` only.
//!
//! The crate also holds the outage tests' proxies, for Samba or the fixture: [`proxy`] cuts
//! and restores the TCP connection; [`fault_proxy`] reads plain LDAP and holds or drops the
//! reply to a chosen operation, or hangs the directory.

pub mod fault_proxy;
pub mod proxy;

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    sync::{Arc, Mutex, MutexGuard},
};

use futures_util::{SinkExt, StreamExt};
use ldap3_proto::{
    LdapCodec,
    control::LdapControl,
    proto::{
        LdapBindCred, LdapBindResponse, LdapFilter, LdapModifyRequest, LdapModifyType, LdapMsg,
        LdapOp, LdapPartialAttribute, LdapResult, LdapResultCode, LdapSearchRequest,
        LdapSearchResultEntry, LdapSearchScope,
    },
};
use tokio::{net::TcpListener, task::JoinHandle};
use tokio_util::codec::Framed;

pub const BASE_DN: &str = "DC=fixture,DC=test";
pub const CONFIG_DN: &str = "CN=Configuration,DC=fixture,DC=test";
pub const ROLE_OU: &str = "OU=JIT Roles,DC=fixture,DC=test";
pub const SVC_DN: &str = "CN=jit-svc,CN=Users,DC=fixture,DC=test";
pub const SVC_PASSWORD: &str = "fixture-password";
const DOMAIN_SID: [u32; 4] = [21, 1000, 2000, 3000];
const PAM_GUID: [u8; 16] = [
    0x73, 0xe8, 0x43, 0xec, 0xe8, 0xcc, 0x40, 0x46, 0xb4, 0xab, 0x07, 0xff, 0xe4, 0xab, 0x5b, 0xcd,
];
const PAM_GUID_TEXT: &str = "ec43e873-cce8-4640-b4ab-07ffe4ab5bcd";
const LINK_TTL_CONTROL: &str = "1.2.840.113556.1.4.2309";
/// AD's MaxValRange: values of a multi-valued attribute per read.
pub const MAX_VAL_RANGE: usize = 1500;

#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub forest_level: u32,
    pub pam_enabled: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            forest_level: 7,
            pam_enabled: true,
        }
    }
}

#[derive(Debug, Clone)]
struct Link {
    dn: String,
    /// Fixture clock second at which the link vanishes; `None`: permanent.
    expires: Option<u64>,
}

#[derive(Debug, Clone)]
struct Obj {
    dn: String,
    classes: Vec<&'static str>,
    rid: Option<u32>,
    guid: [u8; 16],
    attrs: BTreeMap<String, Vec<String>>,
    links: Vec<Link>,
    primary_group_rid: Option<u32>,
}

impl Obj {
    fn sid(&self) -> Option<String> {
        self.rid.map(|rid| {
            let subs: Vec<String> = DOMAIN_SID
                .iter()
                .chain([&rid])
                .map(u32::to_string)
                .collect();
            format!("S-1-5-{}", subs.join("-"))
        })
    }

    fn sid_bytes(&self) -> Option<Vec<u8>> {
        self.rid.map(sid_bytes)
    }

    fn is(&self, class: &str) -> bool {
        self.classes.iter().any(|c| c.eq_ignore_ascii_case(class))
    }
}

fn sid_bytes(rid: u32) -> Vec<u8> {
    let mut b = vec![1, 5, 0, 0, 0, 0, 0, 5];
    for sub in DOMAIN_SID.iter().chain([&rid]) {
        b.extend_from_slice(&sub.to_le_bytes());
    }
    b
}

struct State {
    now: u64,
    forest_level: u32,
    pam_enabled: bool,
    objects: Vec<Obj>,
    controls_seen: Vec<String>,
    next_rid: u32,
}

/// A running fixture on 127.0.0.1; stops when dropped.
pub struct Fixture {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    task: JoinHandle<()>,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Fixture {
    pub async fn start(options: Options) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State::seeded(options)));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = shared.clone();
                tokio::spawn(async move {
                    let mut framed = Framed::new(stream, Codec::default());
                    let mut bound_as: Option<String> = None;
                    while let Some(Ok(msg)) = framed.next().await {
                        let replies = handle(&state, &mut bound_as, msg);
                        let Some(replies) = replies else { break };
                        for reply in replies {
                            if framed.send(reply).await.is_err() {
                                return;
                            }
                        }
                    }
                });
            }
        });
        Ok(Self { addr, state, task })
    }

    pub fn url(&self) -> String {
        format!("ldap://{}", self.addr)
    }

    /// Moves the fixture's clock: links whose time is up vanish.
    pub fn advance(&self, seconds: u64) {
        lock(&self.state).now += seconds;
    }

    /// OIDs of every request control received so far.
    pub fn controls_seen(&self) -> Vec<String> {
        lock(&self.state).controls_seen.clone()
    }

    /// Adds `count` contact objects as permanent members of the group, for ranged reads.
    pub fn add_contacts_to(&self, group_cn: &str, count: usize) {
        let mut s = lock(&self.state);
        let group_dn = format!("CN={group_cn},{ROLE_OU}");
        let mut dns = Vec::with_capacity(count);
        for i in 0..count {
            let dn = format!("CN=contact-{i:05},CN=Users,{BASE_DN}");
            s.add(
                &dn,
                &["top", "person", "organizationalPerson", "contact"],
                None,
                &[],
            );
            dns.push(dn);
        }
        let group = s.find_mut(&group_dn).expect("the group exists");
        group
            .links
            .extend(dns.into_iter().map(|dn| Link { dn, expires: None }));
    }

    /// The group's current member DNs (expired links purged), as a DC admin would see them.
    pub fn member_dns(&self, group_cn: &str) -> Vec<String> {
        let mut s = lock(&self.state);
        s.purge();
        let dn = format!("CN={group_cn},{ROLE_OU}");
        s.find(&dn)
            .map(|g| g.links.iter().map(|l| l.dn.clone()).collect())
            .unwrap_or_default()
    }
}

/// ldap3_proto decodes filter assertion values as UTF-8, so a binary one (the PAM feature's
/// GUID in `(msDS-OptionalFeatureGUID=\73\e8…)`) would fail to decode. This codec swaps those 16
/// bytes for a 16-byte ASCII placeholder before decoding: same length, so the BER stays valid.
/// A limit of the fixture's codec, not of AD.
#[derive(Default)]
struct Codec(LdapCodec);

const PAM_GUID_PLACEHOLDER: &[u8; 16] = b"PAM-FEATURE-GUID";

impl tokio_util::codec::Decoder for Codec {
    type Item = LdapMsg;
    type Error = std::io::Error;

    fn decode(
        &mut self,
        src: &mut tokio_util::bytes::BytesMut,
    ) -> Result<Option<LdapMsg>, std::io::Error> {
        while let Some(at) = src.windows(16).position(|w| w == PAM_GUID) {
            src[at..at + 16].copy_from_slice(PAM_GUID_PLACEHOLDER);
        }
        self.0.decode(src)
    }
}

impl tokio_util::codec::Encoder<LdapMsg> for Codec {
    type Error = std::io::Error;

    fn encode(
        &mut self,
        msg: LdapMsg,
        dst: &mut tokio_util::bytes::BytesMut,
    ) -> Result<(), std::io::Error> {
        self.0.encode(msg, dst)
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl State {
    fn seeded(options: Options) -> Self {
        let mut s = Self {
            now: 0,
            forest_level: options.forest_level,
            pam_enabled: options.pam_enabled,
            objects: Vec::new(),
            controls_seen: Vec::new(),
            next_rid: 1100,
        };
        let users = format!("CN=Users,{BASE_DN}");
        s.add(BASE_DN, &["top", "domain", "domainDNS"], None, &[]);
        s.add(&users, &["top", "container"], None, &[]);
        s.add(ROLE_OU, &["top", "organizationalUnit"], None, &[]);
        s.add(CONFIG_DN, &["top", "configuration"], None, &[]);
        s.add(
            &format!("CN=Partitions,{CONFIG_DN}"),
            &["top", "crossRefContainer"],
            None,
            &[],
        );
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
        ] {
            let dn = if account == "jit-svc" {
                SVC_DN.to_owned()
            } else {
                format!("CN={display},{users}")
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
            s.find_mut(&group).expect("seeded").links.push(Link {
                dn: member,
                expires: None,
            });
        };
        link(&mut s, "jitroles-admins", "alice");
        link(&mut s, "dba-team", "dave");
        link(&mut s, "dba-team", "erin");
        link(&mut s, "dba-oncall", "dba-team");
        link(&mut s, "dba-oncall", "svc-ci");
        link(&mut s, "jit-role-dba", "carol");
        if s.pam_enabled {
            s.enable_pam();
        }
        s
    }

    fn next_rid(&mut self) -> u32 {
        self.next_rid += 1;
        self.next_rid
    }

    fn add(
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

    fn enable_pam(&mut self) {
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

    fn find(&self, dn: &str) -> Option<&Obj> {
        self.objects.iter().find(|o| o.dn.eq_ignore_ascii_case(dn))
    }

    fn find_mut(&mut self, dn: &str) -> Option<&mut Obj> {
        self.objects
            .iter_mut()
            .find(|o| o.dn.eq_ignore_ascii_case(dn))
    }

    fn find_by_account(&self, account: &str) -> Option<&Obj> {
        self.objects.iter().find(|o| {
            o.attrs
                .get("samaccountname")
                .is_some_and(|v| v.iter().any(|a| a.eq_ignore_ascii_case(account)))
        })
    }

    /// `<SID=…>`, `<GUID=…>` or a DN.
    fn resolve(&self, base: &str) -> Option<&Obj> {
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
    fn purge(&mut self) {
        let now = self.now;
        for o in &mut self.objects {
            o.links.retain(|l| l.expires.is_none_or(|t| t > now));
        }
    }

    /// Groups whose members include `dn`, transitively, plus the primary group.
    /// The groups `dn` is in, directly or through other groups (what tokenGroups and
    /// LDAP_MATCHING_RULE_IN_CHAIN on `member` both answer).
    fn containing(&self, dn: &str) -> Vec<&Obj> {
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

    fn token_groups(&self, user: &Obj) -> Vec<Vec<u8>> {
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
fn guid_text(b: &[u8; 16]) -> String {
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

fn result(code: LdapResultCode, message: &str) -> LdapResult {
    LdapResult {
        code,
        matcheddn: String::new(),
        message: message.to_owned(),
        referral: Vec::new(),
    }
}

fn reply(msgid: i32, op: LdapOp) -> LdapMsg {
    LdapMsg {
        msgid,
        op,
        ctrl: Vec::new(),
    }
}

/// Answers one request; `None` ends the connection.
fn handle(
    state: &Mutex<State>,
    bound_as: &mut Option<String>,
    msg: LdapMsg,
) -> Option<Vec<LdapMsg>> {
    let mut s = lock(state);
    let link_ttls = msg
        .ctrl
        .iter()
        .any(|c| matches!(c, LdapControl::Unknown { oid, .. } if oid == LINK_TTL_CONTROL));
    for c in &msg.ctrl {
        if let LdapControl::Unknown { oid, .. } = c {
            s.controls_seen.push(oid.clone());
        }
    }
    let id = msg.msgid;
    Some(match msg.op {
        LdapOp::BindRequest(bind) => {
            let ok = matches!(&bind.cred, LdapBindCred::Simple(pw) if pw == SVC_PASSWORD)
                && bind.dn.eq_ignore_ascii_case(SVC_DN);
            *bound_as = ok.then(|| bind.dn.clone());
            let res = if ok {
                result(LdapResultCode::Success, "")
            } else {
                result(
                    LdapResultCode::InvalidCredentials,
                    "80090308: LdapErr: DSID-0C09044E, data 52e",
                )
            };
            vec![reply(
                id,
                LdapOp::BindResponse(LdapBindResponse {
                    res,
                    saslcreds: None,
                }),
            )]
        }
        LdapOp::UnbindRequest => return None,
        LdapOp::SearchRequest(req) => {
            if bound_as.is_none() {
                vec![reply(
                    id,
                    LdapOp::SearchResultDone(result(LdapResultCode::OperationsError, "bind first")),
                )]
            } else {
                s.purge();
                search(&s, id, &req, link_ttls)
            }
        }
        LdapOp::ModifyRequest(req) => {
            let res = if bound_as.is_none() {
                result(LdapResultCode::InsufficentAccessRights, "bind first")
            } else {
                s.purge();
                modify(&mut s, &req)
            };
            vec![reply(id, LdapOp::ModifyResponse(res))]
        }
        _ => vec![reply(
            id,
            LdapOp::ModifyResponse(result(
                LdapResultCode::UnwillingToPerform,
                "not in the fixture",
            )),
        )],
    })
}

fn search(s: &State, id: i32, req: &LdapSearchRequest, link_ttls: bool) -> Vec<LdapMsg> {
    let done = |code, msg: &str| reply(id, LdapOp::SearchResultDone(result(code, msg)));
    if req.base.is_empty() && req.scope == LdapSearchScope::Base {
        let attrs = vec![
            attr("defaultNamingContext", [BASE_DN]),
            attr("configurationNamingContext", [CONFIG_DN]),
            attr("forestFunctionality", [s.forest_level.to_string()]),
            attr("supportedControl", [LINK_TTL_CONTROL]),
        ];
        return vec![
            reply(
                id,
                LdapOp::SearchResultEntry(LdapSearchResultEntry {
                    dn: String::new(),
                    attributes: attrs,
                }),
            ),
            done(LdapResultCode::Success, ""),
        ];
    }
    let Some(base) = s.resolve(&req.base) else {
        return vec![done(
            LdapResultCode::NoSuchObject,
            "0000208D: NameErr: DSID-0310028D, problem 2001 (NO_OBJECT)",
        )];
    };
    let base_dn = base.dn.to_ascii_lowercase();
    let in_scope = |o: &&Obj| {
        let dn = o.dn.to_ascii_lowercase();
        match req.scope {
            LdapSearchScope::Base => dn == base_dn,
            LdapSearchScope::OneLevel => dn
                .split_once(',')
                .is_some_and(|(_, parent)| parent == base_dn),
            _ => dn == base_dn || dn.ends_with(&format!(",{base_dn}")),
        }
    };
    let mut matched: Vec<&Obj> = s
        .objects
        .iter()
        .filter(in_scope)
        .filter(|o| matches(s, o, &req.filter))
        .collect();
    let mut code = LdapResultCode::Success;
    let limit = usize::try_from(req.sizelimit).unwrap_or(0);
    if limit > 0 && matched.len() > limit {
        matched.truncate(limit);
        code = LdapResultCode::SizeLimitExceeded;
    }
    let mut out: Vec<LdapMsg> = matched
        .iter()
        .map(|o| {
            let attributes = req
                .attrs
                .iter()
                .filter_map(|a| attribute(s, o, a, link_ttls))
                .collect();
            reply(
                id,
                LdapOp::SearchResultEntry(LdapSearchResultEntry {
                    dn: o.dn.clone(),
                    attributes,
                }),
            )
        })
        .collect();
    out.push(done(code, ""));
    out
}

fn attr<I: IntoIterator<Item = T>, T: Into<Vec<u8>>>(
    name: &str,
    values: I,
) -> LdapPartialAttribute {
    LdapPartialAttribute {
        atype: name.to_owned(),
        vals: values.into_iter().map(Into::into).collect(),
    }
}

fn attribute(s: &State, o: &Obj, requested: &str, link_ttls: bool) -> Option<LdapPartialAttribute> {
    let lower = requested.to_ascii_lowercase();
    match lower.as_str() {
        "objectsid" => o.sid_bytes().map(|b| attr("objectSid", [b])),
        "objectguid" => Some(attr("objectGUID", [o.guid.to_vec()])),
        "objectclass" => Some(attr("objectClass", o.classes.iter().copied())),
        "tokengroups" => o.is("user").then(|| attr("tokenGroups", s.token_groups(o))),
        "allowedattributeseffective" => {
            let writable = o.is("group")
                && o.dn
                    .to_ascii_lowercase()
                    .ends_with(&ROLE_OU.to_ascii_lowercase());
            writable.then(|| attr("allowedAttributesEffective", ["member"]))
        }
        "msds-optionalfeatureguid" => o
            .is("msDS-OptionalFeature")
            .then(|| attr("msDS-OptionalFeatureGUID", [PAM_GUID.to_vec()])),
        _ if lower == "member" || lower.starts_with("member;range=") => {
            members(s.now, o, &lower, link_ttls)
        }
        _ => o
            .attrs
            .get(&lower)
            .map(|v| attr(requested, v.iter().map(String::as_str))),
    }
}

/// `member`, in ranges of at most [`MAX_VAL_RANGE`] values; with the link-TTL control, TTL
/// links as `<TTL=remaining>,DN`.
fn members(now: u64, o: &Obj, requested: &str, link_ttls: bool) -> Option<LdapPartialAttribute> {
    let values: Vec<String> = o
        .links
        .iter()
        .map(|l| match (link_ttls, l.expires) {
            (true, Some(at)) => format!("<TTL={}>,{}", at.saturating_sub(now), l.dn),
            _ => l.dn.clone(),
        })
        .collect();
    if values.is_empty() {
        return None;
    }
    let start = requested
        .strip_prefix("member;range=")
        .and_then(|r| r.split_once('-'))
        .and_then(|(low, _)| low.parse::<usize>().ok());
    if start.is_none() && values.len() <= MAX_VAL_RANGE {
        return Some(attr("member", values));
    }
    let start = start.unwrap_or(0);
    if start >= values.len() {
        return None;
    }
    let end = (start + MAX_VAL_RANGE).min(values.len());
    let name = if end == values.len() {
        format!("member;range={start}-*")
    } else {
        format!("member;range={start}-{}", end - 1)
    };
    Some(attr(&name, values[start..end].iter().map(String::as_str)))
}

/// LDAP_MATCHING_RULE_IN_CHAIN (MS-ADTS 3.1.1.3.4.4.3).
const IN_CHAIN: &str = "1.2.840.113556.1.4.1941";

fn matches(s: &State, o: &Obj, f: &LdapFilter) -> bool {
    match f {
        LdapFilter::And(fs) => fs.iter().all(|f| matches(s, o, f)),
        LdapFilter::Or(fs) => fs.iter().any(|f| matches(s, o, f)),
        LdapFilter::Not(f) => !matches(s, o, f),
        // `(member:1.2.840.113556.1.4.1941:=DN)`: groups DN is in at any depth
        LdapFilter::Extensible(m)
            if m.matching_rule.as_deref() == Some(IN_CHAIN)
                && m.type_
                    .as_deref()
                    .is_some_and(|t| t.eq_ignore_ascii_case("member")) =>
        {
            s.containing(&m.match_value).iter().any(|g| g.dn == o.dn)
        }
        LdapFilter::Present(a) => {
            a.eq_ignore_ascii_case("objectClass") || o.attrs.contains_key(&a.to_ascii_lowercase())
        }
        LdapFilter::Equality(a, v) => match a.to_ascii_lowercase().as_str() {
            "objectclass" => o.is(v),
            "objectcategory" => (v.eq_ignore_ascii_case("person") && o.is("person")) || o.is(v),
            "msds-optionalfeatureguid" => {
                o.is("msDS-OptionalFeature") && v.as_bytes() == PAM_GUID_PLACEHOLDER
            }
            other => o
                .attrs
                .get(other)
                .is_some_and(|vals| vals.iter().any(|x| x.eq_ignore_ascii_case(v))),
        },
        LdapFilter::Substring(a, sub) => o.attrs.get(&a.to_ascii_lowercase()).is_some_and(|vals| {
            vals.iter().any(|x| {
                let x = x.to_lowercase();
                let mut rest = x.as_str();
                if let Some(i) = &sub.initial {
                    let i = i.to_lowercase();
                    if !rest.starts_with(&i) {
                        return false;
                    }
                    rest = &rest[i.len()..];
                }
                for any in &sub.any {
                    let any = any.to_lowercase();
                    match rest.find(&any) {
                        Some(p) => rest = &rest[p + any.len()..],
                        None => return false,
                    }
                }
                sub.final_
                    .as_ref()
                    .is_none_or(|f| rest.ends_with(&f.to_lowercase()))
            })
        }),
        _ => false,
    }
}

fn modify(s: &mut State, req: &LdapModifyRequest) -> LdapResult {
    if req.dn.is_empty() {
        return enable_optional_feature(s, req);
    }
    let Some(target) = s.resolve(&req.dn).map(|o| o.dn.clone()) else {
        return result(
            LdapResultCode::NoSuchObject,
            "0000208D: NameErr: problem 2001 (NO_OBJECT)",
        );
    };
    if !target
        .to_ascii_lowercase()
        .ends_with(&ROLE_OU.to_ascii_lowercase())
    {
        return result(
            LdapResultCode::InsufficentAccessRights,
            "00002098: SecErr: DSID-03150F94, problem 4003 (INSUFF_ACCESS_RIGHTS)",
        );
    }
    for change in &req.changes {
        if !change.modification.atype.eq_ignore_ascii_case("member") {
            return result(
                LdapResultCode::InsufficentAccessRights,
                "only member is delegated",
            );
        }
        for value in &change.modification.vals {
            let value = String::from_utf8_lossy(value);
            let Some((sid, ttl)) = parse_member_value(&value) else {
                return result(
                    LdapResultCode::InvalidDNSyntax,
                    "0000208F: NameErr: DSID-03100225, problem 2006 (BAD_NAME)",
                );
            };
            if ttl.is_some() && !s.pam_enabled {
                return result(
                    LdapResultCode::UnwillingToPerform,
                    "TTL values need the PAM optional feature",
                );
            }
            let Some(member_dn) = s.resolve(&format!("<SID={sid}>")).map(|o| o.dn.clone()) else {
                return result(LdapResultCode::UnwillingToPerform, "no object has that SID");
            };
            let now = s.now;
            let group = s.find_mut(&target).expect("resolved above");
            let existing = group
                .links
                .iter()
                .position(|l| l.dn.eq_ignore_ascii_case(&member_dn));
            match (&change.operation, existing) {
                (LdapModifyType::Add, Some(i)) => match ttl {
                    // a new TTL on an existing link sets its expiry
                    Some(t) => group.links[i].expires = Some(now + t),
                    None => {
                        return result(
                            LdapResultCode::EntryAlreadyExists,
                            "00000562: UpdErr: DSID-031A11E2, problem 6005 (ENTRY_EXISTS)",
                        );
                    }
                },
                (LdapModifyType::Add, None) => group.links.push(Link {
                    dn: member_dn,
                    expires: ttl.map(|t| now + t),
                }),
                (LdapModifyType::Delete, Some(i)) => {
                    group.links.remove(i);
                }
                (LdapModifyType::Delete, None) => {
                    return result(
                        LdapResultCode::NoSuchAttribute,
                        "00002077: AtrErr: DSID-03152F9F, #1: 0: 00002077: no such value",
                    );
                }
                _ => {
                    return result(
                        LdapResultCode::UnwillingToPerform,
                        "only add and delete of member values",
                    );
                }
            }
        }
    }
    result(LdapResultCode::Success, "")
}

/// `<SID=…>` or `<TTL=n,<SID=…>>`.
fn parse_member_value(v: &str) -> Option<(String, Option<u64>)> {
    if let Some(rest) = v.strip_prefix("<TTL=") {
        let (secs, inner) = rest.split_once(',')?;
        let inner = inner.strip_suffix('>')?;
        let (sid, _) = parse_member_value(inner)?;
        return Some((sid, Some(secs.parse().ok().filter(|s| *s > 0)?)));
    }
    let sid = v.strip_prefix("<SID=")?.strip_suffix('>')?;
    Some((sid.to_owned(), None))
}

fn enable_optional_feature(s: &mut State, req: &LdapModifyRequest) -> LdapResult {
    let wanted = format!("CN=Partitions,{CONFIG_DN}:{PAM_GUID_TEXT}");
    let asks = req.changes.iter().any(|c| {
        c.modification
            .atype
            .eq_ignore_ascii_case("enableOptionalFeature")
            && c.modification
                .vals
                .iter()
                .any(|v| String::from_utf8_lossy(v).eq_ignore_ascii_case(&wanted))
    });
    if !asks || s.forest_level < 7 {
        return result(
            LdapResultCode::UnwillingToPerform,
            "0000209A: SvcErr: DSID-03152D2A, problem 5003 (WILL_NOT_PERFORM)",
        );
    }
    s.enable_pam();
    result(LdapResultCode::Success, "")
}
