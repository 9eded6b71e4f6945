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
//!   `<TTL=seconds,<SID=…>>`; expired values are gone from every read.
//! - What the documents do not say is a setting, so jitroles is tested against each plausible
//!   answer: adding a TTL link again for a member who holds one ([`ReAdd`]: the new TTL
//!   replaces the old, `entryAlreadyExists` (68), or success with the old expiry kept), and a
//!   DC that shortens TTLs ([`Options::max_ttl`]). A TTL add for a permanent member answers
//!   68 and leaves the permanent link as it is.
//! - 3.1.1.3.4.1.36 LDAP_SERVER_LINK_TTL_OID (1.2.840.113556.1.4.2309): with it, a search
//!   returns TTL links as `<TTL=remaining>,DN`; links without expiry stay plain DNs.
//! - 3.1.1.3.2.x rootDSE: `forestFunctionality` 7 (Windows Server 2016), `dsServiceName`,
//!   `dnsHostName`; 3.1.1.3.3.28 the `enableOptionalFeature` operation
//!   (`CN=Partitions,<config NC>:<feature GUID>`): only on the Domain Naming Master
//!   (`fsmoRoleOwner` of `CN=Partitions`; elsewhere unwillingToPerform), only for an account
//!   with Manage-Optional-Features (elsewhere insufficientAccessRights), attributeOrValueExists
//!   when the feature is on already. With [`Options::naming_master_elsewhere`] the fixture is
//!   two DCs sharing one database, the second (127.0.0.2, same port) the naming master.
//! - A modify is applied whole or not at all.
//! - Ranged retrieval of `member` (`member;range=low-high`, at most 1,500 values per read,
//!   the last range ending in `*`), `tokenGroups` (transitive, with the primary group),
//!   `<SID=…>`/`<GUID=…>` bases, `allowedAttributesEffective` and `adminCount`.
//!
//! It keeps its own clock (seconds, moved by [`Fixture::advance`]) so tests see links expire
//! without waiting. It speaks plain LDAP on loopback (no TLS) and accepts two accounts: the
//! service account, which may write `member` of the groups in `OU=JIT Roles` only, and an
//! enterprise admin ([`ADMIN_DN`]), who may also enable optional features.
//!
//! The crate also holds the outage tests' proxies, for Samba or the fixture: [`proxy`] cuts
//! and restores the TCP connection; [`fault_proxy`] reads plain LDAP and holds or drops the
//! reply to a chosen operation, or hangs the directory.

pub mod fault_proxy;
pub mod proxy;

mod directory;
mod protocol;
pub use protocol::METADATA_EPOCH;

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    sync::{Arc, Mutex, MutexGuard},
};

use futures_util::{SinkExt, StreamExt};
use ldap3_proto::{LdapCodec, proto::LdapMsg};
use tokio::{net::TcpListener, task::JoinHandle};
use tokio_util::codec::Framed;

use directory::{Link, State};

pub const BASE_DN: &str = "DC=fixture,DC=test";
pub const CONFIG_DN: &str = "CN=Configuration,DC=fixture,DC=test";
pub const ROLE_OU: &str = "OU=JIT Roles,DC=fixture,DC=test";
pub const SVC_DN: &str = "CN=jit-svc,CN=Users,DC=fixture,DC=test";
pub const SVC_PASSWORD: &str = "fixture-password";
/// An enterprise admin: may enable optional features, which the service account may not.
pub const ADMIN_DN: &str = "CN=Administrator,CN=Users,DC=fixture,DC=test";
pub const ADMIN_PASSWORD: &str = "fixture-admin-password";
const DOMAIN_SID: [u32; 4] = [21, 1000, 2000, 3000];
const PAM_GUID: [u8; 16] = [
    0x73, 0xe8, 0x43, 0xec, 0xe8, 0xcc, 0x40, 0x46, 0xb4, 0xab, 0x07, 0xff, 0xe4, 0xab, 0x5b, 0xcd,
];
const PAM_GUID_TEXT: &str = "ec43e873-cce8-4640-b4ab-07ffe4ab5bcd";
const LINK_TTL_CONTROL: &str = "1.2.840.113556.1.4.2309";
/// AD's MaxValRange: values of a multi-valued attribute per read.
pub const MAX_VAL_RANGE: usize = 1500;

/// What the DC does with a TTL add for a member who already holds a TTL link. No Microsoft
/// document says; these are the plausible answers, and jitroles must work with each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReAdd {
    /// Success; the link's expiry becomes the new TTL.
    ReplaceTtl,
    /// entryAlreadyExists (68); nothing changes.
    EntryExists,
    /// Success, but the link keeps its old expiry.
    KeepOldTtl,
}

impl ReAdd {
    pub const ALL: [Self; 3] = [Self::ReplaceTtl, Self::EntryExists, Self::KeepOldTtl];
}

#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub forest_level: u32,
    pub pam_enabled: bool,
    pub readd: ReAdd,
    /// A DC that shortens every TTL it is given to at most this many seconds. Not a behaviour
    /// of AD that anyone has reported: it stands for a link whose TTL cannot be set as asked.
    pub max_ttl: Option<u64>,
    /// Two DCs, the second (127.0.0.2) the Domain Naming Master; [`Fixture::url`] is the first.
    pub naming_master_elsewhere: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            forest_level: 7,
            pam_enabled: true,
            readd: ReAdd::ReplaceTtl,
            max_ttl: None,
            naming_master_elsewhere: false,
        }
    }
}

/// A running fixture on 127.0.0.1 (and 127.0.0.2 with a second DC); stops when dropped.
pub struct Fixture {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// The DC a connection reached: its index in the fixture's list of DCs.
pub(crate) type DcIndex = usize;

impl Fixture {
    pub async fn start(options: Options) -> std::io::Result<Self> {
        let (listeners, addr) = if options.naming_master_elsewhere {
            Self::two_listeners().await?
        } else {
            let first = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
            let addr = first.local_addr()?;
            (vec![first], addr)
        };
        let hosts: Vec<String> = listeners
            .iter()
            .map(|l| l.local_addr().map(|a| a.ip().to_string()))
            .collect::<Result<_, _>>()?;
        let state = Arc::new(Mutex::new(State::seeded(options, &hosts)));
        let tasks = listeners
            .into_iter()
            .enumerate()
            .map(|(dc, listener)| tokio::spawn(serve(listener, dc, state.clone())))
            .collect();
        Ok(Self { addr, state, tasks })
    }

    /// 127.0.0.1:P and 127.0.0.2:P: the adapter reaches another DC by its host name on the
    /// port it was configured with, as with real DCs.
    async fn two_listeners() -> std::io::Result<(Vec<TcpListener>, SocketAddr)> {
        let second_ip = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
        let mut last_error = None;
        for _ in 0..20 {
            let first = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
            let addr = first.local_addr()?;
            match TcpListener::bind((second_ip, addr.port())).await {
                Ok(second) => return Ok((vec![first, second], addr)),
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| std::io::Error::other("no port for the second DC")))
    }

    /// The first DC.
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

    /// `enableOptionalFeature` requests each DC received (by index: 0 is [`Fixture::url`]).
    pub fn feature_requests(&self) -> Vec<DcIndex> {
        lock(&self.state).feature_requests.clone()
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
        let written = s.now;
        let group = s.find_mut(&group_dn).expect("the group exists");
        group.links.extend(dns.into_iter().map(|dn| Link {
            dn,
            expires: None,
            written,
        }));
    }

    /// Adds `count` enabled users `person-N` (for load tests), each a member of the group with
    /// the account name `group`; returns each one's SID and DN.
    pub fn add_people(&self, group: &str, count: usize) -> Vec<(String, String)> {
        let mut s = lock(&self.state);
        let group_dn = s
            .find_by_account(group)
            .expect("the group exists")
            .dn
            .clone();
        let mut people = Vec::with_capacity(count);
        for i in 0..count {
            let account = format!("person-{i:05}");
            let dn = format!("CN={account},CN=Users,{BASE_DN}");
            let rid = s.next_rid();
            let upn = format!("{account}@fixture.test");
            s.add(
                &dn,
                &["top", "person", "organizationalPerson", "user"],
                Some(rid),
                &[
                    ("sAMAccountName", &account),
                    ("displayName", &account),
                    ("userPrincipalName", &upn),
                    ("userAccountControl", "512"),
                ],
            );
            let person = s.find_mut(&dn).expect("just added");
            person.primary_group_rid = Some(513);
            let sid = person.sid().expect("a user has a SID");
            people.push((sid, dn.clone()));
            let written = s.now;
            s.find_mut(&group_dn)
                .expect("the group exists")
                .links
                .push(Link {
                    dn,
                    expires: None,
                    written,
                });
        }
        people
    }

    /// Makes the account a permanent member of the role group, as an AD admin would.
    pub fn add_permanent_member(&self, group_cn: &str, account: &str) {
        let mut s = lock(&self.state);
        let member = s.find_by_account(account).expect("seeded").dn.clone();
        let group_dn = format!("CN={group_cn},{ROLE_OU}");
        let written = s.now;
        let group = s.find_mut(&group_dn).expect("the group exists");
        group.links.retain(|l| !l.dn.eq_ignore_ascii_case(&member));
        group.links.push(Link {
            dn: member,
            expires: None,
            written,
        });
    }

    /// The group's current member DNs (expired links purged), as a DC admin would see them.
    pub fn member_dns(&self, group_cn: &str) -> Vec<String> {
        self.links(group_cn).into_iter().map(|(dn, _)| dn).collect()
    }

    /// The group's current links: each member's DN and, for a TTL link, the seconds left.
    pub fn links(&self, group_cn: &str) -> Vec<(String, Option<u64>)> {
        let mut s = lock(&self.state);
        s.purge();
        let now = s.now;
        let dn = format!("CN={group_cn},{ROLE_OU}");
        s.find(&dn)
            .map(|g| {
                g.links
                    .iter()
                    .map(|l| (l.dn.clone(), l.expires.map(|at| at.saturating_sub(now))))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// One DC's listener: each connection is answered in order, one request at a time.
async fn serve(listener: TcpListener, dc: DcIndex, state: Arc<Mutex<State>>) {
    while let Ok((stream, _)) = listener.accept().await {
        let state = state.clone();
        tokio::spawn(async move {
            let mut framed = Framed::new(stream, Codec::default());
            let mut bound_as: Option<String> = None;
            while let Some(Ok(msg)) = framed.next().await {
                let replies = protocol::handle(&state, dc, &mut bound_as, msg);
                let Some(replies) = replies else { break };
                for reply in replies {
                    if framed.send(reply).await.is_err() {
                        return;
                    }
                }
            }
        });
    }
}

/// ldap3_proto decodes filter assertion values as UTF-8, so a binary one (the PAM feature's
/// GUID in `(msDS-OptionalFeatureGUID=\73\e8…)`) would fail to decode. This codec swaps those 16
/// bytes for a 16-byte ASCII placeholder before decoding: same length, so the BER stays valid.
/// A limit of the fixture's codec, not of AD.
#[derive(Default)]
struct Codec(LdapCodec);

pub(crate) const PAM_GUID_PLACEHOLDER: &[u8; 16] = b"PAM-FEATURE-GUID";

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

pub(crate) fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
