//! Authentication: who is calling. Bearer JWT access tokens (services, scripts) are verified in
//! `jwt`; browsers sign in through `browser` and hold a session (`session`); both become a
//! directory account in `caller`, decided for every call by `gate`. Failures are an
//! [`error::AuthError`]; `auth` never chooses a gRPC status (that is `api::error`).

pub mod browser;
pub mod caller;
pub mod error;
pub mod gate;
pub mod jwt;
mod outcome;
mod pages;
mod provider;
pub mod seal;
pub mod session;
