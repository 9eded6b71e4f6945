//! One file per route.

mod admin;
mod not_found;
mod roles;

pub use admin::{AdminPage, AdminRulesPage};
pub use not_found::NotFoundPage;
pub use roles::RolesPage;
