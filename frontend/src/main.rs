//! The jitroles web app: mount only. The app itself is in `app.rs`.

mod api;
mod app;
mod components;
mod format;
mod pages;

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}
