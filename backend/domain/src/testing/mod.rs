//! In-memory stand-ins for the ports (feature `testing`), for unit tests of what uses them:
//! [`MemoryStore`] (rules, grants, the audit log, channels and the outbox) and
//! [`FakeDirectory`] (people, groups and membership, with AD's answers and TTL links that
//! lapse on the test's clock). Each behaves as its real adapter does where the engine can
//! tell: the same errors for the same cases, one live grant per (rule, person), version
//! checks, "already so" for a duplicate add (AD's 68) or the removal of a non-member (16, 53).
//! The contract tests of the store and directory crates hold both to the same answers.
//!
//! Faults are injected one call at a time ([`MemoryStore::fail_next`],
//! [`FakeDirectory::fail_next`]) or for as long as a test says
//! ([`FakeDirectory::set_unavailable`]).

use std::{
    collections::{BTreeMap, HashMap, HashSet, VecDeque},
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};

use crate::{
    Clock, DomainError,
    approval::Decision,
    audit::{AuditEvent, AuditFilter, NewAudit},
    directory::{
        Capabilities, Directory, DirectoryGroup, DirectoryObject, DirectoryUser, GroupRef, Member,
        MembershipChange, SearchPage, SearchScope, Sid, UserLookup, WriteAccess, choose_mechanism,
    },
    freeze::{Freeze, FreezeScope, not_frozen},
    grant::{Grant, GrantState},
    grant_filter::GrantFilter,
    notify::{self, Channel, DeliveryState, NewNotification, Notification},
    page::{Page, PageRequest},
    ports::{ApprovalStore, GrantChange, GrantStore, NotificationStore, RuleBatch, RuleStore},
    rule::{RoleRule, history::RuleVersion},
};

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

mod directory;
mod store;
pub use directory::{DirectoryOp, FakeDirectory, Pause};
pub use store::{MemoryStore, StoreOp};

pub mod contract;
