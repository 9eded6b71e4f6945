//! [`FakeDirectory`]: people, groups and membership in memory, with AD's answers.

use super::*;

/// Which directory calls a test makes fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DirectoryOp {
    AddMember,
    RemoveMember,
    Members,
    Capabilities,
}

struct Link {
    member: Sid,
    /// When AD removes a TTL link by itself.
    until: Option<DateTime<Utc>>,
}

struct FakeGroup {
    group: DirectoryGroup,
    links: Vec<Link>,
    writable: bool,
}

struct Forest {
    users: Vec<DirectoryUser>,
    token_groups: HashMap<String, Vec<Sid>>,
    /// A user's primary group (AD's `primaryGroupID`): a member without a `member` value.
    primary: HashMap<Sid, Sid>,
    groups: Vec<FakeGroup>,
    pam: bool,
    unavailable: bool,
    faults: VecDeque<(DirectoryOp, DomainError)>,
    /// Writes (adds and removes) and member reads, by operation, as the engine made them.
    counts: HashMap<DirectoryOp, usize>,
}

/// A directory in memory. Time-to-live links lapse on the test's clock, as AD removes them.
pub struct FakeDirectory {
    forest: Mutex<Forest>,
    pauses: Mutex<Vec<(DirectoryOp, Arc<Pause>)>>,
    clock: Arc<dyn Clock>,
}

/// A directory call held where it starts until the test lets it go: a test puts another
/// instance's work exactly between two steps of this one ([`FakeDirectory::pause_next`]).
#[derive(Default)]
pub struct Pause(Mutex<PauseState>);

#[derive(Default)]
struct PauseState {
    reached: bool,
    resumed: bool,
    waiting: Vec<std::task::Waker>,
}

impl Pause {
    async fn wait_until(&self, done: fn(&PauseState) -> bool) {
        std::future::poll_fn(move |cx| {
            let mut s = lock(&self.0);
            if done(&s) {
                return std::task::Poll::Ready(());
            }
            s.waiting.push(cx.waker().clone());
            std::task::Poll::Pending
        })
        .await;
    }

    fn set(&self, change: impl FnOnce(&mut PauseState)) {
        let mut s = lock(&self.0);
        change(&mut s);
        for waker in s.waiting.drain(..) {
            waker.wake();
        }
    }

    /// Until the held call has started.
    pub async fn reached(&self) {
        self.wait_until(|s| s.reached).await;
    }

    /// Lets the held call go on.
    pub fn resume(&self) {
        self.set(|s| s.resumed = true);
    }
}

/// insufficientAccessRights (50), as the adapter reports it.
fn not_writable() -> DomainError {
    DomainError::FailedPrecondition(
        "the service account lacks the right to do this; an AD admin can delegate writing the \
         group's members to it"
            .into(),
    )
}

fn unavailable() -> DomainError {
    DomainError::Unavailable("the directory does not answer".into())
}

impl FakeDirectory {
    pub fn new(clock: Arc<dyn Clock>) -> Arc<Self> {
        Arc::new(Self {
            forest: Mutex::new(Forest {
                users: Vec::new(),
                token_groups: HashMap::new(),
                primary: HashMap::new(),
                groups: Vec::new(),
                pam: false,
                unavailable: false,
                faults: VecDeque::new(),
                counts: HashMap::new(),
            }),
            pauses: Mutex::new(Vec::new()),
            clock,
        })
    }

    /// A person, in the security groups `groups` (their token groups).
    pub fn add_user(&self, user: DirectoryUser, groups: Vec<Sid>) {
        let mut f = lock(&self.forest);
        f.token_groups.insert(user.dn.to_lowercase(), groups);
        f.users.push(user);
    }

    /// Makes `group` the user's primary group, as `primaryGroupID` does in AD: the group's
    /// `member` does not list them, yet they are in it (the caller puts it in their token
    /// groups, as AD does).
    pub fn set_primary_group(&self, user: &Sid, group: &Sid) {
        lock(&self.forest)
            .primary
            .insert(user.clone(), group.clone());
    }

    /// A group the service account may write (`writable`) or not.
    pub fn add_group(&self, group: DirectoryGroup, writable: bool) {
        lock(&self.forest).groups.push(FakeGroup {
            group,
            links: Vec::new(),
            writable,
        });
    }

    /// Adds or removes a member as someone outside jitroles would.
    pub fn set_member(&self, group: &Sid, member: &Sid, present: bool) {
        let mut f = lock(&self.forest);
        if let Some(g) = f.groups.iter_mut().find(|g| &g.group.sid == group) {
            g.links.retain(|l| &l.member != member);
            if present {
                g.links.push(Link {
                    member: member.clone(),
                    until: None,
                });
            }
        }
    }

    /// The SIDs in a group now (TTL links that lapsed are gone).
    pub fn members_of(&self, group: &Sid) -> Vec<Sid> {
        let now = self.clock.now();
        let f = lock(&self.forest);
        f.groups
            .iter()
            .find(|g| &g.group.sid == group)
            .map(|g| {
                g.links
                    .iter()
                    .filter(|l| l.until.is_none_or(|u| u > now))
                    .map(|l| l.member.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// When a member's TTL link lapses, if it is one.
    pub fn link_until(&self, group: &Sid, member: &Sid) -> Option<DateTime<Utc>> {
        let f = lock(&self.forest);
        f.groups
            .iter()
            .find(|g| &g.group.sid == group)
            .and_then(|g| g.links.iter().find(|l| &l.member == member))
            .and_then(|l| l.until)
    }

    /// Turns the forest's Privileged Access Management feature on or off.
    pub fn set_pam(&self, on: bool) {
        lock(&self.forest).pam = on;
    }

    /// Every call fails as an unreachable DC does, until set back.
    pub fn set_unavailable(&self, down: bool) {
        lock(&self.forest).unavailable = down;
    }

    /// The next call of `op` fails with `error` (queued in order).
    /// Holds the next call of `op` where it starts, until [`Pause::resume`].
    pub fn pause_next(&self, op: DirectoryOp) -> Arc<Pause> {
        let pause = Arc::new(Pause::default());
        lock(&self.pauses).push((op, pause.clone()));
        pause
    }

    async fn held(&self, op: DirectoryOp) {
        let pause = {
            let mut pauses = lock(&self.pauses);
            let i = pauses.iter().position(|(o, _)| *o == op);
            i.map(|i| pauses.remove(i).1)
        };
        if let Some(pause) = pause {
            pause.set(|s| s.reached = true);
            pause.wait_until(|s| s.resumed).await;
        }
    }

    pub fn fail_next(&self, op: DirectoryOp, error: DomainError) {
        lock(&self.forest).faults.push_back((op, error));
    }

    /// How many calls of `op` were made.
    pub fn count(&self, op: DirectoryOp) -> usize {
        lock(&self.forest).counts.get(&op).copied().unwrap_or(0)
    }

    fn call(&self, op: DirectoryOp) -> Result<MutexGuard<'_, Forest>, DomainError> {
        let mut f = lock(&self.forest);
        *f.counts.entry(op).or_default() += 1;
        if f.unavailable {
            return Err(unavailable());
        }
        if let Some(i) = f.faults.iter().position(|(o, _)| *o == op) {
            let (_, e) = f
                .faults
                .remove(i)
                .ok_or_else(|| DomainError::Internal("the injected fault vanished".into()))?;
            return Err(e);
        }
        Ok(f)
    }

    fn read(&self) -> Result<MutexGuard<'_, Forest>, DomainError> {
        let f = lock(&self.forest);
        if f.unavailable {
            return Err(unavailable());
        }
        Ok(f)
    }
}

impl Forest {
    fn group_mut(&mut self, dn: &str) -> Result<&mut FakeGroup, DomainError> {
        self.groups
            .iter_mut()
            .find(|g| addressed(&g.group, dn))
            .ok_or_else(|| DomainError::NotFound {
                what: format!("group {dn}"),
            })
    }
}

/// Whether `address` names `g`: its DN, or `<GUID=…>` / `<SID=…>` as AD accepts them.
fn addressed(g: &DirectoryGroup, address: &str) -> bool {
    let inner = |prefix: &str| {
        address
            .strip_prefix(prefix)
            .and_then(|r| r.strip_suffix('>'))
    };
    match (inner("<GUID="), inner("<SID=")) {
        (Some(guid), _) => g.guid.eq_ignore_ascii_case(guid),
        (_, Some(sid)) => g.sid.as_str() == sid,
        _ => g.dn.eq_ignore_ascii_case(address),
    }
}

/// Renames or moves a group, as an AD admin would: its SID and GUID stay.
impl FakeDirectory {
    pub fn rename_group(&self, sid: &Sid, name: &str, dn: &str) {
        let mut f = lock(&self.forest);
        if let Some(g) = f.groups.iter_mut().find(|g| &g.group.sid == sid) {
            g.group.name = name.to_owned();
            g.group.dn = dn.to_owned();
        }
    }
}

#[async_trait]
impl Directory for FakeDirectory {
    async fn find_user(&self, by: &UserLookup) -> Result<Option<DirectoryUser>, DomainError> {
        let f = self.read()?;
        Ok(f.users
            .iter()
            .find(|u| match by {
                UserLookup::SamAccountName(n) => u.account_name.eq_ignore_ascii_case(n),
                UserLookup::UserPrincipalName(n) => {
                    u.upn.as_deref().is_some_and(|x| x.eq_ignore_ascii_case(n))
                }
                UserLookup::Mail(n) => u.mail.as_deref().is_some_and(|x| x.eq_ignore_ascii_case(n)),
                UserLookup::Sid(s) => &u.sid == s,
            })
            .cloned())
    }

    async fn token_groups(&self, user_dn: &str) -> Result<Vec<Sid>, DomainError> {
        let f = self.read()?;
        Ok(f.token_groups
            .get(&user_dn.to_lowercase())
            .cloned()
            .unwrap_or_default())
    }

    async fn search(
        &self,
        text: &str,
        scope: SearchScope,
        limit: usize,
    ) -> Result<SearchPage, DomainError> {
        let f = self.read()?;
        let text = text.to_lowercase();
        let mut objects: Vec<DirectoryObject> = Vec::new();
        if scope != SearchScope::Groups {
            objects.extend(
                f.users
                    .iter()
                    .filter(|u| {
                        u.account_name.to_lowercase().starts_with(&text)
                            || u.display_name.to_lowercase().starts_with(&text)
                    })
                    .cloned()
                    .map(DirectoryObject::User),
            );
        }
        if scope != SearchScope::Users {
            objects.extend(
                f.groups
                    .iter()
                    .filter(|g| g.group.name.to_lowercase().starts_with(&text))
                    .map(|g| DirectoryObject::Group(g.group.clone())),
            );
        }
        let more = objects.len() > limit;
        objects.truncate(limit);
        Ok(SearchPage { objects, more })
    }

    async fn group(&self, by: &GroupRef) -> Result<Option<DirectoryGroup>, DomainError> {
        let f = self.read()?;
        Ok(f.groups
            .iter()
            .map(|g| &g.group)
            .find(|g| match by {
                GroupRef::Sid(s) => &g.sid == s,
                GroupRef::Guid(x) => g.guid.eq_ignore_ascii_case(x),
                GroupRef::Dn(dn) => g.dn.eq_ignore_ascii_case(dn),
            })
            .cloned())
    }

    async fn groups_containing(&self, group_dn: &str) -> Result<Vec<DirectoryGroup>, DomainError> {
        let f = self.read()?;
        let Some(start) = f.groups.iter().find(|g| addressed(&g.group, group_dn)) else {
            return Ok(Vec::new());
        };
        // breadth first over "is a member of", each group once (nesting may loop)
        let mut found: Vec<DirectoryGroup> = Vec::new();
        let mut next = vec![start.group.sid.clone()];
        while let Some(sid) = next.pop() {
            for g in &f.groups {
                if g.links.iter().any(|l| l.member == sid) && !found.contains(&g.group) {
                    found.push(g.group.clone());
                    next.push(g.group.sid.clone());
                }
            }
        }
        Ok(found)
    }

    async fn groups_of(&self, dn: &str) -> Result<Vec<DirectoryGroup>, DomainError> {
        let now = self.clock.now();
        let f = self.read()?;
        let sid = f
            .users
            .iter()
            .find(|u| u.dn.eq_ignore_ascii_case(dn))
            .map(|u| u.sid.clone())
            .or_else(|| {
                f.groups
                    .iter()
                    .find(|g| addressed(&g.group, dn))
                    .map(|g| g.group.sid.clone())
            })
            .ok_or_else(|| DomainError::NotFound {
                what: format!("the object {dn}"),
            })?;
        let primary = f.primary.get(&sid);
        Ok(f.groups
            .iter()
            .filter(|g| {
                Some(&g.group.sid) == primary
                    || g.links
                        .iter()
                        .any(|l| l.member == sid && l.until.is_none_or(|u| u > now))
            })
            .map(|g| g.group.clone())
            .collect())
    }

    async fn direct_members(
        &self,
        group: &DirectoryGroup,
        limit: usize,
    ) -> Result<SearchPage, DomainError> {
        let now = self.clock.now();
        let f = self.read()?;
        let Some(g) = f.groups.iter().find(|g| g.group.sid == group.sid) else {
            return Ok(SearchPage::default());
        };
        let primary_members = f
            .users
            .iter()
            .filter(|u| f.primary.get(&u.sid) == Some(&g.group.sid))
            .map(|u| DirectoryObject::User(u.clone()));
        let mut objects: Vec<DirectoryObject> = g
            .links
            .iter()
            .filter(|l| l.until.is_none_or(|u| u > now))
            .filter_map(|l| {
                f.users
                    .iter()
                    .find(|u| u.sid == l.member)
                    .map(|u| DirectoryObject::User(u.clone()))
                    .or_else(|| {
                        f.groups
                            .iter()
                            .find(|h| h.group.sid == l.member)
                            .map(|h| DirectoryObject::Group(h.group.clone()))
                    })
            })
            .chain(primary_members)
            .collect();
        let more = objects.len() > limit;
        objects.truncate(limit);
        Ok(SearchPage { objects, more })
    }

    async fn add_member(
        &self,
        group_dn: &str,
        member: &Sid,
        ttl: Option<Duration>,
    ) -> Result<MembershipChange, DomainError> {
        self.held(DirectoryOp::AddMember).await;
        let now = self.clock.now();
        let mut f = self.call(DirectoryOp::AddMember)?;
        if ttl.is_some() && !f.pam {
            // Samba and AD without PAM refuse the TTL form with 34, which the adapter reports
            return Err(DomainError::invalid(
                "directory",
                "invalid DN syntax: <TTL=…> needs the PAM feature",
            ));
        }
        let g = f.group_mut(group_dn)?;
        if !g.writable {
            return Err(not_writable());
        }
        let until = ttl.map(|t| now + TimeDelta::from_std(t).unwrap_or(TimeDelta::MAX));
        g.links.retain(|l| l.until.is_none_or(|u| u > now));
        match g.links.iter_mut().find(|l| &l.member == member) {
            // a TTL add leaves a permanent link alone and sets a TTL link's expiry (the adapter
            // reads it back and rewrites it if the DC did not); a plain add of a member is
            // "entry exists" (68)
            Some(link) if until.is_some() && link.until.is_none() => {
                Ok(MembershipChange::KeptPermanent)
            }
            Some(link) if until.is_some() => {
                link.until = until;
                Ok(MembershipChange::Changed)
            }
            Some(_) => Ok(MembershipChange::AlreadySo),
            None => {
                g.links.push(Link {
                    member: member.clone(),
                    until,
                });
                Ok(MembershipChange::Changed)
            }
        }
    }

    async fn remove_member(
        &self,
        group_dn: &str,
        member: &Sid,
    ) -> Result<MembershipChange, DomainError> {
        self.held(DirectoryOp::RemoveMember).await;
        let now = self.clock.now();
        let mut f = self.call(DirectoryOp::RemoveMember)?;
        let g = f.group_mut(group_dn)?;
        if !g.writable {
            return Err(not_writable());
        }
        g.links.retain(|l| l.until.is_none_or(|u| u > now));
        let before = g.links.len();
        g.links.retain(|l| &l.member != member);
        // a never-member (16) or one already removed (53) is "already so"
        Ok(if g.links.len() < before {
            MembershipChange::Changed
        } else {
            MembershipChange::AlreadySo
        })
    }

    /// Like Samba: no per-value replication metadata.
    async fn member_added_times(
        &self,
        _: &str,
    ) -> Result<Option<Vec<(String, DateTime<Utc>)>>, DomainError> {
        Ok(None)
    }

    async fn members(&self, group_dn: &str) -> Result<Vec<Member>, DomainError> {
        let now = self.clock.now();
        let mut f = self.call(DirectoryOp::Members)?;
        let links: Vec<(Sid, Option<DateTime<Utc>>)> = f
            .group_mut(group_dn)?
            .links
            .iter()
            .filter(|l| l.until.is_none_or(|u| u > now))
            .map(|l| (l.member.clone(), l.until))
            .collect();
        Ok(links
            .into_iter()
            .map(|(sid, until)| Member {
                dn: f
                    .users
                    .iter()
                    .find(|u| u.sid == sid)
                    .map(|u| u.dn.clone())
                    .unwrap_or_else(|| format!("CN={sid}")),
                ttl: until.map(|u| (u - now).to_std().unwrap_or_default()),
            })
            .collect())
    }

    async fn capabilities(&self) -> Result<Capabilities, DomainError> {
        let f = self.call(DirectoryOp::Capabilities)?;
        Ok(Capabilities {
            forest_functional_level: if f.pam { 7 } else { 6 },
            pam_enabled: f.pam,
            mechanism: choose_mechanism(f.pam, false),
        })
    }

    async fn write_access(&self, group_dn: &str) -> Result<WriteAccess, DomainError> {
        let mut f = lock(&self.forest);
        if f.unavailable {
            return Err(unavailable());
        }
        let g = f.group_mut(group_dn)?;
        Ok(WriteAccess {
            can_write_members: g.writable,
            protected: g.group.protected,
        })
    }
}
