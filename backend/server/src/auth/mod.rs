//! Authentication: who is calling. Bearer JWT access tokens (services) are verified in
//! `jwt`; browser sessions arrive with the sign-in flow.

pub mod jwt;
