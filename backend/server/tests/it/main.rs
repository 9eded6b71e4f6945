//! The real server in-process on 127.0.0.1:0, called the way browsers and services call it.

#![allow(clippy::unwrap_used)] // a panic in a test is its failure report

mod access;
mod accountability;
mod approvals;
mod audit;
mod backup;
mod bearer;
mod cli;
mod crash;
mod emergency;
mod failover;
mod grants;
mod hung;
mod instances;
mod notify;
mod oidc;
mod outage;
mod package;
mod pam;
mod rename;
mod rule_history;
mod rules_code;
mod samba;
#[path = "../../../test-support/service.rs"]
mod service;
mod sessions;
mod sign_in;
mod stack;
mod support;
mod system;
mod tls;
mod tokens;
mod ttl;
mod usage;
mod web;
