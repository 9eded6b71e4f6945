//! Store contract tests, run on SQLite and on PostgreSQL alike.

mod databases;
mod migrations;
