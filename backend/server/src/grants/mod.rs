//! Rules and grants at work: the engine (requests, extensions, endings, rule edits) and the
//! scheduler that ends grants on time.

pub mod engine;
pub mod scheduler;
