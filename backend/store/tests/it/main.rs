//! Store contract tests, run on SQLite and on PostgreSQL alike.

#![allow(clippy::unwrap_used)] // a panic in a test is its failure report

mod databases;
mod grants;
mod migrations;
mod sessions;
