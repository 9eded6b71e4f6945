//! The jitroles web app, as a library shared by its two entry points: `jitroles-web` (the
//! shell and the Roles page, what every requester downloads) and `jitroles-admin` (the shell
//! and the admin pages, loaded only when someone opens `/admin`). Trunk builds each into its
//! own wasm; LTO drops from each what it never calls, so requesters never download the admin
//! pages.

pub mod api;
pub mod app;
pub mod components;
pub mod data;
pub mod format;
pub mod pages;
