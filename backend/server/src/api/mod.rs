//! gRPC services: authenticate, translate the request into domain types, make one domain call,
//! translate the answer. Proto ⇄ domain conversions live in `convert.rs`; status codes are
//! chosen in `error.rs`.

pub mod admin;
mod convert;
pub mod error;
pub mod layer;
pub mod roles;
pub mod system;
