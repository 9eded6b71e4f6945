//! sea-orm entities: private to the store; converted to domain types in `store.rs`.

pub mod installation;
pub mod session;
pub mod sign_in;
