//! The directory adapter against a real Samba AD DC (`scripts/ad up`), seeded with the test
//! population of DESIGN.md (each test that writes works on groups of its own); and the TTL
//! path, which no installable directory implements, against the protocol-level fixture
//! `jitroles-ad-fixture` (module `ttl`).

#![allow(clippy::unwrap_used)] // a panic in a test is its failure report

mod access;
mod connection;
mod contract;
mod failover;
mod faults;
mod membership;
mod outage;
mod pam;
mod people;
mod replication;
#[path = "../../../test-support/service.rs"]
mod service;
mod support;
mod ttl;
