//! The jitroles gRPC API, generated from `proto/jitroles/v1/*.proto`.
//!
//! Feature `client` adds clients (no transport, so they build for wasm32); feature `server` adds
//! servers and [`v1::FILE_DESCRIPTOR_SET`] for gRPC reflection.

pub mod v1 {
    #![allow(clippy::all, clippy::pedantic, missing_docs)]
    tonic::include_proto!("jitroles.v1");

    /// The encoded descriptors of every jitroles.v1 file, served by gRPC reflection.
    #[cfg(feature = "server")]
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        tonic::include_file_descriptor_set!("jitroles_descriptor");
}
