//! Generates the jitroles.v1 messages, plus clients and/or servers as the features ask.
use std::{env, path::PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = [
        "jitroles/v1/system.proto",
        "jitroles/v1/model.proto",
        "jitroles/v1/notifications.proto",
        "jitroles/v1/roles.proto",
        "jitroles/v1/admin.proto",
    ];
    for proto in protos {
        println!("cargo:rerun-if-changed={proto}");
    }
    let client = env::var_os("CARGO_FEATURE_CLIENT").is_some();
    let server = env::var_os("CARGO_FEATURE_SERVER").is_some();
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);

    // protoc comes from a crate, so the build needs no system package and no download
    let mut prost_config = tonic_prost_build::Config::new();
    prost_config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    let mut builder = tonic_prost_build::configure()
        .build_client(client)
        .build_server(server)
        // no transport in generated code: the web app brings its own (gRPC-web over fetch)
        .build_transport(false);
    if server {
        builder = builder.file_descriptor_set_path(out_dir.join("jitroles_descriptor.bin"));
    }
    builder.compile_with_config(prost_config, &protos, &["."])?;
    Ok(())
}
