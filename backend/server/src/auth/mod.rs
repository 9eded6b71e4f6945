//! Authentication: who is calling. Bearer JWT access tokens (services, scripts) are verified in
//! `jwt`; browsers sign in through `browser` and hold a session (`session`); both become a
//! directory account in `caller`, checked on every call by `layer`.

pub mod browser;
pub mod caller;
pub mod jwt;
pub mod layer;
pub mod session;
