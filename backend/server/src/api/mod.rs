//! gRPC services: authenticate, translate the request into domain types, make one domain call,
//! translate the answer. Proto ⇄ domain conversions live in `convert.rs`.

mod convert;
pub mod system;
