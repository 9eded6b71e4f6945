//! The real server in-process on 127.0.0.1:0, called the way browsers and services call it.

mod support;
mod system;
mod web;
