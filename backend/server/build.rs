//! Records build facts for ServerInfo: the git commit and the compiler. With the
//! `embedded-web` feature, also writes the built web app into the binary (`web_app.rs`).
use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
    process::Command,
};

fn main() {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let commit = git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into());
    if let Some(head) = git(&["rev-parse", "--git-path", "HEAD"]) {
        println!("cargo:rerun-if-changed={head}");
    }
    if let Some(refs) = git(&["rev-parse", "--git-path", "refs/heads"]) {
        println!("cargo:rerun-if-changed={refs}");
    }
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let rustc_version = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let target = std::env::var("TARGET").unwrap_or_default();
    let profile = std::env::var("PROFILE").unwrap_or_default();
    println!("cargo:rustc-env=JITROLES_GIT_COMMIT={commit}");
    println!("cargo:rustc-env=JITROLES_BUILD={rustc_version}, {target}, {profile}");
    if std::env::var_os("CARGO_FEATURE_EMBEDDED_WEB").is_some() {
        embed_web_app();
    }
}

/// Every file of the built web app (`JITROLES_WEB_DIST`, default `dist/` at the top of the
/// workspace) as `(path, bytes, etag)` in `$OUT_DIR/web_app.rs`, for `spa::embedded`.
fn embed_web_app() {
    println!("cargo:rerun-if-env-changed=JITROLES_WEB_DIST");
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let dist = std::env::var_os("JITROLES_WEB_DIST")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../../dist"));
    assert!(
        dist.join("index.html").is_file(),
        "the embedded-web feature needs the built web app in {}: run frontend/build first \
         (or set JITROLES_WEB_DIST)",
        dist.display()
    );
    // a directory is scanned whole for changes
    println!("cargo:rerun-if-changed={}", dist.display());
    let mut files = Vec::new();
    walk(&dist, &mut files);
    files.sort();
    let mut out = String::from("pub static FILES: &[(&str, &[u8], &str)] = &[\n");
    for file in &files {
        let name = file
            .strip_prefix(&dist)
            .expect("under dist")
            .to_str()
            .expect("a UTF-8 file name");
        let bytes = std::fs::read(file).expect("a readable file");
        let abs = file.canonicalize().expect("an existing file");
        writeln!(
            out,
            "    ({name:?}, include_bytes!({abs:?}), \"\\\"{:016x}\\\"\"),",
            fnv1a(&bytes)
        )
        .expect("writing to a String");
    }
    out.push_str("];\n");
    let target = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it")).join("web_app.rs");
    std::fs::write(target, out).expect("OUT_DIR is writable");
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a readable web app folder") {
        let path = entry.expect("a folder entry").path();
        if path.is_dir() {
            walk(&path, files);
        } else {
            files.push(path);
        }
    }
}

/// A content hash for the ETag (FNV-1a, 64 bits): changes whenever a file does.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}
