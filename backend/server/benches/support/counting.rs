//! A directory that counts the calls made through it, for benchmarks that report how many
//! directory operations one RPC costs (wraps the real adapter; injected with
//! `jitroles_server::start_with`).

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use async_trait::async_trait;
use jitroles_domain::{
    DomainError,
    directory::{
        Capabilities, Directory, DirectoryGroup, DirectoryUser, GroupRef, Member, MembershipChange,
        SearchPage, SearchScope, Sid, UserLookup, WriteAccess,
    },
};

pub struct Counting {
    inner: Arc<dyn Directory>,
    calls: Mutex<BTreeMap<&'static str, u64>>,
}

impl Counting {
    pub fn new(inner: Arc<dyn Directory>) -> Arc<Self> {
        Arc::new(Self {
            inner,
            calls: Mutex::new(BTreeMap::new()),
        })
    }

    fn note(&self, op: &'static str) {
        *self
            .calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(op)
            .or_default() += 1;
    }

    /// Calls so far, by operation.
    pub fn calls(&self) -> BTreeMap<&'static str, u64> {
        self.calls.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// `after - before`, by operation.
pub fn since(
    before: &BTreeMap<&'static str, u64>,
    after: &BTreeMap<&'static str, u64>,
) -> BTreeMap<&'static str, u64> {
    after
        .iter()
        .map(|(op, n)| (*op, n - before.get(op).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect()
}

#[async_trait]
impl Directory for Counting {
    async fn find_user(&self, by: &UserLookup) -> Result<Option<DirectoryUser>, DomainError> {
        self.note("find_user");
        self.inner.find_user(by).await
    }

    async fn token_groups(&self, user_dn: &str) -> Result<Vec<Sid>, DomainError> {
        self.note("token_groups");
        self.inner.token_groups(user_dn).await
    }

    async fn search(
        &self,
        text: &str,
        scope: SearchScope,
        limit: usize,
    ) -> Result<SearchPage, DomainError> {
        self.note("search");
        self.inner.search(text, scope, limit).await
    }

    async fn group(&self, by: &GroupRef) -> Result<Option<DirectoryGroup>, DomainError> {
        self.note("group");
        self.inner.group(by).await
    }

    async fn groups_containing(&self, group_dn: &str) -> Result<Vec<DirectoryGroup>, DomainError> {
        self.note("groups_containing");
        self.inner.groups_containing(group_dn).await
    }

    async fn groups_of(&self, dn: &str) -> Result<Vec<DirectoryGroup>, DomainError> {
        self.note("groups_of");
        self.inner.groups_of(dn).await
    }

    async fn direct_members(
        &self,
        group: &DirectoryGroup,
        limit: usize,
    ) -> Result<jitroles_domain::directory::SearchPage, DomainError> {
        self.note("direct_members");
        self.inner.direct_members(group, limit).await
    }

    async fn add_member(
        &self,
        group_dn: &str,
        member: &Sid,
        ttl: Option<Duration>,
    ) -> Result<MembershipChange, DomainError> {
        self.note("add_member");
        self.inner.add_member(group_dn, member, ttl).await
    }

    async fn remove_member(
        &self,
        group_dn: &str,
        member: &Sid,
    ) -> Result<MembershipChange, DomainError> {
        self.note("remove_member");
        self.inner.remove_member(group_dn, member).await
    }

    async fn remove_members(
        &self,
        group_dn: &str,
        members: &[Sid],
    ) -> Result<Vec<MembershipChange>, DomainError> {
        self.note("remove_members");
        self.inner.remove_members(group_dn, members).await
    }

    async fn members(&self, group_dn: &str) -> Result<Vec<Member>, DomainError> {
        self.note("members");
        self.inner.members(group_dn).await
    }

    async fn member_added_times(
        &self,
        group_dn: &str,
    ) -> Result<Option<Vec<(String, chrono::DateTime<chrono::Utc>)>>, DomainError> {
        self.note("member_added_times");
        self.inner.member_added_times(group_dn).await
    }

    async fn capabilities(&self) -> Result<Capabilities, DomainError> {
        self.note("capabilities");
        self.inner.capabilities().await
    }

    async fn write_access(&self, group_dn: &str) -> Result<WriteAccess, DomainError> {
        self.note("write_access");
        self.inner.write_access(group_dn).await
    }
}
