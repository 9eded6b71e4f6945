//! Helpers the benchmarks share (a module of each, not a bench target itself).

use std::{io::BufReader, sync::Arc};

use ldap3::{LdapConnAsync, LdapConnSettings};

pub fn env(k: &str) -> String {
    std::env::var(k).unwrap_or_else(|_| {
        panic!("{k} is not set: eval \"$(scripts/ad up)\" and \"$(scripts/oidc up)\" first")
    })
}

/// A raw ldap3 connection to the test DC over LDAPS, bound as `dn`, trusting the DC's CA.
pub async fn ldaps(dn: &str, password: &str) -> ldap3::Ldap {
    let mut roots = rustls::RootCertStore::empty();
    let ca = env("AD_CA_FILE");
    for cert in rustls_pemfile::certs(&mut BufReader::new(std::fs::File::open(&ca).unwrap())) {
        roots.add(cert.unwrap()).unwrap();
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let (conn, mut ldap) = LdapConnAsync::with_settings(
        LdapConnSettings::new().set_config(Arc::new(tls)),
        &env("AD_LDAPS_URL"),
    )
    .await
    .unwrap();
    ldap3::drive!(conn);
    ldap.simple_bind(dn, password)
        .await
        .unwrap()
        .success()
        .unwrap();
    ldap
}

/// p50, p99 and max of `values` (sorted in place).
pub fn percentiles(values: &mut [f64]) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    let pct = |p: f64| values[((p * values.len() as f64) as usize).min(values.len() - 1)];
    (pct(0.5), pct(0.99), values[values.len() - 1])
}
