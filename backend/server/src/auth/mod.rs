//! Authentication: who is calling. Bearer JWT access tokens (services, scripts) are verified in
//! `jwt`, mapped to a directory account in `caller`, and checked on every call by `layer`.
//! Browser sessions arrive with the sign-in flow.

pub mod caller;
pub mod jwt;
pub mod layer;
